package apiv1

import (
	"time"

	"github.com/berth-dev/berth/internal/berth"
)

// Preview is one pull request's preview of an app: deployed from a preview environment
// (Base) into the environment Berth made for it (Env), from the pull request's head.
type Preview struct {
	ID   int64  `json:"id"`
	Team string `json:"team"`
	App  string `json:"app"`
	Base string `json:"base"`
	PR   int    `json:"pr"`
	// URL is the pull request's page on its forge.
	URL string `json:"url"`
	// Branch is the pull request's head branch, SHA its head commit as last deployed.
	Branch string `json:"branch"`
	SHA    string `json:"sha"`
	// Fork: the head is in another repository; the preview gets no secrets.
	Fork bool   `json:"fork"`
	Env  string `json:"env"`
	// State is active or closed; Reason says why a closed one was closed (merged, closed,
	// expired).
	State     string    `json:"state"`
	Reason    string    `json:"reason,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// FromPreview is the wire form of a preview; the forge's comment id stays on the server.
func FromPreview(p berth.Preview) Preview {
	return Preview{ID: p.ID, Team: p.Team, App: p.App, Base: p.Base, PR: p.PR, URL: p.URL, Branch: p.Branch, SHA: p.SHA,
		Fork: p.Fork, Env: p.Env, State: string(p.State), Reason: p.Reason, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
}
