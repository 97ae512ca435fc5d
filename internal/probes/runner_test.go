package probes_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/kube"
	"github.com/berth-dev/berth/internal/kubetest"
	"github.com/berth-dev/berth/internal/probe"
	"github.com/berth-dev/berth/internal/probes"
	"github.com/berth-dev/berth/internal/seal"
	"github.com/berth-dev/berth/internal/service"
	"github.com/berth-dev/berth/internal/store"
)

func TestMain(m *testing.M) { kubetest.Main(m) }

// chat records what the runner announces: the port's whole contract is one call.
type chat struct {
	mu   sync.Mutex
	msgs []string
}

func (c *chat) Post(_ context.Context, channel, text string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, channel+": "+text)
	return strconv.Itoa(len(c.msgs)), nil
}

func (c *chat) said() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.msgs...)
}

// newFixture starts a runner on a real store and a real API server, whose simulated nodes
// mark the probe pods running (no agent runs in them: the test reports as the agent), with
// the service taking reports.
func newFixture(t *testing.T, reportTimeout time.Duration) (*store.Store, *service.Service, *chat, *prometheus.Registry) {
	t.Helper()
	key, err := seal.NewKey([]byte(strings.Repeat("k", seal.KeySize)))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "berth.db"), store.WithSecretsKey(key))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := service.New(st, log, time.Now)
	// The probe namespace is the cluster's, shared by the tests that run on it: an
	// environment of this test's own name keeps its runs apart only by their ids, which the
	// store makes; a fresh database starts them at 1, so each test starts far apart.
	err = st.Tx(t.Context(), func(tx *store.Tx) error {
		if _, err := tx.CreateEnvironment(t.Context(), berth.Environment{Name: "probed", Kubeconfig: kubetest.Kubeconfig(t),
			NamespaceTemplate: "{team}-{env}", Scheduling: berth.Scheduling{NodeSelector: map[string]string{"type": "kwok"}}}); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c := &chat{}
	reg := prometheus.NewRegistry()
	m := probes.NewMetrics(st, log)
	reg.MustRegister(m)
	r := probes.New(st, kube.NewPool(log, 0, 0), nil, probes.Options{Image: "registry.example.com/berth:test", ServerURL: "http://berth.example.com",
		Chat: c, Channel: "CPLATFORM", Metrics: m, Poll: 50 * time.Millisecond, StartTimeout: 30 * time.Second, Tick: 100 * time.Millisecond,
		ReportTimeout: reportTimeout, Logger: log})
	svc.SetProbeNotifier(r)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return st, svc, c, reg
}

var admin = &authz.Principal{Name: "admin", GlobalAdmin: true}

// agentOf waits for run's pod and returns the agent's configuration as the pod would read
// it: its environment and its Secret, from the API server.
func agentOf(t *testing.T, run int64) probe.Config {
	t.Helper()
	cs := kubetest.Client(t)
	name := "probe-" + strconv.FormatInt(run, 10)
	var env map[string]string
	kubetest.Eventually(t, 30*time.Second, func(ctx context.Context) error {
		pod, err := cs.CoreV1().Pods(berth.ProbeNamespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		sec, err := cs.CoreV1().Secrets(berth.ProbeNamespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		env = map[string]string{}
		for _, e := range pod.Spec.Containers[0].Env {
			env[e.Name] = e.Value
		}
		for k, v := range sec.Data {
			env[k] = string(v)
		}
		return nil
	})
	c, err := probe.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("the pod's configuration: %v (%v)", err, env)
	}
	return c
}

// waitRun waits until run ends and returns it.
func waitRun(t *testing.T, st *store.Store, run int64) berth.ProbeRun {
	t.Helper()
	var r berth.ProbeRun
	kubetest.Eventually(t, time.Minute, func(ctx context.Context) error {
		var err error
		if r, err = st.ProbeRun(ctx, run); err != nil {
			return err
		}
		if !r.State.Final() {
			return fmt.Errorf("run %d is %s", run, r.State)
		}
		return nil
	})
	return r
}

func step(name string, d time.Duration, errMsg string) berth.ProbeStep {
	return berth.ProbeStep{Name: name, Started: time.Now().UTC(), Duration: d, OK: errMsg == "", Error: errMsg}
}

// TestRunnerCarriesRuns: the runner starts the run's pod with what its agent needs (the
// report token only in the Secret), measures the scheduled step, takes the agent's report,
// judges slow steps, says why a step the environment is not set up for failed, fails a
// run whose report never comes, and announces the first failing run and the recovery
// once each; the metrics follow.
func TestRunnerCarriesRuns(t *testing.T) {
	st, svc, c, reg := newFixture(t, 3*time.Second)
	ctx := t.Context()

	// A run whose agent reports a slow database and a queue the environment lacks.
	r1, queued, err := svc.RunProbe(ctx, admin, "probed")
	if err != nil || !queued {
		t.Fatalf("RunProbe: %v %v", queued, err)
	}
	if again, queued, err := svc.RunProbe(ctx, admin, "probed"); err != nil || queued || again.ID != r1.ID {
		t.Fatalf("a second RunProbe while one is in flight: %+v %v %v", again, queued, err)
	}
	agent := agentOf(t, r1.ID)
	if agent.Run != r1.ID || agent.Env != "probed" || agent.Server != "http://berth.example.com" ||
		agent.DNSName != berth.ProbeName(r1.ID)+".berth-probes.svc" || agent.HTTPURL != "http://"+berth.ProbeName(r1.ID)+".berth-probes.svc:8080/" ||
		agent.QueueURL != "" {
		t.Errorf("the agent's configuration: %v", agent)
	}
	pod, err := kubetest.Client(t).CoreV1().Pods(berth.ProbeNamespace).Get(ctx, "probe-"+strconv.FormatInt(r1.ID, 10), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range pod.Spec.Containers[0].Env {
		if e.Value == agent.Token {
			t.Errorf("the report token is in the pod's spec (%s), not only in its Secret", e.Name)
		}
	}
	if pod.Spec.Containers[0].Image != "registry.example.com/berth:test" {
		t.Errorf("image %s", pod.Spec.Containers[0].Image)
	}
	agentSteps := []berth.ProbeStep{
		step("dns", 2*time.Millisecond, ""), step("http", 3*time.Millisecond, ""), step("credentials", 8*time.Millisecond, ""),
		step("database", 4*time.Second, ""), step("objectstore", time.Millisecond, "not configured: "+probe.EnvS3Endpoint+" is empty"),
		step("queue", time.Millisecond, "not configured: "+probe.EnvQueueURL+" is empty"),
	}
	if err := svc.ReportProbe(ctx, r1.ID, "probed", "not-the-token", agentSteps); !service.IsProbeReportRefused(err) {
		t.Fatalf("a report with another token: %v", err)
	}
	if err := svc.ReportProbe(ctx, r1.ID, "probed", agent.Token, agentSteps); err != nil {
		t.Fatalf("ReportProbe: %v", err)
	}
	done := waitRun(t, st, r1.ID)
	if done.State != berth.JobFailed || len(done.Steps) != 7 {
		t.Fatalf("run 1: %s, %d steps: %s", done.State, len(done.Steps), done.Reason)
	}
	sched := done.Steps[0]
	if sched.Name != berth.ProbeStepScheduled || !sched.OK || sched.Duration <= 0 || sched.Duration > 30*time.Second {
		t.Errorf("scheduled step %+v", sched)
	}
	if db := done.Steps[4]; !db.OK || !db.Slow {
		t.Errorf("a 4s database step (threshold 3s) is not slow: %+v", db)
	}
	for _, want := range []string{"database slow: took 4s", "objectstore failed: environment probed has no S3 endpoint for the probe (berth envs set-probe probed --s3-endpoint ...)",
		"queue failed: environment probed has no queue for the probe"} {
		if !strings.Contains(done.Reason, want) {
			t.Errorf("reason %q does not say %q", done.Reason, want)
		}
	}
	if err := svc.ReportProbe(ctx, r1.ID, "probed", agent.Token, agentSteps); !service.IsProbeReportRefused(err) {
		t.Errorf("a report after the run ended: %v", err)
	}
	kubetest.Eventually(t, 30*time.Second, func(ctx context.Context) error {
		if n := len(c.said()); n != 1 {
			return fmt.Errorf("%d announcements", n)
		}
		return nil
	})
	if msg := c.said()[0]; !strings.HasPrefix(msg, "CPLATFORM: Probe of probed is failing (run #"+strconv.FormatInt(r1.ID, 10)+"): database slow") {
		t.Errorf("announcement %q", msg)
	}
	// The run's pod and Secret are gone.
	kubetest.Eventually(t, 30*time.Second, func(ctx context.Context) error {
		_, err := kubetest.Client(t).CoreV1().Secrets(berth.ProbeNamespace).Get(ctx, "probe-"+strconv.FormatInt(r1.ID, 10), metav1.GetOptions{})
		if err == nil {
			return errors.New("the run's Secret is still there")
		}
		return nil
	})

	// A run whose report never comes fails, saying so; the alarm stands, unannounced again.
	r2, _, err := svc.RunProbe(ctx, admin, "probed")
	if err != nil {
		t.Fatal(err)
	}
	if got := waitRun(t, st, r2.ID); got.State != berth.JobFailed || !strings.Contains(got.Reason, "no report from the probe pod within 3s") {
		t.Errorf("run 2 without a report: %s %q", got.State, got.Reason)
	}

	// A run whose every step passes in time: the recovery.
	r3, _, err := svc.RunProbe(ctx, admin, "probed")
	if err != nil {
		t.Fatal(err)
	}
	agent = agentOf(t, r3.ID)
	var passing []berth.ProbeStep
	for _, name := range berth.ProbeSteps[1:] {
		passing = append(passing, step(name, time.Millisecond, ""))
	}
	if err := svc.ReportProbe(ctx, r3.ID, "probed", agent.Token, passing); err != nil {
		t.Fatal(err)
	}
	if got := waitRun(t, st, r3.ID); got.State != berth.JobSucceeded || !got.Healthy() || got.Reason != "" {
		t.Fatalf("run 3: %s %q", got.State, got.Reason)
	}
	kubetest.Eventually(t, 30*time.Second, func(ctx context.Context) error {
		if n := len(c.said()); n != 2 {
			return fmt.Errorf("%d announcements", n)
		}
		return nil
	})
	if msg := c.said()[1]; !strings.HasPrefix(msg, "CPLATFORM: Probe of probed recovered (run #"+strconv.FormatInt(r3.ID, 10)+"): all 7 steps passed") {
		t.Errorf("recovery %q", msg)
	}

	statuses, err := svc.ProbeStatuses(ctx, admin)
	if err != nil || len(statuses) != 1 || statuses[0].Latest.ID != r3.ID || statuses[0].Failing || statuses[0].LastSuccess.IsZero() {
		t.Errorf("statuses: %+v %v", statuses, err)
	}
	if n, err := testutil.GatherAndCount(reg, "berth_probe_step_duration_seconds"); err != nil || n != 7 {
		t.Errorf("duration series: %d %v; want one per step", n, err)
	}
	want := `
# HELP berth_probe_runs_total Finished probe runs, by result: passed, slow (every step passed, some too slowly) or failed.
# TYPE berth_probe_runs_total counter
berth_probe_runs_total{env="probed",result="failed"} 2
berth_probe_runs_total{env="probed",result="passed"} 1
# HELP berth_probe_healthy 1 when the environment's latest probe run passed every step within its threshold, else 0.
# TYPE berth_probe_healthy gauge
berth_probe_healthy{env="probed"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "berth_probe_runs_total", "berth_probe_healthy"); err != nil {
		t.Error(err)
	}
}

// TestRunnerSchedulesRuns: an environment probed every minute gets its slot's run, queued
// by the scheduler, which looks every 100ms here.
func TestRunnerSchedulesRuns(t *testing.T) {
	st, svc, _, _ := newFixture(t, time.Second)
	ctx := t.Context()
	if _, err := svc.SetProbeSettings(ctx, admin, berth.ProbeSettings{Env: "probed", Interval: time.Minute}, service.ProbeSecrets{}); err != nil {
		t.Fatal(err)
	}
	var first berth.ProbeRun
	kubetest.Eventually(t, 30*time.Second, func(ctx context.Context) error {
		runs, err := st.ProbeRuns(ctx, store.ProbeRunFilter{Env: "probed"})
		if err != nil {
			return err
		}
		if len(runs) == 0 {
			return errors.New("no scheduled run yet")
		}
		first = runs[len(runs)-1]
		return nil
	})
	if first.Trigger != berth.TriggerSchedule || first.CreatedBy != "schedule" || first.Slot.IsZero() || first.Slot.Second() != 0 {
		t.Fatalf("the scheduled run: %+v", first)
	}
	// Once per slot, whatever the ticks: the store's own (testProbeRuns in storetest).
	waitRun(t, st, first.ID)
}
