package apiclient

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

// ProbeStatuses returns each probed environment's latest run, run in flight and alarm.
func (c *Client) ProbeStatuses(ctx context.Context) ([]apiv1.ProbeStatus, error) {
	var out apiv1.List[apiv1.ProbeStatus]
	return out.Items, c.do(ctx, "GET", "/api/v1/probes", nil, nil, &out)
}

// ProbeRuns lists env's probe runs ("" for every environment's), newest first, at most
// limit (0: the server's 50).
func (c *Client) ProbeRuns(ctx context.Context, env string, limit int) ([]apiv1.ProbeRun, error) {
	q := url.Values{}
	if env != "" {
		q.Set("env", env)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out apiv1.List[apiv1.ProbeRun]
	return out.Items, c.do(ctx, "GET", "/api/v1/probes/runs", q, nil, &out)
}

// ProbeRun returns probe run id with its steps.
func (c *Client) ProbeRun(ctx context.Context, id int64) (apiv1.ProbeRun, error) {
	var out apiv1.ProbeRun
	return out, c.do(ctx, "GET", "/api/v1/probes/runs/"+strconv.FormatInt(id, 10), nil, nil, &out)
}

// RunProbe runs env's probe now. queued is false when the answer is the run already queued
// or running there, which the caller shares: the server says which by its status, 201 or
// 200.
func (c *Client) RunProbe(ctx context.Context, env string) (run apiv1.ProbeRun, queued bool, err error) {
	status, err := c.doStatus(ctx, "POST", "/api/v1/envs/"+esc(env)+"/probes/runs", nil, nil, &run)
	return run, status == http.StatusCreated, err
}

// ProbeSettings returns how env is probed, without its secrets.
func (c *Client) ProbeSettings(ctx context.Context, env string) (apiv1.ProbeSettings, error) {
	var out apiv1.ProbeSettings
	return out, c.do(ctx, "GET", "/api/v1/envs/"+esc(env)+"/probe", nil, nil, &out)
}

// SetProbeSettings replaces how env is probed, secrets included.
func (c *Client) SetProbeSettings(ctx context.Context, env string, in apiv1.SetProbeSettings) (apiv1.ProbeSettings, error) {
	var out apiv1.ProbeSettings
	return out, c.do(ctx, "PUT", "/api/v1/envs/"+esc(env)+"/probe", nil, in, &out)
}
