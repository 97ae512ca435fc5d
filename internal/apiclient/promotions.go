package apiclient

import (
	"context"
	"net/url"
	"strconv"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

// Promote queues a promotion of an app from one environment to another.
func (c *Client) Promote(ctx context.Context, team, app string, in apiv1.Promote) (apiv1.Deploy, error) {
	var out apiv1.Deploy
	return out, c.do(ctx, "POST", "/api/v1/teams/"+esc(team)+"/apps/"+esc(app)+"/promotions", nil, in, &out)
}

// Approvals lists the deploys awaiting approval, of team and env when given.
func (c *Client) Approvals(ctx context.Context, team, env string) ([]apiv1.Approval, error) {
	q := url.Values{}
	if team != "" {
		q.Set("team", team)
	}
	if env != "" {
		q.Set("env", env)
	}
	var out apiv1.List[apiv1.Approval]
	return out.Items, c.do(ctx, "GET", "/api/v1/approvals", q, nil, &out)
}

// Decide approves (approve true) or rejects a deploy awaiting approval, with a reason.
func (c *Client) Decide(ctx context.Context, id int64, approve bool, reason string) (apiv1.Deploy, error) {
	verb := "reject"
	if approve {
		verb = "approve"
	}
	var out apiv1.Deploy
	return out, c.do(ctx, "POST", "/api/v1/deploys/"+strconv.FormatInt(id, 10)+"/"+verb, nil, apiv1.Decision{Reason: reason}, &out)
}
