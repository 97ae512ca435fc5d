package storetest

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/seal"
	"github.com/berth-dev/berth/internal/store"
)

func newKey(t *testing.T) *seal.Key {
	t.Helper()
	raw := make([]byte, seal.KeySize)
	rand.Read(raw)
	k, err := seal.NewKey(raw)
	must(t, "NewKey", err)
	return k
}

// seedSettingApps creates teams shop and ops, apps shop/web and shop/api, and environments
// staging and production.
func seedSettingApps(t *testing.T, st *store.Store) {
	t.Helper()
	seed(t, st, []string{"shop", "ops"}, []string{"ann"})
	tx(t, st, func(tx *store.Tx) error {
		for _, app := range []string{"web", "api"} {
			if _, err := tx.CreateApp(t.Context(), "shop", app, "ann"); err != nil {
				return err
			}
		}
		for _, env := range []string{"staging", "production"} {
			if _, err := tx.CreateEnvironment(t.Context(), berth.Environment{Name: env, InCluster: true, NamespaceTemplate: "{team}-{env}"}); err != nil {
				return err
			}
		}
		return nil
	})
}

func set(t *testing.T, st *store.Store, kind berth.SettingKind, scope berth.Scope, key, value string) berth.Setting {
	t.Helper()
	var s berth.Setting
	tx(t, st, func(tx *store.Tx) (err error) {
		s, err = tx.SetSetting(t.Context(), kind, scope, key, value, "ann")
		return err
	})
	return s
}

func keys(ss []berth.Setting) []string {
	var out []string
	for _, s := range ss {
		out = append(out, fmt.Sprintf("%s@%d=%s", s.Key, s.Version, s.Value))
	}
	return out
}

// testSettings sets, lists and unsets config and secrets at the four levels.
func testSettings(t *testing.T, h *harness) {
	h.key = newKey(t)
	st, ctx := h.store(t), t.Context()
	seedSettingApps(t, st)
	global, team := berth.Scope{}, berth.Scope{Team: "shop"}
	app, appEnv := berth.Scope{Team: "shop", App: "web"}, berth.Scope{Team: "shop", App: "web", Env: "staging"}
	for _, sc := range []struct {
		scope berth.Scope
		level berth.Level
		name  string
	}{{global, berth.LevelGlobal, "global"}, {team, berth.LevelTeam, "team shop"},
		{app, berth.LevelApp, "app shop/web"}, {appEnv, berth.LevelAppEnv, "app shop/web in staging"}} {
		if sc.scope.Level() != sc.level || sc.scope.String() != sc.name {
			t.Errorf("%+v: level %s %q", sc.scope, sc.scope.Level(), sc.scope.String())
		}
	}

	s := set(t, st, berth.SettingConfig, app, "LOG_LEVEL", "info")
	equal(t, "SetSetting", s, berth.Setting{ID: s.ID, Kind: berth.SettingConfig, Scope: app, Key: "LOG_LEVEL", Version: 1,
		Value: "info", CreatedAt: epoch, UpdatedBy: "ann", UpdatedAt: epoch})
	h.clock.Advance(1e9)
	s = set(t, st, berth.SettingConfig, app, "LOG_LEVEL", "debug")
	if s.Version != 2 || s.Value != "debug" || !s.UpdatedAt.After(s.CreatedAt) {
		t.Errorf("second set: %+v", s)
	}
	set(t, st, berth.SettingConfig, app, "EMPTY", "")
	set(t, st, berth.SettingConfig, global, "LOG_LEVEL", "warn")
	set(t, st, berth.SettingConfig, team, "REGION", "eu")
	set(t, st, berth.SettingConfig, appEnv, "REGION", "us")
	sec := set(t, st, berth.SettingSecret, app, "API_KEY", "s3cret-value")
	if sec.Value != "" || sec.KeyID != h.key.ID() || sec.Version != 1 {
		t.Errorf("secret setting %+v: want no value, key id %s", sec, h.key.ID())
	}
	// A config and a secret may share a key name; other apps have their own.
	set(t, st, berth.SettingSecret, app, "LOG_LEVEL", "x")
	set(t, st, berth.SettingConfig, berth.Scope{Team: "shop", App: "api"}, "LOG_LEVEL", "error")

	list := func(kind berth.SettingKind, scope berth.Scope) []string {
		t.Helper()
		ss, err := st.Settings(ctx, kind, scope)
		must(t, "Settings", err)
		return keys(ss)
	}
	equal(t, "config of app", list(berth.SettingConfig, app), []string{"EMPTY@1=", "LOG_LEVEL@2=debug"})
	equal(t, "config global", list(berth.SettingConfig, global), []string{"LOG_LEVEL@1=warn"})
	equal(t, "config app+env", list(berth.SettingConfig, appEnv), []string{"REGION@1=us"})
	equal(t, "secrets of app", list(berth.SettingSecret, app), []string{"API_KEY@1=", "LOG_LEVEL@1="})
	equal(t, "secrets of team", list(berth.SettingSecret, team), []string(nil))

	all, err := st.SettingsFor(ctx, "shop", "web", "staging")
	must(t, "SettingsFor", err)
	r := berth.Resolve(all)
	got := map[string]string{}
	for k, s := range r[berth.SettingConfig] {
		got[k] = fmt.Sprintf("%s=%s", s.Level(), s.Value)
	}
	equal(t, "resolved config", got, map[string]string{"LOG_LEVEL": "app=debug", "EMPTY": "app=", "REGION": "app+env=us"})
	if len(r[berth.SettingSecret]) != 2 {
		t.Errorf("resolved secrets %v", r[berth.SettingSecret])
	}

	// Unset hides the key; setting it again continues its versions.
	tx(t, st, func(tx *store.Tx) error {
		_, err := tx.UnsetSetting(ctx, berth.SettingConfig, app, "LOG_LEVEL", "ann")
		return err
	})
	equal(t, "config of app after unset", list(berth.SettingConfig, app), []string{"EMPTY@1="})
	err = txErr(t, st, func(tx *store.Tx) error {
		_, err := tx.UnsetSetting(ctx, berth.SettingConfig, app, "LOG_LEVEL", "ann")
		return err
	})
	wantErr(t, "unset twice", err, berth.ErrNotFound)
	s = set(t, st, berth.SettingConfig, app, "LOG_LEVEL", "trace")
	if s.Version != 3 {
		t.Errorf("set after unset: version %d, want 3", s.Version)
	}

	for _, tc := range []struct {
		name  string
		kind  berth.SettingKind
		scope berth.Scope
		key   string
		value string
		want  error
	}{
		{"missing team", berth.SettingConfig, berth.Scope{Team: "nope"}, "K", "v", berth.ErrNotFound},
		{"missing app", berth.SettingConfig, berth.Scope{Team: "shop", App: "nope"}, "K", "v", berth.ErrNotFound},
		{"missing env", berth.SettingConfig, berth.Scope{Team: "shop", App: "web", Env: "nope"}, "K", "v", berth.ErrNotFound},
		{"env without app", berth.SettingConfig, berth.Scope{Team: "shop", Env: "staging"}, "K", "v", berth.ErrInvalid},
		{"app without team", berth.SettingConfig, berth.Scope{App: "web"}, "K", "v", berth.ErrInvalid},
		{"bad key", berth.SettingConfig, app, "BAD KEY", "v", berth.ErrInvalid},
		{"dot key", berth.SettingConfig, app, "..x", "v", berth.ErrInvalid},
		{"long key", berth.SettingConfig, app, strings.Repeat("k", 254), "v", berth.ErrInvalid},
		{"empty key", berth.SettingConfig, app, "", "v", berth.ErrInvalid},
		{"bad kind", "file", app, "K", "v", berth.ErrInvalid},
		{"long value", berth.SettingConfig, app, "K", strings.Repeat("v", berth.MaxSettingValue+1), berth.ErrInvalid},
		{"empty secret", berth.SettingSecret, app, "K", "", berth.ErrInvalid},
	} {
		err := txErr(t, st, func(tx *store.Tx) error {
			_, err := tx.SetSetting(ctx, tc.kind, tc.scope, tc.key, tc.value, "ann")
			return err
		})
		wantErr(t, tc.name, err, tc.want)
		if err != nil && len(tc.value) > 8 && strings.Contains(err.Error(), tc.value) {
			t.Errorf("%s: the error quotes the value", tc.name)
		}
	}

	// Deleting the app deletes its settings; the team's stay.
	tx(t, st, func(tx *store.Tx) error { return tx.DeleteApp(ctx, "shop", "web") })
	all, err = st.SettingsFor(ctx, "shop", "web", "staging")
	must(t, "SettingsFor after delete", err)
	var levels []string
	for _, s := range all {
		levels = append(levels, string(s.Level())+" "+s.Key)
	}
	equal(t, "settings after deleting the app", levels, []string{"global LOG_LEVEL", "team REGION"})
}

// testSettingsPrecedence sets one key at every subset of the four levels and checks that
// the most specific level set wins for shop/web in staging, and that settings of other
// apps, environments and teams never apply.
func testSettingsPrecedence(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	seedSettingApps(t, st)
	levels := []struct {
		level berth.Level
		scope berth.Scope
	}{
		{berth.LevelGlobal, berth.Scope{}},
		{berth.LevelTeam, berth.Scope{Team: "shop"}},
		{berth.LevelApp, berth.Scope{Team: "shop", App: "web"}},
		{berth.LevelAppEnv, berth.Scope{Team: "shop", App: "web", Env: "staging"}},
	}
	// Neighbours at every level that must never win: another team, app and environment.
	set(t, st, berth.SettingConfig, berth.Scope{Team: "ops"}, "NEIGHBOUR", "ops")
	set(t, st, berth.SettingConfig, berth.Scope{Team: "shop", App: "api"}, "NEIGHBOUR", "api")
	set(t, st, berth.SettingConfig, berth.Scope{Team: "shop", App: "web", Env: "production"}, "NEIGHBOUR", "production")
	for mask := range 1 << len(levels) {
		key := fmt.Sprintf("K%02d", mask)
		want := ""
		var wantLevel berth.Level
		var names []string
		for i, l := range levels {
			if mask&(1<<i) != 0 {
				set(t, st, berth.SettingConfig, l.scope, key, string(l.level))
				want, wantLevel = string(l.level), l.level
				names = append(names, string(l.level))
			}
		}
		t.Run(fmt.Sprintf("set at [%s]", strings.Join(names, " ")), func(t *testing.T) {
			all, err := st.SettingsFor(ctx, "shop", "web", "staging")
			must(t, "SettingsFor", err)
			got, ok := berth.Resolve(all)[berth.SettingConfig][key]
			switch {
			case want == "" && ok:
				t.Errorf("%s resolved to %q at %s, want no value", key, got.Value, got.Level())
			case want != "" && (!ok || got.Value != want || got.Level() != wantLevel):
				t.Errorf("%s resolved to %q at %s (found %v), want %q", key, got.Value, got.Level(), ok, want)
			}
			if n, ok := berth.Resolve(all)[berth.SettingConfig]["NEIGHBOUR"]; ok {
				t.Errorf("another scope's setting applies: %+v", n)
			}
		})
	}
}

// testSecretsEncryptedAtRest checks that a secret's value is nowhere in the database in
// plain text, opens only with its key and its own row, and that a wrong or missing key is
// an error naming the key id.
func testSecretsEncryptedAtRest(t *testing.T, h *harness) {
	h.key = newKey(t)
	st, ctx := h.store(t), t.Context()
	seedSettingApps(t, st)
	const canary = "canary-7f3a9c1e-do-not-leak"
	app := berth.Scope{Team: "shop", App: "web"}
	a := set(t, st, berth.SettingSecret, app, "API_KEY", canary)
	b := set(t, st, berth.SettingSecret, app, "OTHER", "other-value")
	a2 := set(t, st, berth.SettingSecret, app, "API_KEY", canary+"-v2")

	dump := dumpTables(t, st, "settings", "setting_versions", "audit_events")
	if bytes.Contains(dump, []byte(canary)) || bytes.Contains(dump, []byte("other-value")) {
		t.Fatalf("a secret value is stored in plain text:\n%s", dump)
	}
	if !bytes.Contains(dump, []byte(h.key.ID())) {
		t.Errorf("the key id %s is not recorded", h.key.ID())
	}

	refA1, refA2, refB := berth.SecretRef{Setting: a.ID, Version: 1}, berth.SecretRef{Setting: a2.ID, Version: 2}, berth.SecretRef{Setting: b.ID, Version: 1}
	vals, err := st.SecretValues(ctx, []berth.SecretRef{refA1, refA2, refB})
	must(t, "SecretValues", err)
	equal(t, "SecretValues", map[string]string{"a1": string(vals[refA1]), "a2": string(vals[refA2]), "b": string(vals[refB])},
		map[string]string{"a1": canary, "a2": canary + "-v2", "b": "other-value"})
	_, err = st.SecretValues(ctx, []berth.SecretRef{{Setting: a.ID, Version: 9}})
	wantErr(t, "SecretValues of a missing version", err, berth.ErrNotFound)
	must(t, "CheckSecretsKey", st.CheckSecretsKey(ctx))

	// Another key, or none: an error that names the key id needed, and never a value.
	other := h.open(t, h.dsn)
	other.UseSecretsKey(newKey(t))
	_, err = other.SecretValues(ctx, []berth.SecretRef{refA1})
	var wrong *seal.WrongKeyError
	if !errors.As(err, &wrong) || wrong.Need != h.key.ID() || !strings.Contains(err.Error(), h.key.ID()) || !strings.Contains(err.Error(), "API_KEY") {
		t.Errorf("SecretValues with another key: %v", err)
	}
	if err := other.CheckSecretsKey(ctx); !errors.As(err, &wrong) || wrong.Need != h.key.ID() {
		t.Errorf("CheckSecretsKey with another key: %v", err)
	}
	other.UseSecretsKey(nil)
	if _, err := other.SecretValues(ctx, []berth.SecretRef{refA1}); !errors.Is(err, seal.ErrNoKey) || !strings.Contains(err.Error(), h.key.ID()) {
		t.Errorf("SecretValues without a key: %v", err)
	}
	if err := txErr(t, other, func(tx *store.Tx) error {
		_, err := tx.SetSetting(ctx, berth.SettingSecret, app, "NEW", "v", "ann")
		return err
	}); !errors.Is(err, seal.ErrNoKey) {
		t.Errorf("SetSetting of a secret without a key: %v", err)
	}
	// Listing secrets and setting config need no key.
	if _, err := other.Settings(ctx, berth.SettingSecret, app); err != nil {
		t.Errorf("Settings without a key: %v", err)
	}

	// A ciphertext moved into another row (or version) does not open there.
	_, err = st.DB().ExecContext(ctx, `UPDATE setting_versions SET nonce = (SELECT nonce FROM setting_versions WHERE setting_id = `+
		fmt.Sprint(b.ID)+` AND version = 1), ciphertext = (SELECT ciphertext FROM setting_versions WHERE setting_id = `+
		fmt.Sprint(b.ID)+` AND version = 1) WHERE setting_id = `+fmt.Sprint(a.ID)+` AND version = 1`)
	must(t, "swap ciphertexts", err)
	_, err = st.SecretValues(ctx, []berth.SecretRef{refA1})
	if !errors.Is(err, seal.ErrAuth) {
		t.Errorf("SecretValues of a moved ciphertext: %v", err)
	}
}

// testRotateSecretsKey re-encrypts every version under a new key in one transaction; the
// store then opens them with only the new key, and a failed rotation changes nothing.
func testRotateSecretsKey(t *testing.T, h *harness) {
	oldKey, nextKey := newKey(t), newKey(t)
	h.key = oldKey
	st, ctx := h.store(t), t.Context()
	seedSettingApps(t, st)
	var refs []berth.SecretRef
	want := map[berth.SecretRef]string{}
	for i, scope := range []berth.Scope{{}, {Team: "shop"}, {Team: "shop", App: "web"}, {Team: "shop", App: "web", Env: "staging"}} {
		for v := range 2 {
			s := set(t, st, berth.SettingSecret, scope, "TOKEN", fmt.Sprintf("value-%d-%d", i, v))
			ref := berth.SecretRef{Setting: s.ID, Version: s.Version}
			refs = append(refs, ref)
			want[ref] = fmt.Sprintf("value-%d-%d", i, v)
		}
	}
	before := dumpTables(t, st, "setting_versions")

	// A rotation that meets a value sealed with neither key fails as a whole.
	stray := h.open(t, h.dsn)
	stray.UseSecretsKey(newKey(t))
	err := txErr(t, stray, func(tx *store.Tx) error {
		_, err := tx.RotateSecretsKey(ctx, nextKey)
		return err
	})
	var wrong *seal.WrongKeyError
	if !errors.As(err, &wrong) || wrong.Need != oldKey.ID() {
		t.Errorf("rotation with the wrong current key: %v", err)
	}
	if after := dumpTables(t, st, "setting_versions"); !bytes.Equal(before, after) {
		t.Fatal("a failed rotation changed stored values")
	}

	var n int
	tx(t, st, func(tx *store.Tx) (err error) {
		n, err = tx.RotateSecretsKey(ctx, nextKey)
		return err
	})
	if n != len(refs) {
		t.Errorf("rotated %d values, want %d", n, len(refs))
	}
	ids, err := st.SecretKeyIDs(ctx)
	must(t, "SecretKeyIDs", err)
	equal(t, "key ids after rotation", ids, []string{nextKey.ID()})

	// Reopened with only the new key, every version opens; with only the old, none does.
	h.key = nextKey
	rotated := h.open(t, h.dsn)
	must(t, "CheckSecretsKey with the new key", rotated.CheckSecretsKey(ctx))
	vals, err := rotated.SecretValues(ctx, refs)
	must(t, "SecretValues after rotation", err)
	for _, ref := range refs {
		if string(vals[ref]) != want[ref] {
			t.Errorf("%+v = %q after rotation, want %q", ref, vals[ref], want[ref])
		}
	}
	if err := st.CheckSecretsKey(ctx); !errors.As(err, &wrong) || wrong.Need != nextKey.ID() {
		t.Errorf("CheckSecretsKey with the old key after rotation: %v", err)
	}
	// Rotating again to the same key changes nothing.
	tx(t, rotated, func(tx *store.Tx) (err error) {
		n, err = tx.RotateSecretsKey(ctx, nextKey)
		return err
	})
	if n != 0 {
		t.Errorf("a second rotation to the same key re-sealed %d values", n)
	}
}

// dumpTables returns every row of the tables, as text.
func dumpTables(t *testing.T, st *store.Store, tables ...string) []byte {
	t.Helper()
	var out bytes.Buffer
	for _, table := range tables {
		rows, err := st.DB().QueryContext(t.Context(), "SELECT * FROM "+table+" ORDER BY 1")
		must(t, "dump "+table, err)
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			must(t, "scan "+table, rows.Scan(ptrs...))
			fmt.Fprintf(&out, "%s %v\n", table, fmt.Sprint(vals...))
			for _, v := range vals {
				if b, ok := v.([]byte); ok {
					out.Write(b)
					out.WriteByte('\n')
				}
			}
		}
		rows.Close()
	}
	return out.Bytes()
}
