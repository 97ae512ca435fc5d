package probe

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSummary(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 4, 12, 0, 123e6, time.UTC)
	ok := func(name string, at, took time.Duration) Step {
		return Step{Name: name, Started: t0.Add(at), Duration: took, OK: true}
	}
	fail := func(name, err string) Step { return Step{Name: name, Started: t0, Duration: time.Second, Error: err} }
	for _, tc := range []struct {
		name   string
		steps  []Step
		want   string
		failed []string
	}{
		{"none", nil, "no steps ran", nil},
		{"one", []Step{ok("dns", 0, 3*time.Millisecond)}, "1 step passed in 3ms", nil},
		{"all, from the first start to the last end", []Step{
			ok("dns", 0, 3*time.Millisecond), ok("http", 5*time.Millisecond, 10*time.Millisecond), ok("queue", time.Second, 190*time.Millisecond),
		}, "3 steps passed in 1.2s", nil},
		{"quick", []Step{ok("dns", 0, 412*time.Microsecond)}, "1 step passed in 412µs", nil},
		{"one failed", []Step{ok("dns", 0, time.Millisecond), fail("queue", "queue nats://q:4222: connect: refused")},
			"queue failed: queue nats://q:4222: connect: refused", []string{"queue"}},
		{"two failed", []Step{fail("database", "refused"), ok("objectstore", 0, time.Millisecond), fail("queue", "timeout")},
			"database failed: refused; queue failed: timeout", []string{"database", "queue"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Report{Run: 1, Env: "dev", Steps: tc.steps}
			if got := r.Summary(); got != tc.want {
				t.Errorf("Summary() = %q, want %q", got, tc.want)
			}
			var failed []string
			for _, s := range r.Failed() {
				failed = append(failed, s.Name)
			}
			if diff := cmp.Diff(tc.failed, failed); diff != "" {
				t.Errorf("Failed() (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReportJSON pins the wire form the server decodes.
func TestReportJSON(t *testing.T) {
	r := Report{Run: 12, Env: "production", Steps: []Step{
		{Name: StepDNS, Started: time.Date(2026, 12, 7, 4, 12, 0, 123e6, time.UTC), Duration: 3 * time.Millisecond, OK: true, Detail: "a -> 10.0.0.12"},
		{Name: StepQueue, Started: time.Date(2026, 12, 7, 4, 12, 1, 0, time.UTC), Duration: 10 * time.Second, Error: "timeout"},
	}}
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"run":12,"env":"production","steps":[` +
		`{"name":"dns","started":"2026-12-07T04:12:00.123Z","durationNs":3000000,"ok":true,"detail":"a -\u003e 10.0.0.12"},` +
		`{"name":"queue","started":"2026-12-07T04:12:01Z","durationNs":10000000000,"ok":false,"error":"timeout"}]}`
	if string(js) != want {
		t.Errorf("JSON\n got %s\nwant %s", js, want)
	}
	var back Report
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, back); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}
