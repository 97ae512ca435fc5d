package berth

import "time"

// The kinds of smoke check.
const (
	SmokeHTTP    = "http"
	SmokeCommand = "command"
)

// SmokeResult is how one smoke check of a deploy (or of `berth smoke`) went.
type SmokeResult struct {
	// Name is the check's name, or what it does ("GET /health").
	Name string `json:"name"`
	// Kind is SmokeHTTP or SmokeCommand.
	Kind   string `json:"kind"`
	Passed bool   `json:"passed"`
	// Status is an HTTP check's last status code; 0 when nothing answered.
	Status int `json:"status,omitempty"`
	// ExitCode is a command check's exit code; -1 when it did not finish.
	ExitCode int `json:"exitCode,omitempty"`
	// Detail says why it failed ("got 500, want 200"), or "" when it passed.
	Detail string `json:"detail,omitempty"`
	// Attempts is how many times it ran.
	Attempts int `json:"attempts"`
	// Duration is its time, attempts and backoff included.
	Duration time.Duration `json:"duration"`
	// Excerpt is the start of the last answer's body, or the end of the command's log,
	// with secret values redacted.
	Excerpt string `json:"excerpt,omitempty"`
}

// SmokeRun is a run of an app's smoke checks, in order: it stops at the first that fails.
type SmokeRun struct {
	// Revision is the revision whose checks ran.
	Revision int64         `json:"revision"`
	Passed   bool          `json:"passed"`
	Results  []SmokeResult `json:"results"`
	// Skipped counts the checks not run after a failure or when the budget ran out.
	Skipped  int           `json:"skipped,omitempty"`
	Duration time.Duration `json:"duration"`
}
