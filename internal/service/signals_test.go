package service_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/service"
	"github.com/berth-dev/berth/internal/store"
)

// fakeSignals stands in for the Prometheus behind the service's SignalReader port
// (internal/prom's own test reads a real one): it records the queries and answers series.
type fakeSignals struct {
	queries []berth.SignalQuery
	err     error
}

func (f *fakeSignals) Signals(_ context.Context, q berth.SignalQuery) ([]berth.Series, error) {
	f.queries = append(f.queries, q)
	if f.err != nil {
		return nil, f.err
	}
	return []berth.Series{{Name: berth.SignalCPU, Unit: berth.UnitCores, Limit: q.CPULimit,
		Points: []berth.Point{{T: q.End, V: 0.2}}}}, nil
}

const webManifest = `apiVersion: berth.dev/v1
metadata: {name: web, team: shop}
containers:
  web:
    image: registry.example.com/web:1
    resources: {limits: {cpu: 500m, memory: 128Mi}}
  sidecar:
    image: registry.example.com/proxy:1
    resources: {limits: {cpu: 250m, memory: 64Mi}}
metrics: {port: 8080, requests: app_requests_total}
environments:
  production:
    containers:
      web: {resources: {limits: {cpu: "2"}}}
`

// batchManifest has no metrics, and a container without limits.
const batchManifest = `apiVersion: berth.dev/v1
metadata: {name: batch, team: shop}
containers:
  main: {image: registry.example.com/batch:1, resources: {limits: {cpu: "1"}}}
  helper: {image: registry.example.com/helper:1}
`

// deployed records a successful deploy of manifest to env, as a worker would leave it.
func deployed(t *testing.T, svc *service.Service, st *store.Store, admin *authz.Principal, env, manifest string) {
	t.Helper()
	ctx := t.Context()
	d, err := svc.CreateDeploy(ctx, admin, service.DeployRequest{Env: env, Manifest: manifest})
	if err != nil {
		t.Fatal(err)
	}
	claimed, ok, err := st.ClaimDeploy(ctx, "test-worker", time.Minute)
	if err != nil || !ok || claimed.ID != d.ID {
		t.Fatalf("claimed %v %v %v, want deploy %d", claimed.ID, ok, err, d.ID)
	}
	if err := st.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.SetDeployObjects(ctx, d.ID, "test-worker", []byte(`[]`)); err != nil {
			return err
		}
		_, err := tx.FinishDeploy(ctx, d.ID, "test-worker", berth.DeploySucceeded, "available")
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// signalsService is a service with the teams shop (vera views it) and other (bob views
// it), the environments staging, production and qa, shop/web deployed to staging and
// production and shop/batch to staging.
func signalsService(t *testing.T) (*service.Service, *clock, map[string]*authz.Principal) {
	t.Helper()
	svc, st, clk, admin := sessions(t)
	ctx := t.Context()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte("apiVersion: v1\nkind: Config\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, team := range []string{"shop", "other"} {
		if _, err := svc.CreateTeam(ctx, admin, team); err != nil {
			t.Fatal(err)
		}
	}
	for _, env := range []string{"staging", "production", "qa"} {
		if _, err := svc.CreateEnvironment(ctx, admin, berth.Environment{Name: env, Kubeconfig: kubeconfig}); err != nil {
			t.Fatal(err)
		}
	}
	who := map[string]*authz.Principal{"admin": admin}
	for user, team := range map[string]string{"vera": "shop", "bob": "other"} {
		if _, err := svc.CreateUser(ctx, admin, berth.User{Name: user}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.SetMember(ctx, admin, team, user, "viewer"); err != nil {
			t.Fatal(err)
		}
		_, secret, err := svc.CreateToken(ctx, admin, user, "t", 0)
		if err != nil {
			t.Fatal(err)
		}
		if who[user], err = svc.Authenticate(ctx, secret); err != nil {
			t.Fatal(err)
		}
	}
	deployed(t, svc, st, admin, "staging", webManifest)
	deployed(t, svc, st, admin, "production", webManifest)
	deployed(t, svc, st, admin, "staging", batchManifest)
	return svc, clk, who
}

// TestAppSignals: a viewer of the app's team reads its signals; the query names the app's
// namespace, containers and request metrics, and its pod's limits for the environment,
// over the range asked for ending now.
func TestAppSignals(t *testing.T) {
	svc, clk, who := signalsService(t)
	reader := &fakeSignals{}
	svc.SetSignals(reader)
	now := clk.Now()

	got, err := svc.AppSignals(t.Context(), who["vera"], "shop", "web", "staging", 0)
	if err != nil {
		t.Fatal(err)
	}
	wantQuery := berth.SignalQuery{Team: "shop", App: "web", Env: "staging", Namespace: "shop-staging",
		Containers: []string{"sidecar", "web"}, Requests: "app_requests_total", Duration: "http_request_duration_seconds",
		Start: now.Add(-time.Hour), End: now, Step: 30 * time.Second, CPULimit: 0.75, MemoryLimit: 192 << 20}
	if diff := cmp.Diff([]berth.SignalQuery{wantQuery}, reader.queries); diff != "" {
		t.Errorf("query (-want +got):\n%s", diff)
	}
	want := berth.Signals{Team: "shop", App: "web", Env: "staging", End: now, Since: time.Hour, Step: 30 * time.Second,
		Series: []berth.Series{{Name: berth.SignalCPU, Unit: berth.UnitCores, Limit: 0.75, Points: []berth.Point{{T: now, V: 0.2}}}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("signals (-want +got):\n%s", diff)
	}

	// production's overlay raises web's CPU limit; 7 days go in 84-minute steps.
	reader.queries = nil
	if _, err := svc.AppSignals(t.Context(), who["admin"], "shop", "web", "production", 7*24*time.Hour); err != nil {
		t.Fatal(err)
	}
	q := reader.queries[0]
	if q.Namespace != "shop-production" || q.CPULimit != 2.25 || q.MemoryLimit != 192<<20 || q.Step != 84*time.Minute || !q.Start.Equal(now.Add(-7*24*time.Hour)) {
		t.Errorf("production query %+v, want namespace shop-production, 2.25 cores, 192 MiB, 84m steps over 7 days", q)
	}

	// batch declares no metrics, and one of its containers has no limit: the pod has none.
	reader.queries = nil
	if _, err := svc.AppSignals(t.Context(), who["vera"], "shop", "batch", "staging", 15*time.Minute); err != nil {
		t.Fatal(err)
	}
	q = reader.queries[0]
	if q.Requests != "" || q.Duration != "" || q.CPULimit != 0 || q.MemoryLimit != 0 || q.Step != 8*time.Second {
		t.Errorf("batch query %+v, want no request metrics, no limits, 8s steps over 15m", q)
	}
}

// TestAppSignalsRefusals: who may not read the app, what does not exist or never ran
// there, a range out of bounds, a server without Prometheus or with a failing one: each
// says so, without asking Prometheus for what the caller may not see.
func TestAppSignalsRefusals(t *testing.T) {
	svc, _, who := signalsService(t)
	reader := &fakeSignals{}
	svc.SetSignals(reader)
	var denied *authz.Denied
	for _, c := range []struct {
		name, user, app, env string
		since                time.Duration
		is                   func(error) bool
		msg                  string
	}{
		{"another team's viewer", "bob", "web", "staging", 0, func(err error) bool { return errors.As(err, &denied) }, "bob is not a member of team shop"},
		{"no such app", "vera", "nope", "staging", 0, isErr(berth.ErrNotFound), `app "shop/nope": not found`},
		{"no such env", "vera", "web", "nope", 0, isErr(berth.ErrNotFound), `environment "nope": not found`},
		{"never deployed there", "vera", "web", "qa", 0, isErr(berth.ErrNotFound), "shop/web has no successful deploy in qa"},
		{"no env", "vera", "web", "", 0, isErr(berth.ErrInvalid), "env: required"},
		{"too short", "vera", "web", "staging", 30 * time.Second, isErr(berth.ErrInvalid), "since: must be from 1m to 7d, not 30s"},
		{"too long", "vera", "web", "staging", 8 * 24 * time.Hour, isErr(berth.ErrInvalid), "since: must be from 1m to 7d, not 192h0m0s"},
	} {
		_, err := svc.AppSignals(t.Context(), who[c.user], "shop", c.app, c.env, c.since)
		if err == nil || !c.is(err) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.msg)
		}
	}
	if len(reader.queries) != 0 {
		t.Errorf("refused requests asked Prometheus %+v", reader.queries)
	}

	reader.err = errors.New(`prometheus at http://127.0.0.1:9090: query cpu of shop/web in staging: connection refused`)
	_, err := svc.AppSignals(t.Context(), who["vera"], "shop", "web", "staging", 0)
	if !errors.Is(err, berth.ErrUnavailable) || !strings.Contains(err.Error(), "prometheus at http://127.0.0.1:9090") {
		t.Errorf("a failing Prometheus: %v, want unavailable, saying which and why", err)
	}

	svc.SetSignals(nil)
	_, err = svc.AppSignals(t.Context(), who["vera"], "shop", "web", "staging", 0)
	if !errors.Is(err, berth.ErrUnavailable) || err.Error() != "this server has no Prometheus: start it with --prometheus-url" {
		t.Errorf("no Prometheus: %v", err)
	}
}

func isErr(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}
