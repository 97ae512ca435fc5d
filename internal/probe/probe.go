// Package probe is the agent side of Berth's synthetic probes: run inside a pod of an
// environment's cluster (as `berth probe agent`), it checks what an app there relies on —
// cluster DNS, HTTP to a Service, its service account against the API server, a database,
// an object store and a queue — one timed step each, against the real services, and sends
// the report to Berth's server. It imports nothing of Berth's: the agent carries only what
// its environment variables (ConfigFromEnv) tell it.
package probe

import (
	"fmt"
	"strings"
	"time"
)

// The names of a run's steps, in the order they run. StepScheduled is measured by the
// server (from the probe pod's creation to its running), never by the agent.
const (
	StepScheduled   = "scheduled"
	StepDNS         = "dns"
	StepHTTP        = "http"
	StepCredentials = "credentials"
	StepDatabase    = "database"
	StepObjectStore = "objectstore"
	StepQueue       = "queue"
)

// Step is the outcome of one check of a run.
type Step struct {
	// Name is one of the Step* constants.
	Name string `json:"name"`
	// Started is when the step began; Duration how long it took.
	Started time.Time `json:"started"`
	// Duration is in nanoseconds on the wire, so that a 300µs DNS answer survives.
	Duration time.Duration `json:"durationNs"`
	OK       bool          `json:"ok"`
	// Error says why a step failed ("" when OK); it never holds a secret.
	Error string `json:"error,omitempty"`
	// Detail says what was checked, e.g. the addresses a name resolved to, or the user the
	// API server saw.
	Detail string `json:"detail,omitempty"`
}

// Report is a probe run's steps, in the order they ran.
type Report struct {
	// Run is the server's id of the run.
	Run   int64  `json:"run"`
	Env   string `json:"env"`
	Steps []Step `json:"steps"`
}

// Failed returns the steps that did not pass, in order.
func (r Report) Failed() []Step {
	var out []Step
	for _, s := range r.Steps {
		if !s.OK {
			out = append(out, s)
		}
	}
	return out
}

// Summary says in one line how the run went: "6 steps passed in 1.2s", or each failure
// ("queue failed: ...; database failed: ...").
func (r Report) Summary() string {
	if len(r.Steps) == 0 {
		return "no steps ran"
	}
	failed := r.Failed()
	if len(failed) == 0 {
		first, last := r.Steps[0], r.Steps[len(r.Steps)-1]
		total := last.Started.Add(last.Duration).Sub(first.Started)
		noun := "steps"
		if len(r.Steps) == 1 {
			noun = "step"
		}
		return fmt.Sprintf("%d %s passed in %s", len(r.Steps), noun, formatDuration(total))
	}
	parts := make([]string, len(failed))
	for i, s := range failed {
		parts[i] = s.Name + " failed: " + s.Error
	}
	return strings.Join(parts, "; ")
}

// formatDuration writes d for people: "412µs", "3ms", "1.2s".
func formatDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	default:
		return d.Round(100 * time.Millisecond).String()
	}
}
