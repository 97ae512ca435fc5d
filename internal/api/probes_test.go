package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/probe"
	"github.com/berth-dev/berth/internal/store"
)

// probeOwner is the lease owner the tests' runs are claimed by, as the probe runner would.
const probeOwner = "test-probe-runner"

// probeStart is when the fixture's finished probe run began.
var probeStart = time.Date(2026, 12, 7, 4, 12, 0, 0, time.UTC)

// probeSteps are a run's steps as the runner finishes them: every kind of result, and a
// DNS answer under a millisecond.
func probeSteps() []berth.ProbeStep {
	at := func(ms int) time.Time { return probeStart.Add(time.Duration(ms) * time.Millisecond) }
	return []berth.ProbeStep{
		{Name: "scheduled", Started: at(0), Duration: 1800 * time.Millisecond, OK: true, Detail: "pod probe-1 running"},
		{Name: "dns", Started: at(1800), Duration: 412 * time.Microsecond, OK: true, Detail: "probe.berth-probes.svc -> 10.96.0.12"},
		{Name: "http", Started: at(1801), Duration: 3200 * time.Microsecond, OK: true, Detail: "GET http://probe.berth-probes.svc:8080/: 200"},
		{Name: "database", Started: at(1805), Duration: 4200 * time.Millisecond, OK: true, Slow: true, Detail: "wrote and read a row"},
		{Name: "queue", Started: at(6005), Duration: 10 * time.Second, Error: "connect nats://nats.queues:4222: i/o timeout"},
	}
}

// finishedProbe queues a run of env's probe, claims it as the runner would, and finishes it
// in state with steps and reason.
func (f *fixture) finishedProbe(env string, state berth.JobState, reason string, steps []berth.ProbeStep) berth.ProbeRun {
	f.t.Helper()
	ctx := context.Background()
	run, _ := f.runningProbe(env)
	err := f.st.Tx(ctx, func(tx *store.Tx) (err error) {
		run, err = tx.FinishProbeRun(ctx, run.ID, probeOwner, state, reason, steps)
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return run
}

// runningProbe queues a run of env's probe and claims it as the runner would, with a new
// report token; it returns the run and the token.
func (f *fixture) runningProbe(env string) (berth.ProbeRun, string) {
	f.t.Helper()
	ctx := context.Background()
	var queued berth.ProbeRun
	err := f.st.Tx(ctx, func(tx *store.Tx) (err error) {
		queued, _, err = tx.EnqueueProbeRun(ctx, store.NewProbeRun{Env: env, Trigger: berth.TriggerManual, CreatedBy: "ada"})
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	run, ok, err := f.st.ClaimProbeRun(ctx, probeOwner, time.Minute)
	if err != nil || !ok || run.ID != queued.ID {
		f.t.Fatalf("claimed probe run %d %v %v, want %d", run.ID, ok, err, queued.ID)
	}
	token := fmt.Sprintf("probe-token-%d-%d", run.ID, time.Now().UnixNano())
	sum := sha256.Sum256([]byte(token))
	if err := f.st.Tx(ctx, func(tx *store.Tx) error { return tx.SetProbeToken(ctx, run.ID, probeOwner, hex.EncodeToString(sum[:])) }); err != nil {
		f.t.Fatal(err)
	}
	return run, token
}

// report posts body to run's report route with token ("" sends no Authorization).
func (f *fixture) report(run int64, token string, body []byte) (int, []byte, http.Header) {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/api/v1/probes/runs/%d/report", f.srv.URL, run), bytes.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		f.t.Fatal(err)
	}
	return resp.StatusCode, b.Bytes(), resp.Header
}

// TestProbeRuns: any signed-in user lists the environments' probes and their runs, shows
// one with its steps (sub-millisecond times kept), and runs an environment's probe: queued
// (201), then the same run for whoever asks while it is in flight (200).
func TestProbeRuns(t *testing.T) {
	f := newFixture(t)
	if got := call[apiv1.List[apiv1.ProbeStatus]](f, ownViewer, "GET", "/api/v1/probes", nil, 200); len(got.Items) != 0 {
		t.Errorf("probes before any run: %+v", got.Items)
	}
	done := f.finishedProbe("staging", berth.JobFailed, "queue failed: connect nats://nats.queues:4222: i/o timeout", probeSteps())

	queued := call[apiv1.ProbeRun](f, otherViewer, "POST", "/api/v1/envs/staging/probes/runs", nil, 201)
	want := apiv1.ProbeRun{ID: done.ID + 1, Env: "staging", Trigger: "manual", State: "queued", Steps: []apiv1.ProbeStep{}, Attempts: 0,
		CreatedBy: "bob", CreatedAt: queued.CreatedAt}
	if diff := cmp.Diff(want, queued); diff != "" || queued.CreatedAt.IsZero() {
		t.Errorf("queued run (-want +got):\n%s", diff)
	}
	if again := call[apiv1.ProbeRun](f, deployer, "POST", "/api/v1/envs/staging/probes/runs", nil, 200); !cmp.Equal(again, queued) {
		t.Errorf("a second run while one is queued: %+v, want run %d", again, queued.ID)
	}

	got := call[apiv1.ProbeRun](f, ownViewer, "GET", fmt.Sprintf("/api/v1/probes/runs/%d", done.ID), nil, 200)
	wantDone := apiv1.ProbeRun{ID: done.ID, Env: "staging", Trigger: "manual", State: "failed",
		Reason: "queue failed: connect nats://nats.queues:4222: i/o timeout", DurationMs: 16005, Attempts: 1, CreatedBy: "ada",
		CreatedAt: done.CreatedAt, StartedAt: &done.StartedAt, FinishedAt: &done.FinishedAt, Steps: []apiv1.ProbeStep{
			{Name: "scheduled", Started: probeStart, DurationMs: 1800, OK: true, Detail: "pod probe-1 running"},
			{Name: "dns", Started: probeStart.Add(1800 * time.Millisecond), DurationMs: 0.412, OK: true, Detail: "probe.berth-probes.svc -> 10.96.0.12"},
			{Name: "http", Started: probeStart.Add(1801 * time.Millisecond), DurationMs: 3.2, OK: true, Detail: "GET http://probe.berth-probes.svc:8080/: 200"},
			{Name: "database", Started: probeStart.Add(1805 * time.Millisecond), DurationMs: 4200, OK: true, Slow: true, Detail: "wrote and read a row"},
			{Name: "queue", Started: probeStart.Add(6005 * time.Millisecond), DurationMs: 10000, Error: "connect nats://nats.queues:4222: i/o timeout"},
		}}
	if diff := cmp.Diff(wantDone, got); diff != "" {
		t.Errorf("GET the finished run (-want +got):\n%s", diff)
	}
	if _, data := f.do(ownViewer, "GET", fmt.Sprintf("/api/v1/probes/runs/%d", done.ID), nil); !bytes.Contains(data, []byte(`"durationMs": 0.412`)) {
		t.Errorf("the DNS step's 412µs is not 0.412 ms on the wire:\n%s", data)
	}

	statuses := call[apiv1.List[apiv1.ProbeStatus]](f, ownViewer, "GET", "/api/v1/probes", nil, 200)
	if len(statuses.Items) != 1 {
		t.Fatalf("probe statuses: %+v", statuses.Items)
	}
	st := statuses.Items[0]
	if st.Env != "staging" || st.Latest == nil || st.Latest.ID != done.ID || st.Running == nil || st.Running.ID != queued.ID ||
		st.LastSuccess != nil || st.Failing {
		t.Errorf("staging's probe status: %+v", st)
	}

	ids := func(l apiv1.List[apiv1.ProbeRun]) []int64 {
		out := []int64{}
		for _, r := range l.Items {
			out = append(out, r.ID)
		}
		return out
	}
	for _, c := range []struct {
		query string
		want  []int64
	}{
		{"", []int64{queued.ID, done.ID}},
		{"?env=staging&limit=1", []int64{queued.ID}},
		{"?env=old", []int64{}},
	} {
		if diff := cmp.Diff(c.want, ids(call[apiv1.List[apiv1.ProbeRun]](f, otherViewer, "GET", "/api/v1/probes/runs"+c.query, nil, 200))); diff != "" {
			t.Errorf("GET /probes/runs%s (-want +got):\n%s", c.query, diff)
		}
	}

	for _, c := range []struct {
		name, caller, method, path string
		status                     int
		field, says                string
	}{
		{"an unknown environment's run", ownViewer, "POST", "/api/v1/envs/mars/probes/runs", 404, "", "mars"},
		{"an unknown environment's runs", ownViewer, "GET", "/api/v1/probes/runs?env=mars", 404, "", "mars"},
		{"a missing run", ownViewer, "GET", "/api/v1/probes/runs/999", 404, "", "999"},
		{"a bad run id", ownViewer, "GET", "/api/v1/probes/runs/latest", 400, "run", `probe run id must be a positive number, not "latest"`},
		{"a bad limit", ownViewer, "GET", "/api/v1/probes/runs?limit=500", 400, "limit", "limit must be 1 to 200"},
		{"no token", noToken, "POST", "/api/v1/envs/staging/probes/runs", 401, "", ""},
		{"no token, statuses", noToken, "GET", "/api/v1/probes", 401, "", ""},
	} {
		status, data := f.do(c.caller, c.method, c.path, nil)
		var e apiv1.Error
		if status != c.status || json.Unmarshal(data, &e) != nil || e.Field != c.field || !strings.Contains(e.Message, c.says) {
			t.Errorf("%s: %d %s, want %d on %q saying %q", c.name, status, data, c.status, c.field, c.says)
		}
	}
}

// TestProbeSettings: a global admin sets how an environment is probed, secrets included;
// every user reads the settings back, told only which secrets are set; setting them again
// replaces them whole. No secret is in any response, audit event or log line, and what
// the settings cannot take is a 400 naming the field.
func TestProbeSettings(t *testing.T) {
	f := newFixture(t)
	const s3Secret, queueToken = "fixture-probe-s3-secret-51ab", "fixture-probe-queue-token-c3d4"
	var bodies []string
	send := func(caller, method, path string, body any, status int) []byte {
		t.Helper()
		got, data := f.do(caller, method, path, body)
		bodies = append(bodies, string(data))
		if got != status {
			t.Fatalf("%s %s as %s: %d %s, want %d", method, path, caller, got, data, status)
		}
		return data
	}
	decodeInto := func(data []byte, v any) {
		t.Helper()
		if err := json.Unmarshal(data, v); err != nil {
			t.Fatalf("%v\n%s", err, data)
		}
	}
	const path = "/api/v1/envs/staging/probe"

	var before apiv1.ProbeSettings
	decodeInto(send(ownViewer, "GET", path, nil, 200), &before)
	if diff := cmp.Diff(apiv1.ProbeSettings{Env: "staging", Interval: "0s", Thresholds: map[string]string{}}, before); diff != "" {
		t.Errorf("settings never set (-want +got):\n%s", diff)
	}

	full := apiv1.SetProbeSettings{S3Endpoint: "10.89.0.1:7070", S3Bucket: "probes", S3Region: "eu-west-1", S3AccessKey: "AKIAPROBE",
		S3SecretKey: s3Secret, QueueURL: "nats://nats.queues:4222", QueueToken: queueToken, Interval: "10m",
		Thresholds: map[string]string{"database": "5s", "scheduled": "90s"}}
	var set apiv1.ProbeSettings
	decodeInto(send(globalAdmin, "PUT", path, full, 200), &set)
	want := apiv1.ProbeSettings{Env: "staging", S3Endpoint: "10.89.0.1:7070", S3Bucket: "probes", S3Region: "eu-west-1", S3AccessKey: "AKIAPROBE",
		QueueURL: "nats://nats.queues:4222", Interval: "10m", Thresholds: map[string]string{"database": "5s", "scheduled": "1m30s"},
		HasS3SecretKey: true, HasQueueToken: true, UpdatedBy: "admin", UpdatedAt: set.UpdatedAt}
	if diff := cmp.Diff(want, set); diff != "" || set.UpdatedAt == nil {
		t.Errorf("the settings set (-want +got):\n%s", diff)
	}
	for _, caller := range []string{ownViewer, otherViewer} {
		var got apiv1.ProbeSettings
		decodeInto(send(caller, "GET", path, nil, 200), &got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("the settings as %s (-want +got):\n%s", caller, diff)
		}
	}
	// The secrets reached the store, sealed.
	_, sec, err := f.st.ProbeSettings(context.Background(), "staging")
	if err != nil || sec.S3SecretKey != s3Secret || sec.QueueToken != queueToken {
		t.Errorf("the stored secrets: %v, S3 %t, queue %t", err, sec.S3SecretKey == s3Secret, sec.QueueToken == queueToken)
	}

	// Setting again replaces the whole: no object store, no token, on demand.
	var queueOnly apiv1.ProbeSettings
	decodeInto(send(globalAdmin, "PUT", path, apiv1.SetProbeSettings{QueueURL: "nats://nats.queues:4222", Interval: "0"}, 200), &queueOnly)
	if queueOnly.S3Endpoint != "" || queueOnly.HasS3SecretKey || queueOnly.HasQueueToken || queueOnly.Interval != "0s" ||
		len(queueOnly.Thresholds) != 0 || queueOnly.QueueURL != "nats://nats.queues:4222" {
		t.Errorf("the settings replaced: %+v", queueOnly)
	}

	for _, caller := range []string{teamAdmin, deployer, ownViewer, otherViewer} {
		send(caller, "PUT", path, full, 403)
	}
	send(globalAdmin, "PUT", "/api/v1/envs/mars/probe", apiv1.SetProbeSettings{}, 404)
	send(ownViewer, "GET", "/api/v1/envs/mars/probe", nil, 404)

	with := func(change func(*apiv1.SetProbeSettings)) apiv1.SetProbeSettings {
		s := full
		s.Thresholds = map[string]string{}
		change(&s)
		return s
	}
	for _, c := range []struct {
		name        string
		body        any
		field, says string
	}{
		{"an interval too short", with(func(s *apiv1.SetProbeSettings) { s.Interval = "10s" }), "interval", "10s is shorter than 1m0s"},
		{"a bad interval", with(func(s *apiv1.SetProbeSettings) { s.Interval = "hourly" }), "interval", "such as 10m"},
		{"an unknown step", with(func(s *apiv1.SetProbeSettings) { s.Thresholds["foo"] = "1s" }), "thresholds",
			`"foo" is not a step (scheduled, dns, http, credentials, database, objectstore, queue)`},
		{"a bad threshold", with(func(s *apiv1.SetProbeSettings) { s.Thresholds["dns"] = "fast" }), "thresholds", `dns: "fast" is not a duration`},
		{"a threshold too long", with(func(s *apiv1.SetProbeSettings) { s.Thresholds["dns"] = "1h" }), "thresholds", "not between 0 and 10m"},
		{"an endpoint without its secret", with(func(s *apiv1.SetProbeSettings) { s.S3SecretKey = "" }), "s3SecretKey", "must not be empty"},
		{"a secret without an endpoint", apiv1.SetProbeSettings{S3SecretKey: s3Secret}, "s3SecretKey", "goes with an s3Endpoint"},
		{"a token without a queue", apiv1.SetProbeSettings{QueueToken: queueToken}, "queueToken", "goes with a queueURL"},
		{"a bucket without an endpoint", apiv1.SetProbeSettings{S3Bucket: "probes"}, "s3Endpoint", "must be set"},
		{"an endpoint URL", with(func(s *apiv1.SetProbeSettings) { s.S3Endpoint = "https://s3.example.com/" }), "s3Endpoint", "is not host:port"},
		{"a queue URL with credentials", with(func(s *apiv1.SetProbeSettings) { s.QueueURL = "nats://probe:" + queueToken + "@nats:4222" }),
			"queueURL", "must not hold credentials"},
		{"an amqp queue", with(func(s *apiv1.SetProbeSettings) { s.QueueURL = "amqp://rabbit:5672" }), "queueURL", "is not nats://HOST:PORT"},
		{"an unknown field", map[string]any{"queueURL": "nats://nats:4222", "queue_token": queueToken}, "queue_token", "unknown field"},
	} {
		status, data := f.do(globalAdmin, "PUT", path, c.body)
		bodies = append(bodies, string(data))
		var e apiv1.Error
		if status != 400 || json.Unmarshal(data, &e) != nil || e.Field != c.field || !strings.Contains(e.Message, c.says) {
			t.Errorf("%s: %d %s, want 400 on %q saying %q", c.name, status, data, c.field, c.says)
		}
	}

	bodies = append(bodies, string(send(globalAdmin, "GET", "/api/v1/audit?limit=1000", nil, 200)))
	for _, body := range append(bodies, f.logs.String()) {
		for _, secret := range []string{s3Secret, queueToken} {
			if strings.Contains(body, secret) {
				t.Fatalf("a probe secret is in a response, an audit event or the log:\n%s", body)
			}
		}
	}
}

// TestProbeReport: a run's agent reports its steps with the run's token through the real
// agent library's Send; the report is taken once. A wrong or missing token, a run not
// running, a second report are all one 401; bad steps are a 400 naming the field and leave
// the run open for a good report; a body over 64 KiB is a 413.
func TestProbeReport(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	run, token := f.runningProbe("staging")
	report := probe.Report{Run: run.ID, Env: "staging", Steps: []probe.Step{
		{Name: probe.StepDNS, Started: probeStart, Duration: 412 * time.Microsecond, OK: true, Detail: "probe.berth-probes.svc -> 10.96.0.12"},
		{Name: probe.StepHTTP, Started: probeStart.Add(time.Millisecond), Duration: 3 * time.Millisecond, OK: true},
		{Name: probe.StepQueue, Started: probeStart.Add(5 * time.Millisecond), Duration: 10 * time.Second, Error: "connect: i/o timeout"},
	}}
	cfg := probe.Config{Server: f.srv.URL, Token: token, Run: run.ID, Env: "staging", RetryWait: time.Millisecond}

	// Bad reports first: each is refused, and the run still takes a good one.
	raw := func(v any) []byte {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	withSteps := func(steps ...probe.Step) []byte { return raw(probe.Report{Run: run.ID, Env: "staging", Steps: steps}) }
	for _, c := range []struct {
		name        string
		body        []byte
		status      int
		field, says string
	}{
		{"the server's own step", withSteps(probe.Step{Name: "scheduled", Started: probeStart, OK: true}), 400, "steps[0].name", "not a step the agent runs"},
		{"an unknown step", withSteps(probe.Step{Name: "ftp", Started: probeStart, OK: true}), 400, "steps[0].name", `"ftp"`},
		{"steps out of order", withSteps(report.Steps[1], report.Steps[0]), 400, "steps[1].name", "out of order or twice"},
		{"a negative duration", withSteps(probe.Step{Name: "dns", Started: probeStart, Duration: -1, OK: true}), 400, "steps[0].durationNs", "-1"},
		{"a failure without why", withSteps(probe.Step{Name: "dns", Started: probeStart}), 400, "steps[0].error", "a failed step says why"},
		{"no steps", withSteps(), 400, "steps", "at least one step"},
		{"another run's report", raw(probe.Report{Run: run.ID + 1, Steps: report.Steps}), 400, "run", fmt.Sprintf("not of run %d", run.ID)},
		{"an unknown field", []byte(fmt.Sprintf(`{"run": %d, "steps": [], "token": "x"}`, run.ID)), 400, "token", "unknown field"},
		{"too big", withSteps(probe.Step{Name: "dns", Started: probeStart, OK: true, Detail: strings.Repeat("a", 70<<10)}), 413, "", "larger than 65536 bytes"},
	} {
		status, data, _ := f.report(run.ID, token, c.body)
		var e apiv1.Error
		if status != c.status || json.Unmarshal(data, &e) != nil || e.Field != c.field || !strings.Contains(e.Message, c.says) {
			t.Errorf("%s: %d %s, want %d on %q saying %q", c.name, status, data, c.status, c.field, c.says)
		}
	}
	if status, data, _ := f.report(run.ID, "", raw(report)); status != 401 {
		t.Errorf("a report without a token: %d %s", status, data)
	}
	if _, ok, _ := f.st.ProbeReport(ctx, run.ID); ok {
		t.Fatal("a refused report was recorded")
	}

	if err := probe.Send(ctx, cfg, report); err != nil {
		t.Fatalf("send the report with the run's token: %v", err)
	}
	steps, ok, err := f.st.ProbeReport(ctx, run.ID)
	wantSteps := []berth.ProbeStep{
		{Name: "dns", Started: probeStart, Duration: 412 * time.Microsecond, OK: true, Detail: "probe.berth-probes.svc -> 10.96.0.12"},
		{Name: "http", Started: probeStart.Add(time.Millisecond), Duration: 3 * time.Millisecond, OK: true},
		{Name: "queue", Started: probeStart.Add(5 * time.Millisecond), Duration: 10 * time.Second, Error: "connect: i/o timeout"},
	}
	if diff := cmp.Diff(wantSteps, steps); err != nil || !ok || diff != "" {
		t.Errorf("the recorded report: %v %v (-want +got):\n%s", err, ok, diff)
	}

	// Every refusal is the same 401: a second report, a wrong token, a run not running.
	done := f.finishedProbe("old", berth.JobSucceeded, "", probeSteps()[:1])
	other, otherToken := f.runningProbe("old")
	var messages []string
	for _, c := range []struct {
		name  string
		run   int64
		token string
	}{
		{"a second report", run.ID, token},
		{"a wrong token", other.ID, token},
		{"another run's token", run.ID, otherToken},
		{"a finished run", done.ID, otherToken},
		{"no such run", 999, token},
	} {
		body := raw(probe.Report{Run: c.run, Env: "staging", Steps: report.Steps})
		status, data, header := f.report(c.run, c.token, body)
		var e apiv1.Error
		if status != 401 || json.Unmarshal(data, &e) != nil || e.Code != "unauthenticated" || header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: %d %s, want 401 unauthenticated", c.name, status, data)
		}
		messages = append(messages, e.Message)
	}
	for _, m := range messages[1:] {
		if m != messages[0] {
			t.Errorf("refusals say different things: %q", messages)
		}
	}
	if strings.Contains(f.logs.String(), token) || strings.Contains(f.logs.String(), otherToken) {
		t.Error("a probe token is in the log")
	}
	// The agent's Send gives up on a refusal at once, saying why.
	err = probe.Send(ctx, cfg, report)
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "attempt 1 of 4") {
		t.Errorf("send a second report: %v", err)
	}
}
