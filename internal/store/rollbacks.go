package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/berth-dev/berth/internal/berth"
)

// AutoRollbackOf returns the automatic rollback queued when failed failed, or ErrNotFound.
// The engine queues it in the transaction that finishes failed, so it comes after failed
// among the deploys of the same app and environment, and the lookup stays on their index.
func (q queries) AutoRollbackOf(ctx context.Context, failed berth.Deploy) (berth.Deploy, error) {
	d, err := scanDeploy(q.queryRow(ctx, "SELECT "+deployColumns+deployFrom+
		" WHERE d.app_id = ? AND d.env = ? AND d.id > ? AND d.rollback_of = ? ORDER BY d.id LIMIT 1",
		failed.AppID, failed.Env, failed.ID, failed.ID))
	if errors.Is(err, sql.ErrNoRows) {
		return berth.Deploy{}, notFound("automatic rollback of deploy", fmt.Sprint(failed.ID))
	}
	if err != nil {
		return berth.Deploy{}, fmt.Errorf("automatic rollback of deploy %d: %w", failed.ID, err)
	}
	return d, nil
}
