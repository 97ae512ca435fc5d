package backup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/service"
	"github.com/berth-dev/berth/internal/store"
)

// The scheduler
//
// One server at a time (the lease SchedulerLease) walks the backup schedules every Tick:
// it queues the backup and the drill of the schedule's latest slot, once per slot (the
// store keeps one per slot, so a second server or a restart never queues twice); prunes
// the successful backups that retention no longer keeps, deleting their parts from their
// store; and announces in the team's chat channel, once each, a stale backup (the latest
// successful one older than the schedule allows), a failed drill, and the recovery of
// either. A slot missed by more than MissedAfter (every server was down) is not made up
// late: the stale-backup announcement says what is missing.

// SchedulerLease names the lease of the one scheduling server.
const SchedulerLease = "backup-scheduler"

// MissedAfter is how late a slot may still be run.
const MissedAfter = time.Hour

// Chat is where the scheduler announces: a team's channel.
type Chat interface {
	Post(ctx context.Context, channel, text string) (string, error)
}

// SchedulerOptions configure a Scheduler.
type SchedulerOptions struct {
	// Now is the scheduler's clock (time.Now when nil); tests give a fake one.
	Now func() time.Time
	// Every is how often Run ticks (30s when 0).
	Every time.Duration
	// Lease is how long the scheduler's lease lasts (a minute when 0).
	Lease  time.Duration
	Chat   Chat
	Logger *slog.Logger
}

// Scheduler makes scheduled backups and drills, prunes, and announces.
type Scheduler struct {
	st     *store.Store
	stores Stores
	wake   Notifier
	o      SchedulerOptions
	id     string
	log    *slog.Logger
}

// Notifier is woken when the scheduler queued a job.
type Notifier interface{ Notify() }

// NewScheduler returns a Scheduler whose jobs wake (the engine's Notify).
func NewScheduler(st *store.Store, stores Stores, wake Notifier, o SchedulerOptions) *Scheduler {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Every <= 0 {
		o.Every = 30 * time.Second
	}
	if o.Lease <= 0 {
		o.Lease = time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	host, _ := os.Hostname()
	return &Scheduler{st: st, stores: stores, wake: wake, o: o, log: o.Logger, id: fmt.Sprintf("%s-%d-%p", host, os.Getpid(), st)}
}

// Run ticks until ctx ends, then gives up the lease.
func (s *Scheduler) Run(ctx context.Context) {
	t := time.NewTicker(s.o.Every)
	defer t.Stop()
	for {
		if _, err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("backup scheduler", "err", err)
		}
		select {
		case <-ctx.Done():
			_ = s.st.ReleaseLease(context.WithoutCancel(ctx), SchedulerLease, s.id)
			return
		case <-t.C:
		}
	}
}

// Tick does one pass over the schedules when this scheduler holds (or takes) the lease;
// leader says whether it did.
func (s *Scheduler) Tick(ctx context.Context) (leader bool, err error) {
	held, err := s.st.AcquireLease(ctx, SchedulerLease, s.id, s.o.Lease)
	if err != nil || !held {
		return false, err
	}
	schedules, err := s.st.BackupSchedules(ctx, "")
	if err != nil {
		return true, err
	}
	var errs []error
	for _, sc := range schedules {
		if err := s.schedule(ctx, sc); err != nil {
			errs = append(errs, fmt.Errorf("%s/%s in %s: %w", sc.Team, sc.App, sc.Env, err))
		}
	}
	return true, errors.Join(errs...)
}

// latestSlot is the last time next gives at or before now and no more than MissedAfter
// before it (zero when none): the slot still to run.
func latestSlot(next func(time.Time) time.Time, now time.Time) time.Time {
	var slot time.Time
	for t := next(now.Add(-MissedAfter - time.Second)); !t.After(now); t = next(t) {
		slot = t
	}
	return slot
}

func (s *Scheduler) schedule(ctx context.Context, sc berth.BackupSchedule) error {
	nextBackup, nextDrill, err := service.BackupScheduleNext(sc)
	if err != nil {
		return err
	}
	now := s.o.Now()
	queued := false
	if slot := latestSlot(nextBackup, now); !slot.IsZero() && slot.After(sc.UpdatedAt.Add(-time.Minute)) {
		err := s.st.Tx(ctx, func(tx *store.Tx) error {
			storeName, err := tx.EnvironmentBackupStore(ctx, sc.Env)
			if err != nil {
				return err
			}
			_, created, err := tx.EnqueueBackup(ctx, store.NewBackup{Team: sc.Team, App: sc.App, Env: sc.Env, Trigger: berth.TriggerSchedule,
				Store: storeName, Slot: slot.UTC(), CreatedBy: "schedule"})
			queued = queued || created
			return err
		})
		if err != nil {
			return fmt.Errorf("queue the backup of %s: %w", slot.UTC().Format(time.RFC3339), err)
		}
	}
	if nextDrill != nil {
		if slot := latestSlot(nextDrill, now); !slot.IsZero() && slot.After(sc.UpdatedAt.Add(-time.Minute)) {
			kept, err := s.st.Backups(ctx, store.BackupFilter{Team: sc.Team, App: sc.App, Env: sc.Env, Kept: true, Limit: 1})
			if err != nil {
				return err
			}
			if len(kept) > 0 {
				err := s.st.Tx(ctx, func(tx *store.Tx) error {
					_, created, err := tx.EnqueueRestore(ctx, store.NewRestore{BackupID: kept[0].ID, Team: sc.Team, App: sc.App, Env: sc.Env,
						Drill: true, Slot: slot.UTC(), CreatedBy: "schedule"})
					queued = queued || created
					return err
				})
				if err != nil {
					return fmt.Errorf("queue the drill of %s: %w", slot.UTC().Format(time.RFC3339), err)
				}
			}
		}
	}
	if queued && s.wake != nil {
		s.wake.Notify()
	}
	return errors.Join(s.prune(ctx, sc), s.announce(ctx, sc, now))
}

// prune deletes the parts of the successful backups sc's retention does not keep, then
// marks them pruned. A part that will not delete is tried again next tick.
func (s *Scheduler) prune(ctx context.Context, sc berth.BackupSchedule) error {
	kept, err := s.st.Backups(ctx, store.BackupFilter{Team: sc.Team, App: sc.App, Env: sc.Env, Kept: true, Limit: 1000})
	if err != nil {
		return err
	}
	loc, _ := time.LoadLocation(sc.TimeZone)
	if loc == nil {
		loc = time.UTC
	}
	keep := sc.Keep.Keep(kept, loc)
	var errs []error
	for _, b := range kept {
		if keep[b.ID] {
			continue
		}
		// Marked first, so that no restore or drill of it is queued while its parts go; one
		// queued or running keeps it until the next tick after it ends.
		err := s.st.Tx(ctx, func(tx *store.Tx) error {
			if err := tx.MarkBackupPruned(ctx, b.ID); err != nil {
				return err
			}
			_, err := tx.AppendAudit(ctx, berth.AuditEvent{Actor: "schedule", Action: "backup.prune", Outcome: berth.OutcomeSuccess,
				Target: berth.AppTarget(b.Team, b.App, b.Env), Team: b.Team, App: b.App,
				Details: map[string]any{"backup": b.ID, "keep": sc.Keep}})
			return err
		})
		if errors.Is(err, berth.ErrConflict) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		objects, err := s.stores.Open(ctx, b.Store)
		if err != nil {
			errs = append(errs, fmt.Errorf("prune backup %d: store %s: %w", b.ID, b.Store, err))
			continue
		}
		for _, p := range b.Parts {
			if err := objects.Delete(ctx, p.Object); err != nil {
				errs = append(errs, fmt.Errorf("prune backup %d: %w", b.ID, err))
			}
		}
		s.log.Info("pruned backup", "backup", b.ID, "team", b.Team, "app", b.App, "env", b.Env)
	}
	return errors.Join(errs...)
}

// announce tells the team's channel, once each, that sc's backups went stale or its latest
// drill failed, and when that is over.
func (s *Scheduler) announce(ctx context.Context, sc berth.BackupSchedule, now time.Time) error {
	what := fmt.Sprintf("%s/%s in %s", sc.Team, sc.App, sc.Env)
	latest, err := s.st.Backups(ctx, store.BackupFilter{Team: sc.Team, App: sc.App, Env: sc.Env, State: berth.JobSucceeded, Limit: 1})
	if err != nil {
		return err
	}
	limit, err := service.BackupStaleAfter(sc, now)
	if err != nil {
		return err
	}
	// Staleness counts from the schedule's start when nothing succeeded yet.
	var last time.Time
	since, id := sc.UpdatedAt, int64(-1)
	if len(latest) > 0 {
		last, since, id = latest[0].FinishedAt, latest[0].FinishedAt, latest[0].ID
	}
	var alarms []error
	if service.BackupStale(sc, last, now) {
		text := fmt.Sprintf(":warning: Backups of %s are stale: no backup has succeeded since the schedule was set, %s ago (more than %s).",
			what, age(now.Sub(since)), limit)
		if id > 0 {
			text = fmt.Sprintf(":warning: Backups of %s are stale: the last successful one, backup %d, finished %s ago (at %s), more than the %s the schedule allows. See `berth backups list --application %s --environment %s`.",
				what, id, age(now.Sub(since)), since.UTC().Format("2006-01-02 15:04 MST"), limit, sc.App, sc.Env)
		}
		alarms = append(alarms, s.alarm(ctx, sc, store.AlarmStale, id, text))
	} else {
		text := fmt.Sprintf(":white_check_mark: Backups of %s are current again: backup %d finished %s ago.", what, id, age(now.Sub(since)))
		if id < 0 {
			text = fmt.Sprintf(":white_check_mark: Backups of %s are no longer overdue: their schedule changed.", what)
		}
		alarms = append(alarms, s.alarm(ctx, sc, store.AlarmStale, 0, text))
	}
	drills, err := s.st.Restores(ctx, store.RestoreFilter{Team: sc.Team, App: sc.App, Env: sc.Env, Drill: true, Limit: 10})
	if err != nil {
		return err
	}
	for _, d := range drills {
		if !d.State.Final() {
			continue
		}
		if d.State == berth.JobFailed {
			alarms = append(alarms, s.alarm(ctx, sc, store.AlarmDrill, d.ID,
				fmt.Sprintf(":rotating_light: Restore drill %d of %s failed: %s\nBackup %d may not be restorable: `berth backups show %d`.",
					d.ID, what, d.Reason, d.BackupID, d.BackupID)))
		} else {
			alarms = append(alarms, s.alarm(ctx, sc, store.AlarmDrill, 0,
				fmt.Sprintf(":white_check_mark: Restore drill %d of %s passed: backup %d restored and checked in %s.",
					d.ID, what, d.BackupID, d.Duration.Round(time.Millisecond))))
		}
		break
	}
	return errors.Join(alarms...)
}

// alarm records kind's new value for sc and, when it changed, posts text in the team's
// channel. A recovery (value 0) is said only after an alarm (the value was not 0).
func (s *Scheduler) alarm(ctx context.Context, sc berth.BackupSchedule, kind string, value int64, text string) error {
	var changed bool
	err := s.st.Tx(ctx, func(tx *store.Tx) (err error) {
		changed, err = tx.SetBackupAlarm(ctx, sc.Team, sc.App, sc.Env, kind, value)
		return err
	})
	if err != nil || !changed {
		return err
	}
	s.log.Info("backup alarm", "team", sc.Team, "app", sc.App, "env", sc.Env, "kind", kind, "value", value)
	if s.o.Chat == nil {
		return nil
	}
	team, err := s.st.Team(ctx, sc.Team)
	if err != nil || team.ChatChannel == "" {
		return err
	}
	_, err = s.o.Chat.Post(ctx, team.ChatChannel, text)
	return err
}

// age says a duration to the minute, or to the hour beyond a day.
func age(d time.Duration) string {
	if d >= 24*time.Hour {
		return d.Round(time.Hour).String()
	}
	return d.Round(time.Minute).String()
}
