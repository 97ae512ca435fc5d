package cli_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/berth-dev/berth/internal/api"
	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/cli"
	"github.com/berth-dev/berth/internal/freeport"
	"github.com/berth-dev/berth/internal/probe"
	"github.com/berth-dev/berth/internal/seal"
	"github.com/berth-dev/berth/internal/service"
	"github.com/berth-dev/berth/internal/store"
)

// The probe commands run against a real server (a SQLite store, the service, the API) on
// which the test plays the probe runner with the store's functions: it claims the runs the
// commands queue, gives them a report token, and finishes them with the steps their agent
// reported. The store's clock is the test's, so stored runs read the same each time.

// probeAdmin is the token of the server's bootstrap admin, "admin".
const probeAdmin = "berth_bootstrap_token_for_probe_tests_0123456789"

// probeRunner is the lease owner of the runs the test claims.
const probeRunner = "test-probe-runner"

// probeDay is when the tests' server starts; probeStart when its first run's pod was made.
var (
	probeDay   = time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)
	probeStart = time.Date(2026, 12, 7, 4, 12, 0, 0, time.UTC)
)

// probeClock is the store's and the service's clock.
type probeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *probeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *probeClock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.now = t }

// probeServer is a real Berth server with environments staging and production.
type probeServer struct {
	t     *testing.T
	st    *store.Store
	url   string
	clock *probeClock
}

func newProbeServer(t *testing.T) *probeServer {
	t.Helper()
	ctx := context.Background()
	raw := make([]byte, seal.KeySize)
	rand.Read(raw)
	key, err := seal.NewKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	clk := &probeClock{now: probeDay}
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "berth.db"), store.WithSecretsKey(key), store.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.DiscardHandler)
	svc := service.New(st, log, clk.Now)
	if _, err := svc.Bootstrap(ctx, probeAdmin); err != nil {
		t.Fatal(err)
	}
	root, err := svc.Authenticate(ctx, probeAdmin)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte("apiVersion: v1\nkind: Config\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, env := range []string{"staging", "production"} {
		if _, err := svc.CreateEnvironment(ctx, root, berth.Environment{Name: env, Kubeconfig: kubeconfig}); err != nil {
			t.Fatal(err)
		}
	}
	a := api.New(svc, log, prometheus.NewRegistry(), func(context.Context) error { return nil })
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	return &probeServer{t: t, st: st, url: srv.URL, clock: clk}
}

// factory is a Factory of commands that talk to the server as its admin, on streams s.
func (ps *probeServer) factory(s *cli.IOStreams) *cli.Factory {
	return &cli.Factory{IO: s, APIClient: func() (*apiclient.Client, error) { return apiclient.New(ps.url, probeAdmin) },
		ConfigPath: func() (string, error) { return "", errors.New("tests have no login file") }}
}

// harness is a harness of the server whose standard output is a terminal (tty) or a pipe.
func (ps *probeServer) harness(tty bool) *harness {
	s, in, out, errOut := cli.Test()
	s.SetStdoutTTY(tty)
	return &harness{f: ps.factory(s), in: in, out: out, errOut: errOut}
}

// claim claims the oldest queued run as the probe runner would and gives it a report
// token; it returns the run and the token.
func (ps *probeServer) claim() (berth.ProbeRun, string) {
	ps.t.Helper()
	ctx := context.Background()
	run, ok, err := ps.st.ClaimProbeRun(ctx, probeRunner, time.Minute)
	if err != nil || !ok {
		ps.t.Fatalf("claim a probe run: %v %v", ok, err)
	}
	token := fmt.Sprintf("probe-token-of-run-%d", run.ID)
	sum := sha256.Sum256([]byte(token))
	if err := ps.st.Tx(ctx, func(tx *store.Tx) error {
		return tx.SetProbeToken(ctx, run.ID, probeRunner, hex.EncodeToString(sum[:]))
	}); err != nil {
		ps.t.Fatal(err)
	}
	return run, token
}

// finish finishes run as the runner would: the scheduled step, then the steps its agent
// reported, each judged against its default threshold as the runner judges them; failed
// when one failed.
func (ps *probeServer) finish(run int64, scheduled berth.ProbeStep) berth.ProbeRun {
	ps.t.Helper()
	ctx := context.Background()
	reported, ok, err := ps.st.ProbeReport(ctx, run)
	if err != nil || !ok {
		ps.t.Fatalf("the report of run %d: %v %v", run, ok, err)
	}
	steps := append([]berth.ProbeStep{scheduled}, reported...)
	state, problems := berth.JobSucceeded, []string{}
	for i, s := range steps {
		threshold := berth.ProbeSettings{}.Threshold(s.Name)
		if s.OK && s.Duration > threshold {
			steps[i].Slow = true
			steps[i].Detail += fmt.Sprintf("; slower than its threshold of %s", threshold)
		}
		if !s.OK {
			state = berth.JobFailed
		}
		if p := steps[i].Problem(); p != "" {
			problems = append(problems, p)
		}
	}
	var done berth.ProbeRun
	err = ps.st.Tx(ctx, func(tx *store.Tx) (err error) {
		done, err = tx.FinishProbeRun(ctx, run, probeRunner, state, strings.Join(problems, "; "), steps)
		return err
	})
	if err != nil {
		ps.t.Fatal(err)
	}
	return done
}

// stored queues a run of env, claims it, has steps reported and finishes it, all at the
// clock's time at.
func (ps *probeServer) stored(env string, at time.Time, scheduled berth.ProbeStep, steps []probe.Step) berth.ProbeRun {
	ps.t.Helper()
	ctx := context.Background()
	ps.clock.Set(at)
	err := ps.st.Tx(ctx, func(tx *store.Tx) error {
		_, _, err := tx.EnqueueProbeRun(ctx, store.NewProbeRun{Env: env, Trigger: berth.TriggerSchedule, Slot: at, CreatedBy: "schedule"})
		return err
	})
	if err != nil {
		ps.t.Fatal(err)
	}
	run, token := ps.claim()
	ps.send(run, token, steps)
	return ps.finish(run.ID, scheduled)
}

// send delivers the report of run's agent with the real agent library.
func (ps *probeServer) send(run berth.ProbeRun, token string, steps []probe.Step) {
	ps.t.Helper()
	cfg := probe.Config{Server: ps.url, Token: token, Run: run.ID, Env: run.Env, RetryWait: time.Millisecond}
	if err := probe.Send(context.Background(), cfg, probe.Report{Run: run.ID, Env: run.Env, Steps: steps}); err != nil {
		ps.t.Fatalf("report run %d: %v", run.ID, err)
	}
}

// scheduledStep is the server's first step of a run whose pod was made at start.
func scheduledStep(run int64, start time.Time) berth.ProbeStep {
	return berth.ProbeStep{Name: "scheduled", Started: start, Duration: 1800 * time.Millisecond, OK: true,
		Detail: fmt.Sprintf("pod probe-%d running", run)}
}

// troubledSteps are an agent's steps 1.8s after start: a DNS answer under a millisecond, a
// slow database, a queue that does not answer.
func troubledSteps(start time.Time) []probe.Step {
	at := func(ms int) time.Time { return start.Add(time.Duration(ms) * time.Millisecond) }
	return []probe.Step{
		{Name: "dns", Started: at(1800), Duration: 412 * time.Microsecond, OK: true, Detail: "probe.berth-probes.svc -> 10.96.0.12"},
		{Name: "http", Started: at(1801), Duration: 3200 * time.Microsecond, OK: true, Detail: "GET http://probe.berth-probes.svc:8080/: 200 OK"},
		{Name: "credentials", Started: at(1805), Duration: 11 * time.Millisecond, OK: true, Detail: "system:serviceaccount:berth-probes:berth-probe"},
		{Name: "database", Started: at(1816), Duration: 4200 * time.Millisecond, OK: true, Detail: "wrote and read back a row"},
		{Name: "objectstore", Started: at(6016), Duration: 25 * time.Millisecond, OK: true, Detail: "put, read and deleted probe/run"},
		{Name: "queue", Started: at(6041), Duration: 10 * time.Second, Error: "connect nats://nats.queues:4222: i/o timeout"},
	}
}

// healthySteps are an agent's steps that all pass in time.
func healthySteps(start time.Time) []probe.Step {
	steps := troubledSteps(start)
	steps[3].Duration = 18 * time.Millisecond
	steps[5].Duration, steps[5].OK, steps[5].Error, steps[5].Detail = 2*time.Millisecond, true, "", "published and received on probe.run"
	return steps
}

// syncBuffer is a buffer a command writes to while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.b.String() }

// background runs `berth args...` while the test goes on; wait returns its error.
type background struct {
	done chan struct{}
	err  error
	out  *syncBuffer
	eout *syncBuffer
}

func (ps *probeServer) start(args ...string) *background {
	bg := &background{done: make(chan struct{}), out: &syncBuffer{}, eout: &syncBuffer{}}
	f := ps.factory(&cli.IOStreams{In: strings.NewReader(""), Out: bg.out, ErrOut: bg.eout})
	go func() {
		defer close(bg.done)
		bg.err = cli.Execute(context.Background(), f, args)
	}()
	return bg
}

// waitFor waits until the command has written want to standard error.
func (bg *background) waitFor(t *testing.T, want string) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(20 * time.Second)
	for !strings.Contains(bg.eout.String(), want) {
		select {
		case <-bg.done:
			t.Fatalf("the command ended (%v) without saying %q; stderr:\n%s\nstdout:\n%s", bg.err, want, bg.eout, bg.out)
		case <-deadline:
			t.Fatalf("the command did not say %q; stderr:\n%s", want, bg.eout)
		case <-tick.C:
		}
	}
}

func (bg *background) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-bg.done:
		return bg.err
	case <-time.After(20 * time.Second):
		t.Fatalf("the command did not end; stderr:\n%s", bg.eout)
		return nil
	}
}

// TestProbeRunWaitsForTheRun: berth probe run queues a run and follows it, saying so on
// standard error, while the test plays the runner: it claims the run, the run's agent
// reports through the real agent library, and the run is finished with its steps judged.
// The steps come out as a table with a summary; a failed or slow run exits 1, a healthy
// one 0; -o json prints the run.
func TestProbeRunWaitsForTheRun(t *testing.T) {
	t.Parallel()
	ps := newProbeServer(t)

	bg := ps.start("probe", "run", "--env", "staging")
	bg.waitFor(t, "run #1 queued in staging\n")
	ps.clock.Set(probeStart)
	run, token := ps.claim()
	bg.waitFor(t, "run #1 running\n")
	ps.send(run, token, troubledSteps(probeStart))
	ps.finish(run.ID, scheduledStep(run.ID, probeStart))
	wantExitCode(t, bg.wait(t), 1)
	want := "" +
		"STEP         STARTED                   TOOK   RESULT  DETAIL\n" +
		"scheduled    2026-12-07T04:12:00.000Z  1.8s   ok      pod probe-1 running\n" +
		"dns          2026-12-07T04:12:01.800Z  412µs  ok      probe.berth-probes.svc -> 10.96.0.12\n" +
		"http         2026-12-07T04:12:01.801Z  3.2ms  ok      GET http://probe.berth-probes.svc:8080/: 200 OK\n" +
		"credentials  2026-12-07T04:12:01.805Z  11ms   ok      system:serviceaccount:berth-probes:berth-probe\n" +
		"database     2026-12-07T04:12:01.816Z  4.2s   SLOW    wrote and read back a row; slower than its threshold of 3s\n" +
		"objectstore  2026-12-07T04:12:06.016Z  25ms   ok      put, read and deleted probe/run\n" +
		"queue        2026-12-07T04:12:06.041Z  10s    FAILED  connect nats://nats.queues:4222: i/o timeout\n" +
		"run #1 in staging failed: database slow: took 4.2s; queue failed: connect nats://nats.queues:4222: i/o timeout\n"
	if diff := cmp.Diff(want, bg.out.String()); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff("run #1 queued in staging\nrun #1 running\n", bg.eout.String()); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}

	// A healthy run, as JSON: exit 0.
	bg = ps.start("probe", "run", "--env", "production", "-o", "json")
	bg.waitFor(t, "run #2 queued in production\n")
	run, token = ps.claim()
	bg.waitFor(t, "run #2 running\n")
	ps.send(run, token, healthySteps(probeStart))
	ps.finish(run.ID, scheduledStep(run.ID, probeStart))
	if err := bg.wait(t); err != nil {
		t.Fatalf("a healthy run: %v\n%s", err, bg.eout)
	}
	var got apiv1.ProbeRun
	if err := json.Unmarshal([]byte(bg.out.String()), &got); err != nil {
		t.Fatalf("-o json: %v\n%s", err, bg.out)
	}
	if got.ID != 2 || got.State != "succeeded" || !got.Healthy || len(got.Steps) != 7 || got.Steps[1].DurationMs != 0.412 {
		t.Errorf("-o json of the healthy run: %+v", got)
	}

	// The healthy run's table says so in its summary.
	h := ps.harness(false)
	if err := h.run("probes", "show", "2"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(h.out.String(), "result:   succeeded: 7 steps passed in 6.04s\n") {
		t.Errorf("probes show of the healthy run:\n%s", h.out)
	}
}

// TestProbeRunJoinsAndTimesOut: a run asked for while one is queued joins it, saying so;
// --no-wait prints the run's id; waiting longer than --timeout fails, naming the run.
func TestProbeRunJoinsAndTimesOut(t *testing.T) {
	t.Parallel()
	ps := newProbeServer(t)
	h := ps.harness(false)
	if err := h.run("probe", "run", "--env", "staging", "--no-wait"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "1\n", "run #1 queued in staging\n")

	h = ps.harness(false)
	if err := h.run("probes", "run", "-e", "staging", "--no-wait", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	var joined apiv1.ProbeRun
	if err := json.Unmarshal(h.out.Bytes(), &joined); err != nil || joined.ID != 1 || joined.State != "queued" || joined.CreatedBy != "admin" {
		t.Errorf("-o json of the joined run: %v %+v", err, joined)
	}
	if diff := cmp.Diff("run #1 was already queued in staging (manual by admin): joining it\n", h.errOut.String()); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}

	h = ps.harness(false)
	wantExit(t, h.run("probe", "run", "--env", "staging", "--timeout", "250ms"),
		"run #1 in staging is still queued after 250ms: berth probes show 1 shows it when it ends", false)

	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"probe", "run"}, "--env is required: the environment to probe, such as staging"},
		{[]string{"probe", "run", "--env", "staging", "--timeout", "0s"}, "--timeout must be more than 0, such as 5m, not 0s"},
		{[]string{"probe", "run", "--env", "staging", "-o", "xml"}, `invalid output format "xml": use one of table, json, yaml`},
		{[]string{"probe", "run", "staging"}, `unknown command "staging" for "berth probe run"`},
	} {
		h := ps.harness(false)
		wantExit(t, h.run(c.args...), c.msg, true)
	}
	h = ps.harness(false)
	wantExit(t, h.run("probe", "run", "--env", "mars"), `queue a probe run in mars: environment "mars": not found`, false)
}

// TestProbesListShowRuns: the probes of every environment at a glance, one run step by
// step, and the history, as tables and as JSON.
func TestProbesListShowRuns(t *testing.T) {
	t.Parallel()
	ps := newProbeServer(t)
	ps.stored("production", probeStart, scheduledStep(1, probeStart), healthySteps(probeStart))
	later := probeStart.Add(10 * time.Minute)
	ps.stored("staging", later, scheduledStep(2, later), troubledSteps(later))
	ps.clock.Set(later.Add(time.Minute))
	h := ps.harness(false)
	if err := h.run("probe", "run", "--env", "staging", "--no-wait"); err != nil {
		t.Fatal(err)
	}

	h = ps.harness(false)
	if err := h.run("probes", "list"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, ""+
		"ENV         LATEST  STATE      FINISHED              TOOK    PROBLEM                   LAST SUCCESS          RUNNING\n"+
		"production  #1      succeeded  2026-12-07T04:12:00Z  6.04s   -                         2026-12-07T04:12:00Z  -\n"+
		"staging     #2      failed     2026-12-07T04:22:00Z  16.04s  database slow: took 4.2s  never                 #3 queued\n",
		"")

	h = ps.harness(false)
	if err := h.run("probes", "list", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	var sts []apiv1.ProbeStatus
	if err := json.Unmarshal(h.out.Bytes(), &sts); err != nil || len(sts) != 2 {
		t.Fatalf("probes list -o json: %v\n%s", err, h.out)
	}
	if st := sts[1]; st.Env != "staging" || st.Latest == nil || st.Latest.ID != 2 || st.Running == nil || st.Running.ID != 3 || st.LastSuccess != nil {
		t.Errorf("staging's status as JSON: %+v", st)
	}

	h = ps.harness(false)
	if err := h.run("probes", "show", "2"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, ""+
		"run:      #2\n"+
		"env:      staging\n"+
		"result:   failed: database slow: took 4.2s; queue failed: connect nats://nats.queues:4222: i/o timeout\n"+
		"trigger:  schedule, by schedule\n"+
		"created:  2026-12-07 04:22:00 UTC\n"+
		"started:  2026-12-07 04:22:00 UTC\n"+
		"finished: 2026-12-07 04:22:00 UTC\n"+
		"\n"+
		"STEP         STARTED                   TOOK   RESULT  DETAIL\n"+
		"scheduled    2026-12-07T04:22:00.000Z  1.8s   ok      pod probe-2 running\n"+
		"dns          2026-12-07T04:22:01.800Z  412µs  ok      probe.berth-probes.svc -> 10.96.0.12\n"+
		"http         2026-12-07T04:22:01.801Z  3.2ms  ok      GET http://probe.berth-probes.svc:8080/: 200 OK\n"+
		"credentials  2026-12-07T04:22:01.805Z  11ms   ok      system:serviceaccount:berth-probes:berth-probe\n"+
		"database     2026-12-07T04:22:01.816Z  4.2s   SLOW    wrote and read back a row; slower than its threshold of 3s\n"+
		"objectstore  2026-12-07T04:22:06.016Z  25ms   ok      put, read and deleted probe/run\n"+
		"queue        2026-12-07T04:22:06.041Z  10s    FAILED  connect nats://nats.queues:4222: i/o timeout\n",
		"")

	// The latest run of an environment: production's finished one, staging's queued one.
	h = ps.harness(false)
	if err := h.run("probes", "show", "--env", "production"); err != nil {
		t.Fatal(err)
	}
	if out := h.out.String(); !strings.HasPrefix(out, "run:      #1\nenv:      production\nresult:   succeeded: 7 steps passed in 6.04s\n") {
		t.Errorf("probes show --env production:\n%s", out)
	}
	h = ps.harness(false)
	if err := h.run("probes", "show", "--env", "staging"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, ""+
		"run:     #3\n"+
		"env:     staging\n"+
		"result:  is queued\n"+
		"trigger: manual, by admin\n"+
		"created: 2026-12-07 04:23:00 UTC\n"+
		"\n"+
		"no steps yet: they show when the run ends\n",
		"")
	h = ps.harness(false)
	if err := h.run("probes", "show", "2", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	var shown apiv1.ProbeRun
	if err := json.Unmarshal(h.out.Bytes(), &shown); err != nil || shown.ID != 2 || len(shown.Steps) != 7 || shown.Steps[1].DurationMs != 0.412 ||
		!shown.Steps[4].Slow || shown.Steps[6].OK || shown.Healthy {
		t.Errorf("probes show 2 -o json: %v\n%s", err, h.out)
	}

	h = ps.harness(false)
	if err := h.run("probes", "runs"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, ""+
		"ID  ENV         TRIGGER   STATE      CREATED               TOOK    PROBLEM\n"+
		"3   staging     manual    queued     2026-12-07T04:23:00Z  -       -\n"+
		"2   staging     schedule  failed     2026-12-07T04:22:00Z  16.04s  database slow: took 4.2s\n"+
		"1   production  schedule  succeeded  2026-12-07T04:12:00Z  6.04s   -\n",
		"")
	h = ps.harness(false)
	if err := h.run("probes", "runs", "--env", "staging", "--limit", "1", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	var runs []apiv1.ProbeRun
	if err := json.Unmarshal(h.out.Bytes(), &runs); err != nil || len(runs) != 1 || runs[0].ID != 3 {
		t.Errorf("probes runs --env staging --limit 1 -o json: %v\n%s", err, h.out)
	}

	for _, c := range []struct {
		args  []string
		msg   string
		usage bool
	}{
		{[]string{"probes", "show"}, "give a run's id (berth probes runs lists them) or --env ENV for the environment's latest run", true},
		{[]string{"probes", "show", "2", "--env", "staging"}, "give a run's id (berth probes runs lists them) or --env ENV for the environment's latest run", true},
		{[]string{"probes", "show", "latest"}, `probe run id "latest" must be a number (berth probes runs lists them)`, true},
		{[]string{"probes", "runs", "--limit", "0"}, "--limit must be 1 to 200, not 0", true},
		{[]string{"probes", "show", "99"}, `probe run "99": not found`, false},
		{[]string{"probes", "runs", "--env", "mars"}, `environment "mars": not found`, false},
	} {
		h := ps.harness(false)
		wantExit(t, h.run(c.args...), c.msg, c.usage)
	}
}

// TestProbesListOfNothing: no probed environment says how to probe one.
func TestProbesListOfNothing(t *testing.T) {
	t.Parallel()
	ps := newProbeServer(t)
	h := ps.harness(true)
	if err := h.run("probes", "list"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "", "no environment is probed yet: berth probe run --env ENV runs one now, berth envs set-probe ENV --interval 10m on a schedule\n")
}

// TestProbeAgent: `berth probe agent` as the probe pod runs it, against the real server: it
// answers its own HTTP step, runs every step (those without settings fail, saying so),
// sends the report with the run's token and exits 0; a second report is refused (exit 1);
// an incomplete configuration exits 2, saying what is missing.
func TestProbeAgent(t *testing.T) {
	ps := newProbeServer(t)
	bg := ps.start("probe", "run", "--env", "staging", "--no-wait")
	if err := bg.wait(t); err != nil {
		t.Fatal(err)
	}
	run, token := ps.claim()
	port, err := freeport.Pick()
	if err != nil {
		t.Fatal(err)
	}
	listen := "127.0.0.1:" + strconv.Itoa(port)
	for name, value := range map[string]string{
		probe.EnvServer: ps.url, probe.EnvToken: token, probe.EnvRun: strconv.FormatInt(run.ID, 10), probe.EnvEnv: "staging",
		probe.EnvDNSName: "localhost", probe.EnvHTTPURL: "http://" + listen + "/",
		probe.EnvDatabaseURL: "", probe.EnvS3Endpoint: "", probe.EnvS3Bucket: "", probe.EnvS3AccessKey: "", probe.EnvS3SecretKey: "",
		probe.EnvS3Region: "", probe.EnvQueueURL: "", probe.EnvQueueToken: "", probe.EnvKubeHost: "", probe.EnvKubePort: "",
	} {
		t.Setenv(name, value)
	}

	// A berth without a login or any API client: the agent needs none.
	bare := func() *harness {
		s, in, out, errOut := cli.Test()
		return &harness{f: &cli.Factory{IO: s}, in: in, out: out, errOut: errOut}
	}
	h := bare()
	if err := h.run("probe", "agent", "--listen", listen); err != nil {
		t.Fatalf("probe agent: %v\n%s", err, h.errOut)
	}
	lines := strings.Split(strings.TrimSuffix(h.out.String(), "\n"), "\n")
	wantLines := []string{
		" dns ok ",
		" http ok ",
		" credentials FAILED ",
		" database FAILED ",
		" objectstore FAILED ",
		" queue FAILED ",
		"run 1 in staging: credentials failed: not configured: KUBERNETES_SERVICE_HOST is empty (not running in a pod?); " +
			"database failed: not configured: BERTH_PROBE_DATABASE_URL is empty; objectstore failed: not configured: BERTH_PROBE_S3_ENDPOINT is empty; " +
			"queue failed: not configured: BERTH_PROBE_QUEUE_URL is empty",
	}
	if len(lines) != len(wantLines) {
		t.Fatalf("probe agent's output:\n%s", h.out)
	}
	for i, want := range wantLines {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d of the agent's output is %q, want it to hold %q", i+1, lines[i], want)
		}
	}
	if diff := cmp.Diff("reported run 1 to "+ps.url+"\n", h.errOut.String()); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
	steps, ok, err := ps.st.ProbeReport(context.Background(), run.ID)
	if err != nil || !ok || len(steps) != 6 || !steps[0].OK || !steps[1].OK || steps[1].Detail == "" || steps[2].OK {
		t.Fatalf("the report the server took: %v %v %+v", ok, err, steps)
	}

	// The token is good for one report.
	h = bare()
	err = h.run("probe", "agent", "--listen", listen)
	var ue *cli.UsageError
	var ee *cli.ExitError
	if err == nil || errors.As(err, &ue) || errors.As(err, &ee) || !strings.Contains(err.Error(), "401 Unauthorized") ||
		!strings.Contains(err.Error(), "report refused") {
		t.Errorf("a second report: %v", err)
	}
	if !strings.Contains(h.out.String(), "run 1 in staging: credentials failed") {
		t.Errorf("the refused agent's summary:\n%s", h.out)
	}

	t.Setenv(probe.EnvToken, "")
	h = bare()
	wantExitCode(t, h.run("probe", "agent", "--listen", listen), 2)
	h.wantOutput(t, "", "berth probe agent: probe configuration: BERTH_PROBE_TOKEN is empty: a token to report with is required\n")
	if strings.Contains(h.errOut.String(), token) {
		t.Error("the agent printed its token")
	}
}

// TestEnvsSetProbe: a global admin sets how an environment is probed, its secrets read
// from a file and standard input, and reads it back; no secret is ever printed. Flags
// that cannot work are usage errors saying what would; the server's refusals name the
// field.
func TestEnvsSetProbe(t *testing.T) {
	t.Parallel()
	ps := newProbeServer(t)
	const s3Secret, queueToken = "cli-probe-s3-secret-77ee", "cli-probe-queue-token-88ff"
	dir := t.TempDir()
	s3File := filepath.Join(dir, "s3.secret")
	if err := os.WriteFile(s3File, []byte(s3Secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var printed []string

	h := ps.harness(false)
	h.in.WriteString(queueToken + "\n")
	err := h.run("envs", "set-probe", "staging", "--s3-endpoint", "10.89.0.1:7070", "--s3-bucket", "probes", "--s3-access-key", "probe",
		"--s3-secret-key-file", s3File, "--queue-url", "nats://nats.queues:4222", "--queue-token-file", "-", "--interval", "10m",
		"--threshold", "database=5s", "--threshold", "scheduled=90s")
	if err != nil {
		t.Fatal(err)
	}
	settings := "" +
		"env:           staging\n" +
		"runs:          every 10m\n" +
		"object store:  http://10.89.0.1:7070, bucket probes\n" +
		"s3 region:     -\n" +
		"s3 access key: probe\n" +
		"s3 secret key: set\n" +
		"queue:         nats://nats.queues:4222\n" +
		"queue token:   set\n" +
		"thresholds:    scheduled 1m30s, database 5s; defaults: dns 1s, http 2s, credentials 2s, objectstore 3s, queue 2s\n" +
		"updated:       2026-12-07 04:00:00 UTC, by admin\n"
	h.wantOutput(t, "environment staging: probe set; the secrets are sealed and never shown again\n"+settings,
		"berth probe run --env staging runs it now\n")
	printed = append(printed, h.out.String(), h.errOut.String())

	_, sec, err := ps.st.ProbeSettings(context.Background(), "staging")
	if err != nil || sec.S3SecretKey != s3Secret || sec.QueueToken != queueToken {
		t.Errorf("the secrets the server keeps: %v (S3 %t, queue %t)", err, sec.S3SecretKey == s3Secret, sec.QueueToken == queueToken)
	}

	h = ps.harness(false)
	if err := h.run("envs", "probe", "staging"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, settings, "")
	printed = append(printed, h.out.String())
	h = ps.harness(false)
	if err := h.run("envs", "probe", "staging", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	printed = append(printed, h.out.String())
	var got apiv1.ProbeSettings
	if err := json.Unmarshal(h.out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	updated := probeDay
	want := apiv1.ProbeSettings{Env: "staging", S3Endpoint: "10.89.0.1:7070", S3Bucket: "probes", S3AccessKey: "probe",
		QueueURL: "nats://nats.queues:4222", Interval: "10m", Thresholds: map[string]string{"database": "5s", "scheduled": "1m30s"},
		HasS3SecretKey: true, HasQueueToken: true, UpdatedBy: "admin", UpdatedAt: &updated}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("envs probe -o json (-want +got):\n%s", diff)
	}

	// Set again, it is replaced whole: on demand, no object store, no queue.
	h = ps.harness(false)
	if err := h.run("envs", "set-probe", "staging", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	printed = append(printed, h.out.String())
	h = ps.harness(false)
	if err := h.run("envs", "probe", "staging"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, ""+
		"env:          staging\n"+
		"runs:         on demand only (berth probe run --env staging)\n"+
		"object store: none: the objectstore step fails (--s3-endpoint)\n"+
		"queue:        none: the queue step fails (--queue-url)\n"+
		"thresholds:   defaults: scheduled 1m, dns 1s, http 2s, credentials 2s, database 3s, objectstore 3s, queue 2s\n"+
		"updated:      2026-12-07 04:00:00 UTC, by admin\n",
		"")

	steps := "scheduled, dns, http, credentials, database, objectstore, queue"
	for _, c := range []struct {
		args  []string
		msg   string
		usage bool
	}{
		{[]string{"--threshold", "foo=1s"}, `--threshold foo=1s: "foo" is not a step: use one of ` + steps, true},
		{[]string{"--interval", "10s"}, "--interval 10s is shorter than the minimum, 1m: a run takes up to a few minutes (0 runs the probe only on demand)", true},
		{[]string{"--interval", "-1m"}, "--interval must not be negative: 0 runs the probe only on demand", true},
		{[]string{"--threshold", "database"}, `--threshold "database" is not STEP=DURATION, such as database=5s`, true},
		{[]string{"--threshold", "dns=fast"}, `--threshold dns=fast: "fast" is not a duration between 0 and 10m, such as 500ms or 5s`, true},
		{[]string{"--threshold", "dns=1h"}, `--threshold dns=1h: "1h" is not a duration between 0 and 10m, such as 500ms or 5s`, true},
		{[]string{"--threshold", "dns=1s", "--threshold", "dns=2s"}, "--threshold dns=2s: the threshold of dns is given twice", true},
		{[]string{"--s3-bucket", "probes"}, "--s3-bucket is for the probe's object store: give --s3-endpoint HOST:PORT too", true},
		{[]string{"--s3-endpoint", "10.89.0.1:7070"}, "--s3-bucket is required: the bucket the probe writes to", true},
		{[]string{"--s3-endpoint", "10.89.0.1:7070", "--s3-bucket", "probes", "--s3-access-key", "probe"},
			"--s3-secret-key-file is required: a file holding the S3 secret key, or - for standard input", true},
		{[]string{"--queue-token-file", "-"}, "--queue-token-file is for the probe's queue: give --queue-url nats://HOST:PORT too", true},
		{[]string{"--s3-endpoint", "10.89.0.1:7070", "--s3-bucket", "probes", "--s3-access-key", "probe", "--s3-secret-key-file", "-",
			"--queue-url", "nats://nats:4222", "--queue-token-file", "-"}, "only one of --s3-secret-key-file and --queue-token-file can be - (standard input)", true},
		{[]string{"-o", "xml"}, `invalid output format "xml": use one of table, json, yaml`, true},
		{[]string{"--s3-endpoint", "10.89.0.1:7070", "--s3-bucket", "probes", "--s3-access-key", "probe", "--s3-secret-key-file", filepath.Join(dir, "nope")},
			"--s3-secret-key-file: open " + filepath.Join(dir, "nope") + ": no such file or directory", false},
		{[]string{"--queue-url", "amqp://rabbit:5672"}, `queueURL: "amqp://rabbit:5672" is not nats://HOST:PORT`, false},
		{[]string{"--s3-endpoint", "https://s3.example.com/", "--s3-bucket", "probes", "--s3-access-key", "probe", "--s3-secret-key-file", s3File},
			`s3Endpoint: "https://s3.example.com/" is not host:port (e.g. 10.89.0.1:7070 or s3.eu-west-1.amazonaws.com)`, false},
	} {
		h := ps.harness(false)
		err := h.run(append([]string{"envs", "set-probe", "staging"}, c.args...)...)
		wantExit(t, err, c.msg, c.usage)
		if err != nil {
			printed = append(printed, err.Error())
		}
		printed = append(printed, h.out.String(), h.errOut.String())
	}
	h = ps.harness(false)
	wantExit(t, h.run("envs", "set-probe", "mars"), `set the probe of environment "mars": environment "mars": not found`, false)
	h = ps.harness(false)
	wantExit(t, h.run("envs", "probe", "mars"), `environment "mars": not found`, false)
	h = ps.harness(false)
	wantExit(t, h.run("envs", "set-probe"), "accepts 1 arg(s), received 0", true)

	for _, p := range printed {
		if strings.Contains(p, s3Secret) || strings.Contains(p, queueToken) {
			t.Fatalf("a probe secret was printed:\n%s", p)
		}
	}
}
