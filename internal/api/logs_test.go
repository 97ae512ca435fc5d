package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// TestLogsRefusals: a logs request is checked before its stream starts, and each refusal
// says what is wrong and where: the caller's team, the app and environment, every query
// parameter.
func TestLogsRefusals(t *testing.T) {
	f := newFixture(t)
	const logs = "/api/v1/teams/alpha/apps/reports/envs/staging/logs"
	for _, c := range []struct {
		caller, path string
		status       int
		code, field  string
		message      string
	}{
		{noToken, logs, 401, "unauthenticated", "", ""},
		{otherViewer, logs, 403, "forbidden", "", "bob is not a member of team alpha"},
		{ownViewer, "/api/v1/teams/alpha/apps/nope/envs/staging/logs", 404, "not_found", "", `app "alpha/nope": not found`},
		{ownViewer, "/api/v1/teams/alpha/apps/reports/envs/nope/logs", 404, "not_found", "", `environment "nope": not found`},
		{ownViewer, "/api/v1/teams/alpha/apps/reports/envs/old/logs", 404, "not_found", "", "alpha/reports was never deployed to old"},
		{ownViewer, logs + "?since=abc", 400, "invalid", "since", `since "abc": not a duration or a time; use a duration back from now such as 10m or 24h, or an RFC 3339 time`},
		{ownViewer, logs + "?since=-5m", 400, "invalid", "since", "a negative duration is in the future"},
		{ownViewer, logs + "?tail=-1", 400, "invalid", "tail", `tail must be a number of lines from 0 to 10000, not "-1"`},
		{ownViewer, logs + "?tail=10001", 400, "invalid", "tail", "from 0 to 10000"},
		{ownViewer, logs + "?follow=yes", 400, "invalid", "follow", "follow must be true or false"},
		{ownViewer, logs + "?previous=true&follow=true", 400, "invalid", "previous", "cannot be followed"},
		{ownViewer, logs + "?pod=Web_1", 400, "invalid", "pod", `"Web_1" is not a pod name`},
		{ownViewer, logs + "?container=" + strings.Repeat("a", 300), 400, "invalid", "container", "is not a container name"},
	} {
		status, data := f.do(c.caller, "GET", c.path, nil)
		var e apiv1.Error
		if status != c.status || json.Unmarshal(data, &e) != nil || e.Code != c.code || e.Field != c.field || !strings.Contains(e.Message, c.message) {
			t.Errorf("GET %s as %s: %d %s\nwant %d %s field %q saying %q", c.path, c.caller, status, data, c.status, c.code, c.field, c.message)
		}
	}
}

// TestLogsWithoutCluster: a server that reads no clusters answers an allowed request with
// a stream whose only record is the error that ended it.
func TestLogsWithoutCluster(t *testing.T) {
	f := newFixture(t)
	req, _ := http.NewRequest("GET", f.srv.URL+"/api/v1/teams/alpha/apps/reports/envs/staging/logs?follow=true&since=10m", nil)
	req.Header.Set("Authorization", "Bearer "+f.tokens[ownViewer])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var recs []apiv1.LogRecord
	dec := json.NewDecoder(resp.Body)
	for dec.More() {
		var r apiv1.LogRecord
		if err := dec.Decode(&r); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" || len(recs) != 1 ||
		recs[0].Error != "this server does not read clusters: unavailable" || recs[0].Time.IsZero() {
		t.Errorf("%d %s: %+v", resp.StatusCode, resp.Header.Get("Content-Type"), recs)
	}
}

// seedClusterEvents stores events of alpha/reports in staging as the event watcher would:
// a rollout's, at the times given.
func seedClusterEvents(t *testing.T, f *fixture, evs ...berth.ClusterEvent) {
	t.Helper()
	err := f.st.Tx(context.Background(), func(tx *store.Tx) error {
		_, err := tx.SaveClusterEvents(context.Background(), evs)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func reportsEvent(uid, typ, reason, object string, at time.Time) berth.ClusterEvent {
	return berth.ClusterEvent{Env: "staging", Team: "alpha", App: "reports", UID: uid, Type: typ, Reason: reason,
		Object: object, Message: reason + " " + object, Count: 1, FirstAt: at, LastAt: at}
}

// TestClusterEvents lists the kept events of an app, oldest first, narrowed by
// environment, type and time; and a deploy's, those that happened while it ran.
func TestClusterEvents(t *testing.T) {
	f := newFixture(t)
	d, err := f.st.Deploy(context.Background(), f.ids["deploy"])
	if err != nil {
		t.Fatal(err)
	}
	before := d.StartedAt.Add(-time.Hour)
	seedClusterEvents(t, f,
		reportsEvent("e1", "Normal", "ScalingReplicaSet", "deployment/reports", before),
		reportsEvent("e2", "Normal", "ScalingReplicaSet", "deployment/reports", d.StartedAt),
		reportsEvent("e3", "Warning", "BackOff", "pod/reports-7d9f8-x2x4q", d.FinishedAt))

	objects := func(items []apiv1.ClusterEvent) string {
		var w []string
		for _, ev := range items {
			w = append(w, ev.Reason+":"+ev.Object)
		}
		return strings.Join(w, " ")
	}
	for _, c := range []struct {
		query, want string
	}{
		{"", "ScalingReplicaSet:deployment/reports ScalingReplicaSet:deployment/reports BackOff:pod/reports-7d9f8-x2x4q"},
		{"?env=staging&type=Warning", "BackOff:pod/reports-7d9f8-x2x4q"},
		{"?since=" + d.StartedAt.Add(-time.Second).Format(time.RFC3339), "ScalingReplicaSet:deployment/reports BackOff:pod/reports-7d9f8-x2x4q"},
		{"?limit=1", "BackOff:pod/reports-7d9f8-x2x4q"},
		{"?env=old", ""},
	} {
		status, data := f.do(ownViewer, "GET", "/api/v1/teams/alpha/apps/reports/events"+c.query, nil)
		var l apiv1.List[apiv1.ClusterEvent]
		if status != 200 || json.Unmarshal(data, &l) != nil || objects(l.Items) != c.want {
			t.Errorf("events%s: %d %s\nwant %s", c.query, status, data, c.want)
		}
	}

	status, data := f.do(ownViewer, "GET", "/api/v1/deploys/"+strconv.FormatInt(d.ID, 10)+"/cluster-events", nil)
	var de apiv1.DeployClusterEvents
	if status != 200 || json.Unmarshal(data, &de) != nil || objects(de.Items) != "ScalingReplicaSet:deployment/reports BackOff:pod/reports-7d9f8-x2x4q" ||
		de.Deploy != d.ID || de.From == nil || de.To == nil {
		t.Errorf("the deploy's events: %d %s", status, data)
	}

	for _, c := range []struct {
		caller, path string
		status       int
		field, msg   string
	}{
		{otherViewer, "/api/v1/teams/alpha/apps/reports/events", 403, "", "bob is not a member of team alpha"},
		{otherViewer, "/api/v1/deploys/" + strconv.FormatInt(d.ID, 10) + "/cluster-events", 403, "", "bob is not a member of team alpha"},
		{ownViewer, "/api/v1/teams/alpha/apps/nope/events", 404, "", `app "alpha/nope": not found`},
		{ownViewer, "/api/v1/teams/alpha/apps/reports/events?env=nope", 404, "", `environment "nope": not found`},
		{ownViewer, "/api/v1/deploys/999999/cluster-events", 404, "", "not found"},
		{ownViewer, "/api/v1/deploys/abc/cluster-events", 400, "id", "deploy id must be a positive number"},
		{ownViewer, "/api/v1/teams/alpha/apps/reports/events?since=abc", 400, "since", `since "abc": not a duration or a time`},
		{ownViewer, "/api/v1/teams/alpha/apps/reports/events?type=Bogus", 400, "type", `"Bogus" is not an event type: use Normal or Warning`},
		{ownViewer, "/api/v1/teams/alpha/apps/reports/events?limit=0", 400, "limit", `limit must be 1 to 1000, not "0"`},
	} {
		status, data := f.do(c.caller, "GET", c.path, nil)
		var e apiv1.Error
		if status != c.status || json.Unmarshal(data, &e) != nil || e.Field != c.field || !strings.Contains(e.Message, c.msg) {
			t.Errorf("GET %s as %s: %d %s\nwant %d field %q saying %q", c.path, c.caller, status, data, c.status, c.field, c.msg)
		}
	}
}
