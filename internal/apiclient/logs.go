package apiclient

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

// LogQuery says which logs of an app StreamLogs reads.
type LogQuery struct {
	Team, App, Env string
	// Pod and Container narrow the stream to one pod, one container.
	Pod, Container string
	// Since is a duration back from now (10m) or an RFC 3339 time; "" for none.
	Since string
	// Tail is how many lines of each container to start with; below 0: the server's
	// default.
	Tail int
	// Previous reads the previous instance of each container; Follow goes on until ctx
	// ends.
	Previous, Follow bool
}

// ErrStreamEnded says the server ended a followed log stream (it shut down, say).
var ErrStreamEnded = errors.New("the server ended the log stream")

// StreamLogs reads an app's log stream, calling record with each of its records, until the
// stream ends: at its end without Follow, when ctx ends with it (nil), or with the error
// the stream ended with, or record's.
func (c *Client) StreamLogs(ctx context.Context, q LogQuery, record func(apiv1.LogRecord) error) error {
	path := "/api/v1/teams/" + esc(q.Team) + "/apps/" + esc(q.App) + "/envs/" + esc(q.Env) + "/logs"
	u, err := c.url(path)
	if err != nil {
		return err
	}
	v := url.Values{}
	for k, s := range map[string]string{"pod": q.Pod, "container": q.Container, "since": q.Since} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.Tail >= 0 {
		v.Set("tail", strconv.Itoa(q.Tail))
	}
	if q.Previous {
		v.Set("previous", "true")
	}
	if q.Follow {
		v.Set("follow", "true")
	}
	u.RawQuery = v.Encode()
	req, err := http.NewRequestWithContext(ctx, "GET", u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/x-ndjson")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	// No client timeout: a followed stream lasts until ctx ends.
	resp, err := (&http.Client{Transport: c.http.Transport}).Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("GET %s: %w (is the server running? check `berth login`)", c.base.Host, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return responseError(resp, "GET", path)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20) // bounds each record
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue // the server's keep-alive
		}
		var rec apiv1.LogRecord
		if err := json.Unmarshal(line, &rec); err != nil {
			return fmt.Errorf("log stream of %s/%s in %s: a record is not JSON: %w", q.Team, q.App, q.Env, err)
		}
		if rec.Error != "" {
			return errors.New(rec.Error)
		}
		if err := record(rec); err != nil {
			return err
		}
	}
	switch {
	case ctx.Err() != nil:
		return nil
	case sc.Err() != nil:
		return fmt.Errorf("log stream of %s/%s in %s: %w", q.Team, q.App, q.Env, sc.Err())
	case q.Follow:
		return ErrStreamEnded
	}
	return nil
}

// EventFilter narrows ClusterEvents.
type EventFilter struct {
	// Env is one environment; Since a duration back from now (1h) or an RFC 3339 time;
	// Type Normal or Warning. "" selects all.
	Env, Since, Type string
	Limit            int
}

// ClusterEvents lists the Kubernetes events the server kept about team's app, oldest first.
func (c *Client) ClusterEvents(ctx context.Context, team, app string, f EventFilter) ([]apiv1.ClusterEvent, error) {
	q := url.Values{}
	for k, v := range map[string]string{"env": f.Env, "since": f.Since, "type": f.Type} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var out apiv1.List[apiv1.ClusterEvent]
	return out.Items, c.do(ctx, "GET", "/api/v1/teams/"+esc(team)+"/apps/"+esc(app)+"/events", q, nil, &out)
}

// DeployClusterEvents returns the Kubernetes events about the app's objects that happened
// while deploy id ran.
func (c *Client) DeployClusterEvents(ctx context.Context, id int64) (apiv1.DeployClusterEvents, error) {
	var out apiv1.DeployClusterEvents
	return out, c.do(ctx, "GET", "/api/v1/deploys/"+strconv.FormatInt(id, 10)+"/cluster-events", nil, nil, &out)
}
