package apiv1

import (
	"math"
	"time"

	"github.com/berth-dev/berth/internal/berth"
)

// ProbeRun is one run of an environment's synthetic probe (docs/probes.md): a probe pod on
// the environment's cluster checks, one timed step each, what an app there relies on.
// State is queued, running, succeeded or failed; a run whose steps all passed succeeded
// even when some were slow, and Healthy says whether every step passed in time.
type ProbeRun struct {
	ID  int64  `json:"id"`
	Env string `json:"env"`
	// Trigger is manual (berth probe run, POST /envs/{env}/probes/runs) or schedule.
	Trigger string `json:"trigger"`
	State   string `json:"state"`
	// Reason names the failed and slow steps, or says why the run failed besides its steps
	// (its pod never ran, no report came).
	Reason  string `json:"reason,omitempty"`
	Healthy bool   `json:"healthy"`
	// Steps are the run's steps as they ended, in order: the server's scheduled step, then
	// the agent's; empty until the run ends.
	Steps []ProbeStep `json:"steps"`
	// DurationMs is the span of the steps, from the first's start to the last's end, in
	// milliseconds with a fraction.
	DurationMs float64 `json:"durationMs"`
	// Slot is the schedule's time a scheduled run is for.
	Slot *time.Time `json:"slot,omitempty"`
	// Attempts is how many times a server took the run up (more than 1: started over).
	Attempts   int        `json:"attempts"`
	CreatedBy  string     `json:"createdBy"`
	CreatedAt  time.Time  `json:"createdAt"`
	StartedAt  *time.Time `json:"startedAt,omitempty"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
}

// ProbeStep is how one step of a run went. Its duration is in milliseconds with a
// fraction, so that a 412µs DNS answer reads 0.412.
type ProbeStep struct {
	// Name is scheduled, dns, http, credentials, database, objectstore or queue.
	Name       string    `json:"name"`
	Started    time.Time `json:"started"`
	DurationMs float64   `json:"durationMs"`
	OK         bool      `json:"ok"`
	// Slow says the step passed but took longer than its threshold.
	Slow bool `json:"slow"`
	// Error says why the step failed; Detail what it checked. Neither holds a secret.
	Error  string `json:"error,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// ProbeStatus is an environment's probe at a glance: its latest finished run, the run in
// flight, when a run last passed, and whether its failure was announced (and no recovery
// since).
type ProbeStatus struct {
	Env         string     `json:"env"`
	Latest      *ProbeRun  `json:"latest,omitempty"`
	Running     *ProbeRun  `json:"running,omitempty"`
	LastSuccess *time.Time `json:"lastSuccess,omitempty"`
	Failing     bool       `json:"failing"`
}

// ProbeSettings is how an environment is probed, without its secrets: whether each is set
// is all that is shown. The probe's database is made on the environment's PostgreSQL
// server (PUT /envs/{env}/postgres).
type ProbeSettings struct {
	Env string `json:"env"`
	// S3Endpoint is host:port of an S3-compatible store as probe pods reach it, over TLS
	// when S3Secure.
	S3Endpoint  string `json:"s3Endpoint,omitempty"`
	S3Secure    bool   `json:"s3Secure"`
	S3Bucket    string `json:"s3Bucket,omitempty"`
	S3Region    string `json:"s3Region,omitempty"`
	S3AccessKey string `json:"s3AccessKey,omitempty"`
	// QueueURL is a nats://HOST:PORT URL of the queue server as probe pods reach it.
	QueueURL string `json:"queueURL,omitempty"`
	// Interval is how often the probe runs, a Go duration such as 10m; 0s runs it on
	// demand only.
	Interval string `json:"interval"`
	// Thresholds are the steps whose threshold is set, each a Go duration such as 3s; the
	// others keep their defaults.
	Thresholds     map[string]string `json:"thresholds"`
	HasS3SecretKey bool              `json:"hasS3SecretKey"`
	HasQueueToken  bool              `json:"hasQueueToken"`
	UpdatedBy      string            `json:"updatedBy,omitempty"`
	// UpdatedAt is absent for an environment whose probe was never set.
	UpdatedAt *time.Time `json:"updatedAt,omitempty"`
}

// SetProbeSettings is the body of PUT /envs/{env}/probe: it replaces the environment's
// probe settings and secrets whole, so an S3 endpoint comes with its secret key each time.
// S3SecretKey and QueueToken travel only here; they are sealed and never shown again.
type SetProbeSettings struct {
	S3Endpoint  string `json:"s3Endpoint,omitempty"`
	S3Secure    bool   `json:"s3Secure,omitempty"`
	S3Bucket    string `json:"s3Bucket,omitempty"`
	S3Region    string `json:"s3Region,omitempty"`
	S3AccessKey string `json:"s3AccessKey,omitempty"`
	S3SecretKey string `json:"s3SecretKey,omitempty"`
	QueueURL    string `json:"queueURL,omitempty"`
	QueueToken  string `json:"queueToken,omitempty"`
	// Interval is a Go duration of at least 1m, or 0 (or absent) to run the probe on demand
	// only.
	Interval string `json:"interval,omitempty"`
	// Thresholds maps a step to how long it may take before it is slow, a Go duration.
	Thresholds map[string]string `json:"thresholds,omitempty"`
}

// ProbeReport is the body of POST /probes/runs/{run}/report: the steps a run's agent ran,
// as internal/probe sends them. It is authenticated by the run's token, not a user's. Run
// must be the path's; Env is the environment the agent was told, which must be the run's.
type ProbeReport struct {
	Run   int64             `json:"run"`
	Env   string            `json:"env"`
	Steps []ProbeReportStep `json:"steps"`
}

// ProbeReportStep is one step of an agent's report; its duration is in nanoseconds.
type ProbeReportStep struct {
	Name       string    `json:"name"`
	Started    time.Time `json:"started"`
	DurationNs int64     `json:"durationNs"`
	OK         bool      `json:"ok"`
	Error      string    `json:"error,omitempty"`
	Detail     string    `json:"detail,omitempty"`
}

// FromProbeRun is the wire form of a probe run; its steps are an empty list, not absent.
func FromProbeRun(r berth.ProbeRun) ProbeRun {
	out := ProbeRun{ID: r.ID, Env: r.Env, Trigger: r.Trigger, State: string(r.State), Reason: r.Reason, Healthy: r.Healthy(),
		Steps: make([]ProbeStep, 0, len(r.Steps)), DurationMs: Milliseconds(r.Duration()), Slot: timePtr(r.Slot), Attempts: r.Attempts,
		CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, StartedAt: timePtr(r.StartedAt), FinishedAt: timePtr(r.FinishedAt)}
	for _, s := range r.Steps {
		out.Steps = append(out.Steps, ProbeStep{Name: s.Name, Started: s.Started, DurationMs: Milliseconds(s.Duration), OK: s.OK,
			Slow: s.Slow, Error: s.Error, Detail: s.Detail})
	}
	return out
}

// FromProbeStatus is the wire form of an environment's probe status.
func FromProbeStatus(st berth.ProbeStatus) ProbeStatus {
	out := ProbeStatus{Env: st.Env, LastSuccess: timePtr(st.LastSuccess), Failing: st.Failing}
	if st.Latest.ID != 0 {
		r := FromProbeRun(st.Latest)
		out.Latest = &r
	}
	if st.Running.ID != 0 {
		r := FromProbeRun(st.Running)
		out.Running = &r
	}
	return out
}

// FromProbeSettings is the wire form of an environment's probe settings; hasS3SecretKey
// and hasQueueToken say which secrets are set.
func FromProbeSettings(p berth.ProbeSettings, hasS3SecretKey, hasQueueToken bool) ProbeSettings {
	out := ProbeSettings{Env: p.Env, S3Endpoint: p.S3Endpoint, S3Secure: p.S3Secure, S3Bucket: p.S3Bucket, S3Region: p.S3Region,
		S3AccessKey: p.S3AccessKey, QueueURL: p.QueueURL, Interval: FormatDuration(p.Interval), Thresholds: map[string]string{},
		HasS3SecretKey: hasS3SecretKey, HasQueueToken: hasQueueToken, UpdatedBy: p.UpdatedBy, UpdatedAt: timePtr(p.UpdatedAt)}
	for step, d := range p.Thresholds {
		out.Thresholds[step] = FormatDuration(d)
	}
	return out
}

// ToProbeSteps is the domain's form of a report's steps. Slow is the server's to judge.
func ToProbeSteps(in []ProbeReportStep) []berth.ProbeStep {
	out := make([]berth.ProbeStep, 0, len(in))
	for _, s := range in {
		out = append(out, berth.ProbeStep{Name: s.Name, Started: s.Started, Duration: time.Duration(s.DurationNs), OK: s.OK,
			Error: s.Error, Detail: s.Detail})
	}
	return out
}

// Milliseconds is d in milliseconds with a fraction (to the nanosecond), as probe times
// go on the wire.
func Milliseconds(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// FromMilliseconds is the duration of a wire time in milliseconds, to the nanosecond.
func FromMilliseconds(ms float64) time.Duration {
	return time.Duration(math.Round(ms * float64(time.Millisecond)))
}
