package berth

import "time"

// GitOps is an environment's GitOps output: each deploy's rendered objects (secrets only
// as references) are committed to a platform repository, on the environment's branch, in
// a directory per app (TEAM/APP), a commit per deploy.
type GitOps struct {
	Env   string
	Forge Forge
	// URL is the platform repository's URL; Repo its OWNER/NAME.
	URL, Repo string
	// Branch is the environment's branch ("" when read back: the environment's name).
	Branch string
	// PullRequest: a deploy opens a pull request to Branch instead of committing to it,
	// and is applied when the pull request is merged (cancelled when it is closed).
	PullRequest bool
	// ExternalApply: the platform's own Argo CD or Flux applies the branch; Berth only
	// follows the rollout.
	ExternalApply bool
	CreatedBy     string
	UpdatedAt     time.Time
}

// BranchOr is g's branch: Branch, or the environment's name.
func (g GitOps) BranchOr() string {
	if g.Branch != "" {
		return g.Branch
	}
	return g.Env
}

// GitOpsState is where a deploy's change to the platform repository is.
type GitOpsState string

// The states of a GitOps change: committed to the environment's branch; a pull request
// open, merged or closed unmerged.
const (
	GitOpsCommitted GitOpsState = "committed"
	GitOpsOpen      GitOpsState = "open"
	GitOpsMerged    GitOpsState = "merged"
	GitOpsClosed    GitOpsState = "closed"
)

// GitOpsChange is what one deploy wrote to its environment's platform repository.
type GitOpsChange struct {
	DeployID int64
	Env      string
	Repo     string
	// Branch is where the commit went: the environment's branch, or the pull request's.
	Branch string
	Commit string
	// PR is the pull request's number and URL its page (0 and "" when committed).
	PR        int
	URL       string
	State     GitOpsState
	UpdatedAt time.Time
}
