// Package smoke runs an app's smoke checks — HTTP requests to its Service and commands run
// beside it — with each check's timeout and retries and the run's budget, and judges them.
// Where the requests go is the Target's business: internal/kube reaches the Service through
// the API server's service proxy and runs commands as Jobs. The package is pure: it imports
// only the manifest and the domain.
package smoke

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	batchv1 "k8s.io/api/batch/v1"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/manifest"
)

// Limits of what a check reads and keeps.
const (
	// MaxBody is how much of an HTTP answer a check reads (contains and matches see this much).
	MaxBody = 64 << 10
	// MaxLog is how much of the end of a command's log a check reads.
	MaxLog = 64 << 10
	// excerptLines and excerptBytes bound the excerpt kept with a result.
	excerptLines = 10
	excerptBytes = 1024
	// reasonLines is how many lines of the excerpt a failure's reason carries.
	reasonLines = 3
)

// Backoff between attempts: first, doubling, at most max.
const (
	backoffFirst = 500 * time.Millisecond
	backoffMax   = 5 * time.Second
)

// HTTPRequest is one attempt of an HTTP check.
type HTTPRequest struct {
	Namespace string
	Service   string
	Port      string // the service port's name
	Method    string
	Path      string // with its query, if any
}

// HTTPResponse is what an attempt got; Body holds at most MaxBody bytes.
type HTTPResponse struct {
	Status int
	Body   []byte
}

// CommandRequest is one attempt of a command check: a Job to run to its end.
type CommandRequest struct {
	Namespace string
	Job       *batchv1.Job
}

// CommandResult is how a command's Job ended: its container's exit code and the end of
// its log (at most MaxLog bytes).
type CommandResult struct {
	ExitCode int
	Log      []byte
}

// Target is where checks run.
type Target interface {
	HTTP(ctx context.Context, r HTTPRequest) (HTTPResponse, error)
	Command(ctx context.Context, r CommandRequest) (CommandResult, error)
}

// Step is one check with what it sends: HTTP for an HTTP check, Job for a command check
// (given the attempt's number, so each attempt's Job has a name of its own).
type Step struct {
	Check manifest.SmokeCheck
	HTTP  HTTPRequest
	Job   func(attempt int) *batchv1.Job
}

// Run is a run of steps.
type Run struct {
	Namespace string
	Steps     []Step
	// Budget bounds the whole run, retries and backoff included.
	Budget time.Duration
	// Redact replaces secret values in excerpts and details; nil keeps them as they are.
	Redact func(string) string
	// Progress, if set, hears each result as it is known.
	Progress func(berth.SmokeResult)
	// Now and Sleep are the clock; nil is the real one.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// Do runs the steps in order until one fails or the budget runs out, and says how it went.
func (r Run) Do(ctx context.Context, t Target) berth.SmokeRun {
	now := r.Now
	if now == nil {
		now = time.Now
	}
	if r.Sleep == nil {
		r.Sleep = sleep
	}
	if r.Redact == nil {
		r.Redact = func(s string) string { return s }
	}
	start := now()
	budget := r.Budget
	if budget <= 0 {
		budget = manifest.SmokeBudget
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	out := berth.SmokeRun{Passed: true}
	for i, s := range r.Steps {
		res := r.check(ctx, t, s, now)
		if !res.Passed && ctx.Err() != nil && errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
			res.Detail = fmt.Sprintf("%s (the smoke budget of %s ran out; deploy.smokeTimeout sets it)", res.Detail, budget)
		}
		out.Results = append(out.Results, res)
		if r.Progress != nil {
			r.Progress(res)
		}
		if !res.Passed {
			out.Passed = false
			out.Skipped = len(r.Steps) - i - 1
			break
		}
	}
	out.Duration = now().Sub(start)
	return out
}

// check runs one step with its retries.
func (r Run) check(ctx context.Context, t Target, s Step, now func() time.Time) berth.SmokeResult {
	c := s.Check
	res := berth.SmokeResult{Name: c.Label(), Kind: berth.SmokeHTTP}
	if c.IsCommand() {
		res.Kind = berth.SmokeCommand
	}
	start := now()
	wait := backoffFirst
	for attempt := 1; attempt <= c.Attempts(); attempt++ {
		res.Attempts = attempt
		var a attemptResult
		if c.IsCommand() {
			a = r.command(ctx, t, s, attempt)
		} else {
			a = r.http(ctx, t, s)
		}
		res.Passed, res.Status, res.ExitCode, res.Detail, res.Excerpt = a.passed, a.status, a.exit, r.Redact(a.detail), excerpt(r.Redact(a.text), a.tail)
		if a.passed || attempt == c.Attempts() || ctx.Err() != nil {
			break
		}
		if err := r.Sleep(ctx, wait); err != nil {
			break
		}
		wait = min(2*wait, backoffMax)
	}
	res.Duration = now().Sub(start)
	return res
}

// attemptResult is how one attempt went; text is the body or log it saw, tail says an
// excerpt takes its end (logs) rather than its start (bodies).
type attemptResult struct {
	passed       bool
	status, exit int
	detail, text string
	tail         bool
}

func (r Run) http(ctx context.Context, t Target, s Step) attemptResult {
	c := s.Check
	actx, cancel := context.WithTimeout(ctx, c.AttemptTimeout())
	defer cancel()
	resp, err := t.HTTP(actx, s.HTTP)
	if err != nil {
		return attemptResult{detail: timeoutOr(actx, c.AttemptTimeout(), err)}
	}
	a := attemptResult{status: resp.Status, text: string(resp.Body)}
	switch {
	case resp.Status != c.WantStatus():
		a.detail = fmt.Sprintf("got %d, want %d", resp.Status, c.WantStatus())
	case c.Contains != "" && !bytes.Contains(resp.Body, []byte(c.Contains)):
		a.detail = fmt.Sprintf("got %d, but the body does not contain %q", resp.Status, c.Contains)
	case c.Matches != "" && !matches(c.Matches, resp.Body):
		a.detail = fmt.Sprintf("got %d, but the body does not match %q", resp.Status, c.Matches)
	default:
		a.passed = true
	}
	return a
}

func matches(expr string, body []byte) bool {
	re, err := regexp.Compile(expr)
	return err == nil && re.Match(body)
}

func (r Run) command(ctx context.Context, t Target, s Step, attempt int) attemptResult {
	c := s.Check
	actx, cancel := context.WithTimeout(ctx, c.AttemptTimeout())
	defer cancel()
	job := s.Job(attempt)
	res, err := t.Command(actx, CommandRequest{Namespace: r.Namespace, Job: job})
	a := attemptResult{exit: res.ExitCode, text: string(res.Log), tail: true}
	switch {
	case err != nil && errors.Is(actx.Err(), context.DeadlineExceeded):
		a.exit = -1
		a.detail = fmt.Sprintf("did not finish within %s", c.AttemptTimeout())
		// What the Target saw last, e.g. the pod pending for want of a node.
		if why := strings.TrimSuffix(err.Error(), ": "+context.DeadlineExceeded.Error()); why != err.Error() && why != "" {
			a.detail += " (" + why + ")"
		}
	case err != nil:
		a.exit = -1
		a.detail = err.Error()
	case res.ExitCode != 0:
		a.detail = fmt.Sprintf("exit code %d", res.ExitCode)
	default:
		a.passed = true
	}
	return a
}

// timeoutOr says an attempt timed out when its context did, else what err says.
func timeoutOr(ctx context.Context, limit time.Duration, err error) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Sprintf("no answer within %s", limit)
	}
	return err.Error()
}

// Reason is a failed run's reason for the deploy: the failing check, what it got and the
// first lines of its answer or log.
func Reason(run berth.SmokeRun) string {
	for _, res := range run.Results {
		if res.Passed {
			continue
		}
		msg := fmt.Sprintf("smoke test %q failed: %s", res.Name, res.Detail)
		if res.Attempts > 1 {
			msg += fmt.Sprintf(" (%d attempts)", res.Attempts)
		}
		if ex := firstLines(res.Excerpt, reasonLines); ex != "" {
			msg += ": " + ex
		}
		return msg
	}
	return ""
}

// Summary says how a run went in one line: "3 smoke tests passed in 412ms".
func Summary(run berth.SmokeRun) string {
	if run.Passed {
		n := len(run.Results)
		noun := "smoke tests"
		if n == 1 {
			noun = "smoke test"
		}
		return fmt.Sprintf("%d %s passed in %s", n, noun, run.Duration.Round(time.Millisecond))
	}
	return Reason(run)
}

// excerpt keeps the first (or, for logs, the last) lines of text, bounded, as valid UTF-8.
func excerpt(text string, tail bool) string {
	text = strings.ToValidUTF8(strings.TrimSpace(text), "?")
	if text == "" {
		return ""
	}
	lines := strings.Split(text, "\n")
	if len(lines) > excerptLines {
		if tail {
			lines = lines[len(lines)-excerptLines:]
		} else {
			lines = lines[:excerptLines]
		}
	}
	text = strings.Join(lines, "\n")
	if len(text) > excerptBytes {
		if tail {
			text = text[len(text)-excerptBytes:]
			for len(text) > 0 && !utf8.RuneStart(text[0]) {
				text = text[1:]
			}
		} else {
			text = cut(text, excerptBytes)
		}
	}
	return text
}

// firstLines joins the first n non-empty lines of s with " | ".
func firstLines(s string, n int) string {
	var out []string
	for line := range strings.Lines(s) {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
			if len(out) == n {
				break
			}
		}
	}
	j := strings.Join(out, " | ")
	if len(j) > 300 {
		j = cut(j, 297) + "..."
	}
	return j
}

// cut shortens s to at most n bytes without splitting a character.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
