package cli_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

// signalsEnd is when the test's signals end.
var signalsEnd = time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC)

// series is a signal over the hour before signalsEnd, a point every 30 s (121 points),
// with value(i) at point i; a NaN value is a missing point.
func series(name, unit string, limit float64, value func(i int) (float64, bool)) apiv1.SignalSeries {
	s := apiv1.SignalSeries{Name: name, Unit: unit, Help: "the help of " + name, Limit: limit, Points: []apiv1.SignalPoint{}}
	start := signalsEnd.Add(-time.Hour)
	for i := range 121 {
		if v, ok := value(i); ok {
			s.Points = append(s.Points, apiv1.SignalPoint{T: start.Add(time.Duration(i) * 30 * time.Second), V: v})
		}
	}
	return s
}

func signals() apiv1.Signals {
	return apiv1.Signals{Team: "shop", App: "web", Env: "staging", End: signalsEnd, SinceSeconds: 3600, StepSeconds: 30,
		Series: []apiv1.SignalSeries{
			series("latency_p50", "seconds", 0, func(i int) (float64, bool) { return 0.010 + 0.001*float64(i%4), true }),
			series("latency_p99", "seconds", 0, func(i int) (float64, bool) { return 0.1 + 1.4*float64(i)/120, true }),
			// No samples for ten minutes: a gap.
			series("traffic", "requests/s", 0, func(i int) (float64, bool) { return 4.2, i < 40 || i >= 60 }),
			series("errors", "ratio", 0, func(i int) (float64, bool) {
				if i >= 100 && i < 103 {
					return 0.05, true
				}
				return 0, true
			}),
			series("cpu", "cores", 0.5, func(i int) (float64, bool) { return 0.12 + 0.001*float64(i), true }),
			series("memory", "bytes", 128<<20, func(int) (float64, bool) { return 50 << 20, true }),
		}}
}

// TestMetrics prints one line per signal: its newest value, least and greatest in its
// unit, a sparkline of the hour with blanks where samples are missing, and the limit.
func TestMetrics(t *testing.T) {
	h := newHarness(t, false)
	h.api.Expect("GET", "/api/v1/apps?name=web").Reply(200, apps("web", "shop"))
	h.api.Expect("GET", "/api/v1/teams/shop/apps/web/envs/staging/metrics?since=1h").Reply(200, signals())
	if err := h.run("metrics", "web", "--env", "staging"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, `shop/web in staging, the last 1h (a point every 30s)
SIGNAL       NOW        MIN        MAX        LAST 1H
latency_p50  10ms       10ms       13ms       ▇███▇███▇███▇███▇███▇███▇███▇███▇███▇███
latency_p99  1.5s       100ms      1.5s       ▂▂▂▂▂▂▃▃▃▃▃▃▄▄▄▄▄▄▅▅▅▅▅▅▅▆▆▆▆▆▆▇▇▇▇▇▇███
traffic      4.2 req/s  4.2 req/s  4.2 req/s  ██████████████      ████████████████████
errors       0%         0%         5%         ▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁██▁▁▁▁▁
cpu          240m       120m       240m       ▅▅▅▅▅▅▅▅▅▅▅▆▆▆▆▆▆▆▆▆▆▆▆▇▇▇▇▇▇▇▇▇▇▇██████  of limit 500m
memory       50 MiB     50 MiB     50 MiB     ████████████████████████████████████████  of limit 128 MiB
`, "")
}

// TestMetricsWithoutRequestMetrics: an app without metrics: has CPU and memory only,
// and the command says what the rest needs; a signal without samples says so.
func TestMetricsWithoutRequestMetrics(t *testing.T) {
	h := newHarness(t, false)
	sig := signals()
	sig.SinceSeconds, sig.StepSeconds = 15*60, 8
	sig.Series = []apiv1.SignalSeries{
		{Name: "cpu", Unit: "cores", Help: "cpu", Points: []apiv1.SignalPoint{}},
		{Name: "memory", Unit: "bytes", Help: "memory", Limit: 1 << 30, Points: []apiv1.SignalPoint{}},
	}
	h.api.Expect("GET", "/api/v1/teams/shop/apps/web/envs/staging/metrics?since=15m").Reply(200, sig)
	if err := h.run("metrics", "web", "--team", "shop", "--env", "staging", "--since", "15m"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, `shop/web in staging, the last 15m (a point every 8s)
SIGNAL  NOW  MIN  MAX  LAST 15M
cpu     -    -    -    no samples
memory  -    -    -    no samples  of limit 1 GiB
Latency, traffic and errors need the app's request metrics: declare them with metrics: in berth.yaml (docs/manifest.md).
`, "")
}

// TestMetricsJSON: -o json is the signals as the API sends them.
func TestMetricsJSON(t *testing.T) {
	h := newHarness(t, false)
	want := signals()
	h.api.Expect("GET", "/api/v1/teams/shop/apps/web/envs/production/metrics?since=7d").Reply(200, want)
	if err := h.run("metrics", "web", "--team", "shop", "--env", "production", "--since", "7d", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	var got apiv1.Signals
	if err := json.Unmarshal(h.out.Bytes(), &got); err != nil {
		t.Fatalf("-o json printed %s: %v", h.out, err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("-o json (-want +got):\n%s", diff)
	}
}

// TestMetricsErrors: usage mistakes are refused before any request (exit 2); the
// server's refusals are the command's error (exit 1).
func TestMetricsErrors(t *testing.T) {
	for _, c := range []struct {
		args  []string
		msg   string
		usage bool
	}{
		{[]string{"metrics", "web", "--team", "shop"}, "--env is required: name the environment whose signals to read (berth status APP lists them)", true},
		{[]string{"metrics", "web", "--team", "shop", "--env", "staging", "--since", "30s"}, "--since must be from 1m to 7d, not 30s", true},
		{[]string{"metrics", "web", "--team", "shop", "--env", "staging", "--since", "soon"}, `--since "soon" is not a duration: use one such as 15m, 6h or 7d`, true},
		{[]string{"metrics", "web", "--team", "shop", "--env", "staging", "-o", "csv"}, `invalid output format "csv": use one of table, json, yaml`, true},
		{[]string{"metrics"}, "accepts 1 arg(s), received 0", true},
	} {
		h := newHarness(t, false)
		wantExit(t, h.run(c.args...), c.msg, c.usage)
	}

	h := newHarness(t, false)
	h.api.Expect("GET", "/api/v1/teams/shop/apps/web/envs/staging/metrics?since=1h").
		ReplyError(503, apiv1.Error{Code: "unavailable", Message: "this server has no Prometheus: start it with --prometheus-url"})
	wantExit(t, h.run("metrics", "web", "--team", "shop", "--env", "staging"), "this server has no Prometheus: start it with --prometheus-url", false)
}
