package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/berth-dev/berth/internal/berth"
)

// Backups, restores and drills (docs/backups.md): backup stores by name, backup sets and
// their parts, restores and drills, and the schedules that make them. Backups and restores
// are durable jobs claimed under a lease like deploys; every step a worker records checks
// that it still holds the lease, and each job ends once.

// backupStoreConfig is the stored form of a store's fields other than its name and kind.
type backupStoreConfig struct {
	Dir       string `json:"dir,omitempty"`
	Endpoint  string `json:"endpoint,omitempty"`
	Secure    bool   `json:"secure,omitempty"`
	Bucket    string `json:"bucket,omitempty"`
	Prefix    string `json:"prefix,omitempty"`
	Region    string `json:"region,omitempty"`
	AccessKey string `json:"accessKey,omitempty"`
}

func backupStoreAAD(name string) []byte { return []byte("backup-store\x00" + name) }

// SetBackupStore creates or replaces the backup store s.Name with its secret (an S3 secret
// key, sealed; "" for none).
func (tx *Tx) SetBackupStore(ctx context.Context, s berth.BackupStore, secret string) error {
	what := fmt.Sprintf("set backup store %q", s.Name)
	if err := s.Validate(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if s.Name == berth.DefaultBackupStore {
		return fmt.Errorf("%s: %w", what, invalid("name", "%q is the server's own directory (berth server --backup-dir)", s.Name))
	}
	cfg, err := json.Marshal(backupStoreConfig{Dir: s.Dir, Endpoint: s.Endpoint, Secure: s.Secure, Bucket: s.Bucket,
		Prefix: s.Prefix, Region: s.Region, AccessKey: s.AccessKey})
	if err != nil {
		return err
	}
	// Backups find their parts by store name: a store holding some keeps its location;
	// only its credentials change.
	if old, _, err := tx.BackupStore(ctx, s.Name); err == nil {
		moved := old.Kind != s.Kind || old.Dir != s.Dir || old.Endpoint != s.Endpoint || old.Bucket != s.Bucket || old.Prefix != s.Prefix
		var kept int
		if err := tx.queryRow(ctx, "SELECT COUNT(*) FROM backups WHERE store = ? AND pruned_at = 0 AND state <> 'failed'", s.Name).Scan(&kept); err != nil {
			return fmt.Errorf("%s: %w", what, dbErr(err))
		}
		if moved && kept > 0 {
			return fmt.Errorf("%s: %w: it holds %d backups, which would be lost; make a store of another name (berth backup-stores set NEW ...; berth envs set-backup-store ENV NEW)",
				what, berth.ErrConflict, kept)
		}
	} else if !errors.Is(err, berth.ErrNotFound) {
		return fmt.Errorf("%s: %w", what, err)
	}
	nonce, ciphertext, keyID, err := sealColumns(tx.keys.get(), []byte(secret), backupStoreAAD(s.Name))
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	now := micros(tx.stamp())
	_, err = tx.exec(ctx, `INSERT INTO backup_stores (name, kind, config, nonce, ciphertext, key_id, created_by, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, config = excluded.config, nonce = excluded.nonce,
			ciphertext = excluded.ciphertext, key_id = excluded.key_id, created_by = excluded.created_by, updated_at = excluded.updated_at`,
		s.Name, string(s.Kind), string(cfg), nonce, ciphertext, keyID, s.CreatedBy, now)
	if err != nil {
		return fmt.Errorf("%s: %w", what, dbErr(err))
	}
	return nil
}

const backupStoreColumns = "name, kind, config, created_by, updated_at"

func scanBackupStore(sc scanner) (berth.BackupStore, error) {
	var s berth.BackupStore
	var kind, cfg string
	var at int64
	if err := sc.Scan(&s.Name, &kind, &cfg, &s.CreatedBy, &at); err != nil {
		return s, err
	}
	var c backupStoreConfig
	if err := json.Unmarshal([]byte(cfg), &c); err != nil {
		return s, fmt.Errorf("backup store %s: config: %w", s.Name, err)
	}
	s.Kind, s.UpdatedAt = berth.BackupStoreKind(kind), fromMicros(at)
	s.Dir, s.Endpoint, s.Secure, s.Bucket, s.Prefix, s.Region, s.AccessKey = c.Dir, c.Endpoint, c.Secure, c.Bucket, c.Prefix, c.Region, c.AccessKey
	return s, nil
}

// BackupStore returns the store name and its secret (opened; "" for none).
func (q queries) BackupStore(ctx context.Context, name string) (berth.BackupStore, string, error) {
	var nonce, ciphertext, keyID string
	row := q.queryRow(ctx, "SELECT "+backupStoreColumns+", nonce, ciphertext, key_id FROM backup_stores WHERE name = ?", name)
	s, err := scanBackupStore(scanFunc(func(dest ...any) error {
		return row.Scan(append(dest, &nonce, &ciphertext, &keyID)...)
	}))
	if errors.Is(err, sql.ErrNoRows) {
		return s, "", notFound("backup store", name)
	}
	if err != nil {
		return s, "", fmt.Errorf("read backup store %q: %w", name, dbErr(err))
	}
	if keyID == "" {
		return s, "", nil
	}
	secret, err := openColumns(q.keys.get(), nonce, ciphertext, keyID, backupStoreAAD(name))
	if err != nil {
		return s, "", fmt.Errorf("backup store %q: %w", name, err)
	}
	return s, string(secret), nil
}

// BackupStores lists the stores by name, without secrets.
func (q queries) BackupStores(ctx context.Context) ([]berth.BackupStore, error) {
	ss, err := list(ctx, q, scanBackupStore, "SELECT "+backupStoreColumns+" FROM backup_stores ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("list backup stores: %w", dbErr(err))
	}
	return ss, nil
}

// DeleteBackupStore removes a store that no environment names and no kept backup is in.
func (tx *Tx) DeleteBackupStore(ctx context.Context, name string) error {
	var envs, kept int
	err := tx.queryRow(ctx, `SELECT (SELECT COUNT(*) FROM environments WHERE backup_store = ?),
		(SELECT COUNT(*) FROM backups WHERE store = ? AND pruned_at = 0 AND state <> 'failed')`, name, name).Scan(&envs, &kept)
	if err != nil {
		return fmt.Errorf("delete backup store %q: %w", name, dbErr(err))
	}
	if envs > 0 || kept > 0 {
		return fmt.Errorf("delete backup store %q: %w: %d environments use it and it holds %d backups", name, berth.ErrConflict, envs, kept)
	}
	res, err := tx.exec(ctx, "DELETE FROM backup_stores WHERE name = ?", name)
	if err != nil {
		return fmt.Errorf("delete backup store %q: %w", name, dbErr(err))
	}
	return mustAffect(res, notFound("backup store", name))
}

// SetEnvironmentBackupStore makes env's backups go to store ("" or "default": the server's
// own directory).
func (tx *Tx) SetEnvironmentBackupStore(ctx context.Context, env, store string) error {
	if store == berth.DefaultBackupStore {
		store = ""
	}
	if store != "" {
		if _, _, err := tx.BackupStore(ctx, store); err != nil {
			return fmt.Errorf("set the backup store of environment %q: %w", env, err)
		}
	}
	res, err := tx.exec(ctx, "UPDATE environments SET backup_store = ? WHERE name = ?", store, env)
	if err != nil {
		return fmt.Errorf("set the backup store of environment %q: %w", env, dbErr(err))
	}
	return mustAffect(res, notFound("environment", env))
}

// EnvironmentBackupStore names env's backup store: "default" unless one was set.
func (q queries) EnvironmentBackupStore(ctx context.Context, env string) (string, error) {
	var name string
	err := q.queryRow(ctx, "SELECT backup_store FROM environments WHERE name = ?", env).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", notFound("environment", env)
	}
	if err != nil {
		return "", fmt.Errorf("read the backup store of environment %q: %w", env, dbErr(err))
	}
	if name == "" {
		name = berth.DefaultBackupStore
	}
	return name, nil
}

// NewBackup is a backup to queue.
type NewBackup struct {
	Team, App, Env string
	Trigger        string
	Store          string
	Slot           time.Time
	CreatedBy      string
}

const (
	backupColumns = `id, team, app, env, trigger_kind, state, reason, store, key_id, contents, size, slot,
		created_by, created_at, started_at, finished_at, pruned_at, lease_owner, lease_expires, attempts`
)

func scanBackup(sc scanner) (berth.Backup, error) {
	var b berth.Backup
	var state, contents string
	var slot, created, started, finished, pruned, lease int64
	err := sc.Scan(&b.ID, &b.Team, &b.App, &b.Env, &b.Trigger, &state, &b.Reason, &b.Store, &b.KeyID, &contents, &b.Size, &slot,
		&b.CreatedBy, &created, &started, &finished, &pruned, &b.LeaseOwner, &lease, &b.Attempts)
	if err != nil {
		return b, err
	}
	if err := json.Unmarshal([]byte(contents), &b.Contents); err != nil {
		return b, fmt.Errorf("backup %d: contents: %w", b.ID, err)
	}
	b.State, b.CreatedAt = berth.JobState(state), fromMicros(created)
	b.Slot, b.StartedAt, b.FinishedAt, b.PrunedAt, b.LeaseExpires = optMicros(slot), optMicros(started), optMicros(finished), optMicros(pruned), optMicros(lease)
	return b, nil
}

// optMicros is a time stored as micros where 0 means none.
func optMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return fromMicros(us)
}

func optToMicros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return micros(t)
}

// EnqueueBackup queues a backup. A scheduled one (Slot set) is queued once per slot: a
// second call for the slot returns the first backup and false.
func (tx *Tx) EnqueueBackup(ctx context.Context, n NewBackup) (berth.Backup, bool, error) {
	what := fmt.Sprintf("queue a backup of %s in %s", appKey(n.Team, n.App), n.Env)
	if n.Store == "" || n.CreatedBy == "" || n.Trigger == "" {
		return berth.Backup{}, false, fmt.Errorf("%s: %w: no store, trigger or actor", what, berth.ErrInvalid)
	}
	if !n.Slot.IsZero() {
		var id int64
		err := tx.queryRow(ctx, "SELECT id FROM backups WHERE team = ? AND app = ? AND env = ? AND slot = ?",
			n.Team, n.App, n.Env, micros(n.Slot)).Scan(&id)
		if err == nil {
			b, err := tx.Backup(ctx, id)
			return b, false, err
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return berth.Backup{}, false, fmt.Errorf("%s: %w", what, dbErr(err))
		}
	}
	var id int64
	err := tx.queryRow(ctx, `INSERT INTO backups (team, app, env, trigger_kind, state, store, slot, created_by, created_at)
		VALUES (?, ?, ?, ?, 'queued', ?, ?, ?, ?) RETURNING id`,
		n.Team, n.App, n.Env, n.Trigger, n.Store, optToMicros(n.Slot), n.CreatedBy, micros(tx.stamp())).Scan(&id)
	if err != nil {
		return berth.Backup{}, false, fmt.Errorf("%s: %w", what, dbErr(err))
	}
	b, err := tx.Backup(ctx, id)
	return b, true, err
}

// Backup returns one backup with its parts.
func (q queries) Backup(ctx context.Context, id int64) (berth.Backup, error) {
	b, err := scanBackup(q.queryRow(ctx, "SELECT "+backupColumns+" FROM backups WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return b, notFound("backup", fmt.Sprint(id))
	}
	if err != nil {
		return b, fmt.Errorf("read backup %d: %w", id, dbErr(err))
	}
	if b.Parts, err = q.backupParts(ctx, id); err != nil {
		return b, err
	}
	return b, nil
}

func (q queries) backupParts(ctx context.Context, id int64) ([]berth.BackupPart, error) {
	parts, err := list(ctx, q, func(sc scanner) (berth.BackupPart, error) {
		var p berth.BackupPart
		var tables string
		if err := sc.Scan(&p.Resource, &p.Type, &p.Object, &p.Size, &p.SHA256, &tables); err != nil {
			return p, err
		}
		return p, json.Unmarshal([]byte(tables), &p.Tables)
	}, "SELECT resource, type, object, size, sha256, tables FROM backup_parts WHERE backup_id = ? ORDER BY resource", id)
	if err != nil {
		return nil, fmt.Errorf("read the parts of backup %d: %w", id, dbErr(err))
	}
	return parts, nil
}

// BackupFilter selects backups; empty fields match all. Limit bounds the answer (0: 100).
type BackupFilter struct {
	Team, App, Env string
	State          berth.JobState
	// Kept selects successful backups whose parts are still stored.
	Kept  bool
	Limit int
}

// Backups lists backups newest first, with their parts.
func (q queries) Backups(ctx context.Context, f BackupFilter) ([]berth.Backup, error) {
	where, args := "1 = 1", []any{}
	for _, c := range []struct{ col, v string }{{"team", f.Team}, {"app", f.App}, {"env", f.Env}, {"state", string(f.State)}} {
		if c.v != "" {
			where += " AND " + c.col + " = ?"
			args = append(args, c.v)
		}
	}
	if f.Kept {
		where += " AND state = 'succeeded' AND pruned_at = 0"
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	bs, err := list(ctx, q, scanBackup, "SELECT "+backupColumns+" FROM backups WHERE "+where+" ORDER BY id DESC LIMIT ?", append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list backups: %w", dbErr(err))
	}
	for i := range bs {
		if bs[i].Parts, err = q.backupParts(ctx, bs[i].ID); err != nil {
			return nil, err
		}
	}
	return bs, nil
}

// ClaimBackup gives owner the lease on the oldest backup with work to do: queued, or
// running with an expired lease, with no older one of the same app and environment still
// to do. Each claim counts an attempt; the worker fails a job claimed too often.
func (s *Store) ClaimBackup(ctx context.Context, owner string, lease time.Duration) (berth.Backup, bool, error) {
	var claimed berth.Backup
	var ok bool
	err := s.Tx(ctx, func(tx *Tx) error {
		now := micros(tx.stamp())
		var id int64
		err := tx.queryRow(ctx, `SELECT b.id FROM backups b
			WHERE b.state IN ('queued', 'running') AND b.lease_expires < ?
			  AND NOT EXISTS (SELECT 1 FROM backups o WHERE o.team = b.team AND o.app = b.app AND o.env = b.env
			                  AND o.state IN ('queued', 'running') AND o.id < b.id)
			ORDER BY b.id LIMIT 1`+s.d.forUpdateSkipLocked, now).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("claim backup: %w", err)
		}
		if _, err := tx.exec(ctx, `UPDATE backups SET state = 'running', lease_owner = ?, lease_expires = ?, attempts = attempts + 1,
				started_at = CASE WHEN started_at = 0 THEN ? ELSE started_at END WHERE id = ?`,
			owner, now+lease.Microseconds(), now, id); err != nil {
			return fmt.Errorf("claim backup %d: %w", id, dbErr(err))
		}
		claimed, err = tx.Backup(ctx, id)
		ok = err == nil
		return err
	})
	return claimed, ok, err
}

// renewJobLease extends owner's lease on a running job of table ("backups", "restores" or
// "probe_runs"), or returns ErrLeaseLost.
func (s *Store) renewJobLease(ctx context.Context, table string, id int64, owner string, lease time.Duration) error {
	return s.Tx(ctx, func(tx *Tx) error {
		now := micros(tx.stamp())
		res, err := tx.exec(ctx, "UPDATE "+table+` SET lease_expires = ?
			WHERE id = ? AND lease_owner = ? AND state = 'running' AND lease_expires >= ?`, now+lease.Microseconds(), id, owner, now)
		if err != nil {
			return fmt.Errorf("renew lease on %s %d: %w", jobKinds[table], id, dbErr(err))
		}
		return jobLeaseHeld(res, table, id)
	})
}

// RenewBackupLease extends owner's lease on a running backup, or returns ErrLeaseLost.
func (s *Store) RenewBackupLease(ctx context.Context, id int64, owner string, lease time.Duration) error {
	return s.renewJobLease(ctx, "backups", id, owner, lease)
}

// RenewRestoreLease extends owner's lease on a running restore or drill.
func (s *Store) RenewRestoreLease(ctx context.Context, id int64, owner string, lease time.Duration) error {
	return s.renewJobLease(ctx, "restores", id, owner, lease)
}

// jobKinds names the job a row of each leased table is, for messages.
var jobKinds = map[string]string{"backups": "backup", "restores": "restore", "probe_runs": "probe run"}

// jobLeaseHeld turns an update's count into ErrLeaseLost when its owner no longer held job
// id of table.
func jobLeaseHeld(res sql.Result, table string, id int64) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("%s %d: %w", jobKinds[table], id, berth.ErrLeaseLost)
	}
	return nil
}

// StartBackup records, under owner's lease, the key the backup is sealed with and what it
// holds besides data; the parts of an earlier attempt go.
func (tx *Tx) StartBackup(ctx context.Context, id int64, owner, keyID string, c berth.BackupContents) error {
	contents, err := json.Marshal(c)
	if err != nil {
		return err
	}
	now := micros(tx.stamp())
	res, err := tx.exec(ctx, `UPDATE backups SET key_id = ?, contents = ?, size = 0
		WHERE id = ? AND lease_owner = ? AND state = 'running' AND lease_expires >= ?`, keyID, string(contents), id, owner, now)
	if err != nil {
		return fmt.Errorf("start backup %d: %w", id, dbErr(err))
	}
	if err := jobLeaseHeld(res, "backups", id); err != nil {
		return err
	}
	if _, err := tx.exec(ctx, "DELETE FROM backup_parts WHERE backup_id = ?", id); err != nil {
		return fmt.Errorf("start backup %d: %w", id, dbErr(err))
	}
	return nil
}

// AddBackupPart records a part written to the store, under owner's lease.
func (tx *Tx) AddBackupPart(ctx context.Context, id int64, owner string, p berth.BackupPart) error {
	if err := validateSHA256("sha256", p.SHA256); err != nil {
		return err
	}
	tables, err := json.Marshal(p.Tables)
	if err != nil {
		return err
	}
	now := micros(tx.stamp())
	res, err := tx.exec(ctx, `UPDATE backups SET size = size + ?
		WHERE id = ? AND lease_owner = ? AND state = 'running' AND lease_expires >= ?`, p.Size, id, owner, now)
	if err != nil {
		return fmt.Errorf("backup %d: record part %s: %w", id, p.Resource, dbErr(err))
	}
	if err := jobLeaseHeld(res, "backups", id); err != nil {
		return err
	}
	if _, err := tx.exec(ctx, `INSERT INTO backup_parts (backup_id, resource, type, object, size, sha256, tables)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, id, p.Resource, p.Type, p.Object, p.Size, p.SHA256, string(tables)); err != nil {
		return fmt.Errorf("backup %d: record part %s: %w", id, p.Resource, dbErr(err))
	}
	return nil
}

// FinishBackup ends owner's backup in state with reason, once; it returns the backup.
func (tx *Tx) FinishBackup(ctx context.Context, id int64, owner string, state berth.JobState, reason string) (berth.Backup, error) {
	if !state.Final() {
		return berth.Backup{}, invalid("state", "%q is not a final state", state)
	}
	now := micros(tx.stamp())
	res, err := tx.exec(ctx, `UPDATE backups SET state = ?, reason = ?, finished_at = ?, lease_owner = '', lease_expires = 0
		WHERE id = ? AND lease_owner = ? AND state = 'running' AND lease_expires >= ?`,
		string(state), truncate(reason, 4096), now, id, owner, now)
	if err != nil {
		return berth.Backup{}, fmt.Errorf("finish backup %d: %w", id, dbErr(err))
	}
	if err := jobLeaseHeld(res, "backups", id); err != nil {
		return berth.Backup{}, err
	}
	return tx.Backup(ctx, id)
}

// MarkBackupPruned records that retention is deleting the backup's parts from its store,
// before it does, so that no restore or drill of it is queued meanwhile; one already queued
// or running keeps it (ErrConflict).
func (tx *Tx) MarkBackupPruned(ctx context.Context, id int64) error {
	var busy int
	if err := tx.queryRow(ctx, "SELECT COUNT(*) FROM restores WHERE backup_id = ? AND state IN ('queued', 'running')", id).Scan(&busy); err != nil {
		return fmt.Errorf("mark backup %d pruned: %w", id, dbErr(err))
	}
	if busy > 0 {
		return fmt.Errorf("mark backup %d pruned: %w: %d restores or drills of it are queued or running", id, berth.ErrConflict, busy)
	}
	res, err := tx.exec(ctx, "UPDATE backups SET pruned_at = ? WHERE id = ? AND pruned_at = 0", micros(tx.stamp()), id)
	if err != nil {
		return fmt.Errorf("mark backup %d pruned: %w", id, dbErr(err))
	}
	return mustAffect(res, notFound("kept backup", fmt.Sprint(id)))
}

// NewRestore is a restore or drill to queue.
type NewRestore struct {
	BackupID       int64
	Team, App, Env string
	Drill          bool
	Force          bool
	ToRevision     bool
	Slot           time.Time
	CreatedBy      string
}

const restoreColumns = `id, backup_id, team, app, env, drill, forced, to_revision, state, reason, step, deploy_id, duration, slot,
	created_by, created_at, started_at, finished_at, lease_owner, lease_expires, attempts`

func scanRestore(sc scanner) (berth.Restore, error) {
	var r berth.Restore
	var state string
	var duration, slot, created, started, finished, lease int64
	err := sc.Scan(&r.ID, &r.BackupID, &r.Team, &r.App, &r.Env, &r.Drill, &r.Force, &r.ToRevision, &state, &r.Reason, &r.Step,
		&r.Deploy, &duration, &slot, &r.CreatedBy, &created, &started, &finished, &r.LeaseOwner, &lease, &r.Attempts)
	if err != nil {
		return r, err
	}
	r.State, r.Duration, r.CreatedAt = berth.JobState(state), time.Duration(duration)*time.Microsecond, fromMicros(created)
	r.Slot, r.StartedAt, r.FinishedAt, r.LeaseExpires = optMicros(slot), optMicros(started), optMicros(finished), optMicros(lease)
	return r, nil
}

// EnqueueRestore queues a restore or drill of a successful, kept backup. A scheduled drill
// (Slot set) is queued once per slot: a second call returns the first and false.
func (tx *Tx) EnqueueRestore(ctx context.Context, n NewRestore) (berth.Restore, bool, error) {
	kind := "restore"
	if n.Drill {
		kind = "drill"
	}
	what := fmt.Sprintf("queue a %s of backup %d", kind, n.BackupID)
	if n.CreatedBy == "" {
		return berth.Restore{}, false, fmt.Errorf("%s: %w: no actor", what, berth.ErrInvalid)
	}
	b, err := tx.Backup(ctx, n.BackupID)
	if err != nil {
		return berth.Restore{}, false, fmt.Errorf("%s: %w", what, err)
	}
	switch {
	case b.State != berth.JobSucceeded:
		return berth.Restore{}, false, fmt.Errorf("%s: %w: the backup %s", what, berth.ErrConflict, map[berth.JobState]string{
			berth.JobQueued: "is queued", berth.JobRunning: "is still running", berth.JobFailed: "failed"}[b.State])
	case !b.PrunedAt.IsZero():
		return berth.Restore{}, false, fmt.Errorf("%s: %w: it was pruned by retention on %s", what, berth.ErrConflict, b.PrunedAt.Format(time.DateOnly))
	case b.Team != n.Team || b.App != n.App:
		return berth.Restore{}, false, fmt.Errorf("%s: %w: it is a backup of %s, not of %s", what, berth.ErrInvalid, appKey(b.Team, b.App), appKey(n.Team, n.App))
	}
	if !n.Slot.IsZero() {
		var id int64
		err := tx.queryRow(ctx, "SELECT id FROM restores WHERE team = ? AND app = ? AND env = ? AND slot = ?",
			n.Team, n.App, n.Env, micros(n.Slot)).Scan(&id)
		if err == nil {
			r, err := tx.Restore(ctx, id)
			return r, false, err
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return berth.Restore{}, false, fmt.Errorf("%s: %w", what, dbErr(err))
		}
	}
	var id int64
	err = tx.queryRow(ctx, `INSERT INTO restores (backup_id, team, app, env, drill, forced, to_revision, state, slot, created_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?) RETURNING id`,
		n.BackupID, n.Team, n.App, n.Env, n.Drill, n.Force, n.ToRevision, optToMicros(n.Slot), n.CreatedBy, micros(tx.stamp())).Scan(&id)
	if err != nil {
		return berth.Restore{}, false, fmt.Errorf("%s: %w", what, dbErr(err))
	}
	r, err := tx.Restore(ctx, id)
	return r, true, err
}

// Restore returns one restore or drill.
func (q queries) Restore(ctx context.Context, id int64) (berth.Restore, error) {
	r, err := scanRestore(q.queryRow(ctx, "SELECT "+restoreColumns+" FROM restores WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, notFound("restore", fmt.Sprint(id))
	}
	if err != nil {
		return r, fmt.Errorf("read restore %d: %w", id, dbErr(err))
	}
	return r, nil
}

// RestoreFilter selects restores (Drill false) or drills (Drill true); empty fields match
// all. Limit bounds the answer (0: 100).
type RestoreFilter struct {
	Team, App, Env string
	Drill          bool
	BackupID       int64
	Limit          int
}

// Restores lists restores or drills, newest first.
func (q queries) Restores(ctx context.Context, f RestoreFilter) ([]berth.Restore, error) {
	where, args := "drill = ?", []any{f.Drill}
	for _, c := range []struct{ col, v string }{{"team", f.Team}, {"app", f.App}, {"env", f.Env}} {
		if c.v != "" {
			where += " AND " + c.col + " = ?"
			args = append(args, c.v)
		}
	}
	if f.BackupID != 0 {
		where += " AND backup_id = ?"
		args = append(args, f.BackupID)
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rs, err := list(ctx, q, scanRestore, "SELECT "+restoreColumns+" FROM restores WHERE "+where+" ORDER BY id DESC LIMIT ?", append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list restores: %w", dbErr(err))
	}
	return rs, nil
}

// ClaimRestore gives owner the lease on the oldest restore or drill with work to do, with
// no older one into the same app and environment still to do (restores of one target take
// turns; drills take turns with them, being cheap to wait for).
func (s *Store) ClaimRestore(ctx context.Context, owner string, lease time.Duration) (berth.Restore, bool, error) {
	var claimed berth.Restore
	var ok bool
	err := s.Tx(ctx, func(tx *Tx) error {
		now := micros(tx.stamp())
		var id int64
		err := tx.queryRow(ctx, `SELECT r.id FROM restores r
			WHERE r.state IN ('queued', 'running') AND r.lease_expires < ?
			  AND NOT EXISTS (SELECT 1 FROM restores o WHERE o.team = r.team AND o.app = r.app AND o.env = r.env
			                  AND o.state IN ('queued', 'running') AND o.id < r.id)
			ORDER BY r.id LIMIT 1`+s.d.forUpdateSkipLocked, now).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("claim restore: %w", err)
		}
		if _, err := tx.exec(ctx, `UPDATE restores SET state = 'running', lease_owner = ?, lease_expires = ?, attempts = attempts + 1,
				started_at = CASE WHEN started_at = 0 THEN ? ELSE started_at END WHERE id = ?`,
			owner, now+lease.Microseconds(), now, id); err != nil {
			return fmt.Errorf("claim restore %d: %w", id, dbErr(err))
		}
		claimed, err = tx.Restore(ctx, id)
		ok = err == nil
		return err
	})
	return claimed, ok, err
}

// SetRestoreStep records, under owner's lease, how far the restore got (and the deploy it
// queued, when not 0).
func (tx *Tx) SetRestoreStep(ctx context.Context, id int64, owner, step string, deploy int64) error {
	now := micros(tx.stamp())
	res, err := tx.exec(ctx, `UPDATE restores SET step = ?, deploy_id = CASE WHEN ? = 0 THEN deploy_id ELSE ? END
		WHERE id = ? AND lease_owner = ? AND state = 'running' AND lease_expires >= ?`, step, deploy, deploy, id, owner, now)
	if err != nil {
		return fmt.Errorf("restore %d: record step %s: %w", id, step, dbErr(err))
	}
	return jobLeaseHeld(res, "restores", id)
}

// NoteRestore records, under owner's lease, why the restore's last try failed without
// ending it (a swap that is retried): the reason it ends with if it is given up.
func (tx *Tx) NoteRestore(ctx context.Context, id int64, owner, reason string) error {
	now := micros(tx.stamp())
	res, err := tx.exec(ctx, `UPDATE restores SET reason = ?
		WHERE id = ? AND lease_owner = ? AND state = 'running' AND lease_expires >= ?`, truncate(reason, 4096), id, owner, now)
	if err != nil {
		return fmt.Errorf("restore %d: note: %w", id, dbErr(err))
	}
	return jobLeaseHeld(res, "restores", id)
}

// FailRestore fails a restore or drill nobody holds any more (its lease ran out) with
// reason, once: the answer to a job its servers kept stopping on. False when it had ended.
func (tx *Tx) FailRestore(ctx context.Context, id int64, reason string) (bool, error) {
	now := micros(tx.stamp())
	res, err := tx.exec(ctx, `UPDATE restores SET state = 'failed', reason = ?, finished_at = ?, lease_owner = '', lease_expires = 0
		WHERE id = ? AND state IN ('queued', 'running')`, truncate(reason, 4096), now, id)
	if err != nil {
		return false, fmt.Errorf("fail restore %d: %w", id, dbErr(err))
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// FinishRestore ends owner's restore or drill in state with reason and the measured
// restore time, once.
func (tx *Tx) FinishRestore(ctx context.Context, id int64, owner string, state berth.JobState, reason string, took time.Duration) (berth.Restore, error) {
	if !state.Final() {
		return berth.Restore{}, invalid("state", "%q is not a final state", state)
	}
	now := micros(tx.stamp())
	res, err := tx.exec(ctx, `UPDATE restores SET state = ?, reason = ?, duration = ?, finished_at = ?, lease_owner = '', lease_expires = 0
		WHERE id = ? AND lease_owner = ? AND state = 'running' AND lease_expires >= ?`,
		string(state), truncate(reason, 4096), took.Microseconds(), now, id, owner, now)
	if err != nil {
		return berth.Restore{}, fmt.Errorf("finish restore %d: %w", id, dbErr(err))
	}
	if err := jobLeaseHeld(res, "restores", id); err != nil {
		return berth.Restore{}, err
	}
	return tx.Restore(ctx, id)
}

// SetBackupSchedule creates or replaces the schedule of s.Team/s.App in s.Env. The caller
// has checked the cron expressions and time zone.
func (tx *Tx) SetBackupSchedule(ctx context.Context, s berth.BackupSchedule) error {
	what := fmt.Sprintf("set the backup schedule of %s in %s", appKey(s.Team, s.App), s.Env)
	if err := s.Keep.Validate(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if s.Cron == "" || s.CreatedBy == "" {
		return fmt.Errorf("%s: %w: no cron or actor", what, berth.ErrInvalid)
	}
	keep, err := json.Marshal(s.Keep)
	if err != nil {
		return err
	}
	_, err = tx.exec(ctx, `INSERT INTO backup_schedules (team, app, env, cron, drill, time_zone, keep, stale_after, created_by, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (team, app, env) DO UPDATE SET cron = excluded.cron, drill = excluded.drill, time_zone = excluded.time_zone,
			keep = excluded.keep, stale_after = excluded.stale_after, created_by = excluded.created_by, updated_at = excluded.updated_at`,
		s.Team, s.App, s.Env, s.Cron, s.Drill, s.TimeZone, string(keep), int64(s.StaleAfter/time.Second), s.CreatedBy, micros(tx.stamp()))
	if err != nil {
		return fmt.Errorf("%s: %w", what, dbErr(err))
	}
	return nil
}

const scheduleColumns = "team, app, env, cron, drill, time_zone, keep, stale_after, created_by, updated_at"

func scanBackupSchedule(sc scanner) (berth.BackupSchedule, error) {
	var s berth.BackupSchedule
	var keep string
	var stale, at int64
	if err := sc.Scan(&s.Team, &s.App, &s.Env, &s.Cron, &s.Drill, &s.TimeZone, &keep, &stale, &s.CreatedBy, &at); err != nil {
		return s, err
	}
	s.StaleAfter, s.UpdatedAt = time.Duration(stale)*time.Second, fromMicros(at)
	return s, json.Unmarshal([]byte(keep), &s.Keep)
}

// BackupSchedule returns the schedule of team's app in env.
func (q queries) BackupSchedule(ctx context.Context, team, app, env string) (berth.BackupSchedule, error) {
	s, err := scanBackupSchedule(q.queryRow(ctx, "SELECT "+scheduleColumns+" FROM backup_schedules WHERE team = ? AND app = ? AND env = ?", team, app, env))
	if errors.Is(err, sql.ErrNoRows) {
		return s, notFound("backup schedule of", appKey(team, app)+" in "+env)
	}
	if err != nil {
		return s, fmt.Errorf("read the backup schedule of %s in %s: %w", appKey(team, app), env, dbErr(err))
	}
	return s, nil
}

// BackupSchedules lists every schedule, or team's when team is not "".
func (q queries) BackupSchedules(ctx context.Context, team string) ([]berth.BackupSchedule, error) {
	ss, err := list(ctx, q, scanBackupSchedule, "SELECT "+scheduleColumns+" FROM backup_schedules WHERE ? = '' OR team = ? ORDER BY team, app, env", team, team)
	if err != nil {
		return nil, fmt.Errorf("list backup schedules: %w", dbErr(err))
	}
	return ss, nil
}

// DeleteBackupSchedule removes the schedule of team's app in env.
func (tx *Tx) DeleteBackupSchedule(ctx context.Context, team, app, env string) error {
	res, err := tx.exec(ctx, "DELETE FROM backup_schedules WHERE team = ? AND app = ? AND env = ?", team, app, env)
	if err != nil {
		return fmt.Errorf("delete the backup schedule of %s in %s: %w", appKey(team, app), env, dbErr(err))
	}
	return mustAffect(res, notFound("backup schedule of", appKey(team, app)+" in "+env))
}

// Alarm kinds a schedule remembers having announced.
const (
	AlarmStale = "stale"
	AlarmDrill = "drill"
)

// SetBackupAlarm records what was announced for a schedule: for kind AlarmStale the id of
// the latest backup found stale, for AlarmDrill the id of the failed drill (0 after a
// recovery). It returns false when that was already recorded, so each is announced once.
func (tx *Tx) SetBackupAlarm(ctx context.Context, team, app, env, kind string, id int64) (bool, error) {
	col := map[string]string{AlarmStale: "announced_stale", AlarmDrill: "announced_drill"}[kind]
	if col == "" {
		return false, invalid("kind", "%q is not an alarm", kind)
	}
	res, err := tx.exec(ctx, "UPDATE backup_schedules SET "+col+" = ? WHERE team = ? AND app = ? AND env = ? AND "+col+" <> ?", id, team, app, env, id)
	if err != nil {
		return false, fmt.Errorf("record backup alarm: %w", dbErr(err))
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// BackupStatuses returns, for each app and environment with a backup or a drill, its
// latest successful backup (without parts), latest finished drill and latest passed one.
func (q queries) BackupStatuses(ctx context.Context) ([]berth.BackupStatus, error) {
	type key struct{ team, app, env string }
	byKey := map[key]*berth.BackupStatus{}
	var order []key
	get := func(team, app, env string) *berth.BackupStatus {
		k := key{team, app, env}
		if byKey[k] == nil {
			byKey[k] = &berth.BackupStatus{Team: team, App: app, Env: env}
			order = append(order, k)
		}
		return byKey[k]
	}
	bs, err := list(ctx, q, scanBackup, "SELECT "+backupColumns+` FROM backups b WHERE b.state = 'succeeded'
		AND b.id = (SELECT MAX(o.id) FROM backups o WHERE o.team = b.team AND o.app = b.app AND o.env = b.env AND o.state = 'succeeded')`)
	if err != nil {
		return nil, fmt.Errorf("backup statuses: %w", dbErr(err))
	}
	for _, b := range bs {
		get(b.Team, b.App, b.Env).LastBackup = &b
	}
	for _, passed := range []bool{false, true} {
		states := "('succeeded', 'failed')"
		if passed {
			states = "('succeeded')"
		}
		rs, err := list(ctx, q, scanRestore, "SELECT "+restoreColumns+` FROM restores r WHERE r.drill = ? AND r.state IN `+states+`
			AND r.id = (SELECT MAX(o.id) FROM restores o WHERE o.team = r.team AND o.app = r.app AND o.env = r.env AND o.drill = ? AND o.state IN `+states+`)`, true, true)
		if err != nil {
			return nil, fmt.Errorf("backup statuses: %w", dbErr(err))
		}
		for _, r := range rs {
			st := get(r.Team, r.App, r.Env)
			if passed {
				st.LastPassedDrill = &r
			} else {
				st.LastDrill = &r
			}
		}
	}
	out := make([]berth.BackupStatus, 0, len(order))
	for _, k := range order {
		out = append(out, *byKey[k])
	}
	slices.SortFunc(out, func(a, b berth.BackupStatus) int {
		return cmp.Or(cmp.Compare(a.Team, b.Team), cmp.Compare(a.App, b.App), cmp.Compare(a.Env, b.Env))
	})
	return out, nil
}

// truncate bounds a stored reason to n bytes, at a rune boundary (PostgreSQL refuses
// a cut UTF-8 sequence).
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// scanFunc adapts a function to scanner.
type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }
