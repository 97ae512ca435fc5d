package apiv1

import (
	"time"

	"github.com/berth-dev/berth/internal/berth"
)

// Promote is the body of POST /teams/{team}/apps/{app}/promotions: deploy to To what runs
// in From.
type Promote struct {
	From           string `json:"from"`
	To             string `json:"to"`
	NoAutoRollback bool   `json:"noAutoRollback,omitempty"`
	TimeoutSeconds int    `json:"timeoutSeconds,omitempty"`
	// Emergency, when not "", is why the promotion goes ahead inside a freeze window of To
	// (audited); without it such a promotion is refused (409).
	Emergency string `json:"emergency,omitempty"`
}

// Decision is the body of POST /deploys/{id}/approve and /reject.
type Decision struct {
	// Reason is required: it goes to the audit log (and, for a rejection, the deploy's
	// reason).
	Reason string `json:"reason"`
}

// Approval is a deploy awaiting approval, and who asked for it.
type Approval struct {
	Deploy      Deploy    `json:"deploy"`
	RequestedBy string    `json:"requestedBy"`
	RequestedAt time.Time `json:"requestedAt"`
}

// FromApproval is the wire form of a deploy awaiting approval.
func FromApproval(d berth.Deploy, a berth.Approval) Approval {
	return Approval{Deploy: FromDeploy(d), RequestedBy: a.RequestedBy, RequestedAt: a.RequestedAt}
}
