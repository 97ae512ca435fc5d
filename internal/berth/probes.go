package berth

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Synthetic probes (docs/probes.md): per environment, on a schedule or on demand, a probe
// pod on the environment's cluster runs what an app there relies on — scheduling, cluster
// DNS, HTTP to a Service, its credentials, a database, an object store and a queue — and
// reports each step back. A run is a durable job claimed under a lease like a backup.

// The steps of a probe run, in the order they run. ProbeStepScheduled is measured by the
// server (from the probe pod's creation to its running); the agent runs the others.
const (
	ProbeStepScheduled   = "scheduled"
	ProbeStepDNS         = "dns"
	ProbeStepHTTP        = "http"
	ProbeStepCredentials = "credentials"
	ProbeStepDatabase    = "database"
	ProbeStepObjectStore = "objectstore"
	ProbeStepQueue       = "queue"
)

// ProbeSteps lists the steps in the order they run.
var ProbeSteps = []string{ProbeStepScheduled, ProbeStepDNS, ProbeStepHTTP, ProbeStepCredentials,
	ProbeStepDatabase, ProbeStepObjectStore, ProbeStepQueue}

// DefaultProbeThresholds is how long each step may take before it counts as slow, where an
// environment's settings say nothing else.
var DefaultProbeThresholds = map[string]time.Duration{
	ProbeStepScheduled:   time.Minute,
	ProbeStepDNS:         time.Second,
	ProbeStepHTTP:        2 * time.Second,
	ProbeStepCredentials: 2 * time.Second,
	ProbeStepDatabase:    3 * time.Second,
	ProbeStepObjectStore: 3 * time.Second,
	ProbeStepQueue:       2 * time.Second,
}

// MaxProbeRunsKept is how many runs per environment the store keeps; older ones go as new
// ones finish.
const MaxProbeRunsKept = 200

// ProbeRun is one run of the probe in an environment.
type ProbeRun struct {
	ID  int64
	Env string
	// Trigger is TriggerManual (berth probe run) or TriggerSchedule.
	Trigger string
	State   JobState
	// Reason says why a run failed besides its steps (its pod never ran, no report came),
	// or names its failing and slow steps.
	Reason string
	// Steps are the run's steps as they ended, in order: the server's scheduled step, then
	// the agent's.
	Steps []ProbeStep
	// Slot is the schedule's time a scheduled run is for; zero for others.
	Slot         time.Time
	CreatedBy    string
	CreatedAt    time.Time
	StartedAt    time.Time
	FinishedAt   time.Time
	LeaseOwner   string
	LeaseExpires time.Time
	Attempts     int
}

// Problems returns the steps that failed or were slow, in order.
func (r ProbeRun) Problems() []ProbeStep {
	var out []ProbeStep
	for _, s := range r.Steps {
		if !s.OK || s.Slow {
			out = append(out, s)
		}
	}
	return out
}

// Healthy reports whether the run ended with every step passing within its threshold.
func (r ProbeRun) Healthy() bool {
	return r.State == JobSucceeded && len(r.Problems()) == 0
}

// Duration is how long the run's steps took, from the first step's start to the last's end.
func (r ProbeRun) Duration() time.Duration {
	if len(r.Steps) == 0 {
		return 0
	}
	first, last := r.Steps[0], r.Steps[len(r.Steps)-1]
	return last.Started.Add(last.Duration).Sub(first.Started)
}

// ProbeStep is how one step of a run went.
type ProbeStep struct {
	Name     string
	Started  time.Time
	Duration time.Duration
	OK       bool
	// Slow says the step passed but took longer than its threshold.
	Slow bool
	// Error says why it failed; Detail what it checked. Neither holds a secret.
	Error  string
	Detail string
}

// Problem describes a failed or slow step in a few words: "queue failed: connect: ...",
// "database slow: took 4.2s"; "" for a step that passed in time.
func (s ProbeStep) Problem() string {
	switch {
	case !s.OK:
		return s.Name + " failed: " + s.Error
	case s.Slow:
		return fmt.Sprintf("%s slow: took %s", s.Name, s.Duration.Round(time.Millisecond))
	}
	return ""
}

// ProbeSettings is how an environment is probed: the object store and queue its apps use,
// how often, and each step's threshold. Its secrets (the S3 secret key and the queue's
// token) are sealed in the store, never held here. The probe's database is made on the
// environment's PostgreSQL server (berth envs set-postgres); an environment without one
// fails the database step, saying so.
type ProbeSettings struct {
	Env string
	// S3Endpoint is host:port of an S3-compatible store as probe pods reach it; S3Secure
	// says https.
	S3Endpoint  string
	S3Secure    bool
	S3Bucket    string
	S3Region    string
	S3AccessKey string
	// QueueURL is a nats:// URL of the queue server as probe pods reach it.
	QueueURL string
	// Interval is how often the scheduler runs the probe; 0 runs it only on demand.
	Interval time.Duration
	// Thresholds override DefaultProbeThresholds per step.
	Thresholds map[string]time.Duration
	UpdatedBy  string
	UpdatedAt  time.Time
}

// MinProbeInterval is the shortest schedule: a run takes up to a few minutes.
const MinProbeInterval = time.Minute

// Validate checks the settings' fields.
func (p ProbeSettings) Validate() error {
	if err := ValidateName("env", p.Env); err != nil {
		return err
	}
	if p.S3Endpoint != "" {
		if strings.ContainsAny(p.S3Endpoint, "/ ") || !strings.Contains(p.S3Endpoint, ":") && !strings.Contains(p.S3Endpoint, ".") {
			return Invalid("s3Endpoint", "%q is not host:port (e.g. 10.89.0.1:7070 or s3.eu-west-1.amazonaws.com)", p.S3Endpoint)
		}
		if p.S3Bucket == "" {
			return Invalid("s3Bucket", "must not be empty with an S3 endpoint")
		}
		if p.S3AccessKey == "" {
			return Invalid("s3AccessKey", "must not be empty with an S3 endpoint")
		}
	} else if p.S3Bucket != "" || p.S3AccessKey != "" || p.S3Region != "" || p.S3Secure {
		return Invalid("s3Endpoint", "must be set with a bucket, region or access key")
	}
	if p.QueueURL != "" {
		switch u, err := url.Parse(p.QueueURL); {
		case err != nil:
			return Invalid("queueURL", "is not a URL: want nats://HOST:PORT")
		case u.User != nil:
			return Invalid("queueURL", "must not hold credentials: give the queue's token as a secret")
		case u.Scheme != "nats" || u.Host == "" || (u.Path != "" && u.Path != "/"):
			return Invalid("queueURL", "%q is not nats://HOST:PORT", p.QueueURL)
		}
	}
	if p.Interval != 0 && p.Interval < MinProbeInterval {
		return Invalid("interval", "%s is shorter than %s (0 runs the probe only on demand)", p.Interval, MinProbeInterval)
	}
	if p.Interval%time.Second != 0 {
		return Invalid("interval", "%s is not a whole number of seconds", p.Interval)
	}
	for name, d := range p.Thresholds {
		if !slices.Contains(ProbeSteps, name) {
			return Invalid("thresholds", "%q is not a step (%s)", name, strings.Join(ProbeSteps, ", "))
		}
		if d <= 0 || d > 10*time.Minute {
			return Invalid("thresholds", "%s: %s is not between 0 and 10m", name, d)
		}
	}
	return nil
}

// Threshold is how long step may take before it is slow.
func (p ProbeSettings) Threshold(step string) time.Duration {
	if d, ok := p.Thresholds[step]; ok {
		return d
	}
	return DefaultProbeThresholds[step]
}

// ProbeStatus is an environment's latest probe run and what was last announced of it.
type ProbeStatus struct {
	Env string
	// Latest is the latest finished run; zero ID for none yet.
	Latest ProbeRun
	// Running is the run in flight, if any (zero ID for none).
	Running ProbeRun
	// LastSuccess is when the latest run whose every step passed finished; zero for never.
	LastSuccess time.Time
	// Failing says the last announcement was of a failure (and no recovery since).
	Failing bool
}

// Where a probe runs on an environment's cluster: its namespace and service account. Each
// run has a pod, a Secret and a Service named ProbeName(run); the Service, in front of the
// run's pod alone, is what its DNS and HTTP steps reach, so that runs of environments
// sharing a cluster never answer each other's steps.
const (
	ProbeNamespace      = "berth-probes"
	ProbeServiceAccount = "berth-probe"
	// ProbePort is where the agent answers HTTP in its pod, and its Service's port.
	ProbePort = 8080
)

// ProbeName names run's pod, Secret and Service: probe-RUN.
func ProbeName(run int64) string { return "probe-" + strconv.FormatInt(run, 10) }

// ProbePod is what the runner asks a cluster to start for a run.
type ProbePod struct {
	Run   int64
	Image string
	// Env are the agent's plain settings; Secrets the ones that go in a Secret of the run's
	// (its token, the database URL, the S3 secret key, the queue token).
	Env     map[string]string
	Secrets map[string]string
	// Deadline bounds the pod's life (activeDeadlineSeconds).
	Deadline time.Duration
}

// ProbePodStatus is how a run's pod is doing.
type ProbePodStatus struct {
	// Created is when the API server made the pod; Running when its container started
	// (zero until then).
	Created time.Time
	Running time.Time
	// Waiting says why the pod is not running yet, when the cluster says: "Unschedulable:
	// 0/1 nodes are available...", "ImagePullBackOff: ...".
	Waiting string
	// Ended says the pod's container ran and stopped (or the pod failed); Message says how:
	// its exit code and the end of its log.
	Ended   bool
	Message string
}
