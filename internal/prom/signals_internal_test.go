package prom

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/manifest/alertrules"
)

// TestPodPattern: the pattern takes the pods of the app's Deployment and no other app's,
// including when Kubernetes cut a long name.
func TestPodPattern(t *testing.T) {
	long := strings.Repeat("a", 63)
	for _, c := range []struct {
		app, pod string
		match    bool
	}{
		{"hello", "hello-7d9f8c6b5-x2x4q", true},
		{"hello", "hello-5bd7c-x2x4q", true},
		{"hello", "hello-api-7d9f8c6b5-x2x4q", false},
		{"hello", "hello-7d9f8c6b5-x2x4q-extra", false},
		{"hello", "hello", false},
		{"hello", "now-smoke-hello-x2x4q", false},
		{"a.b", "axb-7d9f8c6b5-x2x4q", false},
		// The generated part of a pod's name is cut to 58 characters, then 5 random ones.
		{long, long[:58] + "x2x4q", true},
		{long, "b" + long[:57] + "x2x4q", false},
	} {
		re := regexp.MustCompile("^(?:" + alertrules.PodPattern(c.app) + ")$") // PromQL anchors its regexps
		if got := re.MatchString(c.pod); got != c.match {
			t.Errorf("podPattern(%q) (%s) matches %q: %v, want %v", c.app, alertrules.PodPattern(c.app), c.pod, got, c.match)
		}
	}
}

// TestSignalStep: the step keeps the points of a range bounded, whatever was asked.
func TestSignalStep(t *testing.T) {
	end := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	for _, c := range []struct {
		since, step, want time.Duration
	}{
		{time.Hour, 30 * time.Second, 30 * time.Second},
		{time.Hour, time.Second, 30 * time.Second},
		{time.Hour, 0, 30 * time.Second},
		{time.Hour, 5 * time.Minute, 5 * time.Minute},
		{7 * 24 * time.Hour, 0, 84 * time.Minute},
		{time.Minute, 0, 500 * time.Millisecond},
		// Prometheus steps are whole milliseconds: 1s / 120 is 8.3ms.
		{time.Second, 0, 9 * time.Millisecond},
		{time.Second, 10500 * time.Microsecond, 11 * time.Millisecond},
	} {
		got := signalStep(berth.SignalQuery{Start: end.Add(-c.since), End: end, Step: c.step})
		if got != c.want {
			t.Errorf("step of %s asked %s: %s, want %s", c.since, c.step, got, c.want)
		}
	}
}
