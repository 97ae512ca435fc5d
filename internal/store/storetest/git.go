package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/seal"
	"github.com/berth-dev/berth/internal/store"
)

// testRepoConnections: an app's repository connection is stored with its token and webhook
// secret sealed (never in plain text), found by forge and OWNER/NAME for deliveries,
// replaced by a second connect, covered by key rotation, refused when malformed, and gone
// with the app or by a disconnect.
func testRepoConnections(t *testing.T, h *harness) {
	h.key = newKey(t)
	st, ctx := h.store(t), t.Context()
	seedSettingApps(t, st)
	const token, secret = "gitea-token-9f8e7d6c5b4a", "hook-secret-0123456789abcdef"
	web := berth.AppRepo{Team: "shop", App: "web", Forge: berth.ForgeGitea, URL: "http://127.0.0.1:3000/shop/monorepo.git",
		Path: "web/berth.yaml", Branch: "main", CreatedBy: "ann"}
	api := web
	api.App, api.Path = "api", "api/berth.yaml"
	connect := func(r berth.AppRepo, sec berth.RepoSecrets) error {
		return txErr(t, st, func(tx *store.Tx) error {
			_, err := tx.ConnectRepo(ctx, r, sec)
			return err
		})
	}
	must(t, "connect web", connect(web, berth.RepoSecrets{Token: token, HookSecret: secret}))
	must(t, "connect api", connect(api, berth.RepoSecrets{Token: token, HookSecret: "another-secret-000000"}))
	if dump := dumpTables(t, st, "app_repos"); bytes.Contains(dump, []byte(token)) || bytes.Contains(dump, []byte(secret)) {
		t.Fatal("a connection's token or webhook secret is stored in plain text")
	}
	got, err := st.AppRepo(ctx, "shop", "web")
	must(t, "AppRepo", err)
	equal(t, "connection", [5]any{got.Forge, got.Repo, got.Path, got.Branch, got.CreatedBy},
		[5]any{berth.ForgeGitea, "shop/monorepo", "web/berth.yaml", "main", "ann"})
	conns, err := st.RepoConnections(ctx, berth.ForgeGitea, "shop/monorepo")
	must(t, "RepoConnections", err)
	equal(t, "apps of the monorepo", len(conns), 2)
	if other, err := st.RepoConnections(ctx, berth.ForgeGitHub, "shop/monorepo"); err != nil || len(other) != 0 {
		t.Errorf("the same repository on another forge: %v %v", other, err)
	}
	sec, err := st.RepoSecrets(ctx, "shop", "web")
	must(t, "RepoSecrets", err)
	equal(t, "secrets", sec, berth.RepoSecrets{Token: token, HookSecret: secret})

	// A second connect replaces the first.
	moved := web
	moved.URL, moved.Branch = "https://git.example.com/shop/web", "trunk"
	must(t, "reconnect", connect(moved, berth.RepoSecrets{Token: "t2-0000", HookSecret: "s2-0000"}))
	got, err = st.AppRepo(ctx, "shop", "web")
	must(t, "AppRepo", err)
	equal(t, "replaced", [2]string{got.Repo, got.Branch}, [2]string{"shop/web", "trunk"})

	// Malformed connections change nothing.
	for _, bad := range []struct {
		name string
		r    berth.AppRepo
		sec  berth.RepoSecrets
		want error
	}{
		{"forge", berth.AppRepo{Team: "shop", App: "web", Forge: "gitlab", URL: web.URL, Path: "a", Branch: "main"}, sec, berth.ErrInvalid},
		{"url", berth.AppRepo{Team: "shop", App: "web", Forge: "gitea", URL: "ftp://x/a/b", Path: "a", Branch: "main"}, sec, berth.ErrInvalid},
		{"credentials in url", berth.AppRepo{Team: "shop", App: "web", Forge: "gitea", URL: "http://u:p@x/a/b", Path: "a", Branch: "main"}, sec, berth.ErrInvalid},
		{"path", berth.AppRepo{Team: "shop", App: "web", Forge: "gitea", URL: web.URL, Path: "../etc/passwd", Branch: "main"}, sec, berth.ErrInvalid},
		{"branch", berth.AppRepo{Team: "shop", App: "web", Forge: "gitea", URL: web.URL, Path: "a", Branch: "a..b"}, sec, berth.ErrInvalid},
		{"no token", berth.AppRepo{Team: "shop", App: "web", Forge: "gitea", URL: web.URL, Path: "a", Branch: "main"}, berth.RepoSecrets{}, berth.ErrInvalid},
		{"no app", berth.AppRepo{Team: "shop", App: "nope", Forge: "gitea", URL: web.URL, Path: "a", Branch: "main", CreatedBy: "ann"}, sec, berth.ErrNotFound},
	} {
		wantErr(t, bad.name, connect(bad.r, bad.sec), bad.want)
	}
	got, _ = st.AppRepo(ctx, "shop", "web")
	equal(t, "unchanged by refusals", got.Repo, "shop/web")

	// Key rotation re-seals connections; the old key opens them no more.
	next := newKey(t)
	var n int
	tx(t, st, func(tx *store.Tx) (err error) {
		n, err = tx.RotateSecretsKey(ctx, next)
		return err
	})
	equal(t, "re-sealed", n, 2)
	if _, err := st.RepoSecrets(ctx, "shop", "web"); !errors.As(err, new(*seal.WrongKeyError)) {
		t.Fatalf("RepoSecrets with the old key after rotation: %v", err)
	}
	st.UseSecretsKey(next)
	if sec, err := st.RepoSecrets(ctx, "shop", "web"); err != nil || sec.Token != "t2-0000" {
		t.Fatalf("RepoSecrets with the new key: %v", err)
	}
	must(t, "CheckSecretsKey", st.CheckSecretsKey(ctx))

	// Disconnect; a deleted app's connection goes with it.
	tx(t, st, func(tx *store.Tx) error { return tx.DisconnectRepo(ctx, "shop", "web") })
	_, err = st.AppRepo(ctx, "shop", "web")
	wantErr(t, "after disconnect", err, berth.ErrNotFound)
	wantErr(t, "second disconnect", txErr(t, st, func(tx *store.Tx) error { return tx.DisconnectRepo(ctx, "shop", "web") }), berth.ErrNotFound)
	tx(t, st, func(tx *store.Tx) error { return tx.DeleteApp(ctx, "shop", "api") })
	if conns, err := st.RepoConnections(ctx, berth.ForgeGitea, "shop/monorepo"); err != nil || len(conns) != 0 {
		t.Errorf("connections after the app was deleted: %v %v", conns, err)
	}
}

// testHookDeliveries: a delivery id is taken once per forge; a second time is a replay.
func testHookDeliveries(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	takeBody := func(forge berth.Forge, id, body string) error {
		return txErr(t, st, func(tx *store.Tx) error { return tx.TakeDelivery(ctx, forge, id, bodySum(body)) })
	}
	take := func(forge berth.Forge, id string) error { return takeBody(forge, id, id) }
	must(t, "first", take(berth.ForgeGitea, "d-1"))
	wantErr(t, "replay", take(berth.ForgeGitea, "d-1"), berth.ErrConflict)
	wantErr(t, "the same body under another id", takeBody(berth.ForgeGitea, "d-9", "d-1"), berth.ErrConflict)
	must(t, "same id on another forge", take(berth.ForgeGitHub, "d-1"))
	wantErr(t, "no id", take(berth.ForgeGitea, ""), berth.ErrInvalid)
	wantErr(t, "unknown forge", take("gitlab", "d-2"), berth.ErrInvalid)
	wantErr(t, "no body sum", txErr(t, st, func(tx *store.Tx) error { return tx.TakeDelivery(ctx, berth.ForgeGitea, "d-3", "") }), berth.ErrInvalid)
}

// testGitJobs: a delivery's jobs are queued with the delivery, claimed under a lease in the
// order they came per app, handed on to a deploy (and claimable again only when it ended),
// deferred with a reason, reclaimed after a dead worker's lease, and finished once.
func testGitJobs(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	seedApps(t, st, "api", "web")
	ev := berth.GitEvent{Kind: berth.GitPush, Repo: "web/mono", Ref: "refs/heads/main", Branch: "main",
		SHA: "0123456789abcdef0123456789abcdef01234567"}
	queue := func(app, delivery string) berth.GitJob {
		t.Helper()
		var j berth.GitJob
		tx(t, st, func(tx *store.Tx) (err error) {
			if err := tx.TakeDelivery(ctx, berth.ForgeGitea, delivery, bodySum(delivery)); err != nil {
				return err
			}
			j, err = tx.EnqueueGitJob(ctx, "web", app, berth.ForgeGitea, delivery, ev)
			return err
		})
		return j
	}
	claimJob := func(owner string) (berth.GitJob, bool) {
		t.Helper()
		j, ok, err := st.ClaimGitJob(ctx, owner, time.Minute)
		must(t, "ClaimGitJob", err)
		return j, ok
	}
	first, second, other := queue("api", "d-1"), queue("api", "d-2"), queue("web", "d-3")
	equal(t, "queued", [4]any{first.State, first.Event, first.Forge, first.Delivery}, [4]any{berth.GitJobQueued, ev, berth.ForgeGitea, "d-1"})

	// A delivery whose job can't be queued takes nothing: the transaction is one.
	wantErr(t, "job of a missing app", txErr(t, st, func(tx *store.Tx) error {
		if err := tx.TakeDelivery(ctx, berth.ForgeGitea, "d-4", bodySum("d-4")); err != nil {
			return err
		}
		_, err := tx.EnqueueGitJob(ctx, "web", "nope", berth.ForgeGitea, "d-4", ev)
		return err
	}), berth.ErrNotFound)
	must(t, "d-4 still untaken", txErr(t, st, func(tx *store.Tx) error { return tx.TakeDelivery(ctx, berth.ForgeGitea, "d-4", bodySum("d-4")) }))

	j, ok := claimJob("w1")
	equal(t, "first claim", [4]any{ok, j.ID, j.State, j.Attempts}, [4]any{true, first.ID, berth.GitJobRunning, 1})
	j, ok = claimJob("w2")
	equal(t, "the app's next job waits; another app's does not", [2]any{ok, j.ID}, [2]any{true, other.ID})
	if j, ok := claimJob("w3"); ok {
		t.Fatalf("claimed %+v while every claimable job is held", j)
	}

	// The first job queues a deploy: the job waits for it, and the app's next job is free.
	d := enqueue(t, st, berth.NewDeploy{App: "api", Env: "staging"})
	tx(t, st, func(tx *store.Tx) error { return tx.GitJobDeploying(ctx, first.ID, "w1", d.ID) })
	wantErr(t, "deploying twice", txErr(t, st, func(tx *store.Tx) error { return tx.GitJobDeploying(ctx, first.ID, "w1", d.ID) }), berth.ErrLeaseLost)
	j, ok = claimJob("w3")
	equal(t, "next job of the app", [2]any{ok, j.ID}, [2]any{true, second.ID})
	if j, ok := claimJob("w4"); ok {
		t.Fatalf("claimed %+v while its deploy runs", j)
	}
	dd, _ := claim(t, st, "deployer")
	tx(t, st, func(tx *store.Tx) error {
		_, err := tx.FinishDeploy(ctx, dd.ID, "deployer", berth.DeploySucceeded, "available")
		return err
	})
	j, ok = claimJob("w4")
	equal(t, "the deploy ended: the job is claimable", [4]any{ok, j.ID, j.State, j.Deploy}, [4]any{true, first.ID, berth.GitJobDeploying, d.ID})
	done, err := finishJob(st, j.ID, "w4", berth.GitJobDone, "deploy succeeded")
	must(t, "finish", err)
	equal(t, "done", [2]any{done.State, done.Reason}, [2]any{berth.GitJobDone, "deploy succeeded"})
	_, err = finishJob(st, j.ID, "w4", berth.GitJobFailed, "again")
	wantErr(t, "finish twice", err, berth.ErrLeaseLost)
	_, err = finishJob(st, second.ID, "w3", berth.GitJobQueued, "")
	wantErr(t, "finish in a state that is not final", err, berth.ErrInvalid)

	// Deferred: not claimable until the wait ends, with its reason kept.
	tx(t, st, func(tx *store.Tx) error {
		return tx.DeferGitJob(ctx, second.ID, "w3", "gitea did not answer", 30*time.Second)
	})
	if j, ok := claimJob("w5"); ok {
		t.Fatalf("claimed deferred %+v", j)
	}
	h.clock.Advance(31 * time.Second)
	j, ok = claimJob("w5")
	equal(t, "after the wait", [4]any{ok, j.ID, j.Attempts, j.Reason}, [4]any{true, second.ID, 2, "gitea did not answer"})

	// A dead worker's lease runs out; the job is claimed again and the dead worker can't
	// touch it.
	h.clock.Advance(2 * time.Minute)
	j, ok = claimJob("w6")
	if !ok || j.LeaseOwner != "w6" {
		t.Fatalf("reclaim after lease expiry: %+v %v", j, ok)
	}
	_, err = finishJob(st, j.ID, "w5", berth.GitJobDone, "")
	wantErr(t, "dead worker finishes", err, berth.ErrLeaseLost)
	wantErr(t, "dead worker defers", txErr(t, st, func(tx *store.Tx) error { return tx.DeferGitJob(ctx, j.ID, "w5", "", time.Second) }), berth.ErrLeaseLost)

	jobs, err := st.GitJobs(ctx, "web", "api", 0)
	must(t, "GitJobs", err)
	equal(t, "jobs of api, newest first", [2]int64{jobs[0].ID, jobs[1].ID}, [2]int64{second.ID, first.ID})

	// Pruning: deliveries received before the cut, and jobs that ended before it, go; a job
	// still at work stays whatever its age.
	h.clock.Advance(24 * time.Hour)
	deliveries, pruned, err := st.PruneGitHistory(ctx, h.clock.Now().Add(-time.Hour))
	must(t, "PruneGitHistory", err)
	equal(t, "pruned", [2]int64{deliveries, pruned}, [2]int64{4, 1}) // d-1..d-4; the first job, done
	if _, err := st.GitJob(ctx, first.ID); !errors.Is(err, berth.ErrNotFound) {
		t.Errorf("an ended job older than the cut: %v", err)
	}
	if _, err := st.GitJob(ctx, second.ID); err != nil {
		t.Errorf("a job at work was pruned: %v", err)
	}
	must(t, "a pruned delivery id is free again", txErr(t, st, func(tx *store.Tx) error {
		return tx.TakeDelivery(ctx, berth.ForgeGitea, "d-1", bodySum("d-1"))
	}))

	// A revision read from git keeps its source.
	src := berth.GitSource{Forge: berth.ForgeGitea, Repo: "web/mono", SHA: ev.SHA, Ref: ev.Ref}
	var rev berth.Revision
	tx(t, st, func(tx *store.Tx) (err error) {
		rev, err = tx.AddGitRevision(ctx, "web", "api", "apiVersion: berth.dev/v1\n", "webhook:gitea", src)
		return err
	})
	got, err := st.Revision(ctx, "web", "api", rev.Number)
	must(t, "Revision", err)
	if got.Source == nil || *got.Source != src {
		t.Errorf("source of a git revision = %+v, want %+v", got.Source, src)
	}
	if old, _ := st.Revision(ctx, "web", "api", 1); old.Source != nil {
		t.Errorf("a revision a user sent has a source: %+v", old.Source)
	}
	wantErr(t, "git revision without a commit", txErr(t, st, func(tx *store.Tx) error {
		_, err := tx.AddGitRevision(ctx, "web", "api", "x: 1\n", "webhook:gitea", berth.GitSource{Forge: berth.ForgeGitea})
		return err
	}), berth.ErrInvalid)
}

func finishJob(st *store.Store, id int64, owner string, state berth.GitJobState, reason string) (berth.GitJob, error) {
	var j berth.GitJob
	err := st.Tx(context.Background(), func(tx *store.Tx) (err error) {
		j, err = tx.FinishGitJob(context.Background(), id, owner, state, reason)
		return err
	})
	return j, err
}

// testApprovals: a deploy awaiting approval is not claimed; approving queues it, once;
// rejecting fails it with the reason; a promotion keeps its source and image digests.
func testApprovals(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	seedApps(t, st, "api")
	src := enqueue(t, st, berth.NewDeploy{App: "api", Env: "staging"})
	digests := map[string]string{"registry.berth.localhost/api:1": "sha256:" + strings.Repeat("a", 64)}
	wait := enqueue(t, st, berth.NewDeploy{App: "api", Env: "production", Kind: berth.KindPromotion, PromotedFrom: src.ID,
		Images: digests, AwaitApproval: true, CreatedBy: "dan"})
	equal(t, "awaiting", [3]any{wait.State, wait.PromotedFrom, wait.Images}, [3]any{berth.DeployAwaiting, src.ID, digests})
	if d, ok := claim(t, st, "w"); !ok || d.ID != src.ID {
		t.Fatalf("claimed %+v %v, want the staging deploy only", d, ok)
	}
	if d, ok := claim(t, st, "w2"); ok {
		t.Fatalf("claimed a deploy awaiting approval: %+v", d)
	}
	a, err := st.Approval(ctx, wait.ID)
	must(t, "Approval", err)
	equal(t, "requested", [2]string{a.RequestedBy, a.Decision}, [2]string{"ann", ""})
	decide := func(id int64, decision, reason string) (berth.Deploy, error) {
		var d berth.Deploy
		err := txErr(t, st, func(tx *store.Tx) (err error) {
			d, err = tx.DecideApproval(ctx, id, decision, "ada", reason)
			return err
		})
		return d, err
	}
	_, err = decide(wait.ID, berth.Approved, "")
	wantErr(t, "no reason", err, berth.ErrInvalid)
	d, err := decide(wait.ID, berth.Approved, "signed off, ship it")
	must(t, "approve", err)
	equal(t, "approved", d.State, berth.DeployQueued)
	_, err = decide(wait.ID, berth.Rejected, "too late")
	wantErr(t, "second decision", err, berth.ErrConflict)
	a, _ = st.Approval(ctx, wait.ID)
	equal(t, "decided", [3]string{a.Decision, a.DecidedBy, a.Reason}, [3]string{berth.Approved, "ada", "signed off, ship it"})

	other := enqueue(t, st, berth.NewDeploy{App: "api", Env: "production", Kind: berth.KindPromotion, AwaitApproval: true, CreatedBy: "dan"})
	d, err = decide(other.ID, berth.Rejected, "not this week")
	must(t, "reject", err)
	equal(t, "rejected", [2]any{d.State, d.Reason}, [2]any{berth.DeployFailed, "rejected by ada: not this week"})
	_, err = decide(src.ID, berth.Approved, "x")
	wantErr(t, "a deploy that awaits nothing", err, berth.ErrConflict)

	// Approved after a newer deploy came to the app there, it would run over it: refused.
	late := enqueue(t, st, berth.NewDeploy{App: "api", Env: "canary", Kind: berth.KindPromotion, AwaitApproval: true})
	enqueue(t, st, berth.NewDeploy{App: "api", Env: "canary"})
	_, err = decide(late.ID, berth.Approved, "too late now")
	wantErr(t, "approving under a newer deploy", err, berth.ErrConflict)
	if _, err := decide(late.ID, berth.Rejected, "superseded"); err != nil {
		t.Errorf("rejecting it: %v", err)
	}
}

func bodySum(body string) string {
	sum := sha256.Sum256([]byte(body))
	return hex.EncodeToString(sum[:])
}
