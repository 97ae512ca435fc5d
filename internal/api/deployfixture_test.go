package api_test

import (
	"context"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// The fixture's deploys move as a worker would move them, straight in the store.

// enqueue queues a deploy straight in the store, as the use cases would.
func (f *fixture) enqueue(nd berth.NewDeploy) berth.Deploy {
	f.t.Helper()
	var d berth.Deploy
	err := f.st.Tx(context.Background(), func(tx *store.Tx) (err error) {
		d, err = tx.EnqueueDeploy(context.Background(), nd)
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return d
}

// claim takes the lease on the next deploy to run, which must be id.
func (f *fixture) claim(id int64) {
	f.t.Helper()
	claimed, ok, err := f.st.ClaimDeploy(context.Background(), "test-worker", time.Minute)
	if err != nil || !ok || claimed.ID != id {
		f.t.Fatalf("claimed deploy %d (%v, %v), want %d", claimed.ID, ok, err, id)
	}
}

// finish runs the queued deploy id to state as a worker would: claimed, its objects
// stored, one progress event, finished.
func (f *fixture) finish(id int64, state berth.DeployState, reason string) berth.Deploy {
	f.t.Helper()
	ctx := context.Background()
	f.claim(id)
	var fin berth.Deploy
	err := f.st.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.SetDeployObjects(ctx, id, "test-worker", []byte(`[{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"reports"}}]`)); err != nil {
			return err
		}
		if _, err := tx.AddDeployEvent(ctx, berth.DeployEvent{DeployID: id, Phase: string(state), Desired: 1}); err != nil {
			return err
		}
		var err error
		fin, err = tx.FinishDeploy(ctx, id, "test-worker", state, reason)
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return fin
}
