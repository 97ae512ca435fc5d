package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/berth-dev/berth/internal/berth"
)

const (
	deployColumns = `d.id, d.app_id, t.name, a.name, d.env, d.revision, d.kind, d.args, d.options,
		d.source_deploy, d.rollback_of, d.batch_id, d.objects_digest, d.state, d.reason, d.created_by,
		d.created_at, d.started_at, d.finished_at, d.lease_owner, d.lease_expires, d.attempts, d.smoke,
		d.images, d.promoted_from`
	deployFrom = " FROM deploys d JOIN apps a ON a.id = d.app_id JOIN teams t ON t.id = a.team_id"
)

// storedOptions is the stored form of a deploy's options (the column options, JSON).
type storedOptions struct {
	ForceConflicts bool   `json:"forceConflicts,omitempty"`
	NoAutoRollback bool   `json:"noAutoRollback,omitempty"`
	Refresh        bool   `json:"refresh,omitempty"`
	TimeoutSeconds int    `json:"timeoutSeconds,omitempty"`
	Emergency      string `json:"emergency,omitempty"`
}

func scanDeploy(sc scanner) (berth.Deploy, error) {
	var d berth.Deploy
	var args, opts, smoke, images string
	var source, rollbackOf, batch, started, finished, promoted sql.NullInt64
	var created, lease int64
	err := sc.Scan(&d.ID, &d.AppID, &d.Team, &d.App, &d.Env, &d.Revision, &d.Kind, &args, &opts,
		&source, &rollbackOf, &batch, &d.ObjectsDigest, &d.State, &d.Reason, &d.CreatedBy,
		&created, &started, &finished, &d.LeaseOwner, &lease, &d.Attempts, &smoke, &images, &promoted)
	if err != nil {
		return d, err
	}
	d.PromotedFrom = promoted.Int64
	if images != "" {
		if err := json.Unmarshal([]byte(images), &d.Images); err != nil {
			return d, fmt.Errorf("deploy %d: images: %w", d.ID, err)
		}
	}
	if smoke != "" {
		d.Smoke = &berth.SmokeRun{}
		if err := json.Unmarshal([]byte(smoke), d.Smoke); err != nil {
			return d, fmt.Errorf("deploy %d: smoke results: %w", d.ID, err)
		}
	}
	if err := json.Unmarshal([]byte(args), &d.Args); err != nil {
		return d, fmt.Errorf("deploy %d: args: %w", d.ID, err)
	}
	var o storedOptions
	if err := json.Unmarshal([]byte(opts), &o); err != nil {
		return d, fmt.Errorf("deploy %d: options: %w", d.ID, err)
	}
	d.Options = berth.DeployOptions(o)
	d.SourceDeploy, d.RollbackOf, d.BatchID = source.Int64, rollbackOf.Int64, batch.Int64
	d.CreatedAt, d.StartedAt, d.FinishedAt = fromMicros(created), fromNullMicros(started), fromNullMicros(finished)
	if lease > 0 {
		d.LeaseExpires = fromMicros(lease)
	}
	return d, nil
}

func nullID(id int64) any {
	if id == 0 {
		return nil
	}
	return id
}

// EnqueueDeploy stores a queued deploy. Workers claim deploys of one app and environment
// in the order they were queued.
func (tx *Tx) EnqueueDeploy(ctx context.Context, nd berth.NewDeploy) (berth.Deploy, error) {
	key := appKey(nd.Team, nd.App)
	if err := berth.ValidateName("env", nd.Env); err != nil {
		return berth.Deploy{}, fmt.Errorf("queue deploy of %q: %w", key, err)
	}
	if !nd.Kind.Valid() {
		return berth.Deploy{}, fmt.Errorf("queue deploy of %q: %w", key, invalid("kind", "%q is not a deploy kind", nd.Kind))
	}
	if nd.Args == nil {
		nd.Args = map[string]string{}
	}
	args, err := json.Marshal(nd.Args)
	if err != nil {
		return berth.Deploy{}, err
	}
	opts, err := json.Marshal(storedOptions(nd.Options))
	if err != nil {
		return berth.Deploy{}, err
	}
	images := ""
	if len(nd.Images) > 0 {
		b, err := json.Marshal(nd.Images)
		if err != nil {
			return berth.Deploy{}, err
		}
		images = string(b)
	}
	app, err := tx.App(ctx, nd.Team, nd.App)
	if err != nil {
		return berth.Deploy{}, fmt.Errorf("queue deploy: %w", err)
	}
	frozen, err := tx.checkFreeze(ctx, nd)
	if err != nil {
		return berth.Deploy{}, fmt.Errorf("queue deploy of %q: %w", key, err)
	}
	state, now := berth.DeployQueued, micros(tx.stamp())
	if nd.AwaitApproval {
		state = berth.DeployAwaiting
	}
	var id int64
	err = tx.queryRow(ctx, `INSERT INTO deploys (app_id, env, revision, kind, args, options, source_deploy,
			rollback_of, batch_id, state, created_by, created_at, images, promoted_from)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		app.ID, nd.Env, nd.Revision, nd.Kind, string(args), string(opts), nullID(nd.SourceDeploy),
		nullID(nd.RollbackOf), nullID(nd.BatchID), state, nd.CreatedBy, now, images, nullID(nd.PromotedFrom)).Scan(&id)
	if err != nil {
		return berth.Deploy{}, fmt.Errorf("queue deploy of %q: %w", key, dbErr(err))
	}
	if nd.AwaitApproval {
		if _, err := tx.exec(ctx, `INSERT INTO approvals (deploy_id, requested_by, requested_at) VALUES (?, ?, ?)`,
			id, nd.CreatedBy, now); err != nil {
			return berth.Deploy{}, fmt.Errorf("queue deploy of %q: %w", key, dbErr(err))
		}
	}
	if frozen != nil {
		if _, err := tx.AppendAudit(ctx, berth.AuditEvent{Actor: nd.CreatedBy, Action: "deploy.emergency",
			Target: berth.AppTarget(nd.Team, nd.App, nd.Env), Team: nd.Team, App: nd.App, Outcome: berth.OutcomeSuccess,
			Details: map[string]any{"deploy": id, "reason": nd.Options.Emergency, "freezeWindow": frozen.ID, "kind": string(nd.Kind)}}); err != nil {
			return berth.Deploy{}, err
		}
	}
	return tx.Deploy(ctx, id)
}

// CreateBatch starts a group of deploys (a team redeploy) of which at most concurrency run
// at once.
func (tx *Tx) CreateBatch(ctx context.Context, team string, concurrency int, createdBy string) (int64, error) {
	if concurrency < 1 {
		return 0, invalid("concurrency", "must be at least 1")
	}
	var id int64
	err := tx.queryRow(ctx, `INSERT INTO deploy_batches (team_id, concurrency, created_by, created_at)
		SELECT id, ?, ?, ? FROM teams WHERE name = ? RETURNING id`,
		concurrency, createdBy, micros(tx.stamp()), team).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, notFound("team", team)
	}
	if err != nil {
		return 0, fmt.Errorf("create batch for team %q: %w", team, dbErr(err))
	}
	return id, nil
}

// Deploy returns the deploy with id.
func (q queries) Deploy(ctx context.Context, id int64) (berth.Deploy, error) {
	d, err := scanDeploy(q.queryRow(ctx, "SELECT "+deployColumns+deployFrom+" WHERE d.id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return berth.Deploy{}, notFound("deploy", fmt.Sprint(id))
	}
	if err != nil {
		return berth.Deploy{}, fmt.Errorf("get deploy %d: %w", id, err)
	}
	return d, nil
}

// DeployFilter selects deploys; zero fields match everything.
type DeployFilter struct {
	Team, App, Env string
	BatchID        int64
	// States, when set, keeps only deploys in these states.
	States []berth.DeployState
	Limit  int
}

// Deploys returns the deploys f selects, newest first.
func (q queries) Deploys(ctx context.Context, f DeployFilter) ([]berth.Deploy, error) {
	query := "SELECT " + deployColumns + deployFrom + " WHERE 1=1"
	var args []any
	for _, c := range []struct {
		col string
		val string
	}{{"t.name", f.Team}, {"a.name", f.App}, {"d.env", f.Env}} {
		if c.val != "" {
			query += " AND " + c.col + " = ?"
			args = append(args, c.val)
		}
	}
	if f.BatchID != 0 {
		query += " AND d.batch_id = ?"
		args = append(args, f.BatchID)
	}
	if len(f.States) > 0 {
		query += " AND d.state IN (?" + repeat(",?", len(f.States)-1) + ")"
		for _, s := range f.States {
			args = append(args, s)
		}
	}
	query += " ORDER BY d.id DESC"
	if f.Limit > 0 {
		query += " LIMIT ?"
		args = append(args, f.Limit)
	}
	ds, err := list(ctx, q, scanDeploy, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list deploys: %w", err)
	}
	return ds, nil
}

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}

// LatestDeploys returns, for each app (of team, or of every team when team is "") and
// environment it was ever deployed to, the newest deploy — or with succeeded the newest
// successful one — ordered by team, app and environment. It is one query for an overview
// of many apps.
func (q queries) LatestDeploys(ctx context.Context, team string, succeeded bool) ([]berth.Deploy, error) {
	inner := "SELECT MAX(x.id) FROM deploys x"
	var args []any
	if succeeded {
		inner += " WHERE x.state = ?"
		args = append(args, berth.DeploySucceeded)
	}
	query := "SELECT " + deployColumns + deployFrom + " WHERE d.id IN (" + inner + " GROUP BY x.app_id, x.env)"
	if team != "" {
		query += " AND t.name = ?"
		args = append(args, team)
	}
	query += " ORDER BY t.name, a.name, d.env"
	ds, err := list(ctx, q, scanDeploy, query, args...)
	if err != nil {
		return nil, fmt.Errorf("latest deploys: %w", err)
	}
	return ds, nil
}

// LastSucceeded returns the newest succeeded deploy of an app in env with an id below
// before (0: any), or ErrNotFound.
func (q queries) LastSucceeded(ctx context.Context, appID int64, env string, before int64) (berth.Deploy, error) {
	if before == 0 {
		before = 1<<62 - 1
	}
	d, err := scanDeploy(q.queryRow(ctx, "SELECT "+deployColumns+deployFrom+
		" WHERE d.app_id = ? AND d.env = ? AND d.state = ? AND d.id < ? ORDER BY d.id DESC LIMIT 1",
		appID, env, berth.DeploySucceeded, before))
	if errors.Is(err, sql.ErrNoRows) {
		return berth.Deploy{}, notFound("succeeded deploy", fmt.Sprintf("app %d in %s", appID, env))
	}
	return d, err
}

// ClaimDeploy gives owner the lease on the next deploy to run, or returns false when there
// is none. A deploy is claimable when it is queued, or running under an expired lease (its
// worker died), and no older unfinished deploy of the same app and environment exists — so
// deploys of one app and environment run one at a time, in order — and its batch has fewer
// than its concurrency running. Each claim counts an attempt.
func (s *Store) ClaimDeploy(ctx context.Context, owner string, lease time.Duration) (berth.Deploy, bool, error) {
	var claimed berth.Deploy
	var ok bool
	err := s.Tx(ctx, func(tx *Tx) error {
		now := micros(tx.stamp())
		var id int64
		err := tx.queryRow(ctx, `SELECT d.id FROM deploys d
			WHERE d.state IN ('queued', 'running') AND d.lease_expires < ?
			  AND NOT EXISTS (SELECT 1 FROM deploys o WHERE o.app_id = d.app_id AND o.env = d.env
			                  AND o.state IN ('queued', 'running') AND o.id < d.id)
			  AND NOT EXISTS (SELECT 1 FROM deploys o WHERE o.app_id = d.app_id AND o.env = d.env AND o.id <> d.id
			                  AND o.state = 'running' AND o.lease_expires >= ?)
			  AND (d.batch_id IS NULL OR
			       (SELECT COUNT(*) FROM deploys r WHERE r.batch_id = d.batch_id AND r.state = 'running'
			        AND r.lease_expires >= ?) <
			       (SELECT b.concurrency FROM deploy_batches b WHERE b.id = d.batch_id))
			ORDER BY d.id LIMIT 1`+s.d.forUpdateSkipLocked, now, now, now).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("claim deploy: %w", err)
		}
		// A new attempt runs every stage again: the smoke results of an earlier one go.
		if _, err := tx.exec(ctx, `UPDATE deploys SET state = 'running', lease_owner = ?, lease_expires = ?,
				attempts = attempts + 1, started_at = COALESCE(started_at, ?), smoke = '' WHERE id = ?`,
			owner, now+lease.Microseconds(), now, id); err != nil {
			return fmt.Errorf("claim deploy %d: %w", id, dbErr(err))
		}
		if claimed, err = tx.Deploy(ctx, id); err != nil {
			return err
		}
		ok = true
		return nil
	})
	return claimed, ok, err
}

// RenewLease extends owner's lease on a running deploy, or returns ErrLeaseLost.
func (s *Store) RenewLease(ctx context.Context, id int64, owner string, lease time.Duration) error {
	return s.Tx(ctx, func(tx *Tx) error {
		now := micros(tx.stamp())
		res, err := tx.exec(ctx, `UPDATE deploys SET lease_expires = ?
			WHERE id = ? AND lease_owner = ? AND state = 'running' AND lease_expires >= ?`,
			now+lease.Microseconds(), id, owner, now)
		if err != nil {
			return fmt.Errorf("renew lease on deploy %d: %w", id, dbErr(err))
		}
		return leaseHeld(res, id)
	})
}

func leaseHeld(res sql.Result, id int64) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("deploy %d: %w", id, berth.ErrLeaseLost)
	}
	return nil
}

// CheckLease returns ErrLeaseLost unless owner holds a valid lease on the running deploy.
func (tx *Tx) CheckLease(ctx context.Context, id int64, owner string) error {
	var n int
	err := tx.queryRow(ctx, `SELECT COUNT(*) FROM deploys WHERE id = ? AND lease_owner = ? AND state = 'running'
		AND lease_expires >= ?`, id, owner, micros(tx.stamp())).Scan(&n)
	if err != nil {
		return fmt.Errorf("check lease on deploy %d: %w", id, err)
	}
	if n != 1 {
		return fmt.Errorf("deploy %d: %w", id, berth.ErrLeaseLost)
	}
	return nil
}

// FinishDeploy moves owner's running deploy to its final state, once: a second call, or a
// call by a worker that lost the lease, returns ErrLeaseLost and changes nothing.
func (tx *Tx) FinishDeploy(ctx context.Context, id int64, owner string, state berth.DeployState, reason string) (berth.Deploy, error) {
	if !state.Final() {
		return berth.Deploy{}, invalid("state", "%q is not a final state", state)
	}
	if len(reason) > 4096 {
		reason = reason[:4096]
	}
	now := micros(tx.stamp())
	res, err := tx.exec(ctx, `UPDATE deploys SET state = ?, reason = ?, finished_at = ?, lease_owner = '', lease_expires = 0
		WHERE id = ? AND lease_owner = ? AND state = 'running'`, state, reason, now, id, owner)
	if err != nil {
		return berth.Deploy{}, fmt.Errorf("finish deploy %d: %w", id, dbErr(err))
	}
	if err := leaseHeld(res, id); err != nil {
		return berth.Deploy{}, err
	}
	return tx.Deploy(ctx, id)
}

// FailQueued fails a deploy that never ran (its app or environment went away), once.
func (tx *Tx) FailQueued(ctx context.Context, id int64, reason string) error {
	_, err := tx.exec(ctx, `UPDATE deploys SET state = 'failed', reason = ?, finished_at = ? WHERE id = ? AND state = 'queued'`,
		reason, micros(tx.stamp()), id)
	return dbErr(err)
}

// ObjectsDigest returns the content address of rendered objects.
func ObjectsDigest(content []byte) string {
	sum := sha256.Sum256(content)
	return hex.EncodeToString(sum[:])
}

// SetDeployObjects stores the objects a deploy renders (once per content) and records
// their digest on the deploy, while owner holds its lease.
func (tx *Tx) SetDeployObjects(ctx context.Context, id int64, owner string, content []byte) (string, error) {
	digest := ObjectsDigest(content)
	if _, err := tx.exec(ctx, `INSERT INTO rendered_objects (digest, content) VALUES (?, ?)
		ON CONFLICT (digest) DO NOTHING`, digest, string(content)); err != nil {
		return "", fmt.Errorf("store objects of deploy %d: %w", id, dbErr(err))
	}
	res, err := tx.exec(ctx, `UPDATE deploys SET objects_digest = ? WHERE id = ? AND lease_owner = ? AND state = 'running'`,
		digest, id, owner)
	if err != nil {
		return "", fmt.Errorf("store objects of deploy %d: %w", id, dbErr(err))
	}
	return digest, leaseHeld(res, id)
}

// SetDeploySmoke records the smoke tests a running deploy ran, if owner still holds it.
func (tx *Tx) SetDeploySmoke(ctx context.Context, id int64, owner string, run berth.SmokeRun) error {
	data, err := json.Marshal(run)
	if err != nil {
		return err
	}
	res, err := tx.exec(ctx, `UPDATE deploys SET smoke = ? WHERE id = ? AND lease_owner = ? AND state = 'running'`,
		string(data), id, owner)
	if err != nil {
		return fmt.Errorf("store smoke results of deploy %d: %w", id, dbErr(err))
	}
	return leaseHeld(res, id)
}

// Objects returns the rendered objects stored under digest.
func (q queries) Objects(ctx context.Context, digest string) ([]byte, error) {
	var content string
	err := q.queryRow(ctx, "SELECT content FROM rendered_objects WHERE digest = ?", digest).Scan(&content)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("rendered objects", digest)
	}
	if err != nil {
		return nil, fmt.Errorf("get objects %s: %w", digest, err)
	}
	return []byte(content), nil
}

// AddDeployEvent appends a progress event to a deploy.
func (s *Store) AddDeployEvent(ctx context.Context, ev berth.DeployEvent) (berth.DeployEvent, error) {
	err := s.Tx(ctx, func(tx *Tx) error {
		var err error
		ev, err = tx.AddDeployEvent(ctx, ev)
		return err
	})
	return ev, err
}

// AddDeployEvent appends a progress event to a deploy, inside a transaction.
func (tx *Tx) AddDeployEvent(ctx context.Context, ev berth.DeployEvent) (berth.DeployEvent, error) {
	if len(ev.Message) > 4096 {
		ev.Message = ev.Message[:4096]
	}
	ev.At = tx.stamp()
	err := tx.queryRow(ctx, `INSERT INTO deploy_events (deploy_id, at, phase, message, desired, updated, ready, available)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		ev.DeployID, micros(ev.At), ev.Phase, ev.Message, ev.Desired, ev.Updated, ev.Ready, ev.Available).Scan(&ev.ID)
	if err != nil {
		return ev, fmt.Errorf("add event to deploy %d: %w", ev.DeployID, dbErr(err))
	}
	return ev, nil
}

// DeployEvents returns a deploy's events with ids above after, oldest first.
func (q queries) DeployEvents(ctx context.Context, deployID, after int64) ([]berth.DeployEvent, error) {
	return list(ctx, q, func(sc scanner) (berth.DeployEvent, error) {
		var ev berth.DeployEvent
		var at int64
		err := sc.Scan(&ev.ID, &ev.DeployID, &at, &ev.Phase, &ev.Message, &ev.Desired, &ev.Updated, &ev.Ready, &ev.Available)
		ev.At = fromMicros(at)
		return ev, err
	}, `SELECT id, deploy_id, at, phase, message, desired, updated, ready, available FROM deploy_events
		WHERE deploy_id = ? AND id > ? ORDER BY id`, deployID, after)
}
