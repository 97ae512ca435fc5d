package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/seal"
	"github.com/berth-dev/berth/internal/store"
)

// testBackupStores: stores are named, validated and replaced whole; the S3 secret is sealed
// (not in the row as text) and comes back opened; environments name a store that exists,
// and a store in use is not deleted.
func testBackupStores(t *testing.T, h *harness) {
	key, err := seal.NewKey([]byte(strings.Repeat("k", seal.KeySize)))
	must(t, "NewKey", err)
	h.key = key
	st, ctx := h.store(t), t.Context()
	seed(t, st, []string{"shop"}, []string{"ann"})
	tx(t, st, func(tx *store.Tx) error {
		_, err := tx.CreateEnvironment(ctx, berth.Environment{Name: "production", InCluster: true})
		return err
	})
	s3 := berth.BackupStore{Name: "offsite", Kind: berth.BackupStoreS3, Endpoint: "127.0.0.1:9000", Bucket: "backups", Prefix: "berth",
		Region: "us-east-1", AccessKey: "AKIA", CreatedBy: "ann"}
	tx(t, st, func(tx *store.Tx) error { return tx.SetBackupStore(ctx, s3, "very-secret-key") })
	got, secret, err := st.BackupStore(ctx, "offsite")
	must(t, "BackupStore", err)
	if secret != "very-secret-key" || got.Bucket != "backups" || got.Prefix != "berth" || got.Kind != berth.BackupStoreS3 || got.AccessKey != "AKIA" {
		t.Fatalf("read back %+v %q", got, secret)
	}
	var n int
	must(t, "count", st.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM backup_stores WHERE config LIKE '%very-secret%' OR ciphertext LIKE '%very-secret%'").Scan(&n))
	if n != 0 {
		t.Error("the secret key is stored as text")
	}
	for what, bad := range map[string]berth.BackupStore{
		"a relative directory":  {Name: "d", Kind: berth.BackupStoreDir, Dir: "backups"},
		"an S3 without bucket":  {Name: "d", Kind: berth.BackupStoreS3, Endpoint: "h:1", AccessKey: "a"},
		"an unknown kind":       {Name: "d", Kind: "ftp"},
		"the default store":     {Name: berth.DefaultBackupStore, Kind: berth.BackupStoreDir, Dir: "/x"},
		"a name that is a path": {Name: "a/b", Kind: berth.BackupStoreDir, Dir: "/x"},
	} {
		bad.CreatedBy = "ann"
		wantErr(t, what, txErr(t, st, func(tx *store.Tx) error { return tx.SetBackupStore(ctx, bad, "") }), berth.ErrInvalid)
	}
	if name, err := st.EnvironmentBackupStore(ctx, "production"); err != nil || name != berth.DefaultBackupStore {
		t.Fatalf("default store: %q %v", name, err)
	}
	wantErr(t, "an unknown store", txErr(t, st, func(tx *store.Tx) error { return tx.SetEnvironmentBackupStore(ctx, "production", "nope") }), berth.ErrNotFound)
	tx(t, st, func(tx *store.Tx) error { return tx.SetEnvironmentBackupStore(ctx, "production", "offsite") })
	if name, _ := st.EnvironmentBackupStore(ctx, "production"); name != "offsite" {
		t.Fatalf("store: %q", name)
	}
	wantErr(t, "delete a store in use", txErr(t, st, func(tx *store.Tx) error { return tx.DeleteBackupStore(ctx, "offsite") }), berth.ErrConflict)
	tx(t, st, func(tx *store.Tx) error { return tx.SetEnvironmentBackupStore(ctx, "production", "default") })
	tx(t, st, func(tx *store.Tx) error { return tx.DeleteBackupStore(ctx, "offsite") })
	if ss, err := st.BackupStores(ctx); err != nil || len(ss) != 0 {
		t.Fatalf("stores after delete: %+v %v", ss, err)
	}
	// A store holding a backup keeps its location; its credentials change.
	tx(t, st, func(tx *store.Tx) error { return tx.SetBackupStore(ctx, s3, "very-secret-key") })
	tx(t, st, func(tx *store.Tx) error {
		_, _, err := tx.EnqueueBackup(ctx, store.NewBackup{Team: "shop", App: "notes", Env: "production", Trigger: berth.TriggerManual, Store: "offsite", CreatedBy: "ann"})
		return err
	})
	moved := s3
	moved.Bucket = "elsewhere"
	wantErr(t, "move a store holding backups", txErr(t, st, func(tx *store.Tx) error { return tx.SetBackupStore(ctx, moved, "very-secret-key") }), berth.ErrConflict)
	tx(t, st, func(tx *store.Tx) error { return tx.SetBackupStore(ctx, s3, "rotated-secret") })
	// The secret is re-sealed by a key rotation.
	tx(t, st, func(tx *store.Tx) error { return tx.SetBackupStore(ctx, s3, "very-secret-key") })
	next, err := seal.NewKey([]byte(strings.Repeat("n", seal.KeySize)))
	must(t, "NewKey", err)
	tx(t, st, func(tx *store.Tx) error { _, err := tx.RotateSecretsKey(ctx, next); return err })
	st.UseSecretsKey(next)
	if _, secret, err := st.BackupStore(ctx, "offsite"); err != nil || secret != "very-secret-key" {
		t.Fatalf("after rotation: %q %v", secret, err)
	}
}

// testBackupJobs: a backup is claimed under a lease, records its contents and parts, and
// ends once; a worker whose lease ran out changes nothing; one app's backups take turns;
// a scheduled backup or drill is queued once per slot; restores need a kept, successful
// backup of the same app, take turns per target and record their steps.
func testBackupJobs(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	enqueueBackup := func(n store.NewBackup) (berth.Backup, bool) {
		t.Helper()
		var b berth.Backup
		var created bool
		tx(t, st, func(tx *store.Tx) (err error) { b, created, err = tx.EnqueueBackup(ctx, n); return err })
		return b, created
	}
	b1, _ := enqueueBackup(store.NewBackup{Team: "shop", App: "notes", Env: "production", Trigger: berth.TriggerManual, Store: "default", CreatedBy: "ann"})
	b2, _ := enqueueBackup(store.NewBackup{Team: "shop", App: "notes", Env: "production", Trigger: berth.TriggerManual, Store: "default", CreatedBy: "ann"})
	other, _ := enqueueBackup(store.NewBackup{Team: "shop", App: "web", Env: "production", Trigger: berth.TriggerManual, Store: "default", CreatedBy: "ann"})
	if b1.State != berth.JobQueued || b1.ID == 0 || b2.ID <= b1.ID {
		t.Fatalf("queued %+v %+v", b1, b2)
	}
	claim := func(owner string) (berth.Backup, bool) {
		t.Helper()
		b, ok, err := st.ClaimBackup(ctx, owner, time.Minute)
		must(t, "ClaimBackup", err)
		return b, ok
	}
	got, ok := claim("w1")
	if !ok || got.ID != b1.ID || got.State != berth.JobRunning || got.Attempts != 1 {
		t.Fatalf("first claim %+v %v", got, ok)
	}
	if got, ok := claim("w2"); !ok || got.ID != other.ID {
		t.Fatalf("second claim takes the other app's, not b2: %+v %v", got, ok)
	}
	if _, ok := claim("w3"); ok {
		t.Fatal("b2 claimed while b1 of the same app runs")
	}
	contents := berth.BackupContents{Deploy: 7, Revision: 3, Args: map[string]string{"version": "1"},
		Config: []berth.VersionRef{{Name: "LOG_LEVEL", Version: 2}}, Secrets: []berth.VersionRef{{Name: "API_KEY", Version: 1}},
		Resources: []berth.BackupResource{{Name: "db", Type: "postgres", UID: "postgres.default#shop.notes.db", Provisioner: "builtin/postgres"}}}
	tx(t, st, func(tx *store.Tx) error { return tx.StartBackup(ctx, b1.ID, "w1", "abcdef012345", contents) })
	part := berth.BackupPart{Resource: "db", Type: "postgres", Object: "shop/notes/production/1/db.dump", Size: 1234,
		SHA256: strings.Repeat("ab", 32), Tables: []berth.TableSum{{Schema: "public", Table: "notes", Rows: 3, Checksum: "42"}}}
	tx(t, st, func(tx *store.Tx) error { return tx.AddBackupPart(ctx, b1.ID, "w1", part) })
	// The lease runs out: w1 is gone, w4 claims it again and starts over.
	h.clock.Advance(2 * time.Minute)
	wantErr(t, "an expired worker adds a part", txErr(t, st, func(tx *store.Tx) error { return tx.AddBackupPart(ctx, b1.ID, "w1", part) }), berth.ErrLeaseLost)
	wantErr(t, "an expired worker renews", st.RenewBackupLease(ctx, b1.ID, "w1", time.Minute), berth.ErrLeaseLost)
	got, ok = claim("w4")
	if !ok || got.ID != b1.ID || got.Attempts != 2 || len(got.Parts) != 1 {
		t.Fatalf("reclaimed %+v %v", got, ok)
	}
	tx(t, st, func(tx *store.Tx) error { return tx.StartBackup(ctx, b1.ID, "w4", "abcdef012345", contents) })
	if got, _ := st.Backup(ctx, b1.ID); len(got.Parts) != 0 || got.Size != 0 {
		t.Fatalf("a new attempt keeps the parts of the last: %+v", got)
	}
	tx(t, st, func(tx *store.Tx) error { return tx.AddBackupPart(ctx, b1.ID, "w4", part) })
	must(t, "renew", st.RenewBackupLease(ctx, b1.ID, "w4", time.Minute))
	var done berth.Backup
	tx(t, st, func(tx *store.Tx) (err error) {
		done, err = tx.FinishBackup(ctx, b1.ID, "w4", berth.JobSucceeded, "")
		return err
	})
	if done.State != berth.JobSucceeded || done.Size != 1234 || done.KeyID != "abcdef012345" || done.Contents.Revision != 3 ||
		done.Contents.Secrets[0].Name != "API_KEY" || len(done.Parts) != 1 || done.Parts[0].Tables[0].Rows != 3 || done.FinishedAt.IsZero() {
		t.Fatalf("finished %+v", done)
	}
	wantErr(t, "finish twice", txErr(t, st, func(tx *store.Tx) error {
		_, err := tx.FinishBackup(ctx, b1.ID, "w4", berth.JobFailed, "again")
		return err
	}), berth.ErrLeaseLost)

	// A scheduled backup once per slot.
	slot := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	s1, created1 := enqueueBackup(store.NewBackup{Team: "shop", App: "notes", Env: "production", Trigger: berth.TriggerSchedule, Store: "default", Slot: slot, CreatedBy: "schedule"})
	s2, created2 := enqueueBackup(store.NewBackup{Team: "shop", App: "notes", Env: "production", Trigger: berth.TriggerSchedule, Store: "default", Slot: slot, CreatedBy: "schedule"})
	if !created1 || created2 || s1.ID != s2.ID || !s1.Slot.Equal(slot) {
		t.Fatalf("slot: %v %v %d %d", created1, created2, s1.ID, s2.ID)
	}
	if bs, err := st.Backups(ctx, store.BackupFilter{Team: "shop", App: "notes", Kept: true}); err != nil || len(bs) != 1 || bs[0].ID != b1.ID {
		t.Fatalf("kept backups: %+v %v", bs, err)
	}

	// Restores.
	enqueueRestore := func(n store.NewRestore) (berth.Restore, error) {
		var r berth.Restore
		err := txErr(t, st, func(tx *store.Tx) (err error) { r, _, err = tx.EnqueueRestore(ctx, n); return err })
		return r, err
	}
	_, err := enqueueRestore(store.NewRestore{BackupID: b2.ID, Team: "shop", App: "notes", Env: "sandbox", CreatedBy: "ann"})
	wantErr(t, "restore a queued backup", err, berth.ErrConflict)
	_, err = enqueueRestore(store.NewRestore{BackupID: b1.ID, Team: "shop", App: "web", Env: "sandbox", CreatedBy: "ann"})
	wantErr(t, "restore another app's backup", err, berth.ErrInvalid)
	r1, err := enqueueRestore(store.NewRestore{BackupID: b1.ID, Team: "shop", App: "notes", Env: "sandbox", Force: true, ToRevision: true, CreatedBy: "ann"})
	must(t, "EnqueueRestore", err)
	r2, err := enqueueRestore(store.NewRestore{BackupID: b1.ID, Team: "shop", App: "notes", Env: "sandbox", CreatedBy: "ann"})
	must(t, "EnqueueRestore", err)
	d1, err := enqueueRestore(store.NewRestore{BackupID: b1.ID, Team: "shop", App: "notes", Env: "production", Drill: true, Slot: slot, CreatedBy: "schedule"})
	must(t, "EnqueueRestore drill", err)
	var again bool
	tx(t, st, func(tx *store.Tx) (err error) {
		_, again, err = tx.EnqueueRestore(ctx, store.NewRestore{BackupID: b1.ID, Team: "shop", App: "notes", Env: "production", Drill: true, Slot: slot, CreatedBy: "schedule"})
		return err
	})
	if again {
		t.Fatal("a drill queued twice for one slot")
	}
	claimRestore := func(owner string) (berth.Restore, bool) {
		t.Helper()
		r, ok, err := st.ClaimRestore(ctx, owner, time.Minute)
		must(t, "ClaimRestore", err)
		return r, ok
	}
	if r, ok := claimRestore("w1"); !ok || r.ID != r1.ID || !r.Force || !r.ToRevision || r.Drill {
		t.Fatalf("claimed %+v %v", r, ok)
	}
	if r, ok := claimRestore("w2"); !ok || r.ID != d1.ID || !r.Drill {
		t.Fatalf("the drill of production is not held by sandbox's restore: %+v %v", r, ok)
	}
	if _, ok := claimRestore("w3"); ok {
		t.Fatal("a second restore into sandbox claimed while the first runs")
	}
	tx(t, st, func(tx *store.Tx) error { return tx.SetRestoreStep(ctx, r1.ID, "w1", berth.StepSwapping, 0) })
	tx(t, st, func(tx *store.Tx) error { return tx.SetRestoreStep(ctx, r1.ID, "w1", berth.StepRedeploying, 99) })
	var fin berth.Restore
	tx(t, st, func(tx *store.Tx) (err error) {
		fin, err = tx.FinishRestore(ctx, r1.ID, "w1", berth.JobSucceeded, "", 1500*time.Millisecond)
		return err
	})
	if fin.State != berth.JobSucceeded || fin.Step != berth.StepRedeploying || fin.Deploy != 99 || fin.Duration != 1500*time.Millisecond {
		t.Fatalf("finished restore %+v", fin)
	}
	if r, ok := claimRestore("w3"); !ok || r.ID != r2.ID {
		t.Fatalf("next restore %+v %v", r, ok)
	}
	if drills, err := st.Restores(ctx, store.RestoreFilter{Team: "shop", App: "notes", Drill: true}); err != nil || len(drills) != 1 || drills[0].ID != d1.ID {
		t.Fatalf("drills: %+v %v", drills, err)
	}
	// A backup with a drill queued or running is not pruned.
	wantErr(t, "prune a backup being drilled", txErr(t, st, func(tx *store.Tx) error { return tx.MarkBackupPruned(ctx, b1.ID) }), berth.ErrConflict)
	for want := range 2 {
		var failed bool
		tx(t, st, func(tx *store.Tx) (err error) {
			failed, err = tx.FailRestore(ctx, d1.ID, "gave up after 3 attempts")
			return err
		})
		if failed != (want == 0) {
			t.Fatalf("FailRestore %d: %v", want, failed)
		}
	}
	if r, _ := st.Restore(ctx, d1.ID); r.State != berth.JobFailed || r.Reason != "gave up after 3 attempts" {
		t.Fatalf("failed drill %+v", r)
	}
	wantErr(t, "prune a backup being restored", txErr(t, st, func(tx *store.Tx) error { return tx.MarkBackupPruned(ctx, b1.ID) }), berth.ErrConflict)
	tx(t, st, func(tx *store.Tx) error { return tx.NoteRestore(ctx, r2.ID, "w3", "swap db: sessions would not end") })
	tx(t, st, func(tx *store.Tx) error {
		_, err := tx.FinishRestore(ctx, r2.ID, "w3", berth.JobFailed, "gave up", 0)
		return err
	})
	tx(t, st, func(tx *store.Tx) error { return tx.MarkBackupPruned(ctx, b1.ID) })
	_, err = enqueueRestore(store.NewRestore{BackupID: b1.ID, Team: "shop", App: "notes", Env: "sandbox", CreatedBy: "ann"})
	wantErr(t, "restore a pruned backup", err, berth.ErrConflict)
}

// testBackupSchedules: one schedule per app and environment, replaced whole; alarms are
// recorded once per value.
func testBackupSchedules(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	s := berth.BackupSchedule{Team: "shop", App: "notes", Env: "production", Cron: "0 3 * * *", Drill: "0 5 * * 0", TimeZone: "Europe/Lisbon",
		Keep: berth.Retention{Last: 3, Daily: 7, Weekly: 4}, StaleAfter: 36 * time.Hour, CreatedBy: "ann"}
	tx(t, st, func(tx *store.Tx) error { return tx.SetBackupSchedule(ctx, s) })
	s.Cron = "0 4 * * *"
	tx(t, st, func(tx *store.Tx) error { return tx.SetBackupSchedule(ctx, s) })
	got, err := st.BackupSchedule(ctx, "shop", "notes", "production")
	must(t, "BackupSchedule", err)
	if got.Cron != "0 4 * * *" || got.Keep.Daily != 7 || got.StaleAfter != 36*time.Hour || got.TimeZone != "Europe/Lisbon" {
		t.Fatalf("schedule %+v", got)
	}
	bad := s
	bad.Keep = berth.Retention{}
	wantErr(t, "keep nothing", txErr(t, st, func(tx *store.Tx) error { return tx.SetBackupSchedule(ctx, bad) }), berth.ErrInvalid)
	for i, want := range []bool{true, false} {
		var changed bool
		tx(t, st, func(tx *store.Tx) (err error) {
			changed, err = tx.SetBackupAlarm(ctx, "shop", "notes", "production", store.AlarmDrill, 5)
			return err
		})
		if changed != want {
			t.Fatalf("alarm %d: changed %v", i, changed)
		}
	}
	if ss, err := st.BackupSchedules(ctx, "shop"); err != nil || len(ss) != 1 {
		t.Fatalf("schedules %+v %v", ss, err)
	}
	tx(t, st, func(tx *store.Tx) error { return tx.DeleteBackupSchedule(ctx, "shop", "notes", "production") })
	_, err = st.BackupSchedule(ctx, "shop", "notes", "production")
	wantErr(t, "deleted schedule", err, berth.ErrNotFound)
}
