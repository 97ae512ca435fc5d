package apiclient

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

// CreateDeploy queues a deploy.
func (c *Client) CreateDeploy(ctx context.Context, in apiv1.CreateDeploy) (apiv1.Deploy, error) {
	var out apiv1.Deploy
	return out, c.do(ctx, "POST", "/api/v1/deploys", nil, in, &out)
}

// Deploy returns one deploy.
func (c *Client) Deploy(ctx context.Context, id int64) (apiv1.Deploy, error) {
	var out apiv1.Deploy
	return out, c.do(ctx, "GET", "/api/v1/deploys/"+strconv.FormatInt(id, 10), nil, nil, &out)
}

// Deploys returns an app's deploy history, newest first.
func (c *Client) Deploys(ctx context.Context, team, app, env string, limit int) ([]apiv1.Deploy, error) {
	q := url.Values{}
	if env != "" {
		q.Set("env", env)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out apiv1.List[apiv1.Deploy]
	return out.Items, c.do(ctx, "GET", "/api/v1/teams/"+esc(team)+"/apps/"+esc(app)+"/deploys", q, nil, &out)
}

// Rollback queues a rollback.
func (c *Client) Rollback(ctx context.Context, team, app string, in apiv1.Rollback) (apiv1.Deploy, error) {
	var out apiv1.Deploy
	return out, c.do(ctx, "POST", "/api/v1/teams/"+esc(team)+"/apps/"+esc(app)+"/rollback", nil, in, &out)
}

// RedeployTeam queues a redeploy of a team's apps.
func (c *Client) RedeployTeam(ctx context.Context, team string, in apiv1.RedeployTeam) ([]apiv1.Deploy, error) {
	var out apiv1.List[apiv1.Deploy]
	return out.Items, c.do(ctx, "POST", "/api/v1/teams/"+esc(team)+"/redeploy", nil, in, &out)
}

// DeployObjects returns the objects a deploy applied, as JSON.
func (c *Client) DeployObjects(ctx context.Context, id int64) ([]map[string]any, error) {
	var out []map[string]any
	return out, c.do(ctx, "GET", "/api/v1/deploys/"+strconv.FormatInt(id, 10)+"/objects", nil, nil, &out)
}

// StreamDeploy follows a deploy's server-sent events, calling progress for each event,
// and returns the deploy as it ended.
func (c *Client) StreamDeploy(ctx context.Context, id int64, progress func(apiv1.DeployEvent)) (apiv1.Deploy, error) {
	var d apiv1.Deploy
	err := c.stream(ctx, "/api/v1/deploys/"+strconv.FormatInt(id, 10)+"/stream", "deploy", id, func(event string, data []byte) (bool, error) {
		switch event {
		case "progress":
			var ev apiv1.DeployEvent
			if err := json.Unmarshal(data, &ev); err == nil && progress != nil {
				progress(ev)
			}
		case "deploy":
			return true, json.Unmarshal(data, &d)
		}
		return false, nil
	})
	return d, err
}

// StreamBatch follows a batch (a team redeploy) through its server-sent events, calling
// ended with each of its deploys as it ends, and returns them all, in the order they were
// queued, once every one has ended.
func (c *Client) StreamBatch(ctx context.Context, id int64, ended func(apiv1.Deploy)) ([]apiv1.Deploy, error) {
	var all apiv1.List[apiv1.Deploy]
	err := c.stream(ctx, "/api/v1/batches/"+strconv.FormatInt(id, 10)+"/stream", "batch", id, func(event string, data []byte) (bool, error) {
		switch event {
		case "deploy":
			var d apiv1.Deploy
			if err := json.Unmarshal(data, &d); err != nil {
				return false, fmt.Errorf("stream batch %d: deploy event: %w", id, err)
			}
			if ended != nil {
				ended(d)
			}
		case "batch":
			if err := json.Unmarshal(data, &all); err != nil {
				return false, fmt.Errorf("stream batch %d: batch event: %w", id, err)
			}
			return true, nil
		}
		return false, nil
	})
	return all.Items, err
}

// AutoRollback returns the automatic rollback queued when deploy id failed; an *Error with
// status 404 means there is none.
func (c *Client) AutoRollback(ctx context.Context, id int64) (apiv1.Deploy, error) {
	var out apiv1.Deploy
	return out, c.do(ctx, "GET", "/api/v1/deploys/"+strconv.FormatInt(id, 10)+"/rollback", nil, nil, &out)
}

// DeployEvents returns a deploy's progress events so far.
func (c *Client) DeployEvents(ctx context.Context, id int64) ([]apiv1.DeployEvent, error) {
	var out apiv1.List[apiv1.DeployEvent]
	return out.Items, c.do(ctx, "GET", "/api/v1/deploys/"+strconv.FormatInt(id, 10)+"/events", nil, nil, &out)
}

// AppStatus returns an app's deployed revision against what runs, per environment.
func (c *Client) AppStatus(ctx context.Context, team, app, env string) (apiv1.AppStatus, error) {
	q := url.Values{}
	if env != "" {
		q.Set("env", env)
	}
	var out apiv1.AppStatus
	return out, c.do(ctx, "GET", "/api/v1/teams/"+esc(team)+"/apps/"+esc(app)+"/status", q, nil, &out)
}
