package service

import (
	"context"
	"slices"
	"time"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
)

// Where an app's backups stand, for the pages that show it: the latest successful backup
// and drills per environment, and whether the backups went stale. The scheduler's alarms
// and metrics decide staleness the same way (internal/backup.StaleAfter).

// BackupStatuses lists, for each app of team and environment with a backup or a drill,
// its latest successful backup (without parts), latest finished drill and latest passed
// one.
func (s *Service) BackupStatuses(ctx context.Context, p *authz.Principal, team string) ([]berth.BackupStatus, error) {
	if team == "" {
		return nil, invalid("team", "is required")
	}
	if err := authz.Check(p, authz.AppRead, authz.Resource{Team: team}); err != nil {
		return nil, err
	}
	all, err := s.st.BackupStatuses(ctx)
	if err != nil {
		return nil, storeErr(err)
	}
	return slices.DeleteFunc(all, func(st berth.BackupStatus) bool { return st.Team != team }), nil
}

// BackupDataEnvs lists the environments in which team's app has data Berth backs up (an
// active postgres resource it provisioned), by name.
func (s *Service) BackupDataEnvs(ctx context.Context, p *authz.Principal, team, app string) ([]string, error) {
	if err := authz.Check(p, authz.AppRead, authz.Resource{Team: team}); err != nil {
		return nil, err
	}
	rs, err := s.dataResources(ctx, team, app, "")
	if err != nil {
		return nil, storeErr(err)
	}
	var envs []string
	for _, r := range rs {
		envs = append(envs, r.Env)
	}
	slices.Sort(envs)
	return slices.Compact(envs), nil
}

// BackupStaleAfter is how old sc's latest successful backup may get at now before it is
// stale: sc.StaleAfter, else twice the schedule's interval.
func BackupStaleAfter(sc berth.BackupSchedule, now time.Time) (time.Duration, error) {
	if sc.StaleAfter > 0 {
		return sc.StaleAfter, nil
	}
	next, _, err := BackupScheduleNext(sc)
	if err != nil {
		return 0, err
	}
	a := next(now)
	return 2 * next(a).Sub(a), nil
}

// BackupStale reports whether the backups sc makes are stale at now: the latest successful
// one finished at lastSuccess (zero: none has, and the age counts from when the schedule
// was set) longer than BackupStaleAfter ago. A schedule that cannot be read is not stale:
// SetBackupSchedule refuses those.
func BackupStale(sc berth.BackupSchedule, lastSuccess, now time.Time) bool {
	limit, err := BackupStaleAfter(sc, now)
	if err != nil {
		return false
	}
	since := lastSuccess
	if since.IsZero() {
		since = sc.UpdatedAt
	}
	return now.Sub(since) > limit
}
