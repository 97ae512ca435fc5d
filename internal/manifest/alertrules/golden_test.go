package alertrules_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/manifest/alertrules"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// hello is the starter app: request metrics, one container with a memory limit and no CPU
// limit, default thresholds.
var hello = alertrules.App{
	Team: "demo", Name: "hello", Env: "dev", Namespace: "demo-dev",
	Containers: []alertrules.Container{{Name: "hello", MemoryLimit: 64 << 20}},
	Requests:   "hello_http_requests_total",
	Duration:   "hello_http_request_duration_seconds",
}

// goldenCases are the apps rendered into testdata/<name>.yaml.
var goldenCases = []struct {
	name string
	app  alertrules.App
	// empty says whether the app has nothing to alert on.
	empty bool
}{
	{name: "hello", app: hello},
	{name: "slo", app: alertrules.App{
		Team: "shop", Name: "checkout", Env: "production", Namespace: "shop-production",
		Containers: []alertrules.Container{{Name: "api", CPULimit: 0.5, MemoryLimit: 128 << 20}},
		Requests:   "checkout_http_requests_total",
		Duration:   "checkout_http_request_duration_seconds",
		SLO: &alertrules.SLO{
			Availability: 99.9,
			Latency:      &alertrules.LatencySLO{Percent: 99, Under: 250 * time.Millisecond},
		},
		Scale: 60,
	}},
	{name: "no-metrics", app: alertrules.App{
		Team: "data", Name: "ingest", Env: "staging", Namespace: "data-staging",
		Containers: []alertrules.Container{
			{Name: "worker", CPULimit: 2, MemoryLimit: 1 << 30},
			{Name: "sidecar", CPULimit: 0.1, MemoryLimit: 32 << 20},
		},
		Alerts: alertrules.Thresholds{CPU: 80, Memory: 95, For: new(10 * time.Minute), Disabled: []string{alertrules.AlertRestarts}},
	}},
	{name: "all-disabled", app: func() alertrules.App {
		a := hello
		a.Alerts.Disabled = alertrules.AlertNames
		return a
	}(), empty: true},
}

func TestRenderGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.app.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			f := alertrules.Render(tc.app)
			if f.Empty() != tc.empty {
				t.Errorf("Empty() = %v, want %v", f.Empty(), tc.empty)
			}
			golden(t, filepath.Join("testdata", tc.name+".yaml"), string(f.YAML()))
		})
	}
}

// TestRenderDeterministic renders every case again and again: map order must not reach the
// file, or every deploy would change the rules it applies.
func TestRenderDeterministic(t *testing.T) {
	for _, tc := range goldenCases {
		first := alertrules.Render(tc.app).YAML()
		for range 50 {
			if got := alertrules.Render(tc.app).YAML(); !bytes.Equal(got, first) {
				t.Fatalf("%s: rendered differently:\n%s", tc.name, cmp.Diff(string(first), string(got)))
			}
		}
	}
}

func TestRenderNothingToAlertOn(t *testing.T) {
	for name, a := range map[string]alertrules.App{
		"bare":           {Team: "demo", Name: "job", Env: "dev", Namespace: "demo-dev"},
		"no namespace":   {Team: "demo", Name: "job", Env: "dev", Containers: []alertrules.Container{{Name: "job", CPULimit: 1}}},
		"slo no metrics": {Team: "demo", Name: "job", Env: "dev", SLO: &alertrules.SLO{Availability: 99}},
	} {
		f := alertrules.Render(a)
		if !f.Empty() || len(f.Groups) != 0 {
			t.Errorf("%s: got %d groups, want an empty file:\n%s", name, len(f.Groups), f.YAML())
		}
	}
}

// TestRenderDisabled disables each alert alone: it, and only it, disappears.
func TestRenderDisabled(t *testing.T) {
	names := map[string]string{
		alertrules.AlertErrorRatio: "BerthErrorRatioHigh",
		alertrules.AlertP99Latency: "BerthLatencyP99High",
		alertrules.AlertCPU:        "BerthCPUSaturation",
		alertrules.AlertMemory:     "BerthMemorySaturation",
		alertrules.AlertRestarts:   "BerthRestarting",
	}
	a := hello
	a.Containers = []alertrules.Container{{Name: "hello", CPULimit: 1, MemoryLimit: 64 << 20}}
	all := alerts(alertrules.Render(a))
	if len(all) != len(alertrules.AlertNames) {
		t.Fatalf("all enabled: got alerts %v, want one per name in %v", all, alertrules.AlertNames)
	}
	for _, disabled := range alertrules.AlertNames {
		a.Alerts.Disabled = []string{disabled}
		var want []string
		for _, n := range alertrules.AlertNames {
			if n != disabled {
				want = append(want, names[n])
			}
		}
		if diff := cmp.Diff(want, alerts(alertrules.Render(a))); diff != "" {
			t.Errorf("%s disabled: alerts (-want +got):\n%s", disabled, diff)
		}
	}
}

// alerts lists the names of f's alerting rules.
func alerts(f alertrules.RuleFile) []string {
	var names []string
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				names = append(names, r.Alert)
			}
		}
	}
	return names
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/manifest/alertrules -update)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}
