package api_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berth-dev/berth/internal/api"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/seal"
	"github.com/berth-dev/berth/internal/service"
	"github.com/berth-dev/berth/internal/store"
)

// clock is a settable clock for the service, so tokens can expire on demand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fixture is a server on a fresh SQLite database with two teams and a token per kind of
// caller the authorization table knows.
type fixture struct {
	t      *testing.T
	srv    *httptest.Server
	api    *api.Server
	st     *store.Store
	clock  *clock
	tokens map[string]string // caller kind -> token secret
	ids    map[string]int64  // named token ids
	logs   *bytes.Buffer
	// hookSecret is the webhook secret of alpha/reports's connection.
	hookSecret string
	pg         *fakePostgres
}

// Caller kinds of the authorization table.
const (
	noToken     = "no token"
	expired     = "expired"
	revoked     = "revoked"
	otherViewer = "other team's viewer"
	ownViewer   = "own viewer"
	deployer    = "deployer"
	teamAdmin   = "admin"
	globalAdmin = "global admin"
)

var callers = []string{noToken, expired, revoked, otherViewer, ownViewer, deployer, teamAdmin, globalAdmin}

// fixtureForgeToken is the forge token of alpha/reports's repository connection.
const fixtureForgeToken = "fixture-forge-token-77aa"

// fixtureSecret is the value of the secret API_KEY of alpha/reports.
const fixtureSecret = "fixture-secret-4b1d0c9e"

const bootstrap = "berth_bootstrap_token_for_tests_0123456789abcdef"

const reportsManifest = `apiVersion: berth.dev/v1
metadata: {name: reports, team: alpha}
containers:
  web: {image: registry.example.com/reports:1}
`

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureWith(t, testKey(t))
}

// testKey returns a fresh secrets key.
func testKey(t *testing.T) *seal.Key {
	t.Helper()
	raw := make([]byte, seal.KeySize)
	rand.Read(raw)
	k, err := seal.NewKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newFixtureWith is newFixture with key as the secrets key (nil: none).
func newFixtureWith(t *testing.T, key *seal.Key) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "berth.db"), store.WithSecretsKey(key))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logs := &bytes.Buffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	clk := &clock{now: time.Now()}
	svc := service.New(st, log, clk.Now)
	pg := &fakePostgres{}
	svc.SetPostgresAdmin(pg)
	svc.SetSmoker(smokerFunc(func(_ context.Context, d berth.Deploy) (berth.SmokeRun, error) {
		return berth.SmokeRun{Revision: d.Revision, Passed: true, Duration: 12 * time.Millisecond,
			Results: []berth.SmokeResult{{Name: "GET /health", Kind: berth.SmokeHTTP, Passed: true, Status: 200, Attempts: 1, Duration: 12 * time.Millisecond}}}, nil
	}))
	svc.SetSignals(signalsFunc(cannedSignals))
	if _, err := svc.Bootstrap(ctx, bootstrap); err != nil {
		t.Fatal(err)
	}
	a := api.New(svc, log, prometheus.NewRegistry(), func(ctx context.Context) error { return st.DB().PingContext(ctx) })
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	f := &fixture{t: t, srv: srv, api: a, st: st, clock: clk, tokens: map[string]string{}, ids: map[string]int64{}, logs: logs, pg: pg}
	f.tokens[globalAdmin] = bootstrap

	root, err := svc.Authenticate(ctx, bootstrap)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, team := range []string{"alpha", "beta", "gamma"} {
		_, err := svc.CreateTeam(ctx, root, team)
		must(err)
	}
	users := map[string][2]string{ // user -> team, role
		"vera": {"alpha", "viewer"}, "dan": {"alpha", "deployer"}, "ada": {"alpha", "admin"},
		"bob": {"beta", "viewer"}, "eve": {"alpha", "viewer"}, "rex": {"alpha", "viewer"}, "carol": {},
	}
	for u, m := range users {
		_, err := svc.CreateUser(ctx, root, berth.User{Name: u})
		must(err)
		if m[0] != "" {
			_, err = svc.SetMember(ctx, root, m[0], u, m[1])
			must(err)
		}
	}
	token := func(user, name string, ttl time.Duration) (int64, string) {
		tok, secret, err := svc.CreateToken(ctx, root, user, name, ttl)
		must(err)
		return tok.ID, secret
	}
	_, f.tokens[ownViewer] = token("vera", "t", 0)
	_, f.tokens[deployer] = token("dan", "t", 0)
	_, f.tokens[teamAdmin] = token("ada", "t", 0)
	_, f.tokens[otherViewer] = token("bob", "t", 0)
	_, f.tokens[expired] = token("eve", "t", time.Hour)
	var revokedID int64
	revokedID, f.tokens[revoked] = token("rex", "t", 0)
	_, err = svc.RevokeToken(ctx, root, revokedID)
	must(err)
	f.ids["carol"], _ = token("carol", "spare", 0)

	_, err = svc.CreateApp(ctx, root, "alpha", "reports", reportsManifest)
	must(err)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	must(os.WriteFile(kubeconfig, []byte("apiVersion: v1\nkind: Config\n"), 0o600))
	for _, env := range []string{"staging", "old"} {
		_, err = svc.CreateEnvironment(ctx, root, berth.Environment{Name: env, Kubeconfig: kubeconfig})
		must(err)
	}
	if key != nil { // a connection's token is sealed
		conn, err := svc.ConnectRepo(ctx, root, service.ConnectRequest{Team: "alpha", App: "reports", Forge: berth.ForgeGitea,
			URL: "http://127.0.0.1:3000/alpha/reports", Token: fixtureForgeToken})
		must(err)
		f.hookSecret = conn.HookSecret
	}
	_, _, err = svc.SetProvisioners(ctx, root, "staging", "fixture.yaml", []byte("- type: s3\n  outputs: \"bucket: b\"\n"))
	must(err)
	// Two successful deploys of reports in staging, as a worker would leave them.
	for range 2 {
		d, err := svc.CreateDeploy(ctx, root, service.DeployRequest{Team: "alpha", App: "reports", Env: "staging"})
		must(err)
		claimed, ok, err := st.ClaimDeploy(ctx, "test-worker", time.Minute)
		must(err)
		if !ok || claimed.ID != d.ID {
			t.Fatalf("claimed %v %v, want deploy %d", claimed.ID, ok, d.ID)
		}
		must(st.Tx(ctx, func(tx *store.Tx) error {
			if _, err := tx.SetDeployObjects(ctx, d.ID, "test-worker", []byte(`[{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"reports"}}]`)); err != nil {
				return err
			}
			if _, err := tx.AddDeployEvent(ctx, berth.DeployEvent{DeployID: d.ID, Phase: "available", Desired: 1, Ready: 1}); err != nil {
				return err
			}
			_, err := tx.FinishDeploy(ctx, d.ID, "test-worker", berth.DeploySucceeded, "available")
			return err
		}))
		f.ids["deploy"] = d.ID
	}
	// Config and secrets at the team and app levels, so listings have items.
	if key != nil {
		_, err = svc.UpdateSettings(ctx, root, service.SettingsChange{Kind: berth.SettingSecret,
			Scope: berth.Scope{Team: "alpha", App: "reports"}, Set: map[string]string{"API_KEY": fixtureSecret}})
		must(err)
	}
	_, err = svc.UpdateSettings(ctx, root, service.SettingsChange{Kind: berth.SettingConfig,
		Scope: berth.Scope{Team: "alpha"}, Set: map[string]string{"REGION": "eu"}})
	must(err)
	if key != nil {
		must(st.Tx(ctx, fixtureResources))
	}
	// Every token but the expiring one outlives this jump.
	clk.Add(2 * time.Hour)
	return f
}

// do sends a request as caller and returns the status and body.
func (f *fixture) do(caller, method, path string, body any) (int, []byte) {
	f.t.Helper()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			f.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok := f.tokens[caller]; tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return f.send(req)
}

func (f *fixture) send(req *http.Request) (int, []byte) {
	f.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return resp.StatusCode, data
}

// auditCount is the number of audit events in the store.
func (f *fixture) auditCount() int {
	f.t.Helper()
	var n int
	if err := f.st.DB().QueryRow("SELECT COUNT(*) FROM audit_events").Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

// expand fills {carol} (a spare token's id) and {deploy} (a finished deploy's id) in a path,
// and makes what {batch} (a finished team redeploy) and {failed} (a failed deploy with its
// automatic rollback) name only when a path asks for them.
func (f *fixture) expand(path string) string {
	path = strings.ReplaceAll(path, "{carol}", fmt.Sprint(f.ids["carol"]))
	if strings.Contains(path, "{batch}") {
		path = strings.ReplaceAll(path, "{batch}", fmt.Sprint(f.finishedBatch()))
	}
	if strings.Contains(path, "{failed}") {
		failed, _ := f.failedWithRollback()
		path = strings.ReplaceAll(path, "{failed}", fmt.Sprint(failed.ID))
	}
	if strings.Contains(path, "{awaiting}") {
		path = strings.ReplaceAll(path, "{awaiting}", fmt.Sprint(f.awaiting().ID))
	}
	return strings.ReplaceAll(path, "{deploy}", fmt.Sprint(f.ids["deploy"]))
}

// The PostgreSQL server registered for staging, and the password of the fixture's postgres
// resource: neither may appear in any response or audit event.
const (
	fixturePGPassword = "fixture-pg-admin-pw-77ab"
	fixturePGDSN      = "postgres://berth:" + fixturePGPassword + "@db.example:5432/postgres?sslmode=require"
	fixtureDBPassword = "fixture-db-password-5e1c"
)

// fixtureResources registers staging's PostgreSQL server and records what provisioners
// made for alpha/reports there: db, a postgres database no longer declared (orphaned),
// events, a postgres database it still declares, and cache, a redis it still declares.
func fixtureResources(tx *store.Tx) error {
	ctx := context.Background()
	if err := tx.SetEnvironmentPostgres(ctx, "staging", fixturePGDSN, "postgres://berth@db.example:5432/postgres?sslmode=require"); err != nil {
		return err
	}
	db := berth.Resource{Env: "staging", Team: "alpha", App: "reports", Name: "db", Type: "postgres", Provisioner: "builtin/postgres",
		UID:     berth.ResourceUID("postgres", "", "", "alpha", "reports", "db"),
		Outputs: map[string]string{"host": "db.example", "port": "5432", "database": "alpha_reports_staging_db", "username": "alpha_reports_staging_db"}}
	url := "postgres://alpha_reports_staging_db:" + fixtureDBPassword + "@db.example:5432/alpha_reports_staging_db"
	if _, _, err := tx.SaveResource(ctx, db, berth.ResourceSecrets{
		State:   map[string]any{"database": "alpha_reports_staging_db", "username": "alpha_reports_staging_db", "password": fixtureDBPassword},
		Outputs: map[string]string{"password": fixtureDBPassword, "url": url},
	}, "deploy 1"); err != nil {
		return err
	}
	if _, err := tx.OrphanResources(ctx, "staging", "alpha", "reports", nil, "deploy 2"); err != nil {
		return err
	}
	events := berth.Resource{Env: "staging", Team: "alpha", App: "reports", Name: "events", Type: "postgres", Provisioner: "builtin/postgres",
		UID: berth.ResourceUID("postgres", "", "", "alpha", "reports", "events"), Outputs: map[string]string{"host": "db.example"}}
	if _, _, err := tx.SaveResource(ctx, events, berth.ResourceSecrets{
		State:   map[string]any{"database": "alpha_reports_staging_events", "username": "alpha_reports_staging_events", "password": fixtureDBPassword + "-events"},
		Outputs: map[string]string{"password": fixtureDBPassword + "-events"},
	}, "deploy 2"); err != nil {
		return err
	}
	cache := berth.Resource{Env: "staging", Team: "alpha", App: "reports", Name: "cache", Type: "redis",
		Provisioner: "file://redis (provisioner file v1)", UID: berth.ResourceUID("redis", "", "", "alpha", "reports", "cache"),
		Outputs: map[string]string{"host": "redis.platform"}}
	_, _, err := tx.SaveResource(ctx, cache, berth.ResourceSecrets{Outputs: map[string]string{"password": fixtureDBPassword + "-redis"}}, "deploy 2")
	return err
}

// smokerFunc stands in for the deploy engine's smoke runner, which the real-node tests of
// cmd/berth run against real pods.
type smokerFunc func(context.Context, berth.Deploy) (berth.SmokeRun, error)

func (f smokerFunc) Smoke(ctx context.Context, d berth.Deploy) (berth.SmokeRun, error) {
	return f(ctx, d)
}

// fakePostgres stands in for internal/pgadmin. Check accepts every DSN but those naming
// host "down", whose error quotes the DSN (pgadmin's never do: the service must scrub it
// anyway); Drop records what it dropped.
type fakePostgres struct {
	mu    sync.Mutex
	drops []string // "dsn database role"
}

func (p *fakePostgres) Check(_ context.Context, dsn string) (service.PostgresServer, error) {
	if strings.Contains(dsn, "@down") || strings.Contains(dsn, "host=down") {
		return service.PostgresServer{}, fmt.Errorf("check postgres on down:5432: cannot connect with %s", dsn)
	}
	return service.PostgresServer{Version: "16.4", Host: "db.example", Port: 5432}, nil
}

func (p *fakePostgres) Drop(_ context.Context, dsn, database, role string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drops = append(p.drops, dsn+" "+database+" "+role)
	return nil
}

func (p *fakePostgres) dropped() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.drops...)
}
