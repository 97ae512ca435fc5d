package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

// backupDay is when shop/notes's backup 12 was taken.
var backupDay = time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)

// notesBackup is shop/notes's backup 12 of production in state, as queued.
func notesBackup(state string) apiv1.Backup {
	return apiv1.Backup{ID: 12, Team: "shop", App: "notes", Environment: "production", Trigger: "manual", State: state, Store: "default",
		Args: map[string]string{}, Config: []apiv1.VersionRef{}, Secrets: []apiv1.VersionRef{}, Resources: []apiv1.BackupResource{},
		Parts: []apiv1.BackupPart{}, CreatedBy: "alice", CreatedAt: backupDay}
}

// notesDone is backup 12 once it succeeded: one part, db, of three tables and 1,204 rows.
func notesDone() apiv1.Backup {
	b := notesBackup("succeeded")
	started, finished := backupDay.Add(2*time.Second), backupDay.Add(14*time.Second)
	b.KeyID, b.Revision, b.Deploy, b.StartedAt, b.FinishedAt = "bk-1", 7, 41, &started, &finished
	b.Args = map[string]string{"version": "1.4.2", "region": "eu"}
	b.Config = []apiv1.VersionRef{{Name: "LOG_LEVEL", Version: 2}}
	b.Secrets = []apiv1.VersionRef{{Name: "API_KEY", Version: 3}}
	b.Resources = []apiv1.BackupResource{{Name: "db", Type: "postgres", UID: "postgres.shop.notes.db", Provisioner: "builtin/postgres"}}
	b.Parts = []apiv1.BackupPart{{Resource: "db", Type: "postgres", Object: "shop/notes/production/12/db.dump.sealed", Size: 4404019,
		SHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Rows: 1204, Tables: []apiv1.TableSum{
			{Schema: "public", Table: "notes", Rows: 1200, Checksum: "5d41402abc4b2a76"},
			{Schema: "public", Table: "tags", Rows: 3, Checksum: "7d793037a0760186"},
			{Schema: "public", Table: "users", Rows: 1, Checksum: "e4d909c290d0fb1c"},
		}}}
	b.Size = 4404019
	return b
}

func notesFailed() apiv1.Backup {
	b := notesBackup("failed")
	b.Reason = "part db: pg_dump: server closed the connection unexpectedly"
	return b
}

func detail(b apiv1.Backup, rs ...apiv1.Restore) apiv1.BackupDetail {
	d := apiv1.BackupDetail{Backup: b, Restores: []apiv1.Restore{}, Drills: []apiv1.Restore{}}
	for _, r := range rs {
		if r.Drill {
			d.Drills = append(d.Drills, r)
		} else {
			d.Restores = append(d.Restores, r)
		}
	}
	return d
}

// intoSandbox is restore 5 of backup 12 into sandbox in state.
func intoSandbox(state, step string) apiv1.Restore {
	return apiv1.Restore{ID: 5, BackupID: 12, Team: "shop", App: "notes", Environment: "sandbox", State: state, Step: step,
		CreatedBy: "alice", CreatedAt: backupDay.Add(6 * time.Hour)}
}

// drill7 is drill 7 of backup 12 in production, in state.
func drill7(state string) apiv1.Restore {
	r := apiv1.Restore{ID: 7, BackupID: 12, Team: "shop", App: "notes", Environment: "production", Drill: true, State: state,
		CreatedBy: "alice", CreatedAt: backupDay.Add(2 * time.Hour)}
	if jobDoneState(state) {
		finished := backupDay.Add(2*time.Hour + 4*time.Second)
		r.FinishedAt, r.DurationSeconds = &finished, 3.24
	}
	return r
}

func jobDoneState(s string) bool { return s == "succeeded" || s == "failed" }

// TestBackupFull: a backup of an app found by name, queued (its id on standard output),
// or followed to its end with --wait: its parts as they are written, then its size and
// rows; a failed one exits non-zero with its reason. The flag names and the CLI's
// usual ones both work; mistakes are usage errors.
func TestBackupFull(t *testing.T) {
	t.Parallel()
	t.Run("queued", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, false)
		h.api.Expect("GET", "/api/v1/apps?name=notes").Reply(200, apps("notes", "shop"))
		h.api.Expect("POST", "/api/v1/teams/shop/apps/notes/backups").WithBody(apiv1.StartBackup{Environment: "production"}).
			Reply(202, notesBackup("queued"))
		if err := h.run("backup", "full", "--application", "notes", "--environment", "production"); err != nil {
			t.Fatal(err)
		}
		h.wantOutput(t, "12\n", "backup 12 queued: shop/notes in production, to backup store default\n")
	})
	t.Run("other flag names, json", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, false)
		h.api.Expect("POST", "/api/v1/teams/shop/apps/notes/backups").WithBody(apiv1.StartBackup{Environment: "staging"}).
			Reply(202, notesBackup("queued"))
		if err := h.run("backups", "full", "--app", "notes", "--env", "staging", "--team", "shop", "-o", "json"); err != nil {
			t.Fatal(err)
		}
		var got apiv1.Backup
		if err := json.Unmarshal(h.out.Bytes(), &got); err != nil || !cmp.Equal(got, notesBackup("queued")) {
			t.Errorf("-o json: %v\n%s", err, h.out)
		}
	})
	t.Run("wait", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, false)
		running := notesBackup("running")
		h.api.Expect("POST", "/api/v1/teams/shop/apps/notes/backups").WithBody(apiv1.StartBackup{Environment: "production"}).Reply(202, notesBackup("queued"))
		h.api.Expect("GET", "/api/v1/backups/12").Reply(200, detail(running))
		h.api.Expect("GET", "/api/v1/backups/12").Reply(200, detail(notesDone()))
		if err := h.run("backup", "full", "-a", "notes", "-e", "production", "--team", "shop", "--wait"); err != nil {
			t.Fatal(err)
		}
		h.wantOutput(t, ""+
			"backup 12 succeeded: shop/notes in production, 4.2 MiB in 1 part, 1,204 rows\n"+
			"  db  postgres  4.2 MiB  3 tables  1,204 rows\n",
			"backup 12 queued: shop/notes in production, to backup store default\n"+
				"backup 12: running\n"+
				"backup 12: part db written (4.2 MiB, 1,204 rows)\n"+
				"backup 12: succeeded\n")
	})
	t.Run("wait, failed", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, false)
		h.api.Expect("POST", "/api/v1/teams/shop/apps/notes/backups").WithBody(apiv1.StartBackup{Environment: "production"}).Reply(202, notesBackup("queued"))
		h.api.Expect("GET", "/api/v1/backups/12").Reply(200, detail(notesFailed()))
		wantExit(t, h.run("backup", "full", "-a", "notes", "-e", "production", "--team", "shop", "--wait"),
			"backup 12 of shop/notes in production failed: part db: pg_dump: server closed the connection unexpectedly", false)
		h.wantOutput(t, "", "backup 12 queued: shop/notes in production, to backup store default\nbackup 12: failed\n")
	})
	t.Run("wait, failed, json", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, false)
		h.api.Expect("POST", "/api/v1/teams/shop/apps/notes/backups").WithBody(apiv1.StartBackup{Environment: "production"}).Reply(202, notesBackup("queued"))
		h.api.Expect("GET", "/api/v1/backups/12").Reply(200, detail(notesFailed()))
		err := h.run("backup", "full", "-a", "notes", "-e", "production", "--team", "shop", "--wait", "-o", "json")
		wantExit(t, err, "backup 12 of shop/notes in production failed: part db: pg_dump: server closed the connection unexpectedly", false)
		var got apiv1.Backup
		if err := json.Unmarshal(h.out.Bytes(), &got); err != nil || got.State != "failed" || got.Reason == "" {
			t.Errorf("-o json of the failed backup: %v\n%s", err, h.out)
		}
	})
	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, false)
		h.api.Expect("POST", "/api/v1/teams/shop/apps/web/backups").WithBody(apiv1.StartBackup{Environment: "production"}).ReplyError(400, apiv1.Error{Code: "invalid", Field: "application",
			Message: "shop/web has no postgres resource in production: there is no data to back up"})
		wantExit(t, h.run("backup", "full", "-a", "web", "-e", "production", "--team", "shop"),
			"application: shop/web has no postgres resource in production: there is no data to back up", false)
	})
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"backup", "full", "--environment", "production"}, "--application is required: the app whose data is backed up"},
		{[]string{"backup", "full", "--app", "notes"}, "--environment is required: the environment whose data is backed up, such as production"},
		{[]string{"backup", "full", "-a", "notes", "-e", "production", "-o", "xml"}, `invalid output format "xml": use one of table, json, yaml`},
		{[]string{"backup", "full", "-a", "notes", "-e", "production", "--force"}, "unknown flag: --force"},
		{[]string{"backup", "full", "notes"}, `unknown command "notes" for "berth backup full"`},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, false)
			wantExit(t, h.run(c.args...), c.msg, true)
		})
	}
}

// TestBackupTeam: every app of a team with data, queued, followed with --wait; one
// failed backup fails the command, naming it with its reason.
func TestBackupTeam(t *testing.T) {
	t.Parallel()
	web := notesBackup("queued")
	web.ID, web.App, web.Trigger = 13, "web", "team"
	notes := notesBackup("queued")
	notes.Trigger = "team"
	h := newHarness(t, false)
	h.api.Expect("POST", "/api/v1/teams/shop/backups").WithBody(apiv1.StartBackup{Environment: "production"}).
		Reply(202, apiv1.List[apiv1.Backup]{Items: []apiv1.Backup{notes, web}})
	h.api.Expect("GET", "/api/v1/backups/12").Reply(200, detail(notesDone()))
	webFailed := web
	webFailed.State, webFailed.Reason = "failed", "part cache: pg_dump exited 1"
	h.api.Expect("GET", "/api/v1/backups/13").Reply(200, detail(webFailed))
	wantExit(t, h.run("backup", "team", "--team", "shop", "--env", "production", "--wait"),
		"1 of 2 backups of team shop in production failed: backup 13 of web: part cache: pg_dump exited 1", false)
	h.wantOutput(t, ""+
		"ID  APP    ENV         STATE      SIZE     ROWS\n"+
		"12  notes  production  succeeded  4.2 MiB  1,204\n"+
		"13  web    production  failed     -        -\n",
		"queued 2 backups of team shop in production: notes (backup 12), web (backup 13)\n"+
			"backup 12: part db written (4.2 MiB, 1,204 rows)\n"+
			"backup 12: succeeded\n"+
			"backup 13: failed\n")

	h = newHarness(t, false)
	h.api.Expect("POST", "/api/v1/teams/shop/backups").WithBody(apiv1.StartBackup{Environment: "production"}).Reply(202, apiv1.List[apiv1.Backup]{Items: []apiv1.Backup{notes}})
	if err := h.run("backup", "team", "--team", "shop", "-e", "production", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	var got []apiv1.Backup
	if err := json.Unmarshal(h.out.Bytes(), &got); err != nil || len(got) != 1 || got[0].ID != 12 {
		t.Errorf("-o json: %v\n%s", err, h.out)
	}

	h = newHarness(t, false)
	wantExit(t, h.run("backup", "team", "--env", "production"), "--team is required: the team whose apps are backed up", true)
	wantExit(t, h.run("backup", "team", "--team", "shop", "--application", "notes"), "unknown flag: --application", true)
}

// TestBackupSchedule: the flags become the schedule (only the retention given, durations
// as Go durations); --delete removes it; mistakes are usage errors before any request.
func TestBackupSchedule(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false)
	h.api.Expect("GET", "/api/v1/apps?name=notes").Reply(200, apps("notes", "shop"))
	sc := apiv1.BackupSchedule{Team: "shop", App: "notes", Environment: "production", Cron: "0 3 * * *", Drill: "0 5 * * 0",
		TimeZone: "Europe/Lisbon", KeepLast: 3, KeepDaily: 14, StaleAfter: "36h", CreatedBy: "alice", UpdatedAt: backupDay}
	h.api.Expect("PUT", "/api/v1/teams/shop/apps/notes/backup-schedules/production").WithBody(apiv1.SetBackupSchedule{Cron: "0 3 * * *",
		Drill: "0 5 * * 0", TimeZone: "Europe/Lisbon", KeepLast: 3, KeepDaily: 14, StaleAfter: "36h"}).Reply(200, sc)
	if err := h.run("backup", "schedule", "--application", "notes", "--environment", "production", "--cron", "0 3 * * *",
		"--drill", "0 5 * * 0", "--time-zone", "Europe/Lisbon", "--keep-last", "3", "--keep-daily", "14", "--stale-after", "1.5d"); err == nil {
		t.Fatal("--stale-after 1.5d was taken")
	}
	if err := h.run("backup", "schedule", "--application", "notes", "--environment", "production", "--cron", "0 3 * * *",
		"--drill", "0 5 * * 0", "--time-zone", "Europe/Lisbon", "--keep-last", "3", "--keep-daily", "14", "--stale-after", "36h"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "backups of shop/notes in production: 0 3 * * *, drills 0 5 * * 0 (Europe/Lisbon); keeps the last 3, 14 daily; stale after 36h\n", "")

	h = newHarness(t, false)
	defaults := apiv1.BackupSchedule{Team: "shop", App: "notes", Environment: "production", Cron: "@daily", TimeZone: "UTC",
		KeepLast: 7, KeepDaily: 7, KeepWeekly: 4, CreatedBy: "alice", UpdatedAt: backupDay}
	h.api.Expect("PUT", "/api/v1/teams/shop/apps/notes/backup-schedules/production").WithBody(map[string]any{"cron": "@daily"}).Reply(200, defaults)
	if err := h.run("backup", "schedule", "-a", "notes", "-e", "production", "--team", "shop", "--cron", "@daily", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	var got apiv1.BackupSchedule
	if err := json.Unmarshal(h.out.Bytes(), &got); err != nil || !cmp.Equal(got, defaults) {
		t.Errorf("-o json: %v\n%s", err, h.out)
	}

	h = newHarness(t, false)
	h.api.Expect("DELETE", "/api/v1/teams/shop/apps/notes/backup-schedules/production")
	if err := h.run("backup", "schedule", "-a", "notes", "-e", "production", "--team", "shop", "--delete"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "deleted the backup schedule of shop/notes in production: no more scheduled backups or drills; its backups stay\n", "")

	h = newHarness(t, false)
	h.api.Expect("PUT", "/api/v1/teams/shop/apps/notes/backup-schedules/production").WithBody(apiv1.SetBackupSchedule{Cron: "0 3 * * *", Drill: "sundays"}).ReplyError(400, apiv1.Error{Code: "invalid", Field: "drill",
		Message: `"sundays": expected exactly 5 fields, found 1: [sundays] (want five cron fields: minute hour day-of-month month day-of-week, such as "0 3 * * *")`})
	wantExit(t, h.run("backup", "schedule", "-a", "notes", "-e", "production", "--team", "shop", "--cron", "0 3 * * *", "--drill", "sundays"),
		`drill: "sundays": expected exactly 5 fields, found 1: [sundays] (want five cron fields: minute hour day-of-month month day-of-week, such as "0 3 * * *")`, false)

	base := []string{"backup", "schedule", "-a", "notes", "-e", "production", "--team", "shop"}
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{base, `--cron is required: when backups run, such as "0 3 * * *" (03:00 every day); --delete removes the schedule`},
		{append(base, "--delete", "--cron", "@daily"), "--delete removes the schedule: drop --cron"},
		{append(base, "--cron", "@daily", "--keep-last", "0"), "the --keep-* flags keep no backup: keep at least the last one (--keep-last 1)"},
		{append(base, "--cron", "@daily", "--keep-weekly", "-1"), "--keep-weekly must be 0 to 1000, not -1"},
		{append(base, "--cron", "@daily", "--stale-after", "0s"), "--stale-after must be more than 0, such as 36h, not 0s"},
		{[]string{"backup", "schedule", "-e", "production", "--cron", "@daily"}, "--application is required: the app whose data is backed up"},
	} {
		h := newHarness(t, false)
		wantExit(t, h.run(c.args...), c.msg, true)
	}
}

// TestBackupSchedules: a team's schedules, or those of every team the caller is in; none
// says how to set one.
func TestBackupSchedules(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false)
	h.api.Expect("GET", "/api/v1/teams").Reply(200, apiv1.List[apiv1.Team]{Items: []apiv1.Team{{Name: "shop"}, {Name: "data"}}})
	h.api.Expect("GET", "/api/v1/teams/shop/backup-schedules").Reply(200, apiv1.List[apiv1.BackupSchedule]{Items: []apiv1.BackupSchedule{
		{Team: "shop", App: "notes", Environment: "production", Cron: "0 3 * * *", Drill: "0 5 * * 0", TimeZone: "Europe/Lisbon",
			KeepLast: 7, KeepDaily: 7, KeepWeekly: 4, StaleAfter: "36h"}}})
	h.api.Expect("GET", "/api/v1/teams/data/backup-schedules").Reply(200, apiv1.List[apiv1.BackupSchedule]{Items: []apiv1.BackupSchedule{
		{Team: "data", App: "etl", Environment: "staging", Cron: "@daily", TimeZone: "UTC", KeepLast: 3}}})
	if err := h.run("backup", "schedules"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, ""+
		"TEAM  APP    ENV         BACKUPS    DRILLS     TIME ZONE      KEEP                       STALE AFTER\n"+
		"shop  notes  production  0 3 * * *  0 5 * * 0  Europe/Lisbon  last 7, 7 daily, 4 weekly  36h\n"+
		"data  etl    staging     @daily     -          UTC            last 3, 0 daily, 0 weekly  default\n", "")

	h = newHarness(t, false)
	h.api.Expect("GET", "/api/v1/teams/shop/backup-schedules").Reply(200, apiv1.List[apiv1.BackupSchedule]{Items: []apiv1.BackupSchedule{}})
	if err := h.run("backup", "schedules", "--team", "shop"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "", "no backup schedules in team shop yet: berth backup schedule --application APP --environment ENV --cron CRON sets one\n")

	h = newHarness(t, false)
	h.api.Expect("GET", "/api/v1/teams/shop/backup-schedules").Reply(200, apiv1.List[apiv1.BackupSchedule]{Items: []apiv1.BackupSchedule{}})
	if err := h.run("backup", "schedules", "--team", "shop", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "[]\n", "")
}

// TestBackupsList: an app's backups as a table (pruned and failed ones say so, sizes in
// binary units, rows grouped) or JSON; every team's when neither app nor team is given;
// none says how to take one.
func TestBackupsList(t *testing.T) {
	t.Parallel()
	pruned := notesDone()
	at := backupDay.Add(24 * time.Hour)
	pruned.ID, pruned.Trigger, pruned.PrunedAt = 9, "schedule", &at
	failed := notesFailed()
	failed.ID = 14
	h := newHarness(t, false)
	h.api.Expect("GET", "/api/v1/apps?name=notes").Reply(200, apps("notes", "shop"))
	h.api.Expect("GET", "/api/v1/teams/shop/backups?app=notes&environment=production").
		Reply(200, apiv1.List[apiv1.Backup]{Items: []apiv1.Backup{failed, notesDone(), pruned}})
	if err := h.run("backups", "list", "--application", "notes", "--environment", "production"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, ""+
		"ID  APP    ENV         STATE              SIZE     ROWS   CREATED               TRIGGER\n"+
		"14  notes  production  failed             -        -      2026-12-07T03:00:00Z  manual\n"+
		"12  notes  production  succeeded          4.2 MiB  1,204  2026-12-07T03:00:00Z  manual\n"+
		"9   notes  production  succeeded, pruned  4.2 MiB  1,204  2026-12-07T03:00:00Z  schedule\n", "")

	h = newHarness(t, false)
	h.api.Expect("GET", "/api/v1/teams").Reply(200, apiv1.List[apiv1.Team]{Items: []apiv1.Team{{Name: "shop"}, {Name: "data"}}})
	h.api.Expect("GET", "/api/v1/teams/shop/backups?state=succeeded&limit=5").Reply(200, apiv1.List[apiv1.Backup]{Items: []apiv1.Backup{notesDone()}})
	etl := notesDone()
	etl.ID, etl.Team, etl.App = 20, "data", "etl"
	h.api.Expect("GET", "/api/v1/teams/data/backups?state=succeeded&limit=5").Reply(200, apiv1.List[apiv1.Backup]{Items: []apiv1.Backup{etl}})
	if err := h.run("backups", "ls", "--state", "succeeded", "--limit", "5", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	var got []apiv1.Backup
	if err := json.Unmarshal(h.out.Bytes(), &got); err != nil || len(got) != 2 || got[0].ID != 20 || got[1].ID != 12 {
		t.Errorf("-o json across teams, newest first: %v\n%s", err, h.out)
	}

	h = newHarness(t, false)
	h.api.Expect("GET", "/api/v1/teams/shop/backups?environment=sandbox").Reply(200, apiv1.List[apiv1.Backup]{Items: []apiv1.Backup{}})
	if err := h.run("backups", "list", "--team", "shop", "--env", "sandbox"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "", "no backups in team shop in sandbox yet: berth backup full --application APP --environment ENV takes one\n")

	h = newHarness(t, false)
	wantExit(t, h.run("backups", "list", "--team", "shop", "--limit", "1001"), "--limit must be 1 to 1000, not 1001", true)
}

// TestBackupsShow: everything about a backup: what brings the app back, its parts and
// tables, its restores and drills; -o json is the API's answer; a bad id is a usage
// error.
func TestBackupsShow(t *testing.T) {
	t.Parallel()
	restore := intoSandbox("failed", "restoring")
	finished := backupDay.Add(6*time.Hour + 30*time.Second)
	restore.FinishedAt, restore.DurationSeconds = &finished, 28.07
	restore.Reason = "part db: table public.notes has 1199 rows, the backup 1200"
	h := newHarness(t, false)
	h.api.Expect("GET", "/api/v1/backups/12").Reply(200, detail(notesDone(), restore, drill7("succeeded")))
	if err := h.run("backups", "show", "12"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, ""+
		"backup:      12\n"+
		"app:         shop/notes\n"+
		"environment: production\n"+
		"state:       succeeded\n"+
		"trigger:     manual, by alice\n"+
		"store:       default (sealed with key bk-1)\n"+
		"created:     2026-12-07 03:00:00 UTC\n"+
		"started:     2026-12-07 03:00:02 UTC\n"+
		"finished:    2026-12-07 03:00:14 UTC (took 12s)\n"+
		"size:        4.2 MiB\n"+
		"deployed:    revision 7 (deploy 41)\n"+
		"args:        region=eu, version=1.4.2\n"+
		"config:      LOG_LEVEL v2\n"+
		"secrets:     API_KEY v3\n"+
		"resources:   db (postgres, builtin/postgres)\n"+
		"\n"+
		"PART  TYPE      SIZE     TABLES  ROWS   SHA-256                                                           OBJECT\n"+
		"db    postgres  4.2 MiB  3       1,204  9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08  shop/notes/production/12/db.dump.sealed\n"+
		"\n"+
		"PART  TABLE         ROWS   CHECKSUM\n"+
		"db    public.notes  1,200  5d41402abc4b2a76\n"+
		"db    public.tags   3      7d793037a0760186\n"+
		"db    public.users  1      e4d909c290d0fb1c\n"+
		"\n"+
		"ID  KIND     INTO        STATE      DURATION  WHEN                  REASON\n"+
		"7   drill    production  succeeded  3.2s      2026-12-07T05:00:04Z  -\n"+
		"5   restore  sandbox     failed     28.1s     2026-12-07T09:00:30Z  part db: table public.notes has 1199 rows, the backup 1200\n", "")

	h = newHarness(t, false)
	h.api.Expect("GET", "/api/v1/backups/14").Reply(200, detail(notesFailed()))
	if err := h.run("backup", "show", "14", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	var got apiv1.BackupDetail
	if err := json.Unmarshal(h.out.Bytes(), &got); err != nil || !cmp.Equal(got, detail(notesFailed())) {
		t.Errorf("-o json: %v\n%s", err, h.out)
	}

	h = newHarness(t, false)
	h.api.Expect("GET", "/api/v1/backups/14").Reply(200, detail(notesFailed()))
	if err := h.run("backups", "show", "14"); err != nil {
		t.Fatal(err)
	}
	if out := h.out.String(); !strings.Contains(out, "state:       failed: part db: pg_dump: server closed the connection unexpectedly\n") ||
		!strings.Contains(out, "deployed:    none: the app had no successful deploy there\n") || !strings.HasSuffix(out, "\nno restores or drills of it\n") {
		t.Errorf("a failed backup:\n%s", out)
	}

	h = newHarness(t, false)
	wantExit(t, h.run("backups", "show", "twelve"), `"twelve" is not a backup id: give its number, such as 12 (berth backups list)`, true)
	h = newHarness(t, false)
	h.api.Expect("GET", "/api/v1/backups/99").ReplyError(404, apiv1.Error{Code: "not_found", Message: "backup 99: not found"})
	wantExit(t, h.run("backups", "show", "99"), "backup 99: not found", false)
}

// TestRestoreFull: it says what it will restore into where before queueing, then follows
// the restore with --wait; a failed restore exits non-zero with its reason, which names
// the part; another app's backup is refused before anything is queued.
func TestRestoreFull(t *testing.T) {
	t.Parallel()
	toSandbox := apiv1.StartRestore{Environment: "sandbox", Team: "shop", App: "notes"}
	const what = "restores backup 12 of shop/notes (production, 2026-12-07 03:00 UTC, 3 tables, 1,204 rows) into sandbox"
	t.Run("wait", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, false)
		h.api.Expect("GET", "/api/v1/backups/12").Reply(200, detail(notesDone()))
		h.api.Expect("POST", "/api/v1/backups/12/restore").WithBody(apiv1.StartRestore{Environment: "sandbox", Team: "shop", App: "notes"}).
			Reply(202, intoSandbox("queued", ""))
		h.api.Expect("GET", "/api/v1/restores/5").Reply(200, intoSandbox("running", "restoring"))
		done := intoSandbox("succeeded", "swapping")
		done.DurationSeconds = 3.24
		h.api.Expect("GET", "/api/v1/restores/5").Reply(200, done)
		if err := h.run("restore", "full", "--application", "notes", "--environment", "sandbox", "--backup-id", "12", "--wait"); err != nil {
			t.Fatal(err)
		}
		h.wantOutput(t, "restore 5 succeeded: backup 12 of shop/notes is restored into sandbox in 3.2s, checked: 3 tables, 1,204 rows\n",
			what+"\nrestore 5 queued\nrestore 5: running (restoring)\nrestore 5: succeeded\n")
	})
	t.Run("force, to revision", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, false)
		h.api.Expect("GET", "/api/v1/backups/12").Reply(200, detail(notesDone()))
		h.api.Expect("POST", "/api/v1/backups/12/restore").WithBody(apiv1.StartRestore{Environment: "sandbox", Team: "shop", App: "notes",
			Force: true, ToRevision: true}).Reply(202, intoSandbox("queued", ""))
		if err := h.run("restore", "full", "-a", "notes", "--env", "sandbox", "--backup-id", "12", "--force", "--to-revision", "--team", "shop"); err != nil {
			t.Fatal(err)
		}
		h.wantOutput(t, "5\n", what+", over the data there, then redeploys revision 7\nrestore 5 queued\n")
	})
	t.Run("failed", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, false)
		h.api.Expect("GET", "/api/v1/backups/12").Reply(200, detail(notesDone()))
		h.api.Expect("POST", "/api/v1/backups/12/restore").WithBody(toSandbox).Reply(202, intoSandbox("queued", ""))
		failed := intoSandbox("failed", "restoring")
		failed.Reason = "part db: its SHA-256 is not the backup's: the stored object was changed or damaged; the target is untouched"
		h.api.Expect("GET", "/api/v1/restores/5").Reply(200, failed)
		wantExit(t, h.run("restore", "full", "-a", "notes", "-e", "sandbox", "--backup-id", "12", "--wait"),
			"restore 5 of backup 12 into sandbox failed: part db: its SHA-256 is not the backup's: the stored object was changed or damaged; the target is untouched", false)
		h.wantOutput(t, "", what+"\nrestore 5 queued\nrestore 5: failed\n")
	})
	t.Run("json", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, false)
		h.api.Expect("GET", "/api/v1/backups/12").Reply(200, detail(notesDone()))
		h.api.Expect("POST", "/api/v1/backups/12/restore").WithBody(toSandbox).Reply(202, intoSandbox("queued", ""))
		if err := h.run("restore", "full", "-a", "notes", "-e", "sandbox", "--backup-id", "12", "-o", "json"); err != nil {
			t.Fatal(err)
		}
		var got apiv1.Restore
		if err := json.Unmarshal(h.out.Bytes(), &got); err != nil || !cmp.Equal(got, intoSandbox("queued", "")) {
			t.Errorf("-o json: %v\n%s", err, h.out)
		}
	})
	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, false)
		h.api.Expect("GET", "/api/v1/backups/12").Reply(200, detail(notesDone()))
		wantExit(t, h.run("restore", "full", "-a", "web", "-e", "sandbox", "--backup-id", "12"),
			"backup 12 is of shop/notes, not of web: check --backup-id (berth backups list --application web)", false)
		h = newHarness(t, false)
		h.api.Expect("GET", "/api/v1/backups/12").Reply(200, detail(notesFailed()))
		wantExit(t, h.run("restore", "full", "-a", "notes", "-e", "sandbox", "--backup-id", "12"),
			"backup 12 failed: part db: pg_dump: server closed the connection unexpectedly: only a successful backup can be restored "+
				"(berth backups list --application notes --state succeeded)", false)
		h = newHarness(t, false)
		pruned := notesDone()
		at := backupDay.Add(30 * 24 * time.Hour)
		pruned.PrunedAt = &at
		h.api.Expect("GET", "/api/v1/backups/12").Reply(200, detail(pruned))
		wantExit(t, h.run("restore", "full", "-a", "notes", "-e", "sandbox", "--backup-id", "12"),
			"backup 12 was pruned by retention on 2027-01-06: its data is no longer in the store", false)
		h = newHarness(t, false)
		h.api.Expect("GET", "/api/v1/backups/12").Reply(200, detail(notesDone()))
		h.api.Expect("POST", "/api/v1/backups/12/restore").WithBody(toSandbox).ReplyError(403, apiv1.Error{Code: "forbidden",
			Message: "backup.restore needs role admin in team shop; bob has deployer"})
		wantExit(t, h.run("restore", "full", "-a", "notes", "-e", "sandbox", "--backup-id", "12"),
			"backup.restore needs role admin in team shop; bob has deployer", false)
	})
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"restore", "full", "-a", "notes", "-e", "sandbox"}, "--backup-id is required: the backup to restore (berth backups list --application notes)"},
		{[]string{"restore", "full", "-e", "sandbox", "--backup-id", "12"}, "--application is required: the app whose backup is restored"},
		{[]string{"restore", "full", "-a", "notes", "--backup-id", "12"}, "--environment is required: the environment restored into, such as sandbox"},
		{[]string{"restore", "full", "-a", "notes", "-e", "sandbox", "--backup-id", "latest"}, `invalid argument "latest" for "--backup-id" flag: strconv.ParseInt: parsing "latest": invalid syntax`},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, false)
			wantExit(t, h.run(c.args...), c.msg, true)
		})
	}
}

// TestDrills: a drill run now (of the latest kept backup, or one named) and followed; a
// failed drill exits non-zero with its reason; drills listed with their measured time.
func TestDrills(t *testing.T) {
	t.Parallel()
	t.Run("run", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, false)
		h.api.Expect("GET", "/api/v1/apps?name=notes").Reply(200, apps("notes", "shop"))
		h.api.Expect("POST", "/api/v1/teams/shop/apps/notes/drills").WithBody(apiv1.StartDrill{Environment: "production"}).Reply(202, drill7("queued"))
		h.api.Expect("GET", "/api/v1/restores/7").Reply(200, drill7("succeeded"))
		if err := h.run("drills", "run", "--application", "notes", "--environment", "production", "--wait"); err != nil {
			t.Fatal(err)
		}
		h.wantOutput(t, "drill 7 succeeded: backup 12 of shop/notes in production restores in 3.2s, and every table matches the backup\n",
			"drill 7 queued: backup 12 of shop/notes in production, into a throwaway database\ndrill 7: succeeded\n")
	})
	t.Run("run, failed", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, false)
		h.api.Expect("POST", "/api/v1/teams/shop/apps/notes/drills").WithBody(apiv1.StartDrill{Environment: "production", BackupID: 12}).Reply(202, drill7("queued"))
		failed := drill7("failed")
		failed.Reason = "part db: table public.tags has 2 rows, the backup 3"
		h.api.Expect("GET", "/api/v1/restores/7").Reply(200, failed)
		wantExit(t, h.run("drill", "run", "-a", "notes", "-e", "production", "--team", "shop", "--backup-id", "12", "--wait"),
			"drill 7 of backup 12 into production failed: part db: table public.tags has 2 rows, the backup 3", false)
	})
	t.Run("run, json", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, false)
		h.api.Expect("POST", "/api/v1/teams/shop/apps/notes/drills").WithBody(apiv1.StartDrill{Environment: "production"}).Reply(202, drill7("queued"))
		if err := h.run("drills", "run", "-a", "notes", "-e", "production", "--team", "shop", "-o", "json"); err != nil {
			t.Fatal(err)
		}
		var got apiv1.Restore
		if err := json.Unmarshal(h.out.Bytes(), &got); err != nil || !cmp.Equal(got, drill7("queued")) {
			t.Errorf("-o json: %v\n%s", err, h.out)
		}
	})
	t.Run("list", func(t *testing.T) {
		t.Parallel()
		failed := drill7("failed")
		failed.ID, failed.Reason = 8, "part db: table public.tags has 2 rows, the backup 3"
		h := newHarness(t, false)
		h.api.Expect("GET", "/api/v1/apps?name=notes").Reply(200, apps("notes", "shop"))
		h.api.Expect("GET", "/api/v1/teams/shop/drills?app=notes").Reply(200, apiv1.List[apiv1.Restore]{Items: []apiv1.Restore{failed, drill7("succeeded")}})
		if err := h.run("drills", "list", "--application", "notes"); err != nil {
			t.Fatal(err)
		}
		h.wantOutput(t, ""+
			"ID  BACKUP  APP    ENV         STATE      DURATION  WHEN                  REASON\n"+
			"8   12      notes  production  failed     3.2s      2026-12-07T05:00:04Z  part db: table public.tags has 2 rows, the backup 3\n"+
			"7   12      notes  production  succeeded  3.2s      2026-12-07T05:00:04Z  -\n", "")
	})
	t.Run("list, none", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, false)
		h.api.Expect("GET", "/api/v1/teams/shop/drills?environment=production").Reply(200, apiv1.List[apiv1.Restore]{Items: []apiv1.Restore{}})
		if err := h.run("drills", "list", "--team", "shop", "-e", "production"); err != nil {
			t.Fatal(err)
		}
		h.wantOutput(t, "", "no drills in team shop in production yet: berth drills run --application APP --environment ENV runs one\n")
	})
	t.Run("restores list", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, false)
		h.api.Expect("GET", "/api/v1/teams/shop/restores").Reply(200, apiv1.List[apiv1.Restore]{Items: []apiv1.Restore{intoSandbox("running", "swapping")}})
		if err := h.run("restore", "list", "--team", "shop"); err != nil {
			t.Fatal(err)
		}
		h.wantOutput(t, ""+
			"ID  BACKUP  APP    ENV      STATE               DURATION  WHEN                  REASON\n"+
			"5   12      notes  sandbox  running (swapping)  -         2026-12-07T09:00:00Z  -\n", "")
	})
	t.Run("mistakes", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, false)
		wantExit(t, h.run("drills", "run", "-a", "notes"), "--environment is required: the environment the backup is of, such as production", true)
		wantExit(t, h.run("drills", "run", "-a", "notes", "-e", "production", "--backup-id", "-3"), "--backup-id must be a backup's id, not -3", true)
	})
}

// TestBackupStores: a directory store, an S3 store whose secret key is read from a file
// (or standard input) and sent only in the body, never printed; the stores listed and
// deleted; an environment pointed at one. Mixing the kinds' flags is a usage error.
func TestBackupStores(t *testing.T) {
	t.Parallel()
	const secret = "s3-secret-key-for-tests-77f1"
	secretFile := filepath.Join(t.TempDir(), "s3.secret")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	offsite := apiv1.BackupStore{Name: "offsite", Kind: "s3", Endpoint: "s3.eu-west-1.amazonaws.com", Secure: true, Bucket: "acme-backups",
		Prefix: "berth", Region: "eu-west-1", AccessKey: "AKIAEXAMPLE", CreatedBy: "root", UpdatedAt: backupDay}
	h := newHarness(t, false)
	h.api.Expect("PUT", "/api/v1/backup-stores/offsite").WithBody(apiv1.SetBackupStore{Kind: "s3", Endpoint: "s3.eu-west-1.amazonaws.com",
		Secure: true, Bucket: "acme-backups", Prefix: "berth", Region: "eu-west-1", AccessKey: "AKIAEXAMPLE", SecretKey: secret}).Reply(200, offsite)
	if err := h.run("backup-stores", "set", "offsite", "--s3-endpoint", "s3.eu-west-1.amazonaws.com", "--secure", "--bucket", "acme-backups",
		"--prefix", "berth", "--region", "eu-west-1", "--access-key", "AKIAEXAMPLE", "--secret-key-file", secretFile); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "backup store offsite: s3://acme-backups/berth at https://s3.eu-west-1.amazonaws.com (access key AKIAEXAMPLE; the secret key is sealed and never shown again)\n",
		"berth envs set-backup-store ENV offsite sends an environment's backups there\n")

	h = newHarness(t, false)
	h.in.WriteString(secret + "\n")
	minio := apiv1.BackupStore{Name: "minio", Kind: "s3", Endpoint: "127.0.0.1:9000", Bucket: "backups", AccessKey: "berth", UpdatedAt: backupDay}
	h.api.Expect("PUT", "/api/v1/backup-stores/minio").WithBody(apiv1.SetBackupStore{Kind: "s3", Endpoint: "127.0.0.1:9000", Bucket: "backups",
		AccessKey: "berth", SecretKey: secret}).Reply(200, minio)
	if err := h.run("backup-stores", "set", "minio", "--s3-endpoint", "127.0.0.1:9000", "--bucket", "backups", "--access-key", "berth",
		"--secret-key-file", "-", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(h.out.String()+h.errOut.String(), secret) {
		t.Errorf("the secret key was printed:\n%s%s", h.out, h.errOut)
	}

	h = newHarness(t, false)
	local := apiv1.BackupStore{Name: "local", Kind: "dir", Dir: "/var/backups/berth", CreatedBy: "root", UpdatedAt: backupDay}
	h.api.Expect("PUT", "/api/v1/backup-stores/local").WithBody(apiv1.SetBackupStore{Kind: "dir", Dir: "/var/backups/berth"}).Reply(200, local)
	if err := h.run("backup-stores", "set", "local", "--dir", "/var/backups/berth"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "backup store local: directory /var/backups/berth\n", "berth envs set-backup-store ENV local sends an environment's backups there\n")

	h = newHarness(t, false)
	h.api.Expect("GET", "/api/v1/backup-stores").Reply(200, apiv1.List[apiv1.BackupStore]{Items: []apiv1.BackupStore{local, offsite}})
	if err := h.run("backup-stores", "list"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, ""+
		"NAME     KIND  WHERE                                                          REGION     ACCESS KEY   UPDATED\n"+
		"local    dir   directory /var/backups/berth                                   -          -            2026-12-07T03:00:00Z\n"+
		"offsite  s3    s3://acme-backups/berth at https://s3.eu-west-1.amazonaws.com  eu-west-1  AKIAEXAMPLE  2026-12-07T03:00:00Z\n", "")

	h = newHarness(t, false)
	h.api.Expect("DELETE", "/api/v1/backup-stores/offsite").ReplyError(409, apiv1.Error{Code: "conflict",
		Message: `delete backup store "offsite": conflict: 1 environments use it and it holds 3 backups`})
	wantExit(t, h.run("backup-stores", "delete", "offsite"), `delete backup store "offsite": conflict: 1 environments use it and it holds 3 backups`, false)
	h = newHarness(t, false)
	h.api.Expect("DELETE", "/api/v1/backup-stores/local")
	if err := h.run("backup-stores", "delete", "local"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "deleted backup store local\n", "")

	h = newHarness(t, false)
	h.api.Expect("PUT", "/api/v1/envs/production/backup-store").WithBody(apiv1.SetEnvBackupStore{Store: "offsite"})
	if err := h.run("envs", "set-backup-store", "production", "offsite"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "environment production: backups go to backup store offsite from now on; those made before stay where they are\n", "")

	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"backup-stores", "set", "x"}, "give one of --dir PATH (a directory on the server's machine) or --s3-endpoint HOST:PORT (an S3-compatible bucket)"},
		{[]string{"backup-stores", "set", "x", "--dir", "/srv", "--s3-endpoint", "s3:9000"}, "give one of --dir PATH (a directory on the server's machine) or --s3-endpoint HOST:PORT (an S3-compatible bucket)"},
		{[]string{"backup-stores", "set", "x", "--dir", "/srv", "--bucket", "b"}, "--bucket is for an S3 store: a directory store takes only --dir"},
		{[]string{"backup-stores", "set", "x", "--s3-endpoint", "s3:9000", "--bucket", "b", "--access-key", "a"}, "--secret-key-file is required: a file holding the S3 secret key, or - for standard input"},
		{[]string{"backup-stores", "set", "x", "--s3-endpoint", "s3:9000", "--access-key", "a", "--secret-key-file", secretFile}, "--bucket is required: the bucket backups go to"},
		{[]string{"backup-stores", "set", "x", "--s3-endpoint", "s3:9000", "--bucket", "b", "--access-key", "a", "--secret-key", secret}, "unknown flag: --secret-key"},
		{[]string{"envs", "set-backup-store", "production"}, "accepts 2 arg(s), received 1"},
	} {
		h := newHarness(t, false)
		err := h.run(c.args...)
		wantExit(t, err, c.msg, true)
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("%v: the error quotes the secret key", c.args)
		}
	}
}
