package berth

import (
	"fmt"
	"time"
)

// DeployState is where a deploy is in its life: queued, running, then exactly one of
// succeeded or failed.
type DeployState string

// The states of a deploy.
const (
	// DeployAwaiting: a deploy to a protected environment waits for an approval before
	// it is queued.
	DeployAwaiting DeployState = "awaiting-approval"
	// DeployAwaitingMerge: its objects are in a pull request to its environment's
	// platform repository (GitOps output); it goes on when the pull request is merged.
	DeployAwaitingMerge DeployState = "awaiting-merge"
	DeployQueued        DeployState = "queued"
	DeployRunning       DeployState = "running"
	DeploySucceeded     DeployState = "succeeded"
	DeployFailed        DeployState = "failed"
)

// Final reports whether s is an end state.
func (s DeployState) Final() bool { return s == DeploySucceeded || s == DeployFailed }

// DeployKind says why a deploy exists.
type DeployKind string

// The kinds of deploy.
const (
	KindDeploy       DeployKind = "deploy"        // a revision, by a user
	KindRedeploy     DeployKind = "redeploy"      // the current revision again (team redeploy)
	KindRollback     DeployKind = "rollback"      // an earlier deploy's objects, by a user
	KindAutoRollback DeployKind = "auto-rollback" // the last good deploy's objects, after a failure
	KindPromotion    DeployKind = "promotion"     // what runs in another environment: its revision, args and image digests
)

// Valid reports whether k is one of the kinds.
func (k DeployKind) Valid() bool {
	switch k {
	case KindDeploy, KindRedeploy, KindRollback, KindAutoRollback, KindPromotion:
		return true
	}
	return false
}

// DeployOptions tune how a deploy runs.
type DeployOptions struct {
	ForceConflicts bool
	// NoAutoRollback turns off the automatic rollback after a failed rollout.
	NoAutoRollback bool
	// Refresh re-renders with current configuration (redeploys).
	Refresh bool
	// TimeoutSeconds bounds the rollout; 0 means the server's default.
	TimeoutSeconds int
	// Emergency, when not "", is why this deploy goes ahead inside a freeze window of its
	// environment; the store audits it.
	Emergency string
}

// Deploy is one deploy job of an app into an environment.
type Deploy struct {
	ID            int64
	AppID         int64
	Team          string
	App           string
	Env           string
	Revision      int64
	Kind          DeployKind
	Args          map[string]string
	Options       DeployOptions
	SourceDeploy  int64 // the deploy whose objects a rollback or redeploy reuses
	RollbackOf    int64 // the failed deploy an automatic rollback answers
	BatchID       int64
	ObjectsDigest string
	State         DeployState
	Reason        string
	CreatedBy     string
	CreatedAt     time.Time
	StartedAt     time.Time
	FinishedAt    time.Time
	LeaseOwner    string
	LeaseExpires  time.Time
	Attempts      int
	// Smoke is what its verify stage's smoke tests found; nil when none ran.
	Smoke *SmokeRun
	// Images maps each image its pods run, as named, to the digest its images stage found
	// in the registry; nil when it did not look. A promotion starts with its source's.
	Images map[string]string
	// PromotedFrom is a promotion's source deploy, in the environment promoted from.
	PromotedFrom int64
}

// Approval is the decision on a deploy that waits for one (DeployAwaiting).
type Approval struct {
	DeployID    int64
	RequestedBy string
	RequestedAt time.Time
	// Decision is "" while it waits, then approved or rejected, by DecidedBy, with Reason.
	Decision  string
	DecidedBy string
	DecidedAt time.Time
	Reason    string
}

// The decisions on an approval.
const (
	Approved = "approved"
	Rejected = "rejected"
)

// NewDeploy is a deploy to queue.
type NewDeploy struct {
	Team, App, Env string
	Revision       int64
	Kind           DeployKind
	Args           map[string]string
	Options        DeployOptions
	SourceDeploy   int64
	RollbackOf     int64
	BatchID        int64
	CreatedBy      string
	// Promotions: the source deploy, the digests to pin, and whether the deploy waits for
	// an approval (a protected environment) instead of being queued.
	PromotedFrom  int64
	Images        map[string]string
	AwaitApproval bool
}

// DeployEvent is one step of a deploy's progress, streamed to clients.
type DeployEvent struct {
	ID        int64
	DeployID  int64
	At        time.Time
	Phase     string
	Message   string
	Desired   int
	Updated   int
	Ready     int
	Available int
}

// Redo returns the deploy that runs again what src ran, as kind, queued by by: the same
// app, environment, revision and args, and the objects src applied (SourceDeploy) unless
// ask.Refresh renders the revision anew with current settings. Rollbacks, refreshes, team
// redeploys and automatic rollbacks all queue their deploys through it, so that one rule
// decides the options: src's (how it was applied: ForceConflicts, NoAutoRollback,
// TimeoutSeconds), with what ask sets on top (a flag turned on, a timeout given).
// The caller adds what only it knows (BatchID, RollbackOf).
func Redo(src Deploy, kind DeployKind, by string, ask DeployOptions) NewDeploy {
	o := DeployOptions{
		ForceConflicts: src.Options.ForceConflicts || ask.ForceConflicts,
		NoAutoRollback: src.Options.NoAutoRollback || ask.NoAutoRollback,
		Refresh:        ask.Refresh,
		TimeoutSeconds: src.Options.TimeoutSeconds,
	}
	if ask.TimeoutSeconds > 0 {
		o.TimeoutSeconds = ask.TimeoutSeconds
	}
	o.Emergency = ask.Emergency // asked each time, never carried on
	nd := NewDeploy{Team: src.Team, App: src.App, Env: src.Env, Revision: src.Revision, Kind: kind,
		Args: src.Args, Options: o, SourceDeploy: src.ID, CreatedBy: by, Images: src.Images}
	if o.Refresh {
		nd.SourceDeploy = 0
	}
	return nd
}

// FreezeWindow is a time when nothing deploys to an environment (a holiday, a launch),
// but an emergency deploy, which says why, and automatic rollbacks.
type FreezeWindow struct {
	ID         int64
	Env        string
	Start, End time.Time
	Reason     string
	CreatedBy  string
	CreatedAt  time.Time
}

// FrozenError refuses a deploy inside a freeze window of its environment.
type FrozenError struct {
	Window FreezeWindow
}

func (e *FrozenError) Error() string {
	return fmt.Sprintf("environment %s is frozen until %s (%s, window %d): deploy only in an emergency, saying why (--emergency REASON)",
		e.Window.Env, e.Window.End.UTC().Format(time.RFC3339), e.Window.Reason, e.Window.ID)
}

// Is makes a FrozenError an ErrConflict.
func (e *FrozenError) Is(target error) bool { return target == ErrConflict }
