package probe

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// check is one step's work: it returns what it checked, or why it failed.
type check func(ctx context.Context, c Config, s *scrubber) (detail string, err error)

// steps are the agent's checks in the order they run.
var steps = []struct {
	name string
	run  check
}{
	{StepDNS, checkDNS},
	{StepHTTP, checkHTTP},
	{StepCredentials, checkCredentials},
	{StepDatabase, checkDatabase},
	{StepObjectStore, checkObjectStore},
	{StepQueue, checkQueue},
}

// logTime is the layout of a log line's timestamp: RFC 3339 in UTC, to the millisecond.
const logTime = "2006-01-02T15:04:05.000Z07:00"

// Run runs every step in order, each within its own timeout, whatever the others did, and
// writes one line per step to log as it ends:
//
//	2026-12-07T04:12:00.123Z dns ok 3ms probe.berth-probes.svc.cluster.local -> 10.0.0.12
//	2026-12-07T04:12:05.301Z queue FAILED 10s queue nats://nats.queues:4222: connect: ...
//
// stamped with the step's start. Errors and details are scrubbed of the configuration's
// secrets, and a step that panics fails instead of taking the agent down.
func Run(ctx context.Context, c Config, log io.Writer) Report {
	if log == nil {
		log = io.Discard
	}
	s := newScrubber(c)
	r := Report{Run: c.Run, Env: c.Env, Steps: make([]Step, 0, len(steps))}
	for _, st := range steps {
		step := runStep(ctx, c, s, st.name, st.run)
		r.Steps = append(r.Steps, step)
		writeLine(log, step)
	}
	return r
}

// runStep runs one check under the step timeout and records it.
func runStep(ctx context.Context, c Config, s *scrubber, name string, run check) Step {
	ctx, cancel := context.WithTimeout(ctx, c.stepTimeout())
	defer cancel()
	started := time.Now()
	detail, err := safely(ctx, c, s, run)
	step := Step{Name: name, Started: started.UTC(), Duration: time.Since(started), OK: err == nil,
		Detail: oneLine(s.scrub(detail))}
	if err != nil {
		// A check that ran out of time may say only "context deadline exceeded": say whose.
		msg := err.Error()
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			msg += fmt.Sprintf(" (the step timed out after %s)", c.stepTimeout())
		}
		step.Error = oneLine(s.scrub(msg))
	}
	return step
}

// safely runs a check, turning a panic into its error.
func safely(ctx context.Context, c Config, s *scrubber, run check) (detail string, err error) {
	defer func() {
		if p := recover(); p != nil {
			detail, err = "", fmt.Errorf("panic: %v", p)
		}
	}()
	return run(ctx, c, s)
}

// writeLine logs a step; a log that fails to take it does not stop the run.
func writeLine(log io.Writer, s Step) {
	status, text := "ok", s.Detail
	if !s.OK {
		status, text = "FAILED", s.Error
	}
	line := fmt.Sprintf("%s %s %s %s", s.Started.UTC().Format(logTime), s.Name, status, formatDuration(s.Duration))
	if text != "" {
		line += " " + text
	}
	_, _ = io.WriteString(log, line+"\n")
}

// oneLine keeps a multi-line message (a server's answer, a wrapped error) on the log line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// randomID names what a run writes (a row, an object, a subject), so that runs never meet.
func randomID() string {
	return "p" + strings.ToLower(rand.Text())
}
