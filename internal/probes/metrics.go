package probes

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// Metrics exports the probes: each step's duration as a histogram and its failures as a
// counter, per environment, as this server's runs finish; and, read from the store at each
// scrape (so that every server says the same, and a restart loses nothing), when each
// environment's probe last passed and whether its latest run was healthy.
type Metrics struct {
	st  *store.Store
	log interface{ Warn(string, ...any) }

	duration *prometheus.HistogramVec
	failures *prometheus.CounterVec
	runs     *prometheus.CounterVec

	lastSuccess, healthy *prometheus.Desc
}

// stepBuckets spans a DNS answer (a millisecond) to a pod waiting for its node (a minute).
var stepBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// NewMetrics returns the collector; register it with the server's registry and give it to
// the runner (Options.Metrics).
func NewMetrics(st *store.Store, log interface{ Warn(string, ...any) }) *Metrics {
	return &Metrics{st: st, log: log,
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "berth_probe_step_duration_seconds",
			Help: "How long each step of the environment's probe runs took, passed or not.", Buckets: stepBuckets},
			[]string{"env", "step"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "berth_probe_step_failures_total",
			Help: "Steps of the environment's probe runs that failed."}, []string{"env", "step"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "berth_probe_runs_total",
			Help: "Finished probe runs, by result: passed, slow (every step passed, some too slowly) or failed."}, []string{"env", "result"}),
		lastSuccess: prometheus.NewDesc("berth_probe_last_success_timestamp_seconds",
			"When the latest probe run of the environment whose every step passed finished.", []string{"env"}, nil),
		healthy: prometheus.NewDesc("berth_probe_healthy",
			"1 when the environment's latest probe run passed every step within its threshold, else 0.", []string{"env"}, nil),
	}
}

// observe counts a finished run.
func (m *Metrics) observe(r berth.ProbeRun) {
	for _, s := range r.Steps {
		m.duration.WithLabelValues(r.Env, s.Name).Observe(s.Duration.Seconds())
		if !s.OK {
			m.failures.WithLabelValues(r.Env, s.Name).Inc()
		}
	}
	result := "passed"
	switch {
	case r.State != berth.JobSucceeded:
		result = "failed"
	case !r.Healthy():
		result = "slow"
	}
	m.runs.WithLabelValues(r.Env, result).Inc()
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.duration.Describe(ch)
	m.failures.Describe(ch)
	m.runs.Describe(ch)
	ch <- m.lastSuccess
	ch <- m.healthy
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.duration.Collect(ch)
	m.failures.Collect(ch)
	m.runs.Collect(ch)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	statuses, err := m.st.ProbeStatuses(ctx)
	if err != nil {
		m.log.Warn("probe metrics", "err", err)
		return
	}
	for _, s := range statuses {
		if !s.LastSuccess.IsZero() {
			ch <- prometheus.MustNewConstMetric(m.lastSuccess, prometheus.GaugeValue, float64(s.LastSuccess.UnixMilli())/1e3, s.Env)
		}
		if s.Latest.ID != 0 {
			v := 0.0
			if s.Latest.Healthy() {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(m.healthy, prometheus.GaugeValue, v, s.Env)
		}
	}
}
