package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// testFreezeWindows: inside a freeze window of its environment a deploy is refused (a
// FrozenError, an ErrConflict) but an emergency, which says why and is audited, and an
// automatic rollback; other environments, and the same one outside the window, deploy;
// a deploy leaving its approval is checked again; windows are listed until they end and
// deleted at once.
func testFreezeWindows(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	seed(t, st, []string{"web"}, []string{"ann"})
	var now time.Time
	tx(t, st, func(tx *store.Tx) error {
		a, err := tx.CreateApp(ctx, "web", "shop", "ann")
		if err != nil {
			return err
		}
		now = a.CreatedAt
		for _, e := range []string{"staging", "production"} {
			if _, err := tx.CreateEnvironment(ctx, berth.Environment{Name: e, InCluster: true}); err != nil {
				return err
			}
		}
		_, err = tx.AddRevision(ctx, "web", "shop", "apiVersion: berth.dev/v1\nmetadata: {name: shop}\n", "ann")
		return err
	})
	add := func(w berth.FreezeWindow) (berth.FreezeWindow, error) {
		var out berth.FreezeWindow
		err := txErr(t, st, func(tx *store.Tx) (err error) { out, err = tx.AddFreezeWindow(ctx, w); return err })
		return out, err
	}
	w, err := add(berth.FreezeWindow{Env: "production", Start: now.Add(-time.Hour), End: now.Add(24 * time.Hour), Reason: "launch week", CreatedBy: "ann"})
	must(t, "AddFreezeWindow", err)
	_, err = add(berth.FreezeWindow{Env: "production", Start: now, End: now.Add(-time.Minute), Reason: "backwards"})
	wantErr(t, "an end before the start", err, berth.ErrInvalid)
	_, err = add(berth.FreezeWindow{Env: "nowhere", Start: now, End: now.Add(time.Hour), Reason: "x"})
	wantErr(t, "an environment that does not exist", err, berth.ErrNotFound)
	later, err := add(berth.FreezeWindow{Env: "staging", Start: now.Add(48 * time.Hour), End: now.Add(72 * time.Hour), Reason: "later"})
	must(t, "a later window", err)

	enqueue := func(env string, kind berth.DeployKind, emergency string) (berth.Deploy, error) {
		var d berth.Deploy
		err := txErr(t, st, func(tx *store.Tx) (err error) {
			d, err = tx.EnqueueDeploy(ctx, berth.NewDeploy{Team: "web", App: "shop", Env: env, Revision: 1, Kind: kind, CreatedBy: "ann",
				Options: berth.DeployOptions{Emergency: emergency}})
			return err
		})
		return d, err
	}
	_, err = enqueue("production", berth.KindDeploy, "")
	var frozen *berth.FrozenError
	if !errors.As(err, &frozen) || !errors.Is(err, berth.ErrConflict) || frozen.Window.ID != w.ID {
		t.Errorf("a deploy inside the window: %v", err)
	}
	_, err = enqueue("staging", berth.KindDeploy, "")
	must(t, "another environment (its window is later)", err)
	_, err = enqueue("production", berth.KindAutoRollback, "")
	must(t, "an automatic rollback", err)
	d, err := enqueue("production", berth.KindDeploy, "the checkout is down")
	must(t, "an emergency", err)
	equal(t, "its reason, kept", d.Options.Emergency, "the checkout is down")
	events, err := st.ListAudit(ctx, berth.AuditFilter{Actor: "ann"})
	must(t, "ListAudit", err)
	if len(events) != 1 || events[0].Action != "deploy.emergency" || events[0].Details["reason"] != "the checkout is down" {
		t.Errorf("the emergency's audit event: %+v", events)
	}

	// An approval is checked again when the deploy leaves it.
	var waiting berth.Deploy
	tx(t, st, func(tx *store.Tx) error {
		var err error
		waiting, err = tx.EnqueueDeploy(ctx, berth.NewDeploy{Team: "web", App: "shop", Env: "staging", Revision: 1, Kind: berth.KindPromotion,
			CreatedBy: "ann", AwaitApproval: true})
		return err
	})
	_, err = add(berth.FreezeWindow{Env: "staging", Start: now.Add(-time.Minute), End: now.Add(time.Hour), Reason: "now"})
	must(t, "freeze staging now", err)
	err = txErr(t, st, func(tx *store.Tx) error { _, err := tx.CheckFreeze(ctx, waiting); return err })
	wantErr(t, "an approval inside the window", err, berth.ErrConflict)

	ws, err := st.FreezeWindows(ctx, "", now)
	must(t, "FreezeWindows", err)
	equal(t, "windows not over", len(ws), 3)
	var gone berth.FreezeWindow
	tx(t, st, func(tx *store.Tx) (err error) { gone, err = tx.DeleteFreezeWindow(ctx, w.ID); return err })
	equal(t, "deleted", gone.Reason, "launch week")
	_, err = enqueue("production", berth.KindDeploy, "")
	must(t, "once the window is deleted", err)
	ws, _ = st.FreezeWindows(ctx, "staging", now.Add(100*time.Hour))
	equal(t, "none over by then", len(ws), 0)
	_ = later
}
