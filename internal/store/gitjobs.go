package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/berth-dev/berth/internal/berth"
)

const (
	gitJobColumns = `j.id, t.name, a.name, j.forge, j.delivery, j.event, j.state, j.reason, j.deploy_id,
		j.created_at, j.updated_at, j.lease_owner, j.lease_expires, j.attempts`
	gitJobFrom = " FROM git_jobs j JOIN apps a ON a.id = j.app_id JOIN teams t ON t.id = a.team_id"
)

func scanGitJob(sc scanner) (berth.GitJob, error) {
	var j berth.GitJob
	var forge, event string
	var deploy sql.NullInt64
	var created, updated, lease int64
	err := sc.Scan(&j.ID, &j.Team, &j.App, &forge, &j.Delivery, &event, &j.State, &j.Reason, &deploy,
		&created, &updated, &j.LeaseOwner, &lease, &j.Attempts)
	if err != nil {
		return j, err
	}
	if err := json.Unmarshal([]byte(event), &j.Event); err != nil {
		return j, fmt.Errorf("git job %d: event: %w", j.ID, err)
	}
	j.Forge, j.Deploy = berth.Forge(forge), deploy.Int64
	j.CreatedAt, j.UpdatedAt = fromMicros(created), fromMicros(updated)
	if lease > 0 {
		j.LeaseExpires = fromMicros(lease)
	}
	return j, nil
}

// EnqueueGitJob queues the work forge's delivery asks of team's app. It belongs in the
// transaction that took the delivery (TakeDelivery), so a delivery is acted on once.
func (tx *Tx) EnqueueGitJob(ctx context.Context, team, app string, forge berth.Forge, delivery string, ev berth.GitEvent) (berth.GitJob, error) {
	key := appKey(team, app)
	if !forge.Valid() {
		return berth.GitJob{}, invalid("forge", "%q is not a forge", forge)
	}
	if err := validateText("delivery", delivery, 200); err != nil {
		return berth.GitJob{}, err
	}
	event, err := json.Marshal(ev)
	if err != nil {
		return berth.GitJob{}, err
	}
	var appID int64
	err = tx.queryRow(ctx, `SELECT a.id FROM apps a JOIN teams t ON t.id = a.team_id WHERE t.name = ? AND a.name = ?`,
		team, app).Scan(&appID)
	if errors.Is(err, sql.ErrNoRows) {
		return berth.GitJob{}, fmt.Errorf("queue git job: %w", tx.missingApp(ctx, team, app))
	}
	if err != nil {
		return berth.GitJob{}, fmt.Errorf("queue git job of %q: %w", key, dbErr(err))
	}
	now := micros(tx.stamp())
	var id int64
	if err := tx.queryRow(ctx, `INSERT INTO git_jobs (app_id, forge, delivery, event, state, created_at, updated_at)
		VALUES (?, ?, ?, ?, 'queued', ?, ?) RETURNING id`, appID, string(forge), delivery, string(event), now, now).Scan(&id); err != nil {
		return berth.GitJob{}, fmt.Errorf("queue git job of %q: %w", key, dbErr(err))
	}
	return tx.GitJob(ctx, id)
}

// GitJob returns one git job.
func (q queries) GitJob(ctx context.Context, id int64) (berth.GitJob, error) {
	j, err := scanGitJob(q.queryRow(ctx, "SELECT "+gitJobColumns+gitJobFrom+" WHERE j.id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return j, notFound("git job", fmt.Sprint(id))
	}
	if err != nil {
		return j, fmt.Errorf("get git job %d: %w", id, dbErr(err))
	}
	return j, nil
}

// GitJobs returns team's app's git jobs, newest first, at most limit (0: 100).
func (q queries) GitJobs(ctx context.Context, team, app string, limit int) ([]berth.GitJob, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	js, err := list(ctx, q, scanGitJob, "SELECT "+gitJobColumns+gitJobFrom+
		" WHERE t.name = ? AND a.name = ? ORDER BY j.id DESC LIMIT ?", team, app, limit)
	if err != nil {
		return nil, fmt.Errorf("list git jobs of %q: %w", appKey(team, app), dbErr(err))
	}
	return js, nil
}

// ClaimGitJob gives owner the lease on the next git job with work to do, or returns false
// when there is none: a queued job (or a running one whose worker's lease ran out) whose
// app has no older job still to act on — so an app's deliveries are acted on in the order
// they came — or a deploying job whose deploy has ended. Each claim counts an attempt;
// a claimed job keeps its state (running or deploying), which says which work is left.
func (s *Store) ClaimGitJob(ctx context.Context, owner string, lease time.Duration) (berth.GitJob, bool, error) {
	var claimed berth.GitJob
	var ok bool
	err := s.Tx(ctx, func(tx *Tx) error {
		now := micros(tx.stamp())
		var id int64
		err := tx.queryRow(ctx, `SELECT j.id FROM git_jobs j
			WHERE j.lease_expires < ? AND (
			  (j.state IN ('queued', 'running') AND NOT EXISTS (SELECT 1 FROM git_jobs o WHERE o.app_id = j.app_id
			      AND o.state IN ('queued', 'running') AND o.id < j.id))
			  OR (j.state = 'deploying' AND NOT EXISTS (SELECT 1 FROM deploys d WHERE d.id = j.deploy_id
			      AND d.state IN ('queued', 'running'))))
			ORDER BY j.id LIMIT 1`+s.d.forUpdateSkipLocked, now).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("claim git job: %w", err)
		}
		if _, err := tx.exec(ctx, `UPDATE git_jobs SET state = CASE WHEN state = 'queued' THEN 'running' ELSE state END,
				lease_owner = ?, lease_expires = ?, attempts = attempts + 1, updated_at = ? WHERE id = ?`,
			owner, now+lease.Microseconds(), now, id); err != nil {
			return fmt.Errorf("claim git job %d: %w", id, dbErr(err))
		}
		if claimed, err = tx.GitJob(ctx, id); err != nil {
			return err
		}
		ok = true
		return nil
	})
	return claimed, ok, err
}

// gitLeaseHeld turns an update's count into ErrLeaseLost when owner no longer held job id.
func gitLeaseHeld(res sql.Result, id int64) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("git job %d: %w", id, berth.ErrLeaseLost)
	}
	return nil
}

// GitJobDeploying records that owner's running job queued deploy, and lets the job go until
// the deploy ends; its attempts count again from there, for reporting the end. It belongs in the transaction that queued the deploy.
func (tx *Tx) GitJobDeploying(ctx context.Context, id int64, owner string, deploy int64) error {
	now := micros(tx.stamp())
	res, err := tx.exec(ctx, `UPDATE git_jobs SET state = 'deploying', deploy_id = ?, lease_owner = '', lease_expires = 0, attempts = 0, updated_at = ?
		WHERE id = ? AND lease_owner = ? AND state = 'running' AND lease_expires >= ?`, deploy, now, id, owner, now)
	if err != nil {
		return fmt.Errorf("git job %d: record deploy %d: %w", id, deploy, dbErr(err))
	}
	return gitLeaseHeld(res, id)
}

// FinishGitJob ends owner's job in state (done or failed) with reason, once: a second call,
// or one by a worker that lost the lease, returns ErrLeaseLost and changes nothing.
func (tx *Tx) FinishGitJob(ctx context.Context, id int64, owner string, state berth.GitJobState, reason string) (berth.GitJob, error) {
	if !state.Final() {
		return berth.GitJob{}, invalid("state", "%q is not a final state", state)
	}
	if len(reason) > 4096 {
		reason = reason[:4096]
	}
	now := micros(tx.stamp())
	res, err := tx.exec(ctx, `UPDATE git_jobs SET state = ?, reason = ?, lease_owner = '', lease_expires = 0, updated_at = ?
		WHERE id = ? AND lease_owner = ? AND state IN ('running', 'deploying') AND lease_expires >= ?`,
		string(state), reason, now, id, owner, now)
	if err != nil {
		return berth.GitJob{}, fmt.Errorf("finish git job %d: %w", id, dbErr(err))
	}
	if err := gitLeaseHeld(res, id); err != nil {
		return berth.GitJob{}, err
	}
	return tx.GitJob(ctx, id)
}

// DeferGitJob lets owner's running or deploying job go for now, to be claimed again after
// wait, with reason saying what failed (a forge that did not answer, a lost connection).
func (tx *Tx) DeferGitJob(ctx context.Context, id int64, owner, reason string, wait time.Duration) error {
	if len(reason) > 4096 {
		reason = reason[:4096]
	}
	now := micros(tx.stamp())
	res, err := tx.exec(ctx, `UPDATE git_jobs SET reason = ?, lease_owner = '', lease_expires = ?, updated_at = ?
		WHERE id = ? AND lease_owner = ? AND state IN ('running', 'deploying') AND lease_expires >= ?`,
		reason, now+wait.Microseconds(), now, id, owner, now)
	if err != nil {
		return fmt.Errorf("defer git job %d: %w", id, dbErr(err))
	}
	return gitLeaseHeld(res, id)
}

// PruneGitHistory deletes the webhook deliveries received before before, and the git jobs
// that ended before it; it returns how many of each. A delivery pruned is no longer known
// as taken: a replay of one that old finds its branch moved on (the job then deploys
// nothing), which is what bounds the table.
func (s *Store) PruneGitHistory(ctx context.Context, before time.Time) (deliveries, jobs int64, err error) {
	err = s.Tx(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `DELETE FROM hook_deliveries WHERE received_at < ?`, micros(before))
		if err != nil {
			return fmt.Errorf("prune webhook deliveries: %w", dbErr(err))
		}
		deliveries, _ = res.RowsAffected()
		res, err = tx.exec(ctx, `DELETE FROM git_jobs WHERE state IN ('done', 'failed') AND updated_at < ?`, micros(before))
		if err != nil {
			return fmt.Errorf("prune git jobs: %w", dbErr(err))
		}
		jobs, _ = res.RowsAffected()
		return nil
	})
	return deliveries, jobs, err
}
