package apiclient

import (
	"context"
	"net/url"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

// Signals returns an app's golden signals in env over the last since (a duration such as
// 15m, 6h or 7d; "" is the server's default, an hour).
func (c *Client) Signals(ctx context.Context, team, app, env, since string) (apiv1.Signals, error) {
	q := url.Values{}
	if since != "" {
		q.Set("since", since)
	}
	var out apiv1.Signals
	return out, c.do(ctx, "GET", "/api/v1/teams/"+esc(team)+"/apps/"+esc(app)+"/envs/"+esc(env)+"/metrics", q, nil, &out)
}
