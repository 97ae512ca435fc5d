package alertrules_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/manifest/alertrules"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*alertrules.App)
		// want are the fields named in the error, nil for none.
		want []string
	}{
		{"hello", func(*alertrules.App) {}, nil},
		{"unknown disabled", func(a *alertrules.App) { a.Alerts.Disabled = []string{"cpu", "disk"} }, []string{"alerts.disabled[1]"}},
		{"availability 100", func(a *alertrules.App) { a.SLO = &alertrules.SLO{Availability: 100} }, []string{"slo.availability"}},
		{"availability without requests", func(a *alertrules.App) {
			a.Requests = ""
			a.SLO = &alertrules.SLO{Availability: 99}
		}, []string{"slo.availability"}},
		{"latency", func(a *alertrules.App) {
			a.Duration = ""
			a.SLO = &alertrules.SLO{Latency: &alertrules.LatencySLO{Percent: 0, Under: -time.Second}}
		}, []string{"slo.latency.percent", "slo.latency.under", "slo.latency"}},
		{"empty names", func(a *alertrules.App) { a.Team, a.Namespace = "", "" }, []string{"team", "namespace"}},
		{"container", func(a *alertrules.App) {
			a.Containers = []alertrules.Container{{Name: "", CPULimit: math.NaN(), MemoryLimit: -1}}
		}, []string{"containers[0].name", "containers[0].cpuLimit", "containers[0].memoryLimit"}},
		{"metric names", func(a *alertrules.App) { a.Requests, a.Duration = "http requests", `a"b` }, []string{"requests", "duration"}},
		{"thresholds", func(a *alertrules.App) {
			a.Alerts = alertrules.Thresholds{ErrorRatio: 101, P99Latency: -1, CPU: -1, Memory: math.Inf(1), Restarts: -1, For: new(time.Duration(-1))}
		}, []string{"alerts.errorRatio", "alerts.p99Latency", "alerts.cpu", "alerts.memory", "alerts.restarts", "alerts.for"}},
		{"scale", func(a *alertrules.App) { a.Scale = 0.5 }, []string{"scale"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := hello
			tc.edit(&a)
			err := a.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: nil, want errors on %v", tc.want)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("Validate: %d errors, want %d on %v:\n%v", len(lines), len(tc.want), tc.want, err)
			}
			for i, field := range tc.want {
				if !strings.HasPrefix(lines[i], field+": ") {
					t.Errorf("error %d = %q, want one on %s", i, lines[i], field)
				}
			}
		})
	}
}
