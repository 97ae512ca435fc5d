package apiclient

import (
	"context"
	"net/url"
	"strconv"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

// Previews lists a team's pull-request previews, newest first: app's only when app is not
// "", the closed ones too when all, at most limit (0: the server's default).
func (c *Client) Previews(ctx context.Context, team, app string, all bool, limit int) ([]apiv1.Preview, error) {
	q := url.Values{}
	if app != "" {
		q.Set("app", app)
	}
	if all {
		q.Set("all", "true")
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out apiv1.List[apiv1.Preview]
	return out.Items, c.do(ctx, "GET", "/api/v1/teams/"+esc(team)+"/previews", q, nil, &out)
}
