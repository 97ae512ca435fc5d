package apiv1

import "github.com/berth-dev/berth/internal/berth"

// SmokeRun is a run of an app's smoke tests: a deploy's verify stage, or POST .../smoke.
type SmokeRun struct {
	// Revision is the revision whose smoke tests ran.
	Revision int64 `json:"revision"`
	Passed   bool  `json:"passed"`
	// Skipped counts the checks not run after the first failure.
	Skipped    int           `json:"skipped,omitempty"`
	DurationMs int64         `json:"durationMs"`
	Results    []SmokeResult `json:"results"`
}

// SmokeResult is one check's result.
type SmokeResult struct {
	Name string `json:"name"`
	// Kind is http or command.
	Kind   string `json:"kind"`
	Passed bool   `json:"passed"`
	// Status is an HTTP check's last status code (0: nothing answered).
	Status int `json:"status,omitempty"`
	// ExitCode is a command check's exit code (-1: it did not finish).
	ExitCode int `json:"exitCode,omitempty"`
	// Detail says why it failed.
	Detail     string `json:"detail,omitempty"`
	Attempts   int    `json:"attempts"`
	DurationMs int64  `json:"durationMs"`
	// Excerpt is the start of the answer or the end of the command's log, secret values
	// redacted.
	Excerpt string `json:"excerpt,omitempty"`
}

// RunSmoke is the body of POST /teams/{team}/apps/{app}/smoke.
type RunSmoke struct {
	Env string `json:"env"`
}

// FromSmokeRun is the wire form of a smoke run; nil stays nil.
func FromSmokeRun(r *berth.SmokeRun) *SmokeRun {
	if r == nil {
		return nil
	}
	out := &SmokeRun{Revision: r.Revision, Passed: r.Passed, Skipped: r.Skipped, DurationMs: r.Duration.Milliseconds(),
		Results: make([]SmokeResult, 0, len(r.Results))}
	for _, res := range r.Results {
		out.Results = append(out.Results, SmokeResult{Name: res.Name, Kind: res.Kind, Passed: res.Passed, Status: res.Status,
			ExitCode: res.ExitCode, Detail: res.Detail, Attempts: res.Attempts, DurationMs: res.Duration.Milliseconds(), Excerpt: res.Excerpt})
	}
	return out
}
