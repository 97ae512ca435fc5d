package alertrules_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/manifest/alertrules"
	"github.com/berth-dev/berth/internal/tooltest"
)

// promtool is the path of the real promtool, built by tools/prometheus/build.sh.
func promtool(t *testing.T) string {
	t.Helper()
	dir, err := tooltest.Build("prometheus")
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "promtool")
}

// TestPromtoolChecksRules runs the real promtool (tools/prometheus/build.sh) on every golden
// file, and on an app whose names need escaping: Prometheus loads what Render writes,
// expressions, durations, templates and all.
func TestPromtoolChecksRules(t *testing.T) {
	promtool := promtool(t)
	files, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < len(goldenCases) {
		t.Fatalf("testdata holds %d rule files, want one per golden case (%d)", len(files), len(goldenCases))
	}
	odd := alertrules.App{
		Team: `te"am\`, Name: "hé\nllo", Env: "dev`$", Namespace: `ns"\`,
		Containers: []alertrules.Container{{Name: `a|b.c"`, CPULimit: 1, MemoryLimit: 1}, {Name: "d"}},
		Requests:   "r_total", Duration: "d_seconds",
		SLO: &alertrules.SLO{Availability: 99.99, Latency: &alertrules.LatencySLO{Percent: 95, Under: 10 * time.Microsecond}},
	}
	escaped := filepath.Join(t.TempDir(), "escaped.yaml")
	if err := os.WriteFile(escaped, alertrules.Render(odd).YAML(), 0o644); err != nil {
		t.Fatal(err)
	}
	files = append(files, escaped)

	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			// All lints, and fatal: a duplicate rule is a finding too.
			out, err := exec.Command(promtool, "check", "rules", "--lint=all", "--lint-fatal", file).CombinedOutput()
			if err != nil {
				t.Fatalf("promtool check rules %s: %v\n%s", file, err, out)
			}
		})
	}
}

// TestPromtoolRuleTests runs the rule unit tests under testdata/promtool: series fed to the
// golden rule files, and the alerts (labels, rendered annotations) and recorded samples
// they must give. They pin what the expressions mean: restarts counted from the kubelet's
// series, the `le` bucket read, the short windows that keep a burn-rate alert quiet once
// the burning stops.
func TestPromtoolRuleTests(t *testing.T) {
	promtool := promtool(t)
	files, err := filepath.Glob(filepath.Join("testdata", "promtool", "*.test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no rule tests under testdata/promtool")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			out, err := exec.Command(promtool, "test", "rules", file).CombinedOutput()
			if err != nil {
				t.Fatalf("promtool test rules %s: %v\n%s", file, err, out)
			}
		})
	}
}
