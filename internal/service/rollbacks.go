package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// rollbackSource picks the deploy whose objects a rollback of team's app in env re-applies:
// the last successful deploy of revision to, or with to == 0 the last successful deploy
// before the current one (the newest successful deploy). The latter is two lookups on the
// deploys' index, however long the app's history.
func rollbackSource(ctx context.Context, tx *store.Tx, team, app, env string, to int64) (berth.Deploy, error) {
	a, err := tx.App(ctx, team, app) // a missing app (or team) is a not-found error
	if err != nil {
		return berth.Deploy{}, err
	}
	if to == 0 {
		cur, err := tx.LastSucceeded(ctx, a.ID, env, 0)
		if err == nil {
			var prev berth.Deploy
			if prev, err = tx.LastSucceeded(ctx, a.ID, env, cur.ID); err == nil {
				return prev, nil
			}
		}
		if errors.Is(err, berth.ErrNotFound) {
			return berth.Deploy{}, invalid("to", "%s/%s has no earlier successful deploy in %s to roll back to", team, app, env)
		}
		return berth.Deploy{}, err
	}
	good, err := tx.Deploys(ctx, store.DeployFilter{Team: team, App: app, Env: env, States: []berth.DeployState{berth.DeploySucceeded}})
	if err != nil {
		return berth.Deploy{}, err
	}
	for _, g := range good {
		if g.Revision == to {
			return g, nil
		}
	}
	return berth.Deploy{}, invalid("to", "%s/%s has no successful deploy of revision %d in %s", team, app, to, env)
}

// AutoRollback returns the automatic rollback the engine queued when deploy id failed, or
// ErrNotFound: what a client that watched the deploy fail follows next.
func (s *Service) AutoRollback(ctx context.Context, p *authz.Principal, id int64) (berth.Deploy, error) {
	d, err := s.GetDeploy(ctx, p, id)
	if err != nil {
		return berth.Deploy{}, err
	}
	rb, err := s.st.AutoRollbackOf(ctx, d)
	if errors.Is(err, berth.ErrNotFound) {
		return berth.Deploy{}, fmt.Errorf("deploy %d has no automatic rollback: %w", id, berth.ErrNotFound)
	}
	return rb, storeErr(err)
}
