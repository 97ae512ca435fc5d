package main

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/pgadmin"
	"github.com/berth-dev/berth/internal/seal"
	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/store/pgtest"
)

// adminPassword is put in the registered DSN of the test PostgreSQL server, whose superuser
// logs in without one: it must appear nowhere Berth shows or records anything.
const adminPassword = `Canary'pw"@:/?7f3a`

// passwordDSN returns the test server's superuser URL dsn with adminPassword in it, and the
// DSN Berth should show for it.
func passwordDSN(t *testing.T, dsn string) (withPassword, display string) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	display = u.String()
	u.User = url.UserPassword(u.User.Username(), adminPassword)
	return u.String(), display
}

// envOnServer creates team shop and environment staging on srv; the environment's
// kubeconfig is a file that only has to exist, as these tests deploy nothing.
func envOnServer(t *testing.T, srv *serverProc) {
	t.Helper()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte("apiVersion: v1\nkind: Config\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustBerth(t, srv, "teams", "create", "shop")
	mustBerth(t, srv, "envs", "create", "staging", "--kubeconfig", kubeconfig)
}

// noPassword fails the test if what holds adminPassword, or any of extra.
func noPassword(t *testing.T, what, text string, extra ...string) {
	t.Helper()
	for _, s := range append([]string{adminPassword, url.QueryEscape(adminPassword), "Canary"}, extra...) {
		if strings.Contains(text, s) {
			t.Errorf("%s holds a password (%q):\n%s", what, s, text)
		}
	}
}

// TestEnvPostgresAndDomains: a platform admin registers a real PostgreSQL server for an
// environment from a file or standard input; the server checks it by connecting, and from
// then on the CLI, the API and the audit log show it without its password. A server that
// cannot be reached is refused, changing nothing. The base domain and storage class are set
// one at a time, each keeping the other.
func TestEnvPostgresAndDomains(t *testing.T) {
	srv := startServer(t, t.TempDir())
	envOnServer(t, srv)
	dsn, display := passwordDSN(t, pgtest.NewDatabase(t))
	file := filepath.Join(t.TempDir(), "staging.dsn")
	if err := os.WriteFile(file, []byte(dsn+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var outputs []string
	out := mustBerth(t, srv, "envs", "set-postgres", "staging", "--dsn-file", file)
	if !strings.Contains(out, "environment staging: PostgreSQL server "+display+" registered") {
		t.Errorf("set-postgres: %s", out)
	}
	outputs = append(outputs, out)
	out, code := berthIn(t, srv, dsn+"\n", "envs", "set-postgres", "staging", "--dsn", "-", "-o", "json")
	var e apiv1.Environment
	if code != 0 || json.Unmarshal([]byte(out), &e) != nil || e.Postgres != display {
		t.Errorf("set-postgres from stdin: exit %d\n%s", code, out)
	}
	outputs = append(outputs, out)

	unreachable := "postgres://postgres:" + url.QueryEscape(adminPassword) + "@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=5"
	out, code = berthIn(t, srv, unreachable, "envs", "set-postgres", "staging", "--dsn", "-")
	if code != 1 || !strings.Contains(out, "check postgres on 127.0.0.1:1") {
		t.Errorf("unreachable server: exit %d\n%s", code, out)
	}
	outputs = append(outputs, out)

	out = mustBerth(t, srv, "envs", "get", "staging")
	if !strings.Contains(out, "postgres:          "+display+"\n") {
		t.Errorf("envs get does not show %s:\n%s", display, out)
	}
	outputs = append(outputs, out, mustBerth(t, srv, "envs", "list", "-o", "json"), string(apiGet(t, srv, "/api/v1/envs/staging")))

	mustBerth(t, srv, "envs", "update", "staging", "--base-domain", "staging.localhost", "--storage-class", "local-path")
	out = mustBerth(t, srv, "envs", "update", "staging", "--storage-class", "")
	if out != "updated environment staging (base domain staging.localhost)\n" {
		t.Errorf("update: %s", out)
	}
	if err := json.Unmarshal([]byte(mustBerth(t, srv, "envs", "get", "staging", "-o", "json")), &e); err != nil {
		t.Fatal(err)
	}
	if e.BaseDomain != "staging.localhost" || e.StorageClass != "" || e.Postgres != display {
		t.Errorf("after the updates: %+v", e)
	}

	audit := mustBerth(t, srv, "audit", "-o", "json", "--limit", "1000")
	var evs []apiv1.AuditEvent
	if err := json.Unmarshal([]byte(audit), &evs); err != nil {
		t.Fatal(err)
	}
	var set int
	for _, ev := range evs {
		if ev.Action == "env.set-postgres" && ev.Outcome == "success" {
			set++
			if ev.Details["host"] != "127.0.0.1" || ev.Details["dsn"] != display || ev.Details["port"] == nil || len(ev.Details) != 3 {
				t.Errorf("env.set-postgres details %v", ev.Details)
			}
		}
	}
	if set != 2 {
		t.Errorf("%d env.set-postgres events, want 2:\n%s", set, audit)
	}
	outputs = append(outputs, audit)
	out = mustBerth(t, srv, "envs", "set-postgres", "staging", "--clear")
	if out != "environment staging: PostgreSQL server unregistered; the databases on it stay\n" {
		t.Errorf("clear: %s", out)
	}
	outputs = append(outputs, out)
	for i, o := range outputs {
		noPassword(t, "output "+string(rune('0'+i)), o)
	}
	noPassword(t, "the server's log", srv.out.String())
}

// TestResourcesListAndDelete: an app's resource records (saved as a deploy would, in the
// server's own database) list with their secret outputs named only; a delete without
// --confirm says what it would drop and changes nothing; one of a resource still declared
// is refused; with --confirm the real database and its role are dropped from PostgreSQL.
func TestResourcesListAndDelete(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	srv := startServer(t, data)
	envOnServer(t, srv)
	adminDSN := pgtest.NewDatabase(t)
	dsn, _ := passwordDSN(t, adminDSN)
	mustBerth(t, srv, "envs", "set-postgres", "staging", "--dsn", dsn)

	// The database a deploy of shop/web would have made for its resource db.
	name, role := pgadmin.Names("shop", "web", "staging", "db")
	const appPassword = "app-db-password-3c9e1d"
	admin := pgadmin.New(nil)
	if _, err := admin.Ensure(ctx, adminDSN, pgadmin.Database{Name: name, Role: role, Password: appPassword}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Drop(context.Background(), adminDSN, pgadmin.Database{Name: name, Role: role}) })
	appURL := pgadmin.URL("127.0.0.1", 0, name, role, appPassword, nil)
	saveResources(t, data, name, role, appPassword, appURL)

	out := mustBerth(t, srv, "resources", "list", "--app", "web", "--team", "shop")
	for _, want := range []string{
		"NAME   ENV      TYPE      PROVISIONER",
		"db     staging  postgres  builtin/postgres",
		"orphaned  1        database=" + name + ",host=127.0.0.1,name=" + name + ",password=(secret),port=5432,url=(secret),username=" + role,
		"cache  staging  redis",
		"active    1        host=redis.platform,password=(secret)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("resources list does not say %q:\n%s", want, out)
		}
	}
	var rs []apiv1.Resource
	js := mustBerth(t, srv, "resources", "list", "--app", "web", "--team", "shop", "--env", "staging", "-o", "json")
	if err := json.Unmarshal([]byte(js), &rs); err != nil || len(rs) != 2 || strings.Join(rs[1].SecretOutputs, ",") != "password,url" {
		t.Errorf("resources list -o json: %v\n%s", err, js)
	}

	out, code := runBerth(t, srv, "resources", "delete", "db", "--app", "web", "--team", "shop", "--env", "staging")
	if code != 2 || out != "berth: postgres db of shop/web in staging: would drop postgres database "+name+" and its role; its data is lost; add --confirm\n" {
		t.Errorf("delete without --confirm: exit %d\n%s", code, out)
	}
	if ok, err := admin.Exists(ctx, adminDSN, pgadmin.Database{Name: name, Role: role}); err != nil || !ok {
		t.Fatalf("the database is gone after a delete without --confirm: %v %v", ok, err)
	}
	out2, code := runBerth(t, srv, "resources", "delete", "cache", "--app", "web", "--team", "shop", "--env", "staging", "--confirm")
	if code != 1 || !strings.Contains(out2, "remove it from berth.yaml and deploy first (or add --force)") {
		t.Errorf("delete of an active resource: exit %d\n%s", code, out2)
	}
	if js := mustBerth(t, srv, "resources", "list", "--app", "web", "--team", "shop", "-o", "json"); json.Unmarshal([]byte(js), &rs) != nil || len(rs) != 2 {
		t.Errorf("refused deletes changed the resources:\n%s", js)
	}

	out3 := mustBerth(t, srv, "resources", "delete", "db", "--app", "web", "--team", "shop", "--env", "staging", "--confirm")
	if out3 != "dropped postgres database "+name+" and its role, and deleted postgres db of shop/web in staging\n" {
		t.Errorf("delete --confirm: %s", out3)
	}
	// Gone from PostgreSQL: neither the database nor the role is there to connect with.
	u, _ := url.Parse(adminDSN)
	u.Path = "/" + name
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if c, err := pgx.Connect(cctx, u.String()); err == nil {
		c.Close(cctx)
		t.Errorf("database %s still accepts connections", name)
	} else if !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("connect to the dropped database: %v", err)
	}
	if ok, err := admin.Exists(ctx, adminDSN, pgadmin.Database{Name: name, Role: role}); err != nil || ok {
		t.Errorf("database or role %s still there: %v %v", name, ok, err)
	}
	js = mustBerth(t, srv, "resources", "list", "--app", "web", "--team", "shop", "-o", "json")
	if json.Unmarshal([]byte(js), &rs) != nil || len(rs) != 1 || rs[0].Name != "cache" {
		t.Errorf("after the delete:\n%s", js)
	}

	audit := mustBerth(t, srv, "audit", "--app", "web", "-o", "json")
	var evs []apiv1.AuditEvent
	if err := json.Unmarshal([]byte(audit), &evs); err != nil || len(evs) == 0 || evs[0].Action != "resource.delete" ||
		evs[0].Details["uid"] != "postgres.default#shop.web.db" || evs[0].Details["type"] != "postgres" {
		t.Errorf("audit: %v\n%s", err, audit)
	}
	for i, o := range []string{out, out2, out3, js, audit, mustBerth(t, srv, "audit", "-o", "json", "--limit", "1000")} {
		noPassword(t, "output "+string(rune('0'+i)), o, appPassword)
	}
	noPassword(t, "the server's log", srv.out.String(), appPassword)
}

// saveResources records, in the server's SQLite database under data, what deploys of
// shop/web would have left in staging: db, the postgres database name (no longer declared:
// orphaned), and cache, a redis from a provisioner file (still declared: active).
func saveResources(t *testing.T, data, name, role, password, appURL string) {
	t.Helper()
	ctx := context.Background()
	key, err := seal.Load(filepath.Join(data, "secrets.key"), "")
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, filepath.Join(data, "berth.db"), store.WithSecretsKey(key))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = st.Tx(ctx, func(tx *store.Tx) error {
		db := berth.Resource{Env: "staging", Team: "shop", App: "web", Name: "db", Type: "postgres", Provisioner: "builtin/postgres",
			UID:     berth.ResourceUID("postgres", "", "", "shop", "web", "db"),
			Outputs: map[string]string{"host": "127.0.0.1", "port": "5432", "name": name, "database": name, "username": role}}
		if _, _, err := tx.SaveResource(ctx, db, berth.ResourceSecrets{
			State:   map[string]any{"database": name, "username": role, "password": password},
			Outputs: map[string]string{"password": password, "url": appURL},
		}, "deploy 1"); err != nil {
			return err
		}
		if _, err := tx.OrphanResources(ctx, "staging", "shop", "web", nil, "deploy 2"); err != nil {
			return err
		}
		cache := berth.Resource{Env: "staging", Team: "shop", App: "web", Name: "cache", Type: "redis",
			Provisioner: "file://redis (provisioner file v1)", UID: berth.ResourceUID("redis", "", "", "shop", "web", "cache"),
			Outputs: map[string]string{"host": "redis.platform"}}
		_, _, err := tx.SaveResource(ctx, cache, berth.ResourceSecrets{Outputs: map[string]string{"password": password + "-redis"}}, "deploy 2")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
