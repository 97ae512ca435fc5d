package apiv1

import (
	"time"

	"github.com/berth-dev/berth/internal/berth"
)

// ConnectRepo is the body of PUT /teams/{team}/apps/{app}/repo. The token travels only
// here, in a body, never in a URL.
type ConnectRepo struct {
	// Forge is gitea or github.
	Forge string `json:"forge"`
	// URL is the repository's http(s) URL.
	URL string `json:"url"`
	// Path is the manifest's path in the repository (default berth.yaml).
	Path string `json:"path,omitempty"`
	// Branch is its default branch (default main).
	Branch string `json:"branch,omitempty"`
	// Token is a forge token that may read the repository and write statuses and comments.
	Token string `json:"token"`
	// CreateWebhook registers the webhook on the repository through the forge's API, to
	// HookURL (default: the server's public URL + /hooks/FORGE); a HookURL alone does too.
	CreateWebhook bool   `json:"createWebhook,omitempty"`
	HookURL       string `json:"hookUrl,omitempty"`
}

// AppRepo is an app's repository connection, without its secrets.
type AppRepo struct {
	Team      string    `json:"team"`
	App       string    `json:"app"`
	Forge     string    `json:"forge"`
	URL       string    `json:"url"`
	Repo      string    `json:"repo"`
	Path      string    `json:"path"`
	Branch    string    `json:"branch"`
	CreatedBy string    `json:"createdBy"`
	CreatedAt time.Time `json:"createdAt"`
	// HookPath is where the forge sends its webhooks, on this server: /hooks/FORGE.
	HookPath string `json:"hookPath"`
}

// Connection is the answer of connecting: the connection, and the webhook secret, in this
// answer only, to configure the forge's webhook with.
type Connection struct {
	Repo       AppRepo `json:"repo"`
	HookSecret string  `json:"hookSecret"`
	// HookURL is where the webhook Berth registered sends, when it registered one.
	HookURL string `json:"hookUrl,omitempty"`
}

// FromAppRepo is the wire form of a connection.
func FromAppRepo(r berth.AppRepo) AppRepo {
	return AppRepo{Team: r.Team, App: r.App, Forge: string(r.Forge), URL: r.URL, Repo: r.Repo, Path: r.Path, Branch: r.Branch,
		CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, HookPath: "/hooks/" + string(r.Forge)}
}

// HookReceipt is the answer to a webhook delivery (202): the work it queued, if any.
type HookReceipt struct {
	Delivery string `json:"delivery"`
	// Event is push, tag, pull_request or other.
	Event string `json:"event"`
	Repo  string `json:"repo,omitempty"`
	Ref   string `json:"ref,omitempty"`
	SHA   string `json:"sha,omitempty"`
	PR    int    `json:"pr,omitempty"`
	// Jobs are the ids of the git jobs queued, one per connected app.
	Jobs []int64 `json:"jobs"`
	// Envs are the environments whose platform repository (GitOps output) had a pull
	// request closed: Berth looks at their pull requests now.
	Envs []string `json:"envs,omitempty"`
	// Ignored says why nothing was queued.
	Ignored string `json:"ignored,omitempty"`
}

// GitJob is the work one webhook delivery asked of an app, and what became of it.
type GitJob struct {
	ID       int64  `json:"id"`
	Forge    string `json:"forge"`
	Delivery string `json:"delivery"`
	// Event is push, tag or pull_request; Ref, SHA and PR say which.
	Event string `json:"event"`
	Ref   string `json:"ref,omitempty"`
	SHA   string `json:"sha,omitempty"`
	PR    int    `json:"pr,omitempty"`
	// State is queued, running, deploying, done or failed; Reason says why it ended so.
	State     string    `json:"state"`
	Reason    string    `json:"reason,omitempty"`
	Deploy    int64     `json:"deploy,omitempty"`
	Attempts  int       `json:"attempts"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// FromGitJob is the wire form of a git job.
func FromGitJob(j berth.GitJob) GitJob {
	return GitJob{ID: j.ID, Forge: string(j.Forge), Delivery: j.Delivery, Event: string(j.Event.Kind), Ref: j.Event.Ref,
		SHA: j.Event.SHA, PR: j.Event.PR, State: string(j.State), Reason: j.Reason, Deploy: j.Deploy, Attempts: j.Attempts,
		CreatedAt: j.CreatedAt, UpdatedAt: j.UpdatedAt}
}
