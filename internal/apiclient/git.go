package apiclient

import (
	"context"
	"net/url"
	"strconv"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

// ConnectRepo connects an app to its repository; the answer holds the webhook secret.
func (c *Client) ConnectRepo(ctx context.Context, team, app string, in apiv1.ConnectRepo) (apiv1.Connection, error) {
	var out apiv1.Connection
	return out, c.do(ctx, "PUT", "/api/v1/teams/"+esc(team)+"/apps/"+esc(app)+"/repo", nil, in, &out)
}

// AppRepo returns an app's repository connection.
func (c *Client) AppRepo(ctx context.Context, team, app string) (apiv1.AppRepo, error) {
	var out apiv1.AppRepo
	return out, c.do(ctx, "GET", "/api/v1/teams/"+esc(team)+"/apps/"+esc(app)+"/repo", nil, nil, &out)
}

// DisconnectRepo removes an app's repository connection.
func (c *Client) DisconnectRepo(ctx context.Context, team, app string) error {
	return c.do(ctx, "DELETE", "/api/v1/teams/"+esc(team)+"/apps/"+esc(app)+"/repo", nil, nil, nil)
}

// GitJobs lists what an app's webhook deliveries asked, newest first.
func (c *Client) GitJobs(ctx context.Context, team, app string, limit int) ([]apiv1.GitJob, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out apiv1.List[apiv1.GitJob]
	return out.Items, c.do(ctx, "GET", "/api/v1/teams/"+esc(team)+"/apps/"+esc(app)+"/git-jobs", q, nil, &out)
}
