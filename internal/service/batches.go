package service

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// BatchDeploys returns the deploys of a batch (a team redeploy) in the order they were
// queued. Reading them needs what reading any of the team's deploys needs.
func (s *Service) BatchDeploys(ctx context.Context, p *authz.Principal, id int64) ([]berth.Deploy, error) {
	ds, err := s.st.Deploys(ctx, store.DeployFilter{BatchID: id})
	if err != nil {
		return nil, storeErr(err)
	}
	if len(ds) == 0 {
		// An unknown batch, or one that queued nothing: either way nothing to show.
		return nil, fmt.Errorf("batch %d has no deploys: %w", id, berth.ErrNotFound)
	}
	// A batch is one team's.
	if err := authz.Check(p, authz.AppRead, authz.Resource{Team: ds[0].Team}); err != nil {
		return nil, err
	}
	slices.Reverse(ds) // the store lists newest first
	return ds, nil
}

// FollowBatch calls fn with each deploy of a batch once it has reached a final state, as
// they end, until all have, and returns them all as last read. It polls the store like
// FollowDeploy, but with one query per tick for the whole batch rather than one deploy's
// events: a team redeploy may hold a thousand deploys.
func (s *Service) FollowBatch(ctx context.Context, p *authz.Principal, id int64, fn func(berth.Deploy) error) ([]berth.Deploy, error) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	told := map[int64]bool{}
	for {
		ds, err := s.BatchDeploys(ctx, p, id)
		if err != nil {
			return ds, err
		}
		done := true
		for _, d := range ds {
			if !d.State.Final() {
				done = false
				continue
			}
			if !told[d.ID] {
				if err := fn(d); err != nil {
					return ds, err
				}
				told[d.ID] = true
			}
		}
		if done {
			return ds, nil
		}
		select {
		case <-ctx.Done():
			return ds, ctx.Err()
		case <-tick.C:
		}
	}
}
