package alertrules

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"time"
)

// App is what the rules of one app in one environment are rendered from.
type App struct {
	// Team, Name and Env are the labels Berth gives the app's series and alerts; Namespace
	// is where its pods run.
	Team, Name, Env, Namespace string
	// Containers are the app's containers, with their limits (0: none).
	Containers []Container
	// Requests and Duration name the app's request metrics: a counter of HTTP requests with a
	// `code` label (e.g. hello_http_requests_total) and a histogram of their durations in
	// seconds (e.g. hello_http_request_duration_seconds, its _bucket/_count series). Both ""
	// when the app declares no metrics: no error-ratio, latency or SLO rules then.
	Requests, Duration string
	SLO                *SLO       // nil: none
	Alerts             Thresholds // zero fields take the defaults below
	// Scale divides every time window and `for` duration (for tests: 60 turns 5m into 5s;
	// 1h into 1m); 0 or 1: real windows. It is for tests whose Prometheus scrapes often:
	// a rate needs two samples in its window, so the scrape interval must be at most half
	// the shortest scaled window (2.5 s at 60). A scaled group is also evaluated every
	// 1m/Scale, so its alerts keep pace whatever the Prometheus's evaluation interval.
	Scale float64
}

// Container is one of an app's containers and its resource limits.
type Container struct {
	Name        string
	CPULimit    float64 // cores; 0: none
	MemoryLimit int64   // bytes; 0: none
}

// SLO is an app's service level objective over a 30-day window, which its burn-rate alerts
// guard.
type SLO struct {
	Availability float64     // percent of requests not answered 5xx, e.g. 99.9; 0: none
	Latency      *LatencySLO // nil: none
}

// LatencySLO asks that Percent of requests be faster than Under. Under must be one of the
// bounds of the app's duration histogram: the rules read the bucket whose `le` is Under.
type LatencySLO struct {
	Percent float64
	Under   time.Duration
}

// Thresholds are the limits of an app's threshold alerts; zero fields take the defaults.
type Thresholds struct {
	ErrorRatio float64        // percent of requests answered 5xx over 5m; default 5
	P99Latency time.Duration  // default 1s
	CPU        float64        // percent of the container's CPU limit over 5m; default 90
	Memory     float64        // percent of the container's memory limit; default 90
	Restarts   int            // container restarts within 1h; default 3
	For        *time.Duration // how long a condition holds before it fires; nil: 5m, 0: at once
	Disabled   []string       // names of alerts not to render, from AlertNames
}

// The defaults of Thresholds' zero fields.
const (
	DefaultErrorRatio = 5.0
	DefaultP99Latency = time.Second
	DefaultCPU        = 90.0
	DefaultMemory     = 90.0
	DefaultRestarts   = 3
	DefaultFor        = 5 * time.Minute
)

// The names of the threshold alerts, as Thresholds.Disabled lists them.
const (
	AlertErrorRatio = "errorRatio"
	AlertP99Latency = "p99Latency"
	AlertCPU        = "cpu"
	AlertMemory     = "memory"
	AlertRestarts   = "restarts"
)

// AlertNames are the names Thresholds.Disabled may list, in the order rules are rendered.
var AlertNames = []string{AlertErrorRatio, AlertP99Latency, AlertCPU, AlertMemory, AlertRestarts}

// withDefaults returns t with its zero fields set to the defaults.
func (t Thresholds) withDefaults() Thresholds {
	if t.ErrorRatio == 0 {
		t.ErrorRatio = DefaultErrorRatio
	}
	if t.P99Latency == 0 {
		t.P99Latency = DefaultP99Latency
	}
	if t.CPU == 0 {
		t.CPU = DefaultCPU
	}
	if t.Memory == 0 {
		t.Memory = DefaultMemory
	}
	if t.Restarts == 0 {
		t.Restarts = DefaultRestarts
	}
	if t.For == nil {
		d := DefaultFor
		t.For = &d
	}
	return t
}

// Enabled reports whether the alert named name (one of AlertNames) is rendered.
func (t Thresholds) Enabled(name string) bool {
	return !slices.Contains(t.Disabled, name)
}

// GroupName is the name of the app's rule group: berth.TEAM.APP.ENV.
func (a App) GroupName() string {
	return "berth." + a.Team + "." + a.Name + "." + a.Env
}

// metricName is Prometheus's classic metric name; Render writes names into selectors
// unquoted, so it takes no other.
var metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)

// Validate reports every field of a that Render would turn into rules that do not load or
// do not mean what was asked, each error naming the field.
func (a App) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	for _, f := range []struct{ field, value string }{{"team", a.Team}, {"name", a.Name}, {"env", a.Env}} {
		if f.value == "" {
			bad(f.field, "must not be empty")
		}
	}
	if len(a.Containers) > 0 && a.Namespace == "" {
		bad("namespace", "must not be empty when there are containers")
	}
	for i, c := range a.Containers {
		field := fmt.Sprintf("containers[%d]", i)
		if c.Name == "" {
			bad(field+".name", "must not be empty")
		}
		if !(c.CPULimit >= 0) || math.IsInf(c.CPULimit, 0) {
			bad(field+".cpuLimit", "must be a number of cores, got %v", c.CPULimit)
		}
		if c.MemoryLimit < 0 {
			bad(field+".memoryLimit", "must not be negative, got %d", c.MemoryLimit)
		}
	}
	if a.Requests != "" && !metricName.MatchString(a.Requests) {
		bad("requests", "%q is not a Prometheus metric name", a.Requests)
	}
	if a.Duration != "" && !metricName.MatchString(a.Duration) {
		bad("duration", "%q is not a Prometheus metric name", a.Duration)
	}
	if s := a.SLO; s != nil {
		if s.Availability != 0 {
			if !percentBelow100(s.Availability) {
				bad("slo.availability", "must be a percentage above 0 and below 100, got %v", s.Availability)
			}
			if a.Requests == "" {
				bad("slo.availability", "needs the app's request counter")
			}
		}
		if l := s.Latency; l != nil {
			if !percentBelow100(l.Percent) {
				bad("slo.latency.percent", "must be a percentage above 0 and below 100, got %v", l.Percent)
			}
			if l.Under <= 0 {
				bad("slo.latency.under", "must be positive, got %v", l.Under)
			}
			if a.Duration == "" {
				bad("slo.latency", "needs the app's request duration histogram")
			}
		}
	}
	t := a.Alerts
	if !(t.ErrorRatio >= 0 && t.ErrorRatio <= 100) {
		bad("alerts.errorRatio", "must be a percentage, got %v", t.ErrorRatio)
	}
	if t.P99Latency < 0 {
		bad("alerts.p99Latency", "must not be negative, got %v", t.P99Latency)
	}
	if !(t.CPU >= 0) || math.IsInf(t.CPU, 0) {
		bad("alerts.cpu", "must be a percentage, got %v", t.CPU)
	}
	if !(t.Memory >= 0) || math.IsInf(t.Memory, 0) {
		bad("alerts.memory", "must be a percentage, got %v", t.Memory)
	}
	if t.Restarts < 0 {
		bad("alerts.restarts", "must not be negative, got %d", t.Restarts)
	}
	if t.For != nil && *t.For < 0 {
		bad("alerts.for", "must not be negative, got %v", *t.For)
	}
	for i, name := range t.Disabled {
		if !slices.Contains(AlertNames, name) {
			bad(fmt.Sprintf("alerts.disabled[%d]", i), "unknown alert %q (known: %v)", name, AlertNames)
		}
	}
	if !(a.Scale == 0 || a.Scale >= 1) || math.IsInf(a.Scale, 0) {
		bad("scale", "must be 0 or at least 1, got %v", a.Scale)
	}
	return errors.Join(errs...)
}

// percentBelow100 reports whether p is a percentage strictly between 0 and 100, which an
// objective must be: at 100 the error budget is 0 and every burn rate infinite.
func percentBelow100(p float64) bool {
	return p > 0 && p < 100
}
