package storetest

import (
	"bytes"
	"errors"
	"testing"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/seal"
	"github.com/berth-dev/berth/internal/store"
)

func saveResource(t *testing.T, st *store.Store, r berth.Resource, sec berth.ResourceSecrets) (berth.Resource, bool) {
	t.Helper()
	var out berth.Resource
	var changed bool
	tx(t, st, func(tx *store.Tx) (err error) {
		out, changed, err = tx.SaveResource(t.Context(), r, sec, "deploy 1")
		return err
	})
	return out, changed
}

// testResources records provisioned resources: versions count changes, state and secret
// outputs are sealed (never at rest in plain text), resources a deploy no longer declares
// and those of a deleted app are orphaned, not forgotten, and the key rotation covers them.
func testResources(t *testing.T, h *harness) {
	h.key = newKey(t)
	st, ctx := h.store(t), t.Context()
	seedSettingApps(t, st)
	const password = "canary-pw-5d1c0b7e"
	db := berth.Resource{Env: "staging", Team: "shop", App: "web", Name: "db", Type: "postgres",
		UID: berth.ResourceUID("postgres", "", "", "shop", "web", "db"), Provisioner: "builtin/postgres",
		Outputs: map[string]string{"host": "pg.internal", "port": "5432"}}
	sec := berth.ResourceSecrets{State: map[string]any{"password": password, "n": 1}, Outputs: map[string]string{"password": password}}
	got, changed := saveResource(t, st, db, sec)
	equal(t, "first save", [3]any{got.Version, changed, got.Status}, [3]any{int64(1), true, berth.ResourceActive})
	equal(t, "secret outputs", got.SecretOutputs, []string{"password"})
	equal(t, "uid", got.UID, "postgres.default#shop.web.db")

	// The same again: no new version. A change: the next.
	if got, changed = saveResource(t, st, db, sec); changed || got.Version != 1 {
		t.Fatalf("unchanged save: version %d, changed %v", got.Version, changed)
	}
	sec.Outputs["password"] = password + "-2"
	if got, changed = saveResource(t, st, db, sec); !changed || got.Version != 2 {
		t.Fatalf("changed save: version %d, changed %v", got.Version, changed)
	}
	opened, err := st.ResourceSecrets(ctx, "staging", db.UID)
	must(t, "ResourceSecrets", err)
	equal(t, "opened secrets", opened.Outputs["password"], password+"-2")
	equal(t, "opened state", opened.State["password"], any(password))

	dump := dumpTables(t, st, "resources")
	if bytes.Contains(dump, []byte(password)) {
		t.Fatalf("a secret output is stored in plain text:\n%s", dump)
	}

	// A second app's resource, and one without secrets (no key needed for it).
	api := berth.Resource{Env: "staging", Team: "shop", App: "api", Name: "users", Type: "service",
		UID: berth.ResourceUID("service", "", "", "shop", "api", "users"), Provisioner: "builtin/service",
		Outputs: map[string]string{"name": "users"}}
	saveResource(t, st, api, berth.ResourceSecrets{})
	list, err := st.Resources(ctx, berth.ResourceFilter{Team: "shop", App: "web"})
	must(t, "Resources", err)
	equal(t, "resources of web", len(list), 1)

	// A deploy of web that no longer declares db orphans it; deleting api orphans its own.
	var orphaned []berth.Resource
	tx(t, st, func(tx *store.Tx) (err error) {
		orphaned, err = tx.OrphanResources(ctx, "staging", "shop", "web", nil, "deploy 2")
		return err
	})
	equal(t, "orphaned", len(orphaned), 1)
	tx(t, st, func(tx *store.Tx) error { return tx.DeleteApp(ctx, "shop", "api") })
	all, err := st.Resources(ctx, berth.ResourceFilter{Env: "staging"})
	must(t, "Resources", err)
	for _, r := range all {
		if r.Status != berth.ResourceOrphaned {
			t.Errorf("%s is %s, want orphaned", r.Where(), r.Status)
		}
	}
	// Declared again: active, next version.
	if got, changed = saveResource(t, st, db, sec); !changed || got.Version != 3 || got.Status != berth.ResourceActive {
		t.Fatalf("save of an orphan: %+v, changed %v", got, changed)
	}

	// The environment's PostgreSQL DSN is sealed too.
	const dsn = "postgres://admin:" + password + "-admin@pg.internal:5432/postgres"
	tx(t, st, func(tx *store.Tx) error {
		return tx.SetEnvironmentPostgres(ctx, "staging", dsn, "postgres://admin@pg.internal:5432/postgres")
	})
	if bytes.Contains(dumpTables(t, st, "environments"), []byte(password)) {
		t.Fatal("the PostgreSQL DSN is stored in plain text")
	}
	env, err := st.Environment(ctx, "staging")
	must(t, "Environment", err)
	equal(t, "display", env.Postgres, "postgres://admin@pg.internal:5432/postgres")
	gotDSN, err := st.EnvironmentPostgres(ctx, "staging")
	must(t, "EnvironmentPostgres", err)
	equal(t, "dsn", gotDSN, dsn)

	// Key rotation moves both; the old key opens neither afterwards.
	next := newKey(t)
	var n int
	tx(t, st, func(tx *store.Tx) (err error) {
		n, err = tx.RotateSecretsKey(ctx, next)
		return err
	})
	equal(t, "re-sealed", n, 2)
	if _, err := st.ResourceSecrets(ctx, "staging", db.UID); !errors.As(err, new(*seal.WrongKeyError)) {
		t.Fatalf("ResourceSecrets with the old key after rotation: %v", err)
	}
	st.UseSecretsKey(next)
	if _, err := st.ResourceSecrets(ctx, "staging", db.UID); err != nil {
		t.Fatalf("ResourceSecrets with the new key: %v", err)
	}
	if gotDSN, err := st.EnvironmentPostgres(ctx, "staging"); err != nil || gotDSN != dsn {
		t.Fatalf("EnvironmentPostgres with the new key: %v", err)
	}
	must(t, "CheckSecretsKey", st.CheckSecretsKey(ctx))

	// Deleting forgets it; a second delete is not found.
	tx(t, st, func(tx *store.Tx) error { return tx.DeleteResource(ctx, "staging", db.UID) })
	wantErr(t, "second delete", txErr(t, st, func(tx *store.Tx) error { return tx.DeleteResource(ctx, "staging", db.UID) }), berth.ErrNotFound)

	// Domains.
	tx(t, st, func(tx *store.Tx) error {
		return tx.SetEnvironmentDomains(ctx, "staging", "staging.example.com", "local-path")
	})
	env, err = st.Environment(ctx, "staging")
	must(t, "Environment", err)
	equal(t, "domains", [2]string{env.BaseDomain, env.StorageClass}, [2]string{"staging.example.com", "local-path"})
	wantErr(t, "bad base domain", txErr(t, st, func(tx *store.Tx) error {
		return tx.SetEnvironmentDomains(ctx, "staging", "Not A Domain", "")
	}), berth.ErrInvalid)
}
