package manifest

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Metrics says where the app's pods serve Prometheus metrics, and which of them count its
// requests: Berth annotates the pods so the environment's Prometheus scrapes them, and the
// request metrics feed the error-ratio, latency and SLO alerts (metrics: in berth.yaml).
type Metrics struct {
	// Port is the container port serving them.
	Port int32
	// Path is the HTTP path of the metrics; "" is DefaultMetricsPath.
	Path string
	// Requests is a counter of the HTTP requests served, with a `code` label holding the
	// status code; "" is DefaultRequestsMetric.
	Requests string
	// Duration is a histogram of the requests' durations in seconds; "" is
	// DefaultDurationMetric.
	Duration string
}

// The defaults of metrics:, the names the Prometheus Go client's promhttp middleware
// examples and most frameworks use.
const (
	DefaultMetricsPath    = "/metrics"
	DefaultRequestsMetric = "http_requests_total"
	DefaultDurationMetric = "http_request_duration_seconds"
)

// MetricsPath is the metrics' path.
func (m *Metrics) MetricsPath() string {
	if m.Path == "" {
		return DefaultMetricsPath
	}
	return m.Path
}

// RequestsMetric is the name of the requests counter.
func (m *Metrics) RequestsMetric() string {
	if m.Requests == "" {
		return DefaultRequestsMetric
	}
	return m.Requests
}

// DurationMetric is the name of the durations histogram.
func (m *Metrics) DurationMetric() string {
	if m.Duration == "" {
		return DefaultDurationMetric
	}
	return m.Duration
}

// SLO is the app's service level objective (slo: in berth.yaml), which renders into
// multi-window burn-rate alerts over its request metrics.
type SLO struct {
	// Availability is the percent of requests to answer without a 5xx, e.g. 99.9; 0: none.
	Availability float64
	// Latency is the latency objective; nil: none.
	Latency *LatencySLO
}

// LatencySLO asks that Percent of requests take less than Under.
type LatencySLO struct {
	Percent float64
	// Under must be one of the duration histogram's bucket bounds.
	Under time.Duration
}

// Alerts tunes the golden-signal alerts every app gets (alerts: in berth.yaml); zero fields
// take the platform's defaults.
type Alerts struct {
	ErrorRatio float64        // percent of requests answered 5xx over 5m
	P99Latency time.Duration  // the 99th percentile of request durations over 5m
	CPU        float64        // percent of a container's CPU limit over 5m
	Memory     float64        // percent of a container's memory limit
	Restarts   int            // container restarts within an hour
	For        *time.Duration // how long a condition holds before its alert fires; nil: the default, 0: at once
	Disable    []string       // alerts not to render, by name (AlertNames)
}

// AlertNames are the names alerts.disable takes.
var AlertNames = []string{"errorRatio", "p99Latency", "cpu", "memory", "restarts"}

// Bounds of the monitoring fields.
const (
	maxRestarts = 1000
	maxMetric   = 200 // characters of a metric name
)

var metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)

func (d *decoder) metrics(n *yaml.Node, at string) *Metrics {
	r := d.resolve(n)
	if r == nil || isNull(r) {
		return nil
	}
	mt := &Metrics{}
	ps := d.object(n, at, metricsFields)
	if r.Kind != yaml.MappingNode {
		return mt
	}
	for _, p := range ps {
		switch p.name {
		case "port":
			if v, ok := d.integer(p.val, p.path, 1, 65535); ok {
				mt.Port = int32(v)
			}
		case "path":
			mt.Path = d.str(p.val, p.path)
			if !strings.HasPrefix(mt.Path, "/") || strings.ContainsAny(mt.Path, " \t\n?#") {
				d.fail(p.path, "must be an absolute URL path without spaces, query or fragment", "e.g. path: /metrics")
			}
		case "requests":
			mt.Requests = d.metricName(p.val, p.path)
		case "duration":
			mt.Duration = d.metricName(p.val, p.path)
		}
	}
	if mt.Port == 0 {
		d.required(join(at, "port"), "the container port serving the metrics, e.g. port: 8080")
	}
	return mt
}

func (d *decoder) metricName(n *yaml.Node, at string) string {
	s := d.str(n, at)
	if s != "" && (len(s) > maxMetric || !metricName.MatchString(s)) {
		d.fail(at, "must be a Prometheus metric name: letters, digits, '_' and ':', not starting with a digit", "e.g. http_requests_total")
	}
	return s
}

func (d *decoder) slo(n *yaml.Node, at string) *SLO {
	r := d.resolve(n)
	if r == nil || isNull(r) {
		return nil
	}
	s := &SLO{}
	ps := d.object(n, at, sloFields)
	if r.Kind != yaml.MappingNode {
		return s
	}
	for _, p := range ps {
		switch p.name {
		case "availability":
			s.Availability = d.objective(p.val, p.path)
		case "latency":
			s.Latency = d.latencySLO(p.val, p.path)
		}
	}
	if s.Availability == 0 && s.Latency == nil && !d.failed[join(at, "availability")] && !d.failed[join(at, "latency")] {
		d.fail(at, "needs an objective", "e.g. slo: {availability: 99.9} or slo: {latency: {percent: 99, under: 300ms}}")
	}
	return s
}

func (d *decoder) latencySLO(n *yaml.Node, at string) *LatencySLO {
	r := d.resolve(n)
	if r == nil || isNull(r) {
		return nil
	}
	l := &LatencySLO{}
	ps := d.object(n, at, sloLatencyFields)
	if r.Kind != yaml.MappingNode {
		return l
	}
	for _, p := range ps {
		switch p.name {
		case "percent":
			l.Percent = d.objective(p.val, p.path)
		case "under":
			l.Under = d.duration(p.val, p.path, time.Millisecond, time.Minute)
		}
	}
	if l.Percent == 0 {
		d.required(join(at, "percent"), "the percent of requests to be faster, e.g. percent: 99")
	}
	if l.Under == 0 {
		d.required(join(at, "under"), "the duration they must take less than, one of the duration histogram's bucket bounds, e.g. under: 250ms")
	}
	return l
}

// objective reads an SLO target: a percent above 0 and below 100 (100 leaves no error budget).
func (d *decoder) objective(n *yaml.Node, at string) float64 {
	v, ok := d.percent(n, at)
	if ok && (v < 50 || v >= 100) {
		d.fail(at, "must be a percent from 50 to below 100", "e.g. 99.9: 100 would leave no error budget to burn")
		return 0
	}
	return v
}

// percent reads a number of percent, written 99.9 or "99.9%", from 0 (excluded) to 100.
func (d *decoder) percent(n *yaml.Node, at string) (float64, bool) {
	r := d.scalar(n, at, "a percent")
	if r == nil {
		return 0, false
	}
	s := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(r.Value), "%"))
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || r.Tag == "!!bool" || v <= 0 || v > 100 || v != v {
		d.fail(at, "must be a percent above 0 and at most 100", "e.g. 5 or \"5%\"")
		return 0, false
	}
	return v, true
}

func (d *decoder) alerts(n *yaml.Node, at string) Alerts {
	var a Alerts
	r := d.resolve(n)
	if r == nil || isNull(r) {
		return a
	}
	for _, p := range d.object(n, at, alertsFields) {
		switch p.name {
		case "errorRatio":
			a.ErrorRatio, _ = d.percent(p.val, p.path)
		case "p99Latency":
			a.P99Latency = d.duration(p.val, p.path, time.Millisecond, time.Hour)
		case "cpu":
			a.CPU, _ = d.percent(p.val, p.path)
		case "memory":
			a.Memory, _ = d.percent(p.val, p.path)
		case "restarts":
			if v, ok := d.integer(p.val, p.path, 1, maxRestarts); ok {
				a.Restarts = int(v)
			}
		case "for":
			problems := d.problems
			if v := d.duration(p.val, p.path, 0, 24*time.Hour); d.problems == problems && d.scalar(p.val, p.path, "a duration") != nil {
				a.For = &v
			}
		case "disable":
			for i, name := range d.strList(p.val, p.path, 0) {
				switch {
				case name == "":
				case !slices.Contains(AlertNames, name):
					d.fail(index(p.path, i), "unknown alert "+quote(name), didYouMean(name, AlertNames))
				case slices.Contains(a.Disable, name):
					d.fail(index(p.path, i), "disables "+name+" twice", "")
				default:
					a.Disable = append(a.Disable, name)
				}
			}
		}
	}
	return a
}

// Disabled reports whether the alert named name (AlertNames) is turned off.
func (a Alerts) Disabled(name string) bool { return slices.Contains(a.Disable, name) }

// checkMonitoring checks what metrics:, slo: and alerts: say about the rest of the manifest.
func (d *decoder) checkMonitoring(m *Manifest) {
	noMetrics := func(path, what string) {
		d.fail(path, what+" needs the app's request metrics", "add metrics: {port: 8080}, with requests: and duration: when they are not named http_requests_total and http_request_duration_seconds")
	}
	if m.SLO != nil && m.Metrics == nil && !d.failed["slo"] {
		noMetrics("slo", "an SLO")
	}
	a := m.Alerts
	if m.Metrics == nil {
		if a.ErrorRatio != 0 && !a.Disabled("errorRatio") {
			noMetrics("alerts.errorRatio", "the error-ratio alert")
		}
		if a.P99Latency != 0 && !a.Disabled("p99Latency") {
			noMetrics("alerts.p99Latency", "the latency alert")
		}
	}
	limits := func(kind string) bool {
		for _, c := range m.Containers {
			if c.Resources != nil && (kind == "cpu" && c.Resources.Limits.CPU != "" || kind == "memory" && c.Resources.Limits.Memory != "") {
				return true
			}
		}
		return false
	}
	if a.CPU != 0 && !a.Disabled("cpu") && !limits("cpu") && len(m.Containers) > 0 {
		d.fail("alerts.cpu", "CPU saturation is measured against a CPU limit, and no container has one", "set containers.NAME.resources.limits.cpu, or leave alerts.cpu out")
	}
	if a.Memory != 0 && !a.Disabled("memory") && !limits("memory") && len(m.Containers) > 0 {
		d.fail("alerts.memory", "memory saturation is measured against a memory limit, and no container has one", "set containers.NAME.resources.limits.memory, or leave alerts.memory out")
	}
}
