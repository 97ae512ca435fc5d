package web

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/service"
)

// backupPageLimit bounds how many of an app's backups, restores and drills (each, newest
// first) its backups page lists.
const backupPageLimit = 100

// backupsData is an app's backups page: per environment, its schedule, where its backups
// stand, its backups and the restores and drills into it.
type backupsData struct {
	Team, App string
	Envs      []backupEnv
	// Targets are the environments a backup may be restored into.
	Targets []string
	// MayRestore is nil when the user may restore the app's backups, MayBackUp when they
	// may back it up and drill it; otherwise they say why not.
	MayRestore, MayBackUp error
	// Notice says what the user's last form queued; Error why their form was refused.
	Notice, Error string
}

func (d backupsData) PageTitle() string { return "Backups · " + d.Team + "/" + d.App }

// backupEnv is where an app's backups in one environment stand.
type backupEnv struct {
	Env      string
	Schedule *scheduleView
	// Stale: the schedule's latest successful backup is older than it allows; StaleText
	// says by how much.
	Stale     bool
	StaleText string
	// LastBackup is the latest successful backup; LastDrill the latest finished drill,
	// LastPassedDrill the latest that passed, when other than LastDrill.
	LastBackup      *backupRow
	LastDrill       *restoreRow
	LastPassedDrill *restoreRow
	DrillFailed     bool
	// HasData: the app has a database here to back up. Drillable: a backup of it is kept.
	HasData, Drillable bool
	Backups            []backupRow
	// Restores are the restores into the environment and the drills of its backups,
	// newest first.
	Restores []restoreRow
}

// scheduleView is a backup schedule as the page shows it: times in its time zone.
type scheduleView struct {
	berth.BackupSchedule
	NextBackup, NextDrill string
	Keep, StaleAfter      string
}

type backupRow struct {
	berth.Backup
	Size string
	Rows int64
	// Restorable: it succeeded and retention kept its parts.
	Restorable bool
}

type restoreRow struct {
	berth.Restore
	// From is the environment the restored backup was taken in ("" when not listed).
	From string
	Took string
}

// backupsPath is the backups page of team's app.
func backupsPath(team, app string) string {
	return "/apps/" + url.PathEscape(team) + "/" + url.PathEscape(app) + "/backups"
}

// backups shows an app's backups, schedules, drills and restores, with the forms that
// back it up, drill it and restore it for those who may.
func (h *Handler) backups(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	d, err := h.backupsData(r.Context(), p, r.PathValue("team"), r.PathValue("app"))
	if err != nil {
		return err
	}
	d.Notice = queuedNotice(d, r.URL.Query())
	h.render(w, r, http.StatusOK, "backups", p, d)
	return nil
}

func (h *Handler) backupsData(ctx context.Context, p *authz.Principal, team, app string) (backupsData, error) {
	d := backupsData{Team: team, App: app}
	if _, err := h.svc.GetApp(ctx, p, team, app); err != nil {
		return d, err
	}
	now := h.now()
	envs := map[string]*backupEnv{}
	env := func(name string) *backupEnv {
		if envs[name] == nil {
			envs[name] = &backupEnv{Env: name}
		}
		return envs[name]
	}
	schedules, err := h.svc.BackupSchedules(ctx, p, team)
	if err != nil {
		return d, err
	}
	for _, sc := range schedules {
		if sc.App == app {
			env(sc.Env).Schedule = newScheduleView(sc, now)
		}
	}
	dataEnvs, err := h.svc.BackupDataEnvs(ctx, p, team, app)
	if err != nil {
		return d, err
	}
	for _, e := range dataEnvs {
		env(e).HasData = true
	}
	bs, err := h.svc.Backups(ctx, p, service.BackupFilter{Team: team, App: app, Limit: backupPageLimit})
	if err != nil {
		return d, err
	}
	byID := map[int64]backupRow{}
	for _, b := range bs {
		row := newBackupRow(b)
		byID[b.ID] = row
		e := env(b.Env)
		e.Backups = append(e.Backups, row)
		e.Drillable = e.Drillable || row.Restorable
	}
	for _, drill := range []bool{false, true} {
		rs, err := h.svc.Restores(ctx, p, service.RestoreFilter{Team: team, App: app, Drill: drill, Limit: backupPageLimit})
		if err != nil {
			return d, err
		}
		for _, rst := range rs {
			e := env(rst.Env)
			e.Restores = append(e.Restores, newRestoreRow(rst, byID))
		}
	}
	statuses, err := h.svc.BackupStatuses(ctx, p, team)
	if err != nil {
		return d, err
	}
	for _, st := range statuses {
		if st.App != app {
			continue
		}
		e := env(st.Env)
		if b := st.LastBackup; b != nil {
			row, ok := byID[b.ID]
			if !ok { // older than the page's list: its parts hold the row counts
				full, _, err := h.svc.Backup(ctx, p, b.ID)
				if err != nil {
					return d, err
				}
				row = newBackupRow(full)
			}
			e.LastBackup = &row
		}
		if r := st.LastDrill; r != nil {
			row := newRestoreRow(*r, byID)
			e.LastDrill, e.DrillFailed = &row, r.State == berth.JobFailed
		}
		if r := st.LastPassedDrill; r != nil && (st.LastDrill == nil || r.ID != st.LastDrill.ID) {
			row := newRestoreRow(*r, byID)
			e.LastPassedDrill = &row
		}
	}
	for _, e := range envs {
		if e.Schedule == nil {
			continue
		}
		var last time.Time
		if e.LastBackup != nil {
			last = e.LastBackup.FinishedAt
		}
		if e.Stale = service.BackupStale(e.Schedule.BackupSchedule, last, now); e.Stale {
			e.StaleText = staleText(e.Schedule.BackupSchedule, e.LastBackup, now)
		}
	}
	for _, e := range envs {
		slices.SortFunc(e.Restores, func(a, b restoreRow) int {
			return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.ID, a.ID))
		})
		d.Envs = append(d.Envs, *e)
	}
	slices.SortFunc(d.Envs, func(a, b backupEnv) int { return cmp.Compare(a.Env, b.Env) })

	d.MayRestore = authz.Check(p, authz.BackupRestore, authz.Resource{Team: team})
	d.MayBackUp = authz.Check(p, authz.BackupCreate, authz.Resource{Team: team})
	if d.MayRestore == nil {
		all, err := h.svc.ListEnvironments(ctx, p)
		if err != nil {
			return d, err
		}
		for _, e := range all {
			d.Targets = append(d.Targets, e.Name)
		}
	}
	return d, nil
}

func newBackupRow(b berth.Backup) backupRow {
	row := backupRow{Backup: b, Size: byteSize(b.Size), Restorable: b.State == berth.JobSucceeded && b.PrunedAt.IsZero()}
	for _, part := range b.Parts {
		row.Rows += part.Rows()
	}
	return row
}

func newRestoreRow(r berth.Restore, backups map[int64]backupRow) restoreRow {
	row := restoreRow{Restore: r, From: backups[r.BackupID].Env, Took: "—"}
	if r.State.Final() && r.Duration > 0 {
		row.Took = r.Duration.Round(time.Millisecond).String()
	}
	return row
}

func newScheduleView(sc berth.BackupSchedule, now time.Time) *scheduleView {
	v := &scheduleView{BackupSchedule: sc, NextBackup: "—", NextDrill: "—",
		Keep: fmt.Sprintf("the last %d, %d daily, %d weekly", sc.Keep.Last, sc.Keep.Daily, sc.Keep.Weekly)}
	loc := time.UTC
	if l, err := time.LoadLocation(sc.TimeZone); err == nil {
		loc = l
	}
	if next, drill, err := service.BackupScheduleNext(sc); err == nil {
		v.NextBackup = localTime(next(now), loc)
		if drill != nil {
			v.NextDrill = localTime(drill(now), loc)
		}
	}
	switch limit, err := service.BackupStaleAfter(sc, now); {
	case sc.StaleAfter > 0:
		v.StaleAfter = apiv1.FormatDuration(sc.StaleAfter)
	case err == nil:
		v.StaleAfter = apiv1.FormatDuration(limit) + " (twice the schedule's interval)"
	default:
		v.StaleAfter = "twice the schedule's interval"
	}
	return v
}

// staleText says how stale an environment's backups are.
func staleText(sc berth.BackupSchedule, last *backupRow, now time.Time) string {
	limit, _ := service.BackupStaleAfter(sc, now)
	if last == nil {
		return fmt.Sprintf("No backup has succeeded since the schedule was set, %s; backups are stale after %s.",
			relative(now.Sub(sc.UpdatedAt)), apiv1.FormatDuration(limit))
	}
	return fmt.Sprintf("The last successful backup, #%d, finished %s; backups are stale after %s.",
		last.ID, relative(now.Sub(last.FinishedAt)), apiv1.FormatDuration(limit))
}

// queuedNotice says what the form the user just sent queued, named by the redirect's
// query (restore=, backup= or drill=): only a job the page lists is named, so a link
// cannot make the page say anything else.
func queuedNotice(d backupsData, q url.Values) string {
	id := func(key string) int64 {
		n, err := strconv.ParseInt(q.Get(key), 10, 64)
		if err != nil {
			return 0
		}
		return n
	}
	restore, backup, drill := id("restore"), id("backup"), id("drill")
	for _, e := range d.Envs {
		for _, b := range e.Backups {
			if backup != 0 && b.ID == backup {
				return fmt.Sprintf("Backup %d of %s queued.", b.ID, e.Env)
			}
		}
		for _, r := range e.Restores {
			switch {
			case r.Drill && drill != 0 && r.ID == drill:
				return fmt.Sprintf("Drill %d queued: backup %d is restored into a throwaway database, checked and dropped.", r.ID, r.BackupID)
			case !r.Drill && restore != 0 && r.ID == restore:
				return fmt.Sprintf("Restore %d queued: backup %d is restored into %s's databases once checked.", r.ID, r.BackupID, r.Env)
			}
		}
	}
	return ""
}

// restoreBackup queues a restore from an app's backups page: only when the user typed
// the app's name to confirm, as the form asks.
func (h *Handler) restoreBackup(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	ctx := r.Context()
	team, app := r.PathValue("team"), r.PathValue("app")
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		return fmt.Errorf("backup %q: %w", r.PathValue("id"), berth.ErrNotFound)
	}
	if typed := strings.TrimSpace(r.PostFormValue("confirm")); typed != app {
		d, err := h.backupsData(ctx, p, team, app)
		if err != nil {
			return err
		}
		d.Error = fmt.Sprintf("Backup %d was not restored: type the app's name, %s, in the confirmation box to restore it. Nothing was queued.", id, app)
		h.render(w, r, http.StatusBadRequest, "backups", p, d)
		return nil
	}
	rs, err := h.svc.StartRestore(ctx, p, service.RestoreRequest{BackupID: id, Team: team, App: app, Env: r.PostFormValue("env"),
		Force: r.PostFormValue("force") == "true", ToRevision: r.PostFormValue("toRevision") == "true"})
	if err != nil {
		return err
	}
	http.Redirect(w, r, fmt.Sprintf("%s?restore=%d", backupsPath(team, app), rs.ID), http.StatusSeeOther)
	return nil
}

// backUpNow queues a backup of an app's data in an environment.
func (h *Handler) backUpNow(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	team, app := r.PathValue("team"), r.PathValue("app")
	b, err := h.svc.StartBackup(r.Context(), p, team, app, r.PathValue("env"))
	if err != nil {
		return err
	}
	http.Redirect(w, r, fmt.Sprintf("%s?backup=%d", backupsPath(team, app), b.ID), http.StatusSeeOther)
	return nil
}

// drillNow queues a drill of an app's latest kept backup in an environment.
func (h *Handler) drillNow(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	team, app := r.PathValue("team"), r.PathValue("app")
	rs, err := h.svc.StartDrill(r.Context(), p, team, app, r.PathValue("env"), 0)
	if err != nil {
		return err
	}
	http.Redirect(w, r, fmt.Sprintf("%s?drill=%d", backupsPath(team, app), rs.ID), http.StatusSeeOther)
	return nil
}

// byteSize says how big n bytes are, in binary units.
func byteSize(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, unit := float64(n)/1024, "KiB"
	for _, u := range []string{"MiB", "GiB", "TiB"} {
		if v < 1024 {
			break
		}
		v, unit = v/1024, u
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}
