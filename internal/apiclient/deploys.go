package apiclient

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

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
	u := *c.base
	u.Path += "/api/v1/deploys/" + strconv.FormatInt(id, 10) + "/stream"
	req, err := http.NewRequestWithContext(ctx, "GET", u.String(), nil)
	if err != nil {
		return apiv1.Deploy{}, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+c.token)
	// No client timeout: a rollout may take as long as its deadline.
	resp, err := (&http.Client{Transport: c.http.Transport}).Do(req)
	if err != nil {
		return apiv1.Deploy{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// Let the JSON path explain the error.
		_, err := c.Deploy(ctx, id)
		if err == nil {
			err = fmt.Errorf("stream deploy %d: %s", id, resp.Status)
		}
		return apiv1.Deploy{}, err
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var event string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data := []byte(strings.TrimPrefix(line, "data: "))
			switch event {
			case "progress":
				var ev apiv1.DeployEvent
				if err := json.Unmarshal(data, &ev); err == nil && progress != nil {
					progress(ev)
				}
			case "deploy":
				var d apiv1.Deploy
				if err := json.Unmarshal(data, &d); err != nil {
					return d, err
				}
				return d, nil
			}
		}
	}
	if err := sc.Err(); err != nil {
		return apiv1.Deploy{}, fmt.Errorf("stream deploy %d: %w", id, err)
	}
	return apiv1.Deploy{}, fmt.Errorf("stream deploy %d: the server closed the stream before the deploy ended", id)
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
