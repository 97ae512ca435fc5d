package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// fixtureBackupSHA is the SHA-256 of the fixture's backup part as stored.
const fixtureBackupSHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

// fixtureContents is what the fixture's backups hold besides data.
var fixtureContents = berth.BackupContents{Deploy: 2, Revision: 1, Args: map[string]string{"version": "1.4.2"},
	Config:  []berth.VersionRef{{Name: "REGION", Version: 1}},
	Secrets: []berth.VersionRef{{Name: "API_KEY", Version: 1}},
	Resources: []berth.BackupResource{{Name: "events", Type: "postgres", UID: berth.ResourceUID("postgres", "", "", "alpha", "reports", "events"),
		Provisioner: "builtin/postgres"}}}

// fixturePart is the fixture's backup part: events, two tables.
var fixturePart = berth.BackupPart{Resource: "events", Type: "postgres", Object: "alpha/reports/staging/1/events.dump.sealed", Size: 4096,
	SHA256: fixtureBackupSHA, Tables: []berth.TableSum{
		{Schema: "public", Table: "notes", Rows: 1200, Checksum: "c0ffee01"},
		{Schema: "public", Table: "tags", Rows: 4, Checksum: "c0ffee02"},
	}}

// backup makes a backup of alpha/reports in staging that ended in state, as the backup
// engine would have, and returns it.
func (f *fixture) backup(state berth.JobState) berth.Backup {
	f.t.Helper()
	return f.backupIn("staging", state)
}

// backupIn is backup in env. A successful backup has fixturePart; a failed one the reason
// "part events: pg_dump exited 1".
func (f *fixture) backupIn(env string, state berth.JobState) berth.Backup {
	f.t.Helper()
	ctx := context.Background()
	var b berth.Backup
	err := f.st.Tx(ctx, func(tx *store.Tx) (err error) {
		b, _, err = tx.EnqueueBackup(ctx, store.NewBackup{Team: "alpha", App: "reports", Env: env, Trigger: berth.TriggerManual,
			Store: berth.DefaultBackupStore, CreatedBy: "dan"})
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	claimed, ok, err := f.st.ClaimBackup(ctx, "test-worker", time.Minute)
	if err != nil || !ok || claimed.ID != b.ID {
		f.t.Fatalf("claimed backup %d %v %v, want %d", claimed.ID, ok, err, b.ID)
	}
	err = f.st.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.StartBackup(ctx, b.ID, "test-worker", "k1", fixtureContents); err != nil {
			return err
		}
		reason := "part events: pg_dump exited 1"
		if state == berth.JobSucceeded {
			reason = ""
			if err := tx.AddBackupPart(ctx, b.ID, "test-worker", fixturePart); err != nil {
				return err
			}
		}
		b, err = tx.FinishBackup(ctx, b.ID, "test-worker", state, reason)
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

// restore makes a restore (or drill) of backup into staging that ended in state, having
// taken 1.5s, and returns it.
func (f *fixture) restore(backup int64, drill bool, state berth.JobState) berth.Restore {
	f.t.Helper()
	ctx := context.Background()
	var r berth.Restore
	err := f.st.Tx(ctx, func(tx *store.Tx) (err error) {
		r, _, err = tx.EnqueueRestore(ctx, store.NewRestore{BackupID: backup, Team: "alpha", App: "reports", Env: "staging", Drill: drill,
			Force: !drill, CreatedBy: "ada"})
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	claimed, ok, err := f.st.ClaimRestore(ctx, "test-worker", time.Minute)
	if err != nil || !ok || claimed.ID != r.ID {
		f.t.Fatalf("claimed restore %d %v %v, want %d", claimed.ID, ok, err, r.ID)
	}
	err = f.st.Tx(ctx, func(tx *store.Tx) error {
		if err := tx.SetRestoreStep(ctx, r.ID, "test-worker", berth.StepRestoring, 0); err != nil {
			return err
		}
		reason := ""
		if state == berth.JobFailed {
			reason = "part events: table public.notes has 1199 rows, the backup 1200"
		}
		r, err = tx.FinishRestore(ctx, r.ID, "test-worker", state, reason, 1500*time.Millisecond)
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

// backupSchedule sets alpha/reports's backup schedule in staging, as a team admin would.
func (f *fixture) backupSchedule() {
	f.t.Helper()
	err := f.st.Tx(context.Background(), func(tx *store.Tx) error {
		return tx.SetBackupSchedule(context.Background(), berth.BackupSchedule{Team: "alpha", App: "reports", Env: "staging",
			Cron: "0 3 * * *", TimeZone: "UTC", Keep: berth.DefaultRetention, CreatedBy: "ada"})
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

// backupStore makes the directory store offsite.
func (f *fixture) backupStore() {
	f.t.Helper()
	err := f.st.Tx(context.Background(), func(tx *store.Tx) error {
		return tx.SetBackupStore(context.Background(), berth.BackupStore{Name: "offsite", Kind: berth.BackupStoreDir, Dir: "/srv/backups",
			CreatedBy: "root"}, "")
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

// call sends a request as caller, wants status and decodes the answer into a T.
func call[T any](f *fixture, caller, method, path string, body any, status int) T {
	f.t.Helper()
	return trainCall[T](f, caller, method, path, body, status)
}

// TestBackups: a deployer backs up an app's data in an environment (queued, 202) or every
// app of the team with data there; the team's viewers list the backups (filtered) and
// show one with what it holds, its parts and tables; another team's viewer is told it
// does not exist.
func TestBackups(t *testing.T) {
	f := newFixture(t)
	done := f.backup(berth.JobSucceeded)
	failed := f.backup(berth.JobFailed)

	queued := call[apiv1.Backup](f, deployer, "POST", "/api/v1/teams/alpha/apps/reports/backups", apiv1.StartBackup{Environment: "staging"}, 202)
	want := apiv1.Backup{ID: queued.ID, Team: "alpha", App: "reports", Environment: "staging", Trigger: "manual", State: "queued",
		Store: "default", Args: map[string]string{}, Config: []apiv1.VersionRef{}, Secrets: []apiv1.VersionRef{}, Resources: []apiv1.BackupResource{},
		Parts: []apiv1.BackupPart{}, CreatedBy: "dan", CreatedAt: queued.CreatedAt}
	if diff := cmp.Diff(want, queued); diff != "" || queued.ID != failed.ID+1 || queued.CreatedAt.IsZero() {
		t.Errorf("queued backup (-want +got):\n%s", diff)
	}
	team := call[apiv1.List[apiv1.Backup]](f, deployer, "POST", "/api/v1/teams/alpha/backups", apiv1.StartBackup{Environment: "staging"}, 202)
	if len(team.Items) != 1 || team.Items[0].App != "reports" || team.Items[0].Trigger != "team" || team.Items[0].State != "queued" {
		t.Errorf("team backup: %+v", team.Items)
	}

	ids := func(l apiv1.List[apiv1.Backup]) []int64 {
		out := []int64{}
		for _, b := range l.Items {
			out = append(out, b.ID)
		}
		return out
	}
	const backups = "/api/v1/teams/alpha/backups"
	for _, c := range []struct {
		query string
		want  []int64
	}{
		{"", []int64{team.Items[0].ID, queued.ID, failed.ID, done.ID}},
		{"?app=reports&environment=staging&state=succeeded", []int64{done.ID}},
		{"?state=failed", []int64{failed.ID}},
		{"?environment=old", []int64{}},
		{"?app=nope", []int64{}},
		{"?limit=2", []int64{team.Items[0].ID, queued.ID}},
	} {
		if diff := cmp.Diff(c.want, ids(call[apiv1.List[apiv1.Backup]](f, ownViewer, "GET", backups+c.query, nil, 200))); diff != "" {
			t.Errorf("GET %s%s (-want +got):\n%s", backups, c.query, diff)
		}
	}

	// Everything about a successful backup; a failed one says why.
	detail := call[apiv1.BackupDetail](f, ownViewer, "GET", fmt.Sprintf("/api/v1/backups/%d", done.ID), nil, 200)
	wantDone := apiv1.Backup{ID: done.ID, Team: "alpha", App: "reports", Environment: "staging", Trigger: "manual", State: "succeeded",
		Store: "default", KeyID: "k1", Revision: 1, Deploy: 2, Args: map[string]string{"version": "1.4.2"},
		Config: []apiv1.VersionRef{{Name: "REGION", Version: 1}}, Secrets: []apiv1.VersionRef{{Name: "API_KEY", Version: 1}},
		Resources: []apiv1.BackupResource{{Name: "events", Type: "postgres", UID: fixtureContents.Resources[0].UID, Provisioner: "builtin/postgres"}},
		Parts: []apiv1.BackupPart{{Resource: "events", Type: "postgres", Object: fixturePart.Object, Size: 4096, SHA256: fixtureBackupSHA, Rows: 1204,
			Tables: []apiv1.TableSum{{Schema: "public", Table: "notes", Rows: 1200, Checksum: "c0ffee01"}, {Schema: "public", Table: "tags", Rows: 4, Checksum: "c0ffee02"}}}},
		Size: 4096, Attempts: 1, CreatedBy: "dan", CreatedAt: detail.Backup.CreatedAt, StartedAt: detail.Backup.StartedAt, FinishedAt: detail.Backup.FinishedAt}
	if diff := cmp.Diff(apiv1.BackupDetail{Backup: wantDone, Restores: []apiv1.Restore{}, Drills: []apiv1.Restore{}}, detail); diff != "" ||
		detail.Backup.StartedAt == nil || detail.Backup.FinishedAt == nil {
		t.Errorf("GET the successful backup (-want +got):\n%s", diff)
	}
	if got := call[apiv1.BackupDetail](f, ownViewer, "GET", fmt.Sprintf("/api/v1/backups/%d", failed.ID), nil, 200).Backup; got.State != "failed" ||
		got.Reason != "part events: pg_dump exited 1" || len(got.Parts) != 0 {
		t.Errorf("GET the failed backup: %+v", got)
	}

	// Another team's viewer: the backup is not there, the team's list is refused.
	for _, c := range []struct {
		caller, method, path string
		status               int
	}{
		{otherViewer, "GET", fmt.Sprintf("/api/v1/backups/%d", done.ID), 404},
		{otherViewer, "GET", backups, 403},
		{otherViewer, "POST", "/api/v1/teams/alpha/apps/reports/backups", 403},
		{ownViewer, "POST", "/api/v1/teams/alpha/apps/reports/backups", 403},
		{globalAdmin, "GET", "/api/v1/backups/999", 404},
		{deployer, "POST", "/api/v1/teams/alpha/apps/nope/backups", 404},
	} {
		var b any
		if c.method == "POST" {
			b = apiv1.StartBackup{Environment: "staging"}
		}
		status, data := f.do(c.caller, c.method, c.path, b)
		if status != c.status {
			t.Errorf("%s %s %s: %d %s, want %d", c.caller, c.method, c.path, status, data, c.status)
		}
		if status == 404 && strings.Contains(string(data), "reports") && strings.Contains(c.path, "/backups/") {
			t.Errorf("%s %s: the 404 names the app: %s", c.method, c.path, data)
		}
	}
}

// TestRestoresAndDrills: a team admin restores a successful backup into an environment
// (queued, 202), a deployer drills the latest (or a named) backup; their lists and
// records, and the backup's, show them. What cannot be restored is refused at once.
func TestRestoresAndDrills(t *testing.T) {
	f := newFixture(t)
	done := f.backup(berth.JobSucceeded)
	failed := f.backup(berth.JobFailed)
	drilled := f.restore(done.ID, true, berth.JobSucceeded)
	other := f.backupIn("old", berth.JobSucceeded)
	path := fmt.Sprintf("/api/v1/backups/%d/restore", done.ID)

	restore := call[apiv1.Restore](f, teamAdmin, "POST", path, apiv1.StartRestore{Environment: "staging", Force: true, App: "reports"}, 202)
	want := apiv1.Restore{ID: restore.ID, BackupID: done.ID, Team: "alpha", App: "reports", Environment: "staging", Force: true, State: "queued",
		CreatedBy: "ada", CreatedAt: restore.CreatedAt}
	if diff := cmp.Diff(want, restore); diff != "" {
		t.Errorf("queued restore (-want +got):\n%s", diff)
	}
	drill := call[apiv1.Restore](f, deployer, "POST", "/api/v1/teams/alpha/apps/reports/drills", apiv1.StartDrill{Environment: "staging"}, 202)
	if drill.BackupID != done.ID || !drill.Drill || drill.State != "queued" || drill.Environment != "staging" || drill.CreatedBy != "dan" {
		t.Errorf("queued drill of the latest kept backup: %+v", drill)
	}
	if got := call[apiv1.Restore](f, deployer, "POST", "/api/v1/teams/alpha/apps/reports/drills",
		apiv1.StartDrill{Environment: "old", BackupID: other.ID}, 202); got.BackupID != other.ID {
		t.Errorf("queued drill of backup %d: %+v", other.ID, got)
	}

	for _, c := range []struct {
		name, caller, method, path string
		body                       any
		status                     int
		field, says                string
	}{
		{"as a deployer", deployer, "POST", path, apiv1.StartRestore{Environment: "staging"}, 403, "", "backup.restore needs role admin"},
		{"as another team's viewer", otherViewer, "POST", path, apiv1.StartRestore{Environment: "staging"}, 404, "", "backup"},
		{"a failed backup", teamAdmin, "POST", fmt.Sprintf("/api/v1/backups/%d/restore", failed.ID), apiv1.StartRestore{Environment: "staging"}, 409, "", "failed"},
		{"a missing backup", teamAdmin, "POST", "/api/v1/backups/999/restore", apiv1.StartRestore{Environment: "staging"}, 404, "", "999"},
		{"another app", teamAdmin, "POST", path, apiv1.StartRestore{Environment: "staging", App: "billing"}, 400, "app", "alpha/reports, not of alpha/billing"},
		{"an unknown environment", teamAdmin, "POST", path, apiv1.StartRestore{Environment: "mars"}, 404, "", "mars"},
		{"no environment", teamAdmin, "POST", path, apiv1.StartRestore{}, 400, "environment", "environment is required"},
		{"a drill of a failed backup", deployer, "POST", "/api/v1/teams/alpha/apps/reports/drills", apiv1.StartDrill{Environment: "staging", BackupID: failed.ID}, 409, "", "failed"},
		{"a drill of another environment's backup", deployer, "POST", "/api/v1/teams/alpha/apps/reports/drills", apiv1.StartDrill{Environment: "staging", BackupID: other.ID}, 400, "backupId", "is of old, not staging"},
		{"a drill as a viewer", ownViewer, "POST", "/api/v1/teams/alpha/apps/reports/drills", apiv1.StartDrill{Environment: "staging"}, 403, "", "backup.create"},
	} {
		status, data := f.do(c.caller, c.method, c.path, c.body)
		var e apiv1.Error
		if status != c.status || (status >= 400 && (json.Unmarshal(data, &e) != nil || e.Field != c.field || !strings.Contains(e.Message, c.says))) {
			t.Errorf("%s: %d %s, want %d on %q saying %q", c.name, status, data, c.status, c.field, c.says)
		}
	}

	ids := func(l apiv1.List[apiv1.Restore]) []int64 {
		out := []int64{}
		for _, r := range l.Items {
			out = append(out, r.ID)
		}
		return out
	}
	for _, c := range []struct {
		path string
		want []int64
	}{
		{"/api/v1/teams/alpha/restores", []int64{restore.ID}},
		{"/api/v1/teams/alpha/restores?app=reports&environment=staging", []int64{restore.ID}},
		{"/api/v1/teams/alpha/restores?environment=old", []int64{}},
		{"/api/v1/teams/alpha/drills?app=reports", []int64{drill.ID + 1, drill.ID, drilled.ID}},
		{"/api/v1/teams/alpha/drills?environment=staging&limit=1", []int64{drill.ID}},
	} {
		if diff := cmp.Diff(c.want, ids(call[apiv1.List[apiv1.Restore]](f, ownViewer, "GET", c.path, nil, 200))); diff != "" {
			t.Errorf("GET %s (-want +got):\n%s", c.path, diff)
		}
	}

	// A finished drill: its measured duration in seconds, its times.
	got := call[apiv1.Restore](f, ownViewer, "GET", fmt.Sprintf("/api/v1/restores/%d", drilled.ID), nil, 200)
	if got.State != "succeeded" || got.DurationSeconds != 1.5 || got.Step != "restoring" || got.StartedAt == nil || got.FinishedAt == nil || !got.Drill {
		t.Errorf("GET the finished drill: %+v", got)
	}
	detail := call[apiv1.BackupDetail](f, ownViewer, "GET", fmt.Sprintf("/api/v1/backups/%d", done.ID), nil, 200)
	if len(detail.Restores) != 1 || detail.Restores[0].ID != restore.ID || len(detail.Drills) != 2 ||
		detail.Drills[0].ID != drill.ID || detail.Drills[1].ID != drilled.ID {
		t.Errorf("the backup's restores %+v and drills %+v", detail.Restores, detail.Drills)
	}
	for _, c := range []struct {
		caller, path string
		status       int
	}{
		{otherViewer, fmt.Sprintf("/api/v1/restores/%d", restore.ID), 404},
		{otherViewer, fmt.Sprintf("/api/v1/restores/%d", drilled.ID), 404},
		{otherViewer, "/api/v1/teams/alpha/restores", 403},
		{otherViewer, "/api/v1/teams/alpha/drills", 403},
		{ownViewer, "/api/v1/restores/999", 404},
	} {
		if status, data := f.do(c.caller, "GET", c.path, nil); status != c.status {
			t.Errorf("%s GET %s: %d %s, want %d", c.caller, c.path, status, data, c.status)
		}
	}
}

// TestBackupSchedules: a team admin sets when an app's data is backed up and drilled
// (the defaults filled in), the team lists them, and an admin deletes one.
func TestBackupSchedules(t *testing.T) {
	f := newFixture(t)
	const path = "/api/v1/teams/alpha/apps/reports/backup-schedules/staging"
	sc := call[apiv1.BackupSchedule](f, teamAdmin, "PUT", path, apiv1.SetBackupSchedule{Cron: "0 3 * * *"}, 200)
	want := apiv1.BackupSchedule{Team: "alpha", App: "reports", Environment: "staging", Cron: "0 3 * * *", TimeZone: "UTC",
		KeepLast: 7, KeepDaily: 7, KeepWeekly: 4, CreatedBy: "ada", UpdatedAt: sc.UpdatedAt}
	if diff := cmp.Diff(want, sc); diff != "" || sc.UpdatedAt.IsZero() {
		t.Errorf("a schedule with the defaults (-want +got):\n%s", diff)
	}
	sc = call[apiv1.BackupSchedule](f, teamAdmin, "PUT", path, apiv1.SetBackupSchedule{Cron: "0 3 * * *", Drill: "0 5 * * 0",
		TimeZone: "Europe/Lisbon", KeepLast: 3, KeepDaily: 10, StaleAfter: "36h"}, 200)
	want = apiv1.BackupSchedule{Team: "alpha", App: "reports", Environment: "staging", Cron: "0 3 * * *", Drill: "0 5 * * 0",
		TimeZone: "Europe/Lisbon", KeepLast: 3, KeepDaily: 10, StaleAfter: "36h", CreatedBy: "ada", UpdatedAt: sc.UpdatedAt}
	if diff := cmp.Diff(want, sc); diff != "" {
		t.Errorf("a schedule with everything (-want +got):\n%s", diff)
	}
	call[apiv1.BackupSchedule](f, teamAdmin, "PUT", "/api/v1/teams/alpha/apps/reports/backup-schedules/old", apiv1.SetBackupSchedule{Cron: "@daily"}, 200)
	list := call[apiv1.List[apiv1.BackupSchedule]](f, ownViewer, "GET", "/api/v1/teams/alpha/backup-schedules", nil, 200)
	if len(list.Items) != 2 || list.Items[0].Environment != "old" || !cmp.Equal(list.Items[1], want) {
		t.Errorf("the team's schedules: %+v", list.Items)
	}

	for _, c := range []struct {
		caller, method, path string
		status               int
	}{
		{deployer, "PUT", path, 403},
		{otherViewer, "GET", "/api/v1/teams/alpha/backup-schedules", 403},
		{deployer, "DELETE", path, 403},
		{teamAdmin, "PUT", "/api/v1/teams/alpha/apps/nope/backup-schedules/staging", 404},
		{teamAdmin, "PUT", "/api/v1/teams/alpha/apps/reports/backup-schedules/mars", 404},
		{teamAdmin, "DELETE", path, 204},
		{teamAdmin, "DELETE", path, 404},
	} {
		var b any
		if c.method == "PUT" {
			b = apiv1.SetBackupSchedule{Cron: "0 4 * * *"}
		}
		if status, data := f.do(c.caller, c.method, c.path, b); status != c.status {
			t.Errorf("%s %s %s: %d %s, want %d", c.caller, c.method, c.path, status, data, c.status)
		}
	}
	if list := call[apiv1.List[apiv1.BackupSchedule]](f, ownViewer, "GET", "/api/v1/teams/alpha/backup-schedules", nil, 200); len(list.Items) != 1 {
		t.Errorf("schedules after the deletion: %+v", list.Items)
	}
}

// TestBackupStores: a global admin sets named stores (a directory, an S3 bucket with its
// secret key), lists them, points an environment at one and deletes one no environment
// uses. The secret key is in no response, audit event or log line.
func TestBackupStores(t *testing.T) {
	f := newFixture(t)
	const secret = "fixture-s3-secret-key-9d2e"
	var bodies []string
	send := func(caller, method, path string, body any, status int) []byte {
		t.Helper()
		got, data := f.do(caller, method, path, body)
		bodies = append(bodies, string(data))
		if got != status {
			t.Fatalf("%s %s as %s: %d %s, want %d", method, path, caller, got, data, status)
		}
		return data
	}
	decode := func(data []byte, v any) {
		t.Helper()
		if err := json.Unmarshal(data, v); err != nil {
			t.Fatalf("%v\n%s", err, data)
		}
	}

	var s3 apiv1.BackupStore
	decode(send(globalAdmin, "PUT", "/api/v1/backup-stores/offsite", apiv1.SetBackupStore{Kind: "s3", Endpoint: "127.0.0.1:9000",
		Bucket: "backups", Prefix: "berth", Region: "eu-west-1", AccessKey: "AKIAFIXTURE", SecretKey: secret}, 200), &s3)
	want := apiv1.BackupStore{Name: "offsite", Kind: "s3", Endpoint: "127.0.0.1:9000", Bucket: "backups", Prefix: "berth", Region: "eu-west-1",
		AccessKey: "AKIAFIXTURE", CreatedBy: "admin", UpdatedAt: s3.UpdatedAt}
	if diff := cmp.Diff(want, s3); diff != "" {
		t.Errorf("the S3 store (-want +got):\n%s", diff)
	}
	var dir apiv1.BackupStore
	decode(send(globalAdmin, "PUT", "/api/v1/backup-stores/local", apiv1.SetBackupStore{Kind: "dir", Dir: "/srv/backups"}, 200), &dir)
	if dir.Kind != "dir" || dir.Dir != "/srv/backups" || dir.Endpoint != "" {
		t.Errorf("the directory store: %+v", dir)
	}
	var list apiv1.List[apiv1.BackupStore]
	decode(send(ownViewer, "GET", "/api/v1/backup-stores", nil, 200), &list)
	if len(list.Items) != 2 || list.Items[0].Name != "local" || !cmp.Equal(list.Items[1], want) {
		t.Errorf("the stores: %+v", list.Items)
	}

	send(globalAdmin, "PUT", "/api/v1/envs/staging/backup-store", apiv1.SetEnvBackupStore{Store: "offsite"}, 204)
	var b apiv1.Backup
	decode(send(deployer, "POST", "/api/v1/teams/alpha/apps/reports/backups", apiv1.StartBackup{Environment: "staging"}, 202), &b)
	if b.Store != "offsite" {
		t.Errorf("a backup of staging goes to %q, want offsite", b.Store)
	}
	data := send(globalAdmin, "DELETE", "/api/v1/backup-stores/offsite", nil, 409)
	if !strings.Contains(string(data), "1 environments use it") {
		t.Errorf("deleting a store in use: %s", data)
	}
	send(globalAdmin, "PUT", "/api/v1/envs/staging/backup-store", apiv1.SetEnvBackupStore{Store: "default"}, 204)
	send(globalAdmin, "DELETE", "/api/v1/backup-stores/local", nil, 204)
	send(globalAdmin, "DELETE", "/api/v1/backup-stores/local", nil, 404)
	send(globalAdmin, "PUT", "/api/v1/envs/staging/backup-store", apiv1.SetEnvBackupStore{Store: "local"}, 404)
	send(globalAdmin, "PUT", "/api/v1/envs/mars/backup-store", apiv1.SetEnvBackupStore{Store: "default"}, 404)
	for _, c := range []struct{ method, path string }{
		{"PUT", "/api/v1/backup-stores/evil"}, {"DELETE", "/api/v1/backup-stores/offsite"}, {"PUT", "/api/v1/envs/staging/backup-store"},
	} {
		var body any = apiv1.SetEnvBackupStore{Store: "default"}
		if strings.Contains(c.path, "backup-stores") {
			body = apiv1.SetBackupStore{Kind: "dir", Dir: "/tmp"}
		}
		if c.method == "DELETE" {
			body = nil
		}
		send(teamAdmin, c.method, c.path, body, 403)
	}
	bodies = append(bodies, string(send(globalAdmin, "GET", "/api/v1/audit", nil, 200)))

	for _, body := range append(bodies, f.logs.String()) {
		if strings.Contains(body, secret) || strings.Contains(strings.ToLower(body), "secretkey") {
			t.Fatalf("the S3 secret key is in a response, an audit event or the log:\n%s", body)
		}
	}
}

// TestBackupBadInput: what the backup routes cannot take is a 400 naming the field as the
// client sent it, saying what would do; unknown records are 404.
func TestBackupBadInput(t *testing.T) {
	f := newFixture(t)
	f.backup(berth.JobSucceeded)
	const app = "/api/v1/teams/alpha/apps/reports"
	schedule := func(change func(*apiv1.SetBackupSchedule)) apiv1.SetBackupSchedule {
		s := apiv1.SetBackupSchedule{Cron: "0 3 * * *"}
		change(&s)
		return s
	}
	// An app of alpha without data: nothing to back up.
	if status, data := f.do(deployer, "POST", "/api/v1/teams/alpha/apps", apiv1.CreateApp{Name: "billing"}); status != 201 {
		t.Fatalf("create billing: %d %s", status, data)
	}
	for _, c := range []struct {
		name, caller, method, path string
		body                       any
		status                     int
		field, says                string
	}{
		{"no environment", deployer, "POST", app + "/backups", apiv1.StartBackup{}, 400, "environment", "environment is required"},
		{"an unknown field", deployer, "POST", app + "/backups", map[string]any{"environment": "staging", "env": "staging"}, 400, "env", "unknown field"},
		{"an unknown environment", deployer, "POST", app + "/backups", apiv1.StartBackup{Environment: "mars"}, 404, "", "mars"},
		{"no data", deployer, "POST", "/api/v1/teams/alpha/apps/billing/backups", apiv1.StartBackup{Environment: "staging"}, 400, "application", "no postgres resource"},
		{"a team with no data", deployer, "POST", "/api/v1/teams/alpha/backups", apiv1.StartBackup{Environment: "old"}, 404, "", "no app with a postgres resource in old"},
		{"a team backup without environment", deployer, "POST", "/api/v1/teams/alpha/backups", apiv1.StartBackup{}, 400, "environment", "environment is required"},
		{"a bad state", ownViewer, "GET", "/api/v1/teams/alpha/backups?state=done", nil, 400, "state", `not "done"`},
		{"a bad limit", ownViewer, "GET", "/api/v1/teams/alpha/backups?limit=0", nil, 400, "limit", "limit must be 1 to 1000"},
		{"a bad drills limit", ownViewer, "GET", "/api/v1/teams/alpha/drills?limit=x", nil, 400, "limit", "limit must be 1 to 1000"},
		{"a bad backup id", ownViewer, "GET", "/api/v1/backups/twelve", nil, 400, "id", "backup id must be a positive number"},
		{"a bad restore id", ownViewer, "GET", "/api/v1/restores/-1", nil, 400, "id", "restore id must be a positive number"},
		{"a restore of a bad id", teamAdmin, "POST", "/api/v1/backups/x/restore", apiv1.StartRestore{Environment: "staging"}, 400, "id", "backup id"},
		{"a bad backupId", deployer, "POST", app + "/drills", apiv1.StartDrill{Environment: "staging", BackupID: -1}, 400, "backupId", "latest kept"},
		{"a drill without environment", deployer, "POST", app + "/drills", apiv1.StartDrill{}, 400, "environment", "environment is required"},
		{"nothing to drill", deployer, "POST", app + "/drills", apiv1.StartDrill{Environment: "old"}, 404, "", "no successful backup in old"},
		{"a drill of a missing backup", deployer, "POST", app + "/drills", apiv1.StartDrill{Environment: "staging", BackupID: 999}, 404, "", "999"},
		{"no cron", teamAdmin, "PUT", app + "/backup-schedules/staging", apiv1.SetBackupSchedule{}, 400, "cron", "cron is required"},
		{"a bad cron", teamAdmin, "PUT", app + "/backup-schedules/staging", schedule(func(s *apiv1.SetBackupSchedule) { s.Cron = "0 3 * *" }), 400, "cron", "five cron fields"},
		{"a bad drill", teamAdmin, "PUT", app + "/backup-schedules/staging", schedule(func(s *apiv1.SetBackupSchedule) { s.Drill = "sundays" }), 400, "drill", "five cron fields"},
		{"a time zone in the cron", teamAdmin, "PUT", app + "/backup-schedules/staging", schedule(func(s *apiv1.SetBackupSchedule) { s.Cron = "CRON_TZ=UTC 0 3 * * *" }), 400, "cron", "--time-zone"},
		{"a bad time zone", teamAdmin, "PUT", app + "/backup-schedules/staging", schedule(func(s *apiv1.SetBackupSchedule) { s.TimeZone = "Mars/Olympus" }), 400, "timeZone", "IANA time zone"},
		{"a bad staleAfter", teamAdmin, "PUT", app + "/backup-schedules/staging", schedule(func(s *apiv1.SetBackupSchedule) { s.StaleAfter = "a day" }), 400, "staleAfter", "such as 36h"},
		{"a negative staleAfter", teamAdmin, "PUT", app + "/backup-schedules/staging", schedule(func(s *apiv1.SetBackupSchedule) { s.StaleAfter = "-1h" }), 400, "staleAfter", "more than 0"},
		{"a negative keepLast", teamAdmin, "PUT", app + "/backup-schedules/staging", schedule(func(s *apiv1.SetBackupSchedule) { s.KeepLast = -1 }), 400, "keepLast", "0 to 1000"},
		{"too many weeklies", teamAdmin, "PUT", app + "/backup-schedules/staging", schedule(func(s *apiv1.SetBackupSchedule) { s.KeepWeekly = 1001 }), 400, "keepWeekly", "0 to 1000"},
		{"no kind", globalAdmin, "PUT", "/api/v1/backup-stores/offsite", apiv1.SetBackupStore{Dir: "/srv"}, 400, "kind", "kind is required"},
		{"a bad kind", globalAdmin, "PUT", "/api/v1/backup-stores/offsite", apiv1.SetBackupStore{Kind: "ftp"}, 400, "kind", "dir or s3"},
		{"a relative dir", globalAdmin, "PUT", "/api/v1/backup-stores/offsite", apiv1.SetBackupStore{Kind: "dir", Dir: "backups"}, 400, "dir", "absolute path"},
		{"a dir with a secret", globalAdmin, "PUT", "/api/v1/backup-stores/offsite", apiv1.SetBackupStore{Kind: "dir", Dir: "/srv", SecretKey: "x"}, 400, "secretKey", "only an S3 store"},
		{"no endpoint", globalAdmin, "PUT", "/api/v1/backup-stores/offsite", apiv1.SetBackupStore{Kind: "s3", Bucket: "b", AccessKey: "a", SecretKey: "s"}, 400, "endpoint", "host:port"},
		{"a URL endpoint", globalAdmin, "PUT", "/api/v1/backup-stores/offsite", apiv1.SetBackupStore{Kind: "s3", Endpoint: "https://s3.example.com/", Bucket: "b", AccessKey: "a", SecretKey: "s"}, 400, "endpoint", "host:port"},
		{"no bucket", globalAdmin, "PUT", "/api/v1/backup-stores/offsite", apiv1.SetBackupStore{Kind: "s3", Endpoint: "s3:9000", AccessKey: "a", SecretKey: "s"}, 400, "bucket", "must not be empty"},
		{"no access key", globalAdmin, "PUT", "/api/v1/backup-stores/offsite", apiv1.SetBackupStore{Kind: "s3", Endpoint: "s3:9000", Bucket: "b", SecretKey: "s"}, 400, "accessKey", "must not be empty"},
		{"no secret key", globalAdmin, "PUT", "/api/v1/backup-stores/offsite", apiv1.SetBackupStore{Kind: "s3", Endpoint: "s3:9000", Bucket: "b", AccessKey: "a"}, 400, "secretKey", "secret key"},
		{"a prefix out", globalAdmin, "PUT", "/api/v1/backup-stores/offsite", apiv1.SetBackupStore{Kind: "s3", Endpoint: "s3:9000", Bucket: "b", AccessKey: "a", SecretKey: "s", Prefix: "../x"}, 400, "prefix", "relative path"},
		{"a bad name", globalAdmin, "PUT", "/api/v1/backup-stores/Off%20Site", apiv1.SetBackupStore{Kind: "dir", Dir: "/srv"}, 400, "name", ""},
		{"the default store", globalAdmin, "PUT", "/api/v1/backup-stores/default", apiv1.SetBackupStore{Kind: "dir", Dir: "/srv"}, 400, "name", "server's own directory"},
		{"no store", globalAdmin, "PUT", "/api/v1/envs/staging/backup-store", apiv1.SetEnvBackupStore{}, 400, "store", "store is required"},
	} {
		status, data := f.do(c.caller, c.method, c.path, c.body)
		var e apiv1.Error
		if status != c.status || json.Unmarshal(data, &e) != nil || e.Field != c.field || !strings.Contains(e.Message, c.says) {
			t.Errorf("%s: %d %s, want %d on %q saying %q", c.name, status, data, c.status, c.field, c.says)
		}
	}
	if got := call[apiv1.List[apiv1.Backup]](f, ownViewer, "GET", "/api/v1/teams/alpha/backups", nil, 200); len(got.Items) != 1 {
		t.Errorf("refused backups were queued: %+v", got.Items)
	}
	if got := call[apiv1.List[apiv1.BackupSchedule]](f, ownViewer, "GET", "/api/v1/teams/alpha/backup-schedules", nil, 200); len(got.Items) != 0 {
		t.Errorf("refused schedules were set: %+v", got.Items)
	}
}
