package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/berth-dev/berth/internal/berth"
)

// SetDeployImages records the digests owner's running deploy found for its images.
func (tx *Tx) SetDeployImages(ctx context.Context, id int64, owner string, images map[string]string) error {
	b, err := json.Marshal(images)
	if err != nil {
		return err
	}
	res, err := tx.exec(ctx, `UPDATE deploys SET images = ? WHERE id = ? AND lease_owner = ? AND state = 'running'`, string(b), id, owner)
	if err != nil {
		return fmt.Errorf("deploy %d: record image digests: %w", id, dbErr(err))
	}
	return leaseHeld(res, id)
}

// Approval returns the approval of a deploy that asked for one.
func (q queries) Approval(ctx context.Context, deployID int64) (berth.Approval, error) {
	a := berth.Approval{DeployID: deployID}
	var requested int64
	var decided sql.NullInt64
	err := q.queryRow(ctx, `SELECT requested_by, requested_at, decision, decided_by, decided_at, reason FROM approvals WHERE deploy_id = ?`,
		deployID).Scan(&a.RequestedBy, &requested, &a.Decision, &a.DecidedBy, &decided, &a.Reason)
	if errors.Is(err, sql.ErrNoRows) {
		return a, notFound("approval of deploy", fmt.Sprint(deployID))
	}
	if err != nil {
		return a, fmt.Errorf("get approval of deploy %d: %w", deployID, dbErr(err))
	}
	a.RequestedAt, a.DecidedAt = fromMicros(requested), fromNullMicros(decided)
	return a, nil
}

// DecideApproval approves (the deploy is queued) or rejects (it fails with the reason) a
// deploy awaiting approval, once: a deploy not awaiting one is berth.ErrConflict.
func (tx *Tx) DecideApproval(ctx context.Context, deployID int64, decision, by, reason string) (berth.Deploy, error) {
	if decision != berth.Approved && decision != berth.Rejected {
		return berth.Deploy{}, invalid("decision", "%q: want approved or rejected", decision)
	}
	if err := validateProse("reason", reason, 1000); err != nil {
		return berth.Deploy{}, err
	}
	if decision == berth.Approved {
		// Approved, it runs under its id: after a newer deploy of the app there, it would
		// run over what came later and sort before it in the history.
		var newer int64
		err := tx.queryRow(ctx, `SELECT COALESCE(MAX(o.id), 0) FROM deploys o JOIN deploys d ON d.app_id = o.app_id AND d.env = o.env
			WHERE d.id = ? AND o.id > d.id AND o.state <> ?`, deployID, berth.DeployAwaiting).Scan(&newer)
		if err != nil {
			return berth.Deploy{}, fmt.Errorf("decide on deploy %d: %w", deployID, dbErr(err))
		}
		if newer != 0 {
			return berth.Deploy{}, fmt.Errorf("deploy %d came to the same app and environment after deploy %d: reject this one and promote again: %w",
				newer, deployID, berth.ErrConflict)
		}
	}
	now := micros(tx.stamp())
	state, why, finished := berth.DeployQueued, "", any(nil)
	if decision == berth.Rejected {
		state, why, finished = berth.DeployFailed, fmt.Sprintf("rejected by %s: %s", by, reason), now
	}
	res, err := tx.exec(ctx, `UPDATE deploys SET state = ?, reason = ?, finished_at = ? WHERE id = ? AND state = ?`,
		state, why, finished, deployID, berth.DeployAwaiting)
	if err != nil {
		return berth.Deploy{}, fmt.Errorf("decide on deploy %d: %w", deployID, dbErr(err))
	}
	if n, _ := res.RowsAffected(); n != 1 {
		d, err := tx.Deploy(ctx, deployID)
		if err != nil {
			return berth.Deploy{}, err
		}
		return berth.Deploy{}, fmt.Errorf("deploy %d is %s, not awaiting approval: %w", deployID, d.State, berth.ErrConflict)
	}
	if _, err := tx.exec(ctx, `UPDATE approvals SET decision = ?, decided_by = ?, decided_at = ?, reason = ? WHERE deploy_id = ?`,
		decision, by, now, reason, deployID); err != nil {
		return berth.Deploy{}, fmt.Errorf("decide on deploy %d: %w", deployID, dbErr(err))
	}
	return tx.Deploy(ctx, deployID)
}
