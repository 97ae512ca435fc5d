package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/service"
)

// backupRoutes: backups of apps' data, restores of them into an environment, drills that
// prove them restorable, the schedules that make both, and the stores backups go to.
func (s *Server) backupRoutes() []route {
	const v1 = "/api/v1"
	const app = v1 + "/teams/{team}/apps/{app}"
	return []route{
		{method: "POST", path: app + "/backups", id: "startBackup",
			summary: "Back up an app's data in an environment (deployers): each postgres resource's database is dumped, sealed and written " +
				"to the environment's backup store, with what brings the app back (revision, args, config and secret versions, resources); " +
				"the backup is queued (202), follow it with GET /backups/{id}",
			auth: true, body: apiv1.StartBackup{}, response: apiv1.Backup{}, status: 202, handle: s.startBackup},
		{method: "POST", path: v1 + "/teams/{team}/backups", id: "startTeamBackup",
			summary: "Back up every app of a team that has data in an environment (deployers): one backup per app, queued (202)",
			auth:    true, body: apiv1.StartBackup{}, response: apiv1.List[apiv1.Backup]{}, status: 202, handle: s.startTeamBackup},
		{method: "GET", path: v1 + "/teams/{team}/backups", id: "listBackups",
			summary: "A team's backups, newest first, with their parts (?app=, environment=, state=queued|running|succeeded|failed, limit= 1 to 1000)",
			auth:    true, query: []string{"app", "environment", "state", "limit"}, response: apiv1.List[apiv1.Backup]{}, handle: s.listBackups},
		{method: "GET", path: v1 + "/backups/{id}", id: "getBackup",
			summary: "One backup: what it holds, its parts with each table's rows and checksum, and the restores and drills made of it",
			auth:    true, response: apiv1.BackupDetail{}, handle: s.getBackup},
		{method: "POST", path: v1 + "/backups/{id}/restore", id: "startRestore",
			summary: "Restore a successful backup into an environment's resources of its app (team admins; toRevision also needs the right to deploy there): " +
				"restored into scratch databases, checked against the backup's row counts and checksums, then swapped in; a target holding data " +
				"is refused without force. Queued (202): follow it with GET /restores/{id}",
			auth: true, body: apiv1.StartRestore{}, response: apiv1.Restore{}, status: 202, handle: s.startRestore},
		{method: "POST", path: app + "/drills", id: "startDrill",
			summary: "Drill a backup of an app in an environment (deployers; backupId, or the latest kept): restore it into a throwaway database, " +
				"check it against the backup and drop it. Queued (202): follow it with GET /restores/{id}",
			auth: true, body: apiv1.StartDrill{}, response: apiv1.Restore{}, status: 202, handle: s.startDrill},
		{method: "GET", path: v1 + "/teams/{team}/restores", id: "listRestores",
			summary: "A team's restores, newest first (?app=, environment= the target, limit= 1 to 1000)",
			auth:    true, query: []string{"app", "environment", "limit"}, response: apiv1.List[apiv1.Restore]{}, handle: s.listRestores},
		{method: "GET", path: v1 + "/teams/{team}/drills", id: "listDrills",
			summary: "A team's drills, newest first, with their result and measured restore time (?app=, environment=, limit= 1 to 1000)",
			auth:    true, query: []string{"app", "environment", "limit"}, response: apiv1.List[apiv1.Restore]{}, handle: s.listDrills},
		{method: "GET", path: v1 + "/restores/{id}", id: "getRestore", summary: "One restore or drill",
			auth: true, response: apiv1.Restore{}, handle: s.getRestore},
		{method: "PUT", path: app + "/backup-schedules/{environment}", id: "setBackupSchedule",
			summary: "Set when an app's data in an environment is backed up (cron) and drilled (drill), in a time zone, how many backups are kept " +
				"(keepLast, keepDaily, keepWeekly; none: 7, 7, 4) and when the latest is stale (staleAfter, such as 36h) (team admins)",
			auth: true, body: apiv1.SetBackupSchedule{}, response: apiv1.BackupSchedule{}, handle: s.setBackupSchedule},
		{method: "GET", path: v1 + "/teams/{team}/backup-schedules", id: "listBackupSchedules",
			summary: "A team's backup schedules, by app and environment",
			auth:    true, response: apiv1.List[apiv1.BackupSchedule]{}, handle: s.listBackupSchedules},
		{method: "DELETE", path: app + "/backup-schedules/{environment}", id: "deleteBackupSchedule",
			summary: "Stop the scheduled backups and drills of an app in an environment; the backups made stay (team admins)",
			auth:    true, status: 204, handle: s.deleteBackupSchedule},
		{method: "PUT", path: v1 + "/backup-stores/{name}", id: "setBackupStore",
			summary: "Create or replace a backup store: a directory on the server's machine (kind dir) or an S3-compatible bucket (kind s3), " +
				"checked by writing to it (global admins); an S3 secret key only in the body, sealed and never shown again",
			auth: true, global: authz.EnvManage, body: apiv1.SetBackupStore{}, response: apiv1.BackupStore{}, handle: s.setBackupStore},
		{method: "GET", path: v1 + "/backup-stores", id: "listBackupStores", summary: "The backup stores, by name, without their secrets",
			auth: true, response: apiv1.List[apiv1.BackupStore]{}, handle: s.listBackupStores},
		{method: "DELETE", path: v1 + "/backup-stores/{name}", id: "deleteBackupStore",
			summary: "Delete a backup store no environment uses and no kept backup is in (global admins)",
			auth:    true, global: authz.EnvManage, status: 204, handle: s.deleteBackupStore},
		{method: "PUT", path: v1 + "/envs/{env}/backup-store", id: "setEnvironmentBackupStore",
			summary: "Make an environment's backups go to a named store (default: the server's own directory); backups made before stay where they are (global admins)",
			auth:    true, global: authz.EnvManage, body: apiv1.SetEnvBackupStore{}, status: 204, handle: s.setEnvBackupStore},
	}
}

func (s *Server) startBackup(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var in apiv1.StartBackup
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if err := needEnvironment(in.Environment, "the environment whose data is backed up, such as production"); err != nil {
		return err
	}
	b, err := s.svc.StartBackup(r.Context(), p, r.PathValue("team"), r.PathValue("app"), in.Environment)
	if err != nil {
		return err
	}
	return ok(w, http.StatusAccepted, apiv1.FromBackup(b))
}

func (s *Server) startTeamBackup(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var in apiv1.StartBackup
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if err := needEnvironment(in.Environment, "the environment whose data is backed up, such as production"); err != nil {
		return err
	}
	bs, err := s.svc.StartTeamBackup(r.Context(), p, r.PathValue("team"), in.Environment)
	if err != nil {
		return err
	}
	return ok(w, http.StatusAccepted, list(bs, apiv1.FromBackup))
}

func (s *Server) listBackups(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	q := r.URL.Query()
	f := service.BackupFilter{Team: r.PathValue("team"), App: q.Get("app"), Env: q.Get("environment"), State: berth.JobState(q.Get("state"))}
	switch f.State {
	case "", berth.JobQueued, berth.JobRunning, berth.JobSucceeded, berth.JobFailed:
	default:
		return invalidField("state", "state must be queued, running, succeeded or failed, not %q", f.State)
	}
	var err error
	if f.Limit, err = backupLimit(r); err != nil {
		return err
	}
	bs, err := s.svc.Backups(r.Context(), p, f)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, list(bs, apiv1.FromBackup))
}

func (s *Server) getBackup(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	id, err := jobID(r, "backup")
	if err != nil {
		return err
	}
	b, rs, err := s.svc.Backup(r.Context(), p, id)
	if err != nil {
		return err
	}
	out := apiv1.BackupDetail{Backup: apiv1.FromBackup(b), Restores: []apiv1.Restore{}, Drills: []apiv1.Restore{}}
	for _, x := range rs {
		if x.Drill {
			out.Drills = append(out.Drills, apiv1.FromRestore(x))
		} else {
			out.Restores = append(out.Restores, apiv1.FromRestore(x))
		}
	}
	return ok(w, http.StatusOK, out)
}

func (s *Server) startRestore(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	id, err := jobID(r, "backup")
	if err != nil {
		return err
	}
	var in apiv1.StartRestore
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if err := needEnvironment(in.Environment, "the environment to restore into, such as sandbox"); err != nil {
		return err
	}
	out, err := s.svc.StartRestore(r.Context(), p, service.RestoreRequest{BackupID: id, Team: in.Team, App: in.App, Env: in.Environment,
		Force: in.Force, ToRevision: in.ToRevision})
	if err != nil {
		// The store refuses another app's backup with a bare ErrInvalid: the client sent app.
		return invalidAs(err, "app")
	}
	return ok(w, http.StatusAccepted, apiv1.FromRestore(out))
}

func (s *Server) startDrill(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var in apiv1.StartDrill
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if err := needEnvironment(in.Environment, "the environment whose backup is drilled, such as production"); err != nil {
		return err
	}
	if in.BackupID < 0 {
		return invalidField("backupId", "backupId must be a backup's id, or absent for the latest kept backup")
	}
	out, err := s.svc.StartDrill(r.Context(), p, r.PathValue("team"), r.PathValue("app"), in.Environment, in.BackupID)
	var invalid *berth.InvalidError
	if errors.As(err, &invalid) && invalid.Field == "backup" { // the service names the backup, the client sent backupId
		return invalidField("backupId", "%s", invalid.Reason)
	}
	if err != nil {
		return invalidAs(err, "app")
	}
	return ok(w, http.StatusAccepted, apiv1.FromRestore(out))
}

func (s *Server) listRestores(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	return s.listRestoresOf(w, r, p, false)
}

func (s *Server) listDrills(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	return s.listRestoresOf(w, r, p, true)
}

func (s *Server) listRestoresOf(w http.ResponseWriter, r *http.Request, p *authz.Principal, drill bool) error {
	q := r.URL.Query()
	f := service.RestoreFilter{Team: r.PathValue("team"), App: q.Get("app"), Env: q.Get("environment"), Drill: drill}
	var err error
	if f.Limit, err = backupLimit(r); err != nil {
		return err
	}
	rs, err := s.svc.Restores(r.Context(), p, f)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, list(rs, apiv1.FromRestore))
}

func (s *Server) getRestore(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	id, err := jobID(r, "restore")
	if err != nil {
		return err
	}
	out, err := s.svc.Restore(r.Context(), p, id)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, apiv1.FromRestore(out))
}

func (s *Server) setBackupSchedule(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var in apiv1.SetBackupSchedule
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.Cron == "" {
		return invalidField("cron", `cron is required: when backups run, five cron fields such as "0 3 * * *" (03:00 every day)`)
	}
	for _, k := range []struct {
		field string
		n     int
	}{{"keepLast", in.KeepLast}, {"keepDaily", in.KeepDaily}, {"keepWeekly", in.KeepWeekly}} {
		if k.n < 0 || k.n > 1000 {
			return invalidField(k.field, "%s must be 0 to 1000, not %d", k.field, k.n)
		}
	}
	sc := berth.BackupSchedule{Team: r.PathValue("team"), App: r.PathValue("app"), Env: r.PathValue("environment"), Cron: in.Cron,
		Drill: in.Drill, TimeZone: in.TimeZone, Keep: berth.Retention{Last: in.KeepLast, Daily: in.KeepDaily, Weekly: in.KeepWeekly}}
	if in.StaleAfter != "" {
		d, err := time.ParseDuration(in.StaleAfter)
		if err != nil || d <= 0 {
			return invalidField("staleAfter", "staleAfter must be a duration of more than 0, such as 36h, not %q (leave it out for twice the schedule's interval)", in.StaleAfter)
		}
		sc.StaleAfter = d
	}
	out, err := s.svc.SetBackupSchedule(r.Context(), p, sc)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, apiv1.FromBackupSchedule(out))
}

func (s *Server) listBackupSchedules(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	ss, err := s.svc.BackupSchedules(r.Context(), p, r.PathValue("team"))
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, list(ss, apiv1.FromBackupSchedule))
}

func (s *Server) deleteBackupSchedule(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	if err := s.svc.DeleteBackupSchedule(r.Context(), p, r.PathValue("team"), r.PathValue("app"), r.PathValue("environment")); err != nil {
		return err
	}
	return ok(w, http.StatusNoContent, nil)
}

func (s *Server) setBackupStore(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var in apiv1.SetBackupStore
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.Kind == "" {
		return invalidField("kind", "kind is required: dir (a directory on the server's machine) or s3 (an S3-compatible bucket)")
	}
	bs := berth.BackupStore{Name: r.PathValue("name"), Kind: berth.BackupStoreKind(in.Kind), Dir: in.Dir, Endpoint: in.Endpoint,
		Secure: in.Secure, Bucket: in.Bucket, Prefix: in.Prefix, Region: in.Region, AccessKey: in.AccessKey}
	if bs.Kind != berth.BackupStoreS3 && in.SecretKey != "" {
		return invalidField("secretKey", "only an S3 store takes a secret key")
	}
	out, err := s.svc.SetBackupStore(r.Context(), p, bs, in.SecretKey)
	if err != nil {
		// A store the server could not write to is refused with a bare ErrInvalid.
		return invalidAs(err, "endpoint")
	}
	return ok(w, http.StatusOK, apiv1.FromBackupStore(out))
}

func (s *Server) listBackupStores(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	ss, err := s.svc.BackupStores(r.Context(), p)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, list(ss, apiv1.FromBackupStore))
}

func (s *Server) deleteBackupStore(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	if err := s.svc.DeleteBackupStore(r.Context(), p, r.PathValue("name")); err != nil {
		return err
	}
	return ok(w, http.StatusNoContent, nil)
}

func (s *Server) setEnvBackupStore(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var in apiv1.SetEnvBackupStore
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.Store == "" {
		return invalidField("store", "store is required: a backup store's name (GET /backup-stores), or default for the server's own directory")
	}
	if err := s.svc.SetEnvBackupStore(r.Context(), p, r.PathValue("env"), in.Store); err != nil {
		return err
	}
	return ok(w, http.StatusNoContent, nil)
}

// needEnvironment refuses a body without its environment.
func needEnvironment(env, what string) error {
	if env == "" {
		return invalidField("environment", "environment is required: %s", what)
	}
	return nil
}

// jobID reads the {id} of a backup or restore.
func jobID(r *http.Request, kind string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, invalidField("id", "%s id must be a positive number, not %q", kind, r.PathValue("id"))
	}
	return id, nil
}

// backupLimit reads ?limit= of the backup, restore and drill listings (0: the store's 100).
func backupLimit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		return 0, invalidField("limit", "limit must be 1 to 1000, not %q", v)
	}
	return n, nil
}

// invalidAs gives field to an ErrInvalid that carries none (the store's and the service's
// bare ones), so the client gets a 400 naming what it sent rather than a server fault.
func invalidAs(err error, field string) error {
	var invalid *berth.InvalidError
	if errors.Is(err, berth.ErrInvalid) && !errors.As(err, &invalid) {
		return invalidField(field, "%s", err.Error())
	}
	return err
}
