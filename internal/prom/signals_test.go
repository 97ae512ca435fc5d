package prom_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/prom"
	"github.com/berth-dev/berth/internal/promtest"
)

// signalsWait bounds the wait for the signals to show what the app does: Prometheus's
// start, a few 1 s scrapes and a rate window, with room for a loaded machine.
const signalsWait = 90 * time.Second

// The app the test plays: shop/hello in staging, in namespace shop-staging with one pod.
const (
	namespace = "shop-staging"
	helloPod  = "hello-7d9f8c6b5-x2x4q"
	// wantErrors is the share of hello's requests answered 500.
	wantErrors = 0.1
	// wantCores is the CPU hello's container web uses.
	wantCores = 0.25
	// wantMemory is the working set of hello's container web.
	wantMemory = 50 << 20
)

// target serves reg on loopback and returns its host:port.
func target(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// app is one app's request metrics as promhttp's middleware would count them.
type app struct {
	requests *prometheus.CounterVec
	duration prometheus.Histogram
}

func newApp(reg *prometheus.Registry) app {
	a := app{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_requests_total", Help: "Requests by status code."}, []string{"code"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "x_duration_seconds", Help: "Request durations.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1}}),
	}
	reg.MustRegister(a.requests, a.duration)
	a.requests.WithLabelValues("200") // served from the start, at 0
	return a
}

// drive calls fn every 20 ms with the time since its last call, until the test ends.
func drive(t *testing.T, fn func(elapsed time.Duration)) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		last := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				fn(now.Sub(last))
				last = now
			}
		}
	})
}

// TestSignals reads the golden signals of an app from a real Prometheus scraping, every
// second, what the test makes the app and the kubelet say: requests of which a known share
// fails, durations in known buckets, a container's CPU and memory; beside other apps and
// environments that must not leak in.
func TestSignals(t *testing.T) {
	// hello in staging: 9 requests in 10 answered 200 in 20 ms, 1 answered 500 in 400 ms.
	helloReg := prometheus.NewRegistry()
	hello := newApp(helloReg)
	cpu := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "container_cpu_usage_seconds_total", Help: "CPU."},
		[]string{"namespace", "pod", "container"})
	mem := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "container_memory_working_set_bytes", Help: "Memory."},
		[]string{"namespace", "pod", "container"})
	// The kubelet's series: hello's container web, a sidecar of its pod that its manifest
	// does not declare, and the container web of the app hello-api in the same namespace.
	kubeletReg := prometheus.NewRegistry()
	kubeletReg.MustRegister(cpu, mem)
	mem.WithLabelValues(namespace, helloPod, "web").Set(wantMemory)
	mem.WithLabelValues(namespace, helloPod, "sidecar").Set(700 << 20)
	mem.WithLabelValues(namespace, "hello-api-6c8e7d9f-abcde", "web").Set(900 << 20)

	// hello in production answers only 500s; hello in idle serves nothing at all.
	prodReg, idleReg := prometheus.NewRegistry(), prometheus.NewRegistry()
	prod := newApp(prodReg)
	newApp(idleReg)

	drive(t, func(elapsed time.Duration) {
		for i := range 10 {
			if i == 0 {
				hello.requests.WithLabelValues("500").Inc()
				hello.duration.Observe(0.4)
			} else {
				hello.requests.WithLabelValues("200").Inc()
				hello.duration.Observe(0.02)
			}
		}
		prod.requests.WithLabelValues("500").Add(100)
		prod.duration.Observe(5)
		s := elapsed.Seconds()
		cpu.WithLabelValues(namespace, helloPod, "web").Add(wantCores * s)
		cpu.WithLabelValues(namespace, helloPod, "sidecar").Add(1 * s)
		cpu.WithLabelValues(namespace, "hello-api-6c8e7d9f-abcde", "web").Add(4 * s)
	})

	// The production target serves other numbers under the same team and app; the last
	// target serves production's numbers labelled as staging's, from another namespace:
	// neither counts for staging.
	scrape := fmt.Sprintf(`- job_name: hello
  static_configs:
    - targets: [%[1]q]
      labels: {team: shop, app: hello, env: staging, namespace: %[5]q}
    - targets: [%[2]q]
      labels: {team: shop, app: hello, env: production, namespace: %[5]q}
    - targets: [%[3]q]
      labels: {team: shop, app: hello, env: idle, namespace: %[5]q}
    - targets: [%[2]q]
      labels: {team: shop, app: hello, env: staging, namespace: elsewhere}
- job_name: kubelet
  static_configs:
    - targets: [%[4]q]
`, target(t, helloReg), target(t, prodReg), target(t, idleReg), target(t, kubeletReg), namespace)
	srv := promtest.Start(t, promtest.Config{ScrapeConfigs: scrape})
	c := prom.Client{URL: srv.URL, MinWindow: 5 * time.Second}

	query := func(env string) berth.SignalQuery {
		end := time.Now()
		return berth.SignalQuery{Team: "shop", App: "hello", Env: env, Namespace: namespace, Containers: []string{"web"},
			Requests: "x_requests_total", Duration: "x_duration_seconds",
			Start: end.Add(-time.Minute), End: end, Step: time.Second, CPULimit: 0.5, MemoryLimit: 128 << 20}
	}

	var got []berth.Series
	poll(t, func(ctx context.Context) error {
		var err error
		if got, err = c.Signals(ctx, query("staging")); err != nil {
			return err
		}
		return settled(got)
	})
	want := []string{berth.SignalLatencyP50, berth.SignalLatencyP99, berth.SignalTraffic, berth.SignalErrors, berth.SignalCPU, berth.SignalMemory}
	if names := seriesNames(got); !slices.Equal(names, want) {
		t.Fatalf("series %v, want %v", names, want)
	}
	byName := map[string]berth.Series{}
	for _, s := range got {
		byName[s.Name] = s
		if len(s.Points) > berth.MaxSignalPoints+1 {
			t.Errorf("%s has %d points, more than %d", s.Name, len(s.Points), berth.MaxSignalPoints+1)
		}
		if !slices.IsSortedFunc(s.Points, func(a, b berth.Point) int { return a.T.Compare(b.T) }) {
			t.Errorf("%s's points are not in time order", s.Name)
		}
		if s.Unit == "" || s.Help == "" {
			t.Errorf("%s has no unit or help: %+v", s.Name, s)
		}
	}
	last := func(name string) float64 { p, _ := byName[name].Last(); return p.V }
	p50, p99 := last(berth.SignalLatencyP50), last(berth.SignalLatencyP99)
	t.Logf("p50 %v s, p99 %v s, traffic %v/s, errors %v, CPU %v cores, memory %v bytes", p50, p99,
		last(berth.SignalTraffic), last(berth.SignalErrors), last(berth.SignalCPU), last(berth.SignalMemory))
	if p50 < 0.01 || p50 > 0.025 {
		t.Errorf("p50 latency %v s, want within the bucket of the 20 ms requests (10 to 25 ms)", p50)
	}
	if p99 < 0.25 || p99 > 0.5 || p99 < p50 {
		t.Errorf("p99 latency %v s, want within the bucket of the 400 ms requests (250 to 500 ms), above p50 %v", p99, p50)
	}
	if v := last(berth.SignalErrors); math.Abs(v-wantErrors) > 0.02 {
		t.Errorf("error ratio %v, want about %v: production's 500s must not count", v, wantErrors)
	}
	if v := last(berth.SignalTraffic); v <= 0 {
		t.Errorf("traffic %v requests/s, want some", v)
	}
	if v := last(berth.SignalCPU); math.Abs(v-wantCores) > 0.05 {
		t.Errorf("CPU %v cores, want about %v: neither the undeclared sidecar nor hello-api may count", v, wantCores)
	}
	if v := last(berth.SignalMemory); v != wantMemory {
		t.Errorf("memory %v bytes, want the gauge's %v", v, wantMemory)
	}
	if l := byName[berth.SignalCPU].Limit; l != 0.5 {
		t.Errorf("CPU limit %v, want 0.5", l)
	}
	if l := byName[berth.SignalMemory].Limit; l != 128<<20 {
		t.Errorf("memory limit %v, want 128 MiB", l)
	}

	t.Run("production", func(t *testing.T) {
		got, err := c.Signals(t.Context(), query("production"))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range got {
			if s.Name == berth.SignalErrors {
				if p, ok := s.Last(); !ok || p.V != 1 {
					t.Errorf("production's error ratio ends at %+v, want 1: every request failed", s.Points)
				}
			}
		}
	})

	t.Run("no requests", func(t *testing.T) {
		// Nothing served in idle: a ratio or a quantile of no requests is NaN in Prometheus,
		// which is no point here; traffic is 0.
		got, err := c.Signals(t.Context(), query("idle"))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range got {
			switch s.Name {
			case berth.SignalLatencyP50, berth.SignalLatencyP99, berth.SignalErrors:
				if len(s.Points) != 0 {
					t.Errorf("idle's %s has points %+v, want none", s.Name, s.Points)
				}
			case berth.SignalTraffic:
				if len(s.Points) == 0 || slices.ContainsFunc(s.Points, func(p berth.Point) bool { return p.V != 0 }) {
					t.Errorf("idle's traffic is %+v, want points at 0", s.Points)
				}
			}
		}
	})

	t.Run("without metrics", func(t *testing.T) {
		q := query("staging")
		q.Requests, q.Duration, q.CPULimit, q.MemoryLimit = "", "", 0, 0
		got, err := c.Signals(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		if names := seriesNames(got); !slices.Equal(names, []string{berth.SignalCPU, berth.SignalMemory}) {
			t.Fatalf("series %v, want only cpu and memory", names)
		}
		if p, ok := got[1].Last(); !ok || p.V != wantMemory || got[1].Limit != 0 {
			t.Errorf("memory %+v, want %v without a limit", got[1], wantMemory)
		}
	})

	t.Run("odd names", func(t *testing.T) {
		// Quotes, backslashes and regexp characters select exactly themselves, or nothing.
		q := query("staging")
		q.Team, q.App, q.Namespace, q.Containers = `sh"op\`, `he.*llo`, `x"}) or vector(1) #`, []string{`web|.*`}
		q.Requests, q.Duration = `x_requests_total"}`, "x_duration_seconds{"
		got, err := c.Signals(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range got {
			if len(s.Points) != 0 {
				t.Errorf("%s selected %+v, want nothing", s.Name, s.Points)
			}
		}
	})

	t.Run("long range", func(t *testing.T) {
		// A step too small for the range is raised to keep the points bounded.
		q := query("staging")
		q.Start, q.Step = q.End.Add(-7*24*time.Hour), time.Second
		got, err := c.Signals(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range got {
			if len(s.Points) > berth.MaxSignalPoints+1 {
				t.Errorf("%s has %d points over 7 days, more than %d", s.Name, len(s.Points), berth.MaxSignalPoints+1)
			}
		}
	})

	t.Run("empty range", func(t *testing.T) {
		q := query("staging")
		q.Start = q.End
		if _, err := c.Signals(t.Context(), q); err == nil || !strings.Contains(err.Error(), srv.URL) {
			t.Errorf("an empty range: %v, want an error naming %s", err, srv.URL)
		}
	})
}

// settled says whether the signals show what the app does yet: every series has points,
// and the rates' windows are past the app's first scrapes.
func settled(got []berth.Series) error {
	for _, s := range got {
		p, ok := s.Last()
		if !ok {
			return fmt.Errorf("%s has no points yet", s.Name)
		}
		if s.Name == berth.SignalErrors && math.Abs(p.V-wantErrors) > 0.02 {
			return fmt.Errorf("error ratio %v, not yet about %v", p.V, wantErrors)
		}
		if s.Name == berth.SignalCPU && math.Abs(p.V-wantCores) > 0.05 {
			return fmt.Errorf("CPU %v, not yet about %v", p.V, wantCores)
		}
	}
	if len(got) == 0 {
		return errors.New("no series")
	}
	return nil
}

func seriesNames(ss []berth.Series) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Name)
	}
	return out
}

// poll calls check every 500 ms until it returns nil, failing the test with its last error
// after signalsWait.
func poll(t *testing.T, check func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), signalsWait)
	defer cancel()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		err := check(ctx)
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("gave up after %s: %v", signalsWait, err)
		case <-tick.C:
		}
	}
}

// TestSignalsUnreachable: a Prometheus that does not answer is an error naming it and
// what was being read, within the client's timeout.
func TestSignalsUnreachable(t *testing.T) {
	srv := httptest.NewServer(nil)
	u := srv.URL
	srv.Close() // nothing listens there any more
	c := prom.Client{URL: u, Timeout: 5 * time.Second}
	end := time.Now()
	_, err := c.Signals(t.Context(), berth.SignalQuery{Team: "shop", App: "hello", Env: "staging", Namespace: namespace,
		Start: end.Add(-time.Hour), End: end, Step: 30 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "prometheus at "+u) || !strings.Contains(err.Error(), "shop/hello in staging") {
		t.Errorf("error %v, want one naming prometheus at %s and the app", err, u)
	}
}
