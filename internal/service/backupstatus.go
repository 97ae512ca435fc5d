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
// and metrics decide staleness here too (BackupStale).

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
// stale: sc.StaleAfter, else twice the longest gap between two of the schedule's backups
// in the coming week (a weekday schedule's weekend gap, not its daily one).
func BackupStaleAfter(sc berth.BackupSchedule, now time.Time) (time.Duration, error) {
	if sc.StaleAfter > 0 {
		return sc.StaleAfter, nil
	}
	next, _, err := BackupScheduleNext(sc)
	if err != nil {
		return 0, err
	}
	return 2 * longestGap(next, now), nil
}

// longestGap is the longest time between two slots next gives in the week after now.
func longestGap(next func(time.Time) time.Time, now time.Time) time.Duration {
	var gap time.Duration
	a := next(now)
	for range 7 * 24 * 60 {
		b := next(a)
		gap = max(gap, b.Sub(a))
		if b.Sub(now) > 7*24*time.Hour {
			break
		}
		a = b
	}
	return gap
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
