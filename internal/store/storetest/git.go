package storetest

import (
	"bytes"
	"errors"
	"testing"

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
	take := func(forge berth.Forge, id string) error {
		return txErr(t, st, func(tx *store.Tx) error { return tx.TakeDelivery(ctx, forge, id) })
	}
	must(t, "first", take(berth.ForgeGitea, "d-1"))
	wantErr(t, "replay", take(berth.ForgeGitea, "d-1"), berth.ErrConflict)
	must(t, "same id on another forge", take(berth.ForgeGitHub, "d-1"))
	wantErr(t, "no id", take(berth.ForgeGitea, ""), berth.ErrInvalid)
	wantErr(t, "unknown forge", take("gitlab", "d-2"), berth.ErrInvalid)
}
