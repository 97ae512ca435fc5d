package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/berth-dev/berth/internal/api"
	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/service"
	"github.com/berth-dev/berth/internal/store"
)

// signalsFunc stands in for the Prometheus behind the service's SignalReader port
// (internal/prom's test reads a real one).
type signalsFunc func(context.Context, berth.SignalQuery) ([]berth.Series, error)

func (f signalsFunc) Signals(ctx context.Context, q berth.SignalQuery) ([]berth.Series, error) {
	return f(ctx, q)
}

// cannedSignals answers two series over q's range: traffic with a point at its start and
// its end, and memory with no points.
func cannedSignals(_ context.Context, q berth.SignalQuery) ([]berth.Series, error) {
	return []berth.Series{
		{Name: berth.SignalTraffic, Unit: berth.UnitPerSecond, Help: "requests answered per second",
			Points: []berth.Point{{T: q.Start, V: 1.5}, {T: q.End, V: 2.25}}},
		{Name: berth.SignalMemory, Unit: berth.UnitBytes, Help: "memory", Limit: 128 << 20},
	}, nil
}

// signalsServer is an API server on a fresh store with shop/web deployed to staging, an
// environment qa it was never deployed to, and tokens for shop's viewer vera and other's
// viewer bob; reader is its Prometheus (nil: none).
func signalsServer(t *testing.T, reader service.SignalReader) (url string, tokens map[string]string) {
	t.Helper()
	ctx := t.Context()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.DiscardHandler)
	svc := service.New(st, log, time.Now)
	if reader != nil {
		svc.SetSignals(reader)
	}
	if _, err := svc.Bootstrap(ctx, bootstrap); err != nil {
		t.Fatal(err)
	}
	root, err := svc.Authenticate(ctx, bootstrap)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(err)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	must(os.WriteFile(kubeconfig, []byte("apiVersion: v1\nkind: Config\n"), 0o600))
	for _, env := range []string{"staging", "qa"} {
		_, err := svc.CreateEnvironment(ctx, root, berth.Environment{Name: env, Kubeconfig: kubeconfig})
		must(err)
	}
	tokens = map[string]string{}
	for user, team := range map[string]string{"vera": "shop", "bob": "other"} {
		_, err := svc.CreateTeam(ctx, root, team)
		must(err)
		_, err = svc.CreateUser(ctx, root, berth.User{Name: user})
		must(err)
		_, err = svc.SetMember(ctx, root, team, user, "viewer")
		must(err)
		_, tokens[user], err = svc.CreateToken(ctx, root, user, "t", 0)
		must(err)
	}
	d, err := svc.CreateDeploy(ctx, root, service.DeployRequest{Env: "staging", Manifest: `apiVersion: berth.dev/v1
metadata: {name: web, team: shop}
containers:
  web: {image: registry.example.com/web:1}
`})
	must(err)
	_, _, err = st.ClaimDeploy(ctx, "test-worker", time.Minute)
	must(err)
	must(st.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.SetDeployObjects(ctx, d.ID, "test-worker", []byte(`[]`)); err != nil {
			return err
		}
		_, err := tx.FinishDeploy(ctx, d.ID, "test-worker", berth.DeploySucceeded, "available")
		return err
	}))
	srv := httptest.NewServer(api.New(svc, log, prometheus.NewRegistry(), func(context.Context) error { return nil }).Handler())
	t.Cleanup(srv.Close)
	return srv.URL, tokens
}

func getAs(t *testing.T, url, token string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, data
}

// TestSignals: an app's signals as JSON — the range in seconds, each series with its
// unit, help, limit (absent without one) and points, [] when it has none — read alike
// through the typed client.
func TestSignals(t *testing.T) {
	url, tokens := signalsServer(t, signalsFunc(cannedSignals))
	const path = "/api/v1/teams/shop/apps/web/envs/staging/metrics"
	status, data := getAs(t, url+path+"?since=6h", tokens["vera"])
	if status != 200 {
		t.Fatalf("GET %s: %d %s", path, status, data)
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	series := raw["series"].([]any)
	traffic, memory := series[0].(map[string]any), series[1].(map[string]any)
	if raw["team"] != "shop" || raw["app"] != "web" || raw["env"] != "staging" || raw["sinceSeconds"] != 21600.0 || raw["stepSeconds"] != 180.0 {
		t.Errorf("signals %s, want shop/web in staging over 21600 s in 180 s steps", data)
	}
	if _, has := traffic["limit"]; has || traffic["unit"] != "requests/s" || traffic["help"] == "" || len(traffic["points"].([]any)) != 2 {
		t.Errorf("traffic %v, want requests/s, help, 2 points and no limit", traffic)
	}
	if p := traffic["points"].([]any)[1].(map[string]any); p["v"] != 2.25 || p["t"] != raw["end"] {
		t.Errorf("traffic's last point %v, want 2.25 at the end %v", p, raw["end"])
	}
	if memory["limit"] != float64(128<<20) || memory["points"] == nil || len(memory["points"].([]any)) != 0 {
		t.Errorf("memory %v, want its limit and points: []", memory)
	}

	c, err := apiclient.New(url, tokens["vera"])
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Signals(t.Context(), "shop", "web", "staging", "6h")
	if err != nil {
		t.Fatal(err)
	}
	var want apiv1.Signals
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	// Read at another time, the range has moved on.
	got.End, want.End = time.Time{}, time.Time{}
	for _, s := range append(got.Series, want.Series...) {
		for i := range s.Points {
			s.Points[i].T = time.Time{}
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("typed client (-want +got):\n%s", diff)
	}

	if status, data := getAs(t, url+path+"?since=7d", tokens["vera"]); status != 200 || !strings.Contains(string(data), `"sinceSeconds": 604800`) {
		t.Errorf("since=7d: %d %s", status, data)
	}
}

// TestSignalsRefusals: each refusal says what is wrong and where, with its status.
func TestSignalsRefusals(t *testing.T) {
	url, tokens := signalsServer(t, signalsFunc(cannedSignals))
	const path = "/api/v1/teams/shop/apps/web/envs/staging/metrics"
	for _, c := range []struct {
		token, path string
		status      int
		code, field string
		message     string
	}{
		{"", path, 401, "unauthenticated", "", ""},
		{tokens["bob"], path, 403, "forbidden", "", "bob is not a member of team shop"},
		{tokens["vera"], "/api/v1/teams/shop/apps/nope/envs/staging/metrics", 404, "not_found", "", `app "shop/nope": not found`},
		{tokens["vera"], "/api/v1/teams/shop/apps/web/envs/nope/metrics", 404, "not_found", "", `environment "nope": not found`},
		{tokens["vera"], "/api/v1/teams/shop/apps/web/envs/qa/metrics", 404, "not_found", "", "shop/web has no successful deploy in qa"},
		{tokens["vera"], path + "?since=30s", 400, "invalid", "since", "must be from 1m to 7d, not 30s"},
		{tokens["vera"], path + "?since=8d", 400, "invalid", "since", "must be from 1m to 7d, not 8d"},
		{tokens["vera"], path + "?since=yesterday", 400, "invalid", "since", `"yesterday" is not a duration`},
	} {
		status, data := getAs(t, url+c.path, c.token)
		var e apiv1.Error
		if status != c.status || json.Unmarshal(data, &e) != nil || e.Code != c.code || e.Field != c.field || !strings.Contains(e.Message, c.message) {
			t.Errorf("GET %s: %d %s\nwant %d %s field %q saying %q", c.path, status, data, c.status, c.code, c.field, c.message)
		}
	}
}

// TestSignalsWithoutPrometheus: a server started without --prometheus-url says so.
func TestSignalsWithoutPrometheus(t *testing.T) {
	url, tokens := signalsServer(t, nil)
	status, data := getAs(t, url+"/api/v1/teams/shop/apps/web/envs/staging/metrics", tokens["vera"])
	var e apiv1.Error
	if status != 503 || json.Unmarshal(data, &e) != nil || e.Code != "unavailable" ||
		e.Message != "this server has no Prometheus: start it with --prometheus-url" {
		t.Errorf("%d %s, want 503 unavailable saying the server has no Prometheus", status, data)
	}
}
