package berth

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Forge is a git hosting service Berth takes webhooks from and writes to.
type Forge string

// The forges Berth knows.
const (
	ForgeGitea  Forge = "gitea"
	ForgeGitHub Forge = "github"
)

// Forges lists the forges, for help and errors.
var Forges = []Forge{ForgeGitea, ForgeGitHub}

// Valid reports whether f is one of Forges.
func (f Forge) Valid() bool { return f == ForgeGitea || f == ForgeGitHub }

// AppRepo connects an app to the repository its manifest and code live in.
type AppRepo struct {
	Team, App string
	Forge     Forge
	// URL is the repository's web or clone URL as given; Repo is its OWNER/NAME.
	URL, Repo string
	// Path is the manifest's path in the repository; Branch its default branch.
	Path, Branch string
	CreatedBy    string
	CreatedAt    time.Time
}

// RepoSecrets are a connection's secrets: the forge token Berth calls the forge's API with,
// and the secret the forge signs its webhooks with.
type RepoSecrets struct {
	Token      string `json:"token"`
	HookSecret string `json:"hookSecret"`
}

// repoPart is what an owner or repository name may hold on the forges Berth knows.
var repoPart = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)

// RepoOf returns the OWNER/NAME of a repository URL (http(s), with or without .git), or
// an *InvalidError saying what is wrong with it.
func RepoOf(raw string) (string, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		// Not quoted: what does not parse may still hold a password.
		return "", Invalid("repo", "not a URL: want http(s)://HOST/OWNER/NAME")
	case u.User != nil:
		return "", Invalid("repo", "the repository URL must not hold credentials: give the token with --token-file")
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return "", Invalid("repo", "%q is not a repository URL: want http(s)://HOST/OWNER/NAME", raw)
	}
	parts := strings.Split(strings.Trim(strings.TrimSuffix(u.Path, ".git"), "/"), "/")
	if len(parts) != 2 || !repoPart.MatchString(parts[0]) || !repoPart.MatchString(parts[1]) || parts[1] == "." || parts[1] == ".." {
		return "", Invalid("repo", "%q: want http(s)://HOST/OWNER/NAME", raw)
	}
	return parts[0] + "/" + parts[1], nil
}

// CheckRepoPath checks a manifest's path in a repository: relative, clean, no "..".
func CheckRepoPath(p string) error {
	switch {
	case p == "":
		return Invalid("path", "required: the manifest's path in the repository, e.g. berth.yaml")
	case len(p) > 500:
		return Invalid("path", "at most 500 characters")
	case strings.HasPrefix(p, "/"), strings.Contains(p, "\\"), strings.ContainsRune(p, 0):
		return Invalid("path", "%q: want a path relative to the repository's root, with /", p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return Invalid("path", "%q: want a clean relative path (no empty, . or .. parts)", p)
		}
	}
	return nil
}

// CheckBranch checks a branch name as git does, in the ways that matter to Berth.
func CheckBranch(b string) error {
	if b == "" || len(b) > 250 || strings.HasPrefix(b, "-") || strings.HasPrefix(b, "/") || strings.HasSuffix(b, "/") ||
		strings.HasSuffix(b, ".lock") || strings.Contains(b, "..") || strings.ContainsAny(b, " ~^:?*[\\\x00\x7f") {
		return Invalid("branch", "%q is not a branch name", b)
	}
	return nil
}

// CheckRef checks a ref a user names — a branch, a tag (either may be given as
// refs/heads/X, refs/tags/X) or a commit sha, full or abbreviated — as git checks a ref's
// name, in the ways that matter to Berth.
func CheckRef(ref string) error {
	if CheckBranch(ref) != nil || ref == "@" || strings.Contains(ref, "@{") {
		return Invalid("ref", "%q is no branch, tag or commit name", ref)
	}
	return nil
}

// String is the connection in a few words.
func (r AppRepo) String() string {
	return fmt.Sprintf("%s/%s <- %s %s (%s@%s)", r.Team, r.App, r.Forge, r.Repo, r.Path, r.Branch)
}

// GitEventKind is what a webhook delivery (or a user) asks of Berth.
type GitEventKind string

// The kinds of event Berth acts on; every other is GitOther.
const (
	GitPush        GitEventKind = "push"         // commits pushed to a branch
	GitTag         GitEventKind = "tag"          // a tag pushed
	GitPullRequest GitEventKind = "pull_request" // a pull request opened, updated, reopened or closed
	// GitDeployRef is no webhook's: a user asked to deploy a ref of the app's repository
	// to an environment (deploy APP@REF to ENV).
	GitDeployRef GitEventKind = "deploy_ref"
	GitOther     GitEventKind = "other"
)

// GitEvent is the part of a forge's webhook delivery Berth acts on, or a user's request to
// deploy a ref (GitDeployRef).
type GitEvent struct {
	Kind GitEventKind `json:"kind"`
	// Repo is the repository's OWNER/NAME.
	Repo string `json:"repo"`
	// Ref is the full ref pushed (refs/heads/main, refs/tags/v1.2.0); Branch or Tag its
	// short name. SHA is the commit: the pushed head, or the pull request's head. A
	// GitDeployRef's Ref is the ref as the user named it (a branch, a tag or a commit sha),
	// and its SHA is "": the forge resolves Ref when the job acts.
	Ref    string `json:"ref,omitempty"`
	Branch string `json:"branch,omitempty"`
	Tag    string `json:"tag,omitempty"`
	SHA    string `json:"sha,omitempty"`
	// Deleted: the push deleted the branch or tag.
	Deleted bool `json:"deleted,omitempty"`
	// Pull requests: number, action (opened, synchronize, reopened, closed), whether a
	// closed one was merged, its head and base branches, and whether its head is in a fork.
	PR             int    `json:"pr,omitempty"`
	Action         string `json:"action,omitempty"`
	Merged         bool   `json:"merged,omitempty"`
	Head           string `json:"head,omitempty"`
	Base           string `json:"base,omitempty"`
	Fork           bool   `json:"fork,omitempty"`
	HeadRepository string `json:"headRepository,omitempty"`
	// GitDeployRef: the environment the user asked for, the Berth user who asked (the
	// deploy is theirs), and why it goes ahead inside a freeze window ("": it does not).
	Env         string `json:"env,omitempty"`
	RequestedBy string `json:"requestedBy,omitempty"`
	Emergency   string `json:"emergency,omitempty"`
}

// Acts reports whether Berth acts on e at all: pushes and tags that did not delete their
// ref, pull requests, and users' deploys of a ref. Which app does what with a webhook's
// event is the manifest's git rules' say.
func (e GitEvent) Acts() bool {
	switch e.Kind {
	case GitPush, GitTag:
		return !e.Deleted
	case GitPullRequest, GitDeployRef:
		return true
	}
	return false
}

// String is the event in a few words, for reasons and logs.
func (e GitEvent) String() string {
	short := e.SHA
	if len(short) > 12 {
		short = short[:12]
	}
	switch e.Kind {
	case GitPush:
		return fmt.Sprintf("push of %s to %s (%s)", short, e.Branch, e.Repo)
	case GitTag:
		return fmt.Sprintf("tag %s at %s (%s)", e.Tag, short, e.Repo)
	case GitPullRequest:
		return fmt.Sprintf("pull request #%d %s at %s (%s)", e.PR, e.Action, short, e.Repo)
	case GitDeployRef:
		return fmt.Sprintf("deploy of %s to %s asked by %s (%s)", e.Ref, e.Env, e.RequestedBy, e.Repo)
	}
	return fmt.Sprintf("%s event (%s)", e.Kind, e.Repo)
}

// GitJobState is where the work of a delivery is: queued, running (a worker acts on it),
// deploying (its deploy is queued; the commit's status follows it), then done or failed.
type GitJobState string

// The states of a git job.
const (
	GitJobQueued    GitJobState = "queued"
	GitJobRunning   GitJobState = "running"
	GitJobDeploying GitJobState = "deploying"
	GitJobDone      GitJobState = "done"
	GitJobFailed    GitJobState = "failed"
)

// Final reports whether s is an end state.
func (s GitJobState) Final() bool { return s == GitJobDone || s == GitJobFailed }

// GitJob is the durable work a webhook delivery asks of Berth for one connected app: taken
// in the transaction that took the delivery, claimed by a worker under a lease, and ended
// exactly once.
type GitJob struct {
	ID        int64
	Team, App string
	Forge     Forge
	Delivery  string
	Event     GitEvent
	State     GitJobState
	Reason    string
	// Deploy is the deploy the job queued; 0 before (or when it queued none).
	Deploy       int64
	CreatedAt    time.Time
	UpdatedAt    time.Time
	LeaseOwner   string
	LeaseExpires time.Time
	Attempts     int
}

// GitSource is where a revision's manifest was read from: a commit of a connected
// repository.
type GitSource struct {
	Forge Forge  `json:"forge"`
	Repo  string `json:"repo"`
	SHA   string `json:"sha"`
	Ref   string `json:"ref,omitempty"`
	PR    int    `json:"pr,omitempty"`
}

// PreviewState says whether a pull request's preview runs.
type PreviewState string

// The states of a preview.
const (
	PreviewActive  PreviewState = "active"
	PreviewClosing PreviewState = "closing" // being torn down; nothing deploys into it
	PreviewClosed  PreviewState = "closed"
)

// Preview is one pull request's preview of an app: deployed from a preview environment
// (Base) into an environment Berth made for it (Env), from the pull request's head.
type Preview struct {
	ID        int64
	Team, App string
	Base      string
	PR        int
	// URL is the pull request's page on its forge.
	URL string
	// Branch is the pull request's head branch, SHA its head commit as last deployed.
	Branch, SHA string
	// Fork: the head is in another repository; the preview gets no secrets.
	Fork bool
	Env  string
	// CommentID is the forge's id of the comment Berth keeps on the pull request; 0 before.
	CommentID int64
	State     PreviewState
	// Reason says why a closed preview was closed (merged, closed, expired).
	Reason               string
	CreatedAt, UpdatedAt time.Time
}

// PreviewEnvName is the name of the environment made for team's app's preview of pull
// request pr from base: {base}-{team}-{app}-pr{pr}. It must be a valid name (at most 63
// characters): ValidateName says when it is not.
func PreviewEnvName(base, team, app string, pr int) string {
	return fmt.Sprintf("%s-%s-%s-pr%d", base, team, app, pr)
}
