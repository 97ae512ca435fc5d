package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

func seedApps(t *testing.T, st *store.Store, apps ...string) {
	t.Helper()
	seed(t, st, []string{"web"}, []string{"ann"})
	tx(t, st, func(tx *store.Tx) error {
		for _, a := range apps {
			if _, err := tx.CreateApp(t.Context(), "web", a, "ann"); err != nil {
				return err
			}
			if _, err := tx.AddRevision(t.Context(), "web", a, "apiVersion: berth.dev/v1\n", "ann"); err != nil {
				return err
			}
		}
		return nil
	})
}

func enqueue(t *testing.T, st *store.Store, nd berth.NewDeploy) berth.Deploy {
	t.Helper()
	var d berth.Deploy
	tx(t, st, func(tx *store.Tx) (err error) {
		if nd.Team == "" {
			nd.Team = "web"
		}
		if nd.Kind == "" {
			nd.Kind = berth.KindDeploy
		}
		if nd.Revision == 0 {
			nd.Revision = 1
		}
		nd.CreatedBy = "ann"
		d, err = tx.EnqueueDeploy(t.Context(), nd)
		return err
	})
	return d
}

func claim(t *testing.T, st *store.Store, owner string) (berth.Deploy, bool) {
	t.Helper()
	d, ok, err := st.ClaimDeploy(t.Context(), owner, time.Minute)
	must(t, "ClaimDeploy", err)
	return d, ok
}

// testDeployLifecycle: queued -> claimed (running, leased) -> finished exactly once, with
// objects stored by content and events in order.
func testDeployLifecycle(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	seedApps(t, st, "api")
	d := enqueue(t, st, berth.NewDeploy{App: "api", Env: "staging", Args: map[string]string{"version": "1.2"},
		Options: berth.DeployOptions{ForceConflicts: true}})
	if d.State != berth.DeployQueued || d.Args["version"] != "1.2" || !d.Options.ForceConflicts || d.Team != "web" {
		t.Fatalf("enqueued %+v", d)
	}
	got, ok := claim(t, st, "w1")
	if !ok || got.ID != d.ID || got.State != berth.DeployRunning || got.LeaseOwner != "w1" || got.Attempts != 1 {
		t.Fatalf("claimed %+v, %v", got, ok)
	}
	if _, ok := claim(t, st, "w2"); ok {
		t.Fatal("a leased deploy was claimed twice")
	}
	var digest string
	tx(t, st, func(tx *store.Tx) (err error) {
		digest, err = tx.SetDeployObjects(ctx, d.ID, "w1", []byte(`[{"kind":"Deployment"}]`))
		return err
	})
	if digest != store.ObjectsDigest([]byte(`[{"kind":"Deployment"}]`)) {
		t.Errorf("digest %s", digest)
	}
	objs, err := st.Objects(ctx, digest)
	must(t, "Objects", err)
	equal(t, "Objects", string(objs), `[{"kind":"Deployment"}]`)
	for _, phase := range []string{"applying", "progressing", "available"} {
		_, err := st.AddDeployEvent(ctx, berth.DeployEvent{DeployID: d.ID, Phase: phase, Desired: 3})
		must(t, "AddDeployEvent", err)
	}
	evs, err := st.DeployEvents(ctx, d.ID, 0)
	must(t, "DeployEvents", err)
	if len(evs) != 3 || evs[2].Phase != "available" {
		t.Fatalf("events %+v", evs)
	}
	later, err := st.DeployEvents(ctx, d.ID, evs[0].ID)
	must(t, "DeployEvents after", err)
	if len(later) != 2 {
		t.Errorf("events after %d: %d", evs[0].ID, len(later))
	}

	wantErr(t, "finish by another worker", txErr(t, st, func(tx *store.Tx) error {
		_, err := tx.FinishDeploy(ctx, d.ID, "w2", berth.DeploySucceeded, "")
		return err
	}), berth.ErrLeaseLost)
	tx(t, st, func(tx *store.Tx) error {
		fin, err := tx.FinishDeploy(ctx, d.ID, "w1", berth.DeploySucceeded, "available")
		if err == nil && (fin.State != berth.DeploySucceeded || fin.FinishedAt.IsZero()) {
			err = fmt.Errorf("finished %+v", fin)
		}
		return err
	})
	wantErr(t, "finish twice", txErr(t, st, func(tx *store.Tx) error {
		_, err := tx.FinishDeploy(ctx, d.ID, "w1", berth.DeployFailed, "")
		return err
	}), berth.ErrLeaseLost)
	final, err := st.Deploy(ctx, d.ID)
	must(t, "Deploy", err)
	if final.State != berth.DeploySucceeded || final.ObjectsDigest != digest {
		t.Errorf("final %+v", final)
	}
	last, err := st.LastSucceeded(ctx, d.AppID, "staging", 0)
	must(t, "LastSucceeded", err)
	equal(t, "LastSucceeded", last.ID, d.ID)
	_, err = st.LastSucceeded(ctx, d.AppID, "production", 0)
	wantErr(t, "LastSucceeded elsewhere", err, berth.ErrNotFound)
}

// testDeployOrdering: one app and environment deploy in queue order, one at a time; other
// apps and environments do not wait.
func testDeployOrdering(t *testing.T, h *harness) {
	st := h.store(t)
	seedApps(t, st, "api", "web")
	a1 := enqueue(t, st, berth.NewDeploy{App: "api", Env: "staging"})
	a2 := enqueue(t, st, berth.NewDeploy{App: "api", Env: "staging"})
	p1 := enqueue(t, st, berth.NewDeploy{App: "api", Env: "production"})
	w1 := enqueue(t, st, berth.NewDeploy{App: "web", Env: "staging"})
	var got []int64
	for {
		d, ok := claim(t, st, "w")
		if !ok {
			break
		}
		got = append(got, d.ID)
	}
	equal(t, "claimed while a1 runs", got, []int64{a1.ID, p1.ID, w1.ID})
	tx(t, st, func(tx *store.Tx) error {
		_, err := tx.FinishDeploy(t.Context(), a1.ID, "w", berth.DeployFailed, "boom")
		return err
	})
	d, ok := claim(t, st, "w")
	if !ok || d.ID != a2.ID {
		t.Fatalf("after a1 finished claimed %v %v, want %d", d.ID, ok, a2.ID)
	}
}

// testDeployLeaseExpiry: a worker that dies loses its deploy to another after the lease,
// and can then neither renew nor finish it.
func testDeployLeaseExpiry(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	seedApps(t, st, "api")
	d := enqueue(t, st, berth.NewDeploy{App: "api", Env: "staging"})
	claim(t, st, "dead")
	must(t, "RenewLease", st.RenewLease(ctx, d.ID, "dead", time.Minute))
	tx(t, st, func(tx *store.Tx) error {
		return tx.SetDeploySmoke(ctx, d.ID, "dead", berth.SmokeRun{Revision: 1, Passed: true, Results: []berth.SmokeResult{{Name: "GET /", Passed: true}}})
	})
	if got, err := st.Deploy(ctx, d.ID); err != nil || got.Smoke == nil || got.Smoke.Results[0].Name != "GET /" {
		t.Fatalf("stored smoke results: %+v %v", got.Smoke, err)
	}
	h.clock.Advance(2 * time.Minute)
	wantErr(t, "renew expired", st.RenewLease(ctx, d.ID, "dead", time.Minute), berth.ErrLeaseLost)
	got, ok := claim(t, st, "alive")
	if !ok || got.ID != d.ID || got.Attempts != 2 || got.LeaseOwner != "alive" {
		t.Fatalf("reclaimed %+v %v", got, ok)
	}
	if got.Smoke != nil {
		t.Errorf("a new attempt keeps the smoke results of the last: %+v", got.Smoke)
	}
	wantErr(t, "dead worker stores smoke results", txErr(t, st, func(tx *store.Tx) error {
		return tx.SetDeploySmoke(ctx, d.ID, "dead", berth.SmokeRun{})
	}), berth.ErrLeaseLost)
	wantErr(t, "dead worker finishes", txErr(t, st, func(tx *store.Tx) error {
		_, err := tx.FinishDeploy(ctx, d.ID, "dead", berth.DeploySucceeded, "")
		return err
	}), berth.ErrLeaseLost)
	wantErr(t, "dead worker stores objects", txErr(t, st, func(tx *store.Tx) error {
		_, err := tx.SetDeployObjects(ctx, d.ID, "dead", []byte("[]"))
		return err
	}), berth.ErrLeaseLost)
	wantErr(t, "dead worker checks lease", txErr(t, st, func(tx *store.Tx) error { return tx.CheckLease(ctx, d.ID, "dead") }), berth.ErrLeaseLost)
	tx(t, st, func(tx *store.Tx) error { return tx.CheckLease(ctx, d.ID, "alive") })
}

// testDeployBatchConcurrency: a batch never has more than its concurrency running.
func testDeployBatchConcurrency(t *testing.T, h *harness) {
	st := h.store(t)
	seedApps(t, st, "a", "b", "c", "d")
	var batch int64
	tx(t, st, func(tx *store.Tx) (err error) {
		batch, err = tx.CreateBatch(t.Context(), "web", 2, "ann")
		return err
	})
	for _, a := range []string{"a", "b", "c", "d"} {
		enqueue(t, st, berth.NewDeploy{App: a, Env: "staging", Kind: berth.KindRedeploy, BatchID: batch})
	}
	var running []berth.Deploy
	for {
		d, ok := claim(t, st, "w")
		if !ok {
			break
		}
		running = append(running, d)
	}
	if len(running) != 2 {
		t.Fatalf("claimed %d of a batch with concurrency 2", len(running))
	}
	tx(t, st, func(tx *store.Tx) error {
		_, err := tx.FinishDeploy(t.Context(), running[0].ID, "w", berth.DeploySucceeded, "")
		return err
	})
	if _, ok := claim(t, st, "w"); !ok {
		t.Fatal("a finished deploy did not free a batch slot")
	}
	ds, err := st.Deploys(t.Context(), store.DeployFilter{BatchID: batch, States: []berth.DeployState{berth.DeployRunning}})
	must(t, "Deploys", err)
	equal(t, "running in batch", len(ds), 2)
}

// testConcurrentClaims: many workers claiming at once never share a deploy.
func testConcurrentClaims(t *testing.T, h *harness) {
	st := h.store(t)
	var apps []string
	for i := range 20 {
		apps = append(apps, fmt.Sprintf("app-%d", i))
	}
	seedApps(t, st, apps...)
	for _, a := range apps {
		enqueue(t, st, berth.NewDeploy{App: a, Env: "staging"})
	}
	other := h.open(t, h.dsn)
	var mu sync.Mutex
	seen := map[int64]string{}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			s := st
			if w%2 == 1 {
				s = other
			}
			owner := fmt.Sprintf("w%d", w)
			for {
				d, ok, err := s.ClaimDeploy(t.Context(), owner, time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if !ok {
					return
				}
				mu.Lock()
				if prev, dup := seen[d.ID]; dup {
					t.Errorf("deploy %d claimed by %s and %s", d.ID, prev, owner)
				}
				seen[d.ID] = owner
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	equal(t, "claimed", len(seen), 20)
}

// testLatestDeploys: per app and environment, the newest deploy of any state and the
// newest successful one, filtered by team.
func testLatestDeploys(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	seedApps(t, st, "api", "web")
	finish := func(d berth.Deploy, state berth.DeployState) {
		t.Helper()
		got, ok := claim(t, st, "w")
		if !ok || got.ID != d.ID {
			t.Fatalf("claimed %+v, %v; want deploy %d", got, ok, d.ID)
		}
		tx(t, st, func(tx *store.Tx) error {
			_, err := tx.FinishDeploy(ctx, d.ID, "w", state, "")
			return err
		})
	}
	a1 := enqueue(t, st, berth.NewDeploy{App: "api", Env: "staging"})
	finish(a1, berth.DeploySucceeded)
	a2 := enqueue(t, st, berth.NewDeploy{App: "api", Env: "staging"})
	finish(a2, berth.DeployFailed)
	a3 := enqueue(t, st, berth.NewDeploy{App: "api", Env: "production"})
	finish(a3, berth.DeploySucceeded)
	w1 := enqueue(t, st, berth.NewDeploy{App: "web", Env: "staging"}) // still queued

	ids := func(ds []berth.Deploy) []string {
		var out []string
		for _, d := range ds {
			out = append(out, fmt.Sprintf("%s/%s=%d", d.App, d.Env, d.ID))
		}
		return out
	}
	latest, err := st.LatestDeploys(ctx, "web", false)
	must(t, "LatestDeploys", err)
	want := []string{fmt.Sprintf("api/production=%d", a3.ID), fmt.Sprintf("api/staging=%d", a2.ID), fmt.Sprintf("web/staging=%d", w1.ID)}
	if got := ids(latest); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("latest = %v, want %v", got, want)
	}
	good, err := st.LatestDeploys(ctx, "", true)
	must(t, "LatestDeploys succeeded", err)
	want = []string{fmt.Sprintf("api/production=%d", a3.ID), fmt.Sprintf("api/staging=%d", a1.ID)}
	if got := ids(good); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("latest succeeded = %v, want %v", got, want)
	}
	other, err := st.LatestDeploys(ctx, "nobody", false)
	must(t, "LatestDeploys other team", err)
	if len(other) != 0 {
		t.Errorf("another team's overview has %v", ids(other))
	}
}
