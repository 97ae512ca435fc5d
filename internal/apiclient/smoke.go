package apiclient

import (
	"context"
	"net/http"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

// RunSmoke runs an app's smoke tests against what runs in env now and waits for their
// result, which may take the manifest's whole smoke budget: the request has no timeout of
// its own beyond ctx's.
func (c *Client) RunSmoke(ctx context.Context, team, app, env string) (apiv1.SmokeRun, error) {
	var out apiv1.SmokeRun
	return out, c.untimed().do(ctx, "POST", "/api/v1/teams/"+esc(team)+"/apps/"+esc(app)+"/smoke", nil, apiv1.RunSmoke{Env: env}, &out)
}

// untimed is c without the per-request timeout, for calls that last as long as the server
// works on them.
func (c *Client) untimed() *Client {
	cp := *c
	cp.http = &http.Client{Transport: c.http.Transport}
	return &cp
}
