package backup

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/service"
	"github.com/berth-dev/berth/internal/store"
)

// Metrics exports where each app's backups stand, read from the store at each scrape, so
// that every server says the same and a restart loses nothing.
type Metrics struct {
	st  *store.Store
	now func() time.Time
	log interface{ Warn(string, ...any) }

	lastBackup, backupSize, backupDuration, lastDrill, drillDuration, drillFailed, stale *prometheus.Desc
}

// NewMetrics returns the collector; register it with the server's registry.
func NewMetrics(st *store.Store, now func() time.Time, log interface{ Warn(string, ...any) }) *Metrics {
	labels := []string{"team", "app", "env"}
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, labels, nil) }
	if now == nil {
		now = time.Now
	}
	return &Metrics{st: st, now: now, log: log,
		lastBackup:     d("berth_backup_last_success_timestamp_seconds", "When the latest successful backup of the app in the environment finished."),
		backupSize:     d("berth_backup_last_size_bytes", "Stored size of the latest successful backup."),
		backupDuration: d("berth_backup_last_duration_seconds", "How long the latest successful backup took."),
		lastDrill:      d("berth_drill_last_success_timestamp_seconds", "When the latest passed restore drill finished: the last verified backup."),
		drillDuration:  d("berth_drill_last_duration_seconds", "Measured restore time of the latest passed drill."),
		drillFailed:    d("berth_drill_last_failed", "1 when the latest finished drill failed."),
		stale:          d("berth_backup_stale", "1 when a scheduled app's latest successful backup is older than its schedule allows."),
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.lastBackup, m.backupSize, m.backupDuration, m.lastDrill, m.drillDuration, m.drillFailed, m.stale} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	statuses, err := m.st.BackupStatuses(ctx)
	if err != nil {
		m.log.Warn("backup metrics", "err", err)
		return
	}
	gauge := func(d *prometheus.Desc, v float64, s berth.BackupStatus) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, s.Team, s.App, s.Env)
	}
	type key struct{ team, app, env string }
	seen := map[key]berth.BackupStatus{}
	for _, s := range statuses {
		seen[key{s.Team, s.App, s.Env}] = s
		if b := s.LastBackup; b != nil {
			gauge(m.lastBackup, float64(b.FinishedAt.UnixMilli())/1000, s)
			gauge(m.backupSize, float64(b.Size), s)
			gauge(m.backupDuration, b.FinishedAt.Sub(b.StartedAt).Seconds(), s)
		}
		if d := s.LastPassedDrill; d != nil {
			gauge(m.lastDrill, float64(d.FinishedAt.UnixMilli())/1000, s)
			gauge(m.drillDuration, d.Duration.Seconds(), s)
		}
		if d := s.LastDrill; d != nil {
			failed := 0.0
			if d.State == berth.JobFailed {
				failed = 1
			}
			gauge(m.drillFailed, failed, s)
		}
	}
	schedules, err := m.st.BackupSchedules(ctx, "")
	if err != nil {
		m.log.Warn("backup metrics", "err", err)
		return
	}
	now := m.now()
	for _, sc := range schedules {
		s := seen[key{sc.Team, sc.App, sc.Env}]
		s.Team, s.App, s.Env = sc.Team, sc.App, sc.Env
		var last time.Time
		if s.LastBackup != nil {
			last = s.LastBackup.FinishedAt
		}
		stale := 0.0
		if service.BackupStale(sc, last, now) {
			stale = 1
		}
		gauge(m.stale, stale, s)
	}
}
