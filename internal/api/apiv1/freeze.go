package apiv1

import (
	"time"

	"github.com/berth-dev/berth/internal/berth"
)

// FreezeEnvironment is the body of POST /envs/{env}/freezes: no deploy goes to the
// environment from Start (default: now) to End but an emergency, which says why.
type FreezeEnvironment struct {
	Start  *time.Time `json:"start,omitempty"`
	End    time.Time  `json:"end"`
	Reason string     `json:"reason"`
}

// FreezeWindow is a time when nothing deploys to an environment but an emergency deploy,
// which says why (audited), and automatic rollbacks.
type FreezeWindow struct {
	ID        int64     `json:"id"`
	Env       string    `json:"env"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Reason    string    `json:"reason"`
	CreatedBy string    `json:"createdBy"`
	CreatedAt time.Time `json:"createdAt"`
}

// FromFreezeWindow is the wire form of a freeze window.
func FromFreezeWindow(w berth.FreezeWindow) FreezeWindow {
	return FreezeWindow{ID: w.ID, Env: w.Env, Start: w.Start, End: w.End, Reason: w.Reason, CreatedBy: w.CreatedBy, CreatedAt: w.CreatedAt}
}
