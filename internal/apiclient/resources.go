package apiclient

import (
	"context"
	"net/url"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

// Resources lists the resources provisioned for team's app, in env or ("") every
// environment; secret outputs come by name only.
func (c *Client) Resources(ctx context.Context, team, app, env string) ([]apiv1.Resource, error) {
	var q url.Values
	if env != "" {
		q = url.Values{"env": {env}}
	}
	var out apiv1.List[apiv1.Resource]
	return out.Items, c.do(ctx, "GET", "/api/v1/teams/"+esc(team)+"/apps/"+esc(app)+"/resources", q, nil, &out)
}

// ResourceDelete says which resource DeleteResource deletes, and how far the caller agreed
// to go.
type ResourceDelete struct {
	Team, App, Env, Name string
	// Confirm agrees to lose the resource's data; without it the server changes nothing
	// and answers an error with code "confirmation_required" saying what would be dropped.
	Confirm bool
	// Force deletes a resource the app's latest deploy still declares.
	Force bool
}

// DeleteResource deletes a provisioned resource, dropping a postgres database Berth made.
func (c *Client) DeleteResource(ctx context.Context, d ResourceDelete) (apiv1.ResourceDeletion, error) {
	q := url.Values{}
	if d.Confirm {
		q.Set("confirm", "true")
	}
	if d.Force {
		q.Set("force", "true")
	}
	var out apiv1.ResourceDeletion
	return out, c.do(ctx, "DELETE", "/api/v1/teams/"+esc(d.Team)+"/apps/"+esc(d.App)+"/envs/"+esc(d.Env)+"/resources/"+esc(d.Name), q, nil, &out)
}

// RotateResource gives a postgres resource a new password, through the refresh deploy it
// queues (see the deploy in the answer).
func (c *Client) RotateResource(ctx context.Context, team, app, env, name string) (apiv1.ResourceRotation, error) {
	var out apiv1.ResourceRotation
	return out, c.do(ctx, "POST", "/api/v1/teams/"+esc(team)+"/apps/"+esc(app)+"/envs/"+esc(env)+"/resources/"+esc(name)+"/rotate", nil, nil, &out)
}
