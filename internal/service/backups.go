package service

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// Backups, restores and drills (docs/backups.md). The use cases queue durable jobs that
// internal/backup runs; what can be refused at once (an app with no data, a backup that
// failed or was pruned, another app's backup) is refused here, before anything is queued.

// SetBackupNotifier makes queued backups, restores and drills wake n (the backup engine).
func (s *Service) SetBackupNotifier(n Notifier) { s.notifyBackups = n }

func (s *Service) wakeBackups() {
	if s.notifyBackups != nil {
		s.notifyBackups.Notify()
	}
}

// backupTarget is the audit target of an app's backups in an environment.
func backupTarget(team, app, env string) string { return berth.AppTarget(team, app, env) }

// dataResources returns the resources of team's app in env whose data backups copy.
func (s *Service) dataResources(ctx context.Context, team, app, env string) ([]berth.Resource, error) {
	rs, err := s.st.Resources(ctx, berth.ResourceFilter{Team: team, App: app, Env: env})
	if err != nil {
		return nil, err
	}
	var out []berth.Resource
	for _, r := range rs {
		if r.Status == berth.ResourceActive && r.Type == "postgres" && r.Provisioner == "builtin/postgres" {
			out = append(out, r)
		}
	}
	return out, nil
}

// StartBackup queues a backup of team's app's data in env, to env's backup store.
func (s *Service) StartBackup(ctx context.Context, p *authz.Principal, team, app, env string) (berth.Backup, error) {
	bs, err := s.startBackups(ctx, p, team, []string{app}, env, berth.TriggerManual)
	if err != nil {
		return berth.Backup{}, err
	}
	return bs[0], nil
}

// StartTeamBackup queues a backup of every app of team with data in env.
func (s *Service) StartTeamBackup(ctx context.Context, p *authz.Principal, team, env string) ([]berth.Backup, error) {
	if err := authz.Check(p, authz.BackupCreate, authz.Resource{Team: team}); err != nil {
		c := change{action: "backup.create", target: "team/" + team + "@" + env, team: team, details: map[string]any{"env": env}}
		return nil, s.mutate(ctx, p, &c, func() error { return err }, nil)
	}
	apps, err := s.st.Apps(ctx, team)
	if err != nil {
		return nil, storeErr(err)
	}
	var names []string
	for _, a := range apps {
		rs, err := s.dataResources(ctx, team, a.Name, env)
		if err != nil {
			return nil, storeErr(err)
		}
		if len(rs) > 0 {
			names = append(names, a.Name)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("team %s has no app with a postgres resource in %s: %w", team, env, berth.ErrNotFound)
	}
	return s.startBackups(ctx, p, team, names, env, berth.TriggerTeam)
}

func (s *Service) startBackups(ctx context.Context, p *authz.Principal, team string, apps []string, env, trigger string) ([]berth.Backup, error) {
	target := backupTarget(team, apps[0], env)
	if len(apps) > 1 {
		target = "team/" + team + "@" + env
	}
	c := change{action: "backup.create", target: target, team: team, details: map[string]any{"env": env, "apps": apps}}
	if len(apps) == 1 {
		c.app = apps[0]
	}
	var out []berth.Backup
	err := s.mutate(ctx, p, &c, allowed(p, authz.BackupCreate, authz.Resource{Team: team}), func(tx *store.Tx) error {
		if _, err := tx.Environment(ctx, env); err != nil {
			return err
		}
		storeName, err := tx.EnvironmentBackupStore(ctx, env)
		if err != nil {
			return err
		}
		for _, app := range apps {
			if _, err := tx.App(ctx, team, app); err != nil {
				return err
			}
			rs, err := s.dataResources(ctx, team, app, env)
			if err != nil {
				return err
			}
			if len(rs) == 0 {
				return invalid("application", "%s/%s has no postgres resource in %s: there is no data to back up (Berth backs up the databases of postgres resources)", team, app, env)
			}
			b, _, err := tx.EnqueueBackup(ctx, store.NewBackup{Team: team, App: app, Env: env, Trigger: trigger, Store: storeName, CreatedBy: p.Name})
			if err != nil {
				return err
			}
			out = append(out, b)
		}
		ids := make([]int64, len(out))
		for i, b := range out {
			ids[i] = b.ID
		}
		c.details["backups"], c.details["store"] = ids, storeName
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.wakeBackups()
	return out, nil
}

// BackupFilter selects backups for Backups.
type BackupFilter = store.BackupFilter

// Backups lists the backups of team's apps (of one app, or environment, when set), newest
// first.
func (s *Service) Backups(ctx context.Context, p *authz.Principal, f BackupFilter) ([]berth.Backup, error) {
	if f.Team == "" {
		return nil, invalid("team", "is required")
	}
	if err := authz.Check(p, authz.AppRead, authz.Resource{Team: f.Team}); err != nil {
		return nil, err
	}
	bs, err := s.st.Backups(ctx, f)
	return bs, storeErr(err)
}

// Backup returns one backup, with the restores and drills made of it.
func (s *Service) Backup(ctx context.Context, p *authz.Principal, id int64) (berth.Backup, []berth.Restore, error) {
	b, err := s.st.Backup(ctx, id)
	if err != nil {
		return b, nil, storeErr(err)
	}
	if err := authz.Check(p, authz.AppRead, authz.Resource{Team: b.Team}); err != nil {
		// A backup of another team's app is not there, as far as the caller knows.
		return berth.Backup{}, nil, fmt.Errorf("backup %d: %w", id, berth.ErrNotFound)
	}
	var rs []berth.Restore
	for _, drill := range []bool{false, true} {
		more, err := s.st.Restores(ctx, store.RestoreFilter{BackupID: id, Drill: drill})
		if err != nil {
			return b, nil, storeErr(err)
		}
		rs = append(rs, more...)
	}
	return b, rs, nil
}

// RestoreRequest asks for a backup to be restored into Env (the backup's app, in that
// environment). Team and App, when given, must be the backup's.
type RestoreRequest struct {
	BackupID       int64
	Team, App, Env string
	// Force restores over data the target holds; ToRevision also redeploys the
	// backed-up revision.
	Force, ToRevision bool
}

// StartRestore queues a restore (the backup's team's admins): the data is restored into
// scratch databases, checked, and swapped in. Deploying (ToRevision, or a target with no
// database yet) also needs the right to deploy there.
func (s *Service) StartRestore(ctx context.Context, p *authz.Principal, req RestoreRequest) (berth.Restore, error) {
	b, err := s.st.Backup(ctx, req.BackupID)
	if err != nil {
		return berth.Restore{}, storeErr(err)
	}
	if err := authz.Check(p, authz.AppRead, authz.Resource{Team: b.Team}); err != nil {
		return berth.Restore{}, fmt.Errorf("backup %d: %w", req.BackupID, berth.ErrNotFound)
	}
	if req.Team == "" {
		req.Team = b.Team
	}
	if req.App == "" {
		req.App = b.App
	}
	if req.Env == "" {
		return berth.Restore{}, invalid("environment", "is required: the environment to restore into")
	}
	c := change{action: "backup.restore", target: backupTarget(req.Team, req.App, req.Env), team: req.Team, app: req.App,
		details: map[string]any{"backup": b.ID, "from": b.Env, "force": req.Force, "toRevision": req.ToRevision}}
	env, err := s.st.Environment(ctx, req.Env)
	if err != nil {
		return berth.Restore{}, storeErr(err)
	}
	// A target without a database for some part of the backup gets it from a deploy of
	// the backed-up revision (as the engine decides), as --to-revision redeploys it: both
	// need the right to deploy there.
	have, err := s.dataResources(ctx, req.Team, req.App, req.Env)
	if err != nil {
		return berth.Restore{}, storeErr(err)
	}
	deploys := req.ToRevision
	for _, part := range b.Parts {
		found := false
		for _, res := range b.Contents.Resources {
			if res.Name == part.Resource {
				found = slices.ContainsFunc(have, func(h berth.Resource) bool { return h.UID == res.UID })
			}
		}
		deploys = deploys || !found
	}
	allow := func() error {
		if err := authz.Check(p, authz.BackupRestore, authz.Resource{Team: req.Team}); err != nil {
			return err
		}
		if deploys {
			return checkDeploy(p, req.Team, env)
		}
		return nil
	}
	var out berth.Restore
	err = s.mutate(ctx, p, &c, allow, func(tx *store.Tx) (err error) {
		out, _, err = tx.EnqueueRestore(ctx, store.NewRestore{BackupID: b.ID, Team: req.Team, App: req.App, Env: req.Env,
			Force: req.Force, ToRevision: req.ToRevision, CreatedBy: p.Name})
		if err == nil {
			c.details["restore"] = out.ID
		}
		return err
	})
	if err != nil {
		return out, err
	}
	s.wakeBackups()
	return out, nil
}

// StartDrill queues a drill of a backup of team's app in env (backupID 0: the latest kept):
// restored into a throwaway database, checked against the backup, dropped.
func (s *Service) StartDrill(ctx context.Context, p *authz.Principal, team, app, env string, backupID int64) (berth.Restore, error) {
	c := change{action: "backup.drill", target: backupTarget(team, app, env), team: team, app: app, details: map[string]any{}}
	var out berth.Restore
	err := s.mutate(ctx, p, &c, allowed(p, authz.BackupCreate, authz.Resource{Team: team}), func(tx *store.Tx) error {
		if backupID == 0 {
			kept, err := tx.Backups(ctx, store.BackupFilter{Team: team, App: app, Env: env, Kept: true, Limit: 1})
			if err != nil {
				return err
			}
			if len(kept) == 0 {
				return fmt.Errorf("%s/%s has no successful backup in %s to drill: %w", team, app, env, berth.ErrNotFound)
			}
			backupID = kept[0].ID
		}
		b, err := tx.Backup(ctx, backupID)
		if err != nil {
			return err
		}
		// Another app's backup is not there, as far as the caller knows.
		if b.Team != team || b.App != app {
			return fmt.Errorf("backup %d of %s/%s: %w", backupID, team, app, berth.ErrNotFound)
		}
		if b.Env != env {
			return invalid("backup", "backup %d is of %s, not %s", b.ID, b.Env, env)
		}
		out, _, err = tx.EnqueueRestore(ctx, store.NewRestore{BackupID: backupID, Team: team, App: app, Env: env, Drill: true, CreatedBy: p.Name})
		c.details["backup"], c.details["drill"] = backupID, out.ID
		return err
	})
	if err != nil {
		return out, err
	}
	s.wakeBackups()
	return out, nil
}

// RestoreFilter selects restores or drills.
type RestoreFilter = store.RestoreFilter

// Restores lists team's restores, or its drills (f.Drill), newest first.
func (s *Service) Restores(ctx context.Context, p *authz.Principal, f RestoreFilter) ([]berth.Restore, error) {
	if f.Team == "" {
		return nil, invalid("team", "is required")
	}
	if err := authz.Check(p, authz.AppRead, authz.Resource{Team: f.Team}); err != nil {
		return nil, err
	}
	rs, err := s.st.Restores(ctx, f)
	return rs, storeErr(err)
}

// Restore returns one restore or drill.
func (s *Service) Restore(ctx context.Context, p *authz.Principal, id int64) (berth.Restore, error) {
	r, err := s.st.Restore(ctx, id)
	if err != nil {
		return r, storeErr(err)
	}
	if err := authz.Check(p, authz.AppRead, authz.Resource{Team: r.Team}); err != nil {
		return berth.Restore{}, fmt.Errorf("restore %d: %w", id, berth.ErrNotFound)
	}
	return r, nil
}

// BackupScheduleNext returns the functions giving the next backup and drill (nil when
// none) after a time, checking the schedule's cron expressions and time zone.
func BackupScheduleNext(sc berth.BackupSchedule) (backup, drill func(after time.Time) time.Time, err error) {
	loc, err := trainLocation(sc.TimeZone)
	if err != nil {
		return nil, nil, err
	}
	parse := func(field, expr string) (func(time.Time) time.Time, error) {
		e := strings.TrimSpace(expr)
		if strings.HasPrefix(e, "CRON_TZ=") || strings.HasPrefix(e, "TZ=") {
			return nil, invalid(field, "give the time zone with --time-zone, not in the expression")
		}
		// Slots are times of day, at most one a minute: "once per slot" means something.
		if strings.HasPrefix(e, "@every") {
			return nil, invalid(field, "%q: give times of day as five cron fields, such as \"0 3 * * *\" (or @daily, @hourly)", expr)
		}
		sched, err := cronParser.Parse(e)
		if err != nil {
			return nil, invalid(field, "%q: %v (want five cron fields: minute hour day-of-month month day-of-week, such as \"0 3 * * *\")", expr, err)
		}
		return func(after time.Time) time.Time { return sched.Next(after.In(loc)) }, nil
	}
	if backup, err = parse("cron", sc.Cron); err != nil {
		return nil, nil, err
	}
	if sc.Drill != "" {
		if drill, err = parse("drill", sc.Drill); err != nil {
			return nil, nil, err
		}
	}
	return backup, drill, nil
}

// SetBackupSchedule sets when team's app's data in env is backed up and drilled, and how
// many backups are kept (the team's admins). Zero retention keeps berth.DefaultRetention.
func (s *Service) SetBackupSchedule(ctx context.Context, p *authz.Principal, sc berth.BackupSchedule) (berth.BackupSchedule, error) {
	if sc.Keep == (berth.Retention{}) {
		sc.Keep = berth.DefaultRetention
	}
	if sc.TimeZone == "" {
		sc.TimeZone = "UTC"
	}
	if _, _, err := BackupScheduleNext(sc); err != nil {
		return sc, err
	}
	if sc.StaleAfter < 0 {
		return sc, invalid("staleAfter", "must not be negative")
	}
	c := change{action: "backup.schedule", target: backupTarget(sc.Team, sc.App, sc.Env), team: sc.Team, app: sc.App,
		details: map[string]any{"cron": sc.Cron, "drill": sc.Drill, "timeZone": sc.TimeZone, "keep": sc.Keep}}
	var out berth.BackupSchedule
	err := s.mutate(ctx, p, &c, allowed(p, authz.BackupSchedule, authz.Resource{Team: sc.Team}), func(tx *store.Tx) error {
		if _, err := tx.App(ctx, sc.Team, sc.App); err != nil {
			return err
		}
		if _, err := tx.Environment(ctx, sc.Env); err != nil {
			return err
		}
		sc.CreatedBy = p.Name
		if err := tx.SetBackupSchedule(ctx, sc); err != nil {
			return err
		}
		var err error
		out, err = tx.BackupSchedule(ctx, sc.Team, sc.App, sc.Env)
		return err
	})
	if err == nil {
		s.wakeBackups()
	}
	return out, err
}

// BackupSchedules lists team's schedules.
func (s *Service) BackupSchedules(ctx context.Context, p *authz.Principal, team string) ([]berth.BackupSchedule, error) {
	if err := authz.Check(p, authz.AppRead, authz.Resource{Team: team}); err != nil {
		return nil, err
	}
	ss, err := s.st.BackupSchedules(ctx, team)
	return ss, storeErr(err)
}

// DeleteBackupSchedule stops the scheduled backups and drills of team's app in env; the
// backups made stay.
func (s *Service) DeleteBackupSchedule(ctx context.Context, p *authz.Principal, team, app, env string) error {
	c := change{action: "backup.unschedule", target: backupTarget(team, app, env), team: team, app: app}
	return s.mutate(ctx, p, &c, allowed(p, authz.BackupSchedule, authz.Resource{Team: team}), func(tx *store.Tx) error {
		return tx.DeleteBackupSchedule(ctx, team, app, env)
	})
}

// BackupStoreChecker checks that a backup store is reachable and writable.
type BackupStoreChecker interface {
	Check(ctx context.Context, s berth.BackupStore, secret string) error
}

// SetBackupStoreChecker makes SetBackupStore check stores before saving them.
func (s *Service) SetBackupStoreChecker(c BackupStoreChecker) { s.storeCheck = c }

// SetBackupStore creates or replaces a named backup store (global admins), after checking
// that Berth can write to it; the secret is sealed and never shown again.
func (s *Service) SetBackupStore(ctx context.Context, p *authz.Principal, bs berth.BackupStore, secret string) (berth.BackupStore, error) {
	c := change{action: "backup-store.set", target: "backup-store/" + bs.Name,
		details: map[string]any{"kind": string(bs.Kind), "where": bs.String()}}
	if err := authz.Check(p, authz.EnvManage, authz.Resource{}); err != nil {
		return bs, s.mutate(ctx, p, &c, func() error { return err }, nil)
	}
	if err := bs.Validate(); err != nil {
		return bs, err
	}
	if bs.Kind == berth.BackupStoreS3 && secret == "" {
		return bs, invalid("secretKey", "an S3 store needs its secret key")
	}
	if s.storeCheck != nil {
		if err := s.storeCheck.Check(ctx, bs, secret); err != nil {
			return bs, fmt.Errorf("backup store %s (%s) does not work: %v: %w", bs.Name, bs, err, berth.ErrInvalid)
		}
	}
	var out berth.BackupStore
	err := s.mutate(ctx, p, &c, func() error { return nil }, func(tx *store.Tx) (err error) {
		bs.CreatedBy = p.Name
		if err := tx.SetBackupStore(ctx, bs, secret); err != nil {
			return err
		}
		out, _, err = tx.BackupStore(ctx, bs.Name)
		return err
	})
	return out, err
}

// BackupStores lists the stores (without secrets).
func (s *Service) BackupStores(ctx context.Context, p *authz.Principal) ([]berth.BackupStore, error) {
	if err := authz.Check(p, authz.EnvList, authz.Resource{}); err != nil {
		return nil, err
	}
	ss, err := s.st.BackupStores(ctx)
	return ss, storeErr(err)
}

// DeleteBackupStore removes a store no environment uses and no kept backup is in.
func (s *Service) DeleteBackupStore(ctx context.Context, p *authz.Principal, name string) error {
	c := change{action: "backup-store.delete", target: "backup-store/" + name}
	return s.mutate(ctx, p, &c, allowed(p, authz.EnvManage, authz.Resource{}), func(tx *store.Tx) error {
		return tx.DeleteBackupStore(ctx, name)
	})
}

// SetEnvBackupStore makes env's backups go to the store name ("default": the server's
// directory). Backups made before stay where they are.
func (s *Service) SetEnvBackupStore(ctx context.Context, p *authz.Principal, env, name string) error {
	c := change{action: "env.set-backup-store", target: "env/" + env, details: map[string]any{"store": name}}
	return s.mutate(ctx, p, &c, allowed(p, authz.EnvManage, authz.Resource{}), func(tx *store.Tx) error {
		return tx.SetEnvironmentBackupStore(ctx, env, name)
	})
}
