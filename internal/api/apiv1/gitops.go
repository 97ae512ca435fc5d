package apiv1

import (
	"time"

	"github.com/berth-dev/berth/internal/berth"
)

// SetEnvGitOps is the body of PUT /envs/{env}/gitops. The token travels only here, in a
// body, and is never in an answer.
type SetEnvGitOps struct {
	// Forge is gitea or github.
	Forge string `json:"forge"`
	// URL is the platform repository's http(s) URL.
	URL string `json:"url"`
	// Branch is the environment's branch in it (default: the environment's name).
	Branch string `json:"branch,omitempty"`
	// PullRequest: each deploy opens a pull request to Branch and waits for its merge.
	PullRequest bool `json:"pullRequest,omitempty"`
	// ExternalApply: the platform's Argo CD or Flux applies the branch; Berth applies only
	// Secrets and follows the rollout.
	ExternalApply bool `json:"externalApply,omitempty"`
	// Token is a forge token that may push to the repository and open pull requests.
	Token string `json:"token"`
	// CreateWebhook registers the repository's webhook through the forge's API with the
	// token, to HookURL (default: the server's public URL + /hooks/FORGE); a HookURL alone
	// does too. The webhook tells Berth at once when a pull request was merged or closed.
	CreateWebhook bool   `json:"createWebhook,omitempty"`
	HookURL       string `json:"hookUrl,omitempty"`
}

// GitOps is an environment's GitOps output, without its token.
type GitOps struct {
	Env   string `json:"env"`
	Forge string `json:"forge"`
	URL   string `json:"url"`
	// Repo is the repository's OWNER/NAME.
	Repo          string    `json:"repo"`
	Branch        string    `json:"branch"`
	PullRequest   bool      `json:"pullRequest"`
	ExternalApply bool      `json:"externalApply"`
	CreatedBy     string    `json:"createdBy"`
	UpdatedAt     time.Time `json:"updatedAt"`
	// HookSecret is the secret the repository's webhook signs its deliveries with, made
	// anew each time the output is set: in the answer of setting it only. HookURL is where
	// the webhook Berth registered sends, when it registered one.
	HookSecret string `json:"hookSecret,omitempty"`
	HookURL    string `json:"hookUrl,omitempty"`
}

// FromGitOps is the wire form of an environment's GitOps output.
func FromGitOps(g berth.GitOps) GitOps {
	return GitOps{Env: g.Env, Forge: string(g.Forge), URL: g.URL, Repo: g.Repo, Branch: g.BranchOr(), PullRequest: g.PullRequest,
		ExternalApply: g.ExternalApply, CreatedBy: g.CreatedBy, UpdatedAt: g.UpdatedAt}
}

// GitOpsChange is what one deploy wrote to its environment's platform repository.
type GitOpsChange struct {
	Deploy int64  `json:"deploy"`
	Env    string `json:"env"`
	Repo   string `json:"repo"`
	// Branch is where the commit went: the environment's branch, or the pull request's.
	Branch string `json:"branch"`
	Commit string `json:"commit"`
	// PR is the pull request's number and URL its page, when the deploy opened one.
	PR  int    `json:"pr,omitempty"`
	URL string `json:"url,omitempty"`
	// State is committed, or the pull request's: open, merged or closed.
	State     string    `json:"state"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// FromGitOpsChange is the wire form of a deploy's GitOps change.
func FromGitOpsChange(c berth.GitOpsChange) GitOpsChange {
	return GitOpsChange{Deploy: c.DeployID, Env: c.Env, Repo: c.Repo, Branch: c.Branch, Commit: c.Commit, PR: c.PR, URL: c.URL,
		State: string(c.State), UpdatedAt: c.UpdatedAt}
}
