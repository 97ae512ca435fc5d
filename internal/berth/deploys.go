package berth

import "time"

// DeployState is where a deploy is in its life: queued, running, then exactly one of
// succeeded or failed.
type DeployState string

// The states of a deploy.
const (
	DeployQueued    DeployState = "queued"
	DeployRunning   DeployState = "running"
	DeploySucceeded DeployState = "succeeded"
	DeployFailed    DeployState = "failed"
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
)

// Valid reports whether k is one of the kinds.
func (k DeployKind) Valid() bool {
	switch k {
	case KindDeploy, KindRedeploy, KindRollback, KindAutoRollback:
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
}

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
