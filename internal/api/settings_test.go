package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// TestSecretValuesNeverLeaveTheServer sets a canary secret at every level, then calls every
// route as a global admin: no response, log line or database row holds the canary.
func TestSecretValuesNeverLeaveTheServer(t *testing.T) {
	f := newFixture(t)
	const canary = "canary-api-5e0f2b7d"
	levels := []string{"/api/v1", "/api/v1/teams/alpha", "/api/v1/teams/alpha/apps/reports", "/api/v1/teams/alpha/apps/reports/envs/staging"}
	var bodies bytes.Buffer
	for i, l := range levels {
		status, data := f.do(globalAdmin, "PATCH", l+"/secrets", apiv1.UpdateSettings{Set: map[string]string{"CANARY": canary + string(rune('a'+i))}})
		if status != 200 {
			t.Fatalf("set at %s: %d %s", l, status, data)
		}
		bodies.Write(data)
	}
	// Error paths with the canary in the request.
	for _, req := range []struct{ path, body string }{
		{"/api/v1/secrets", `{"set":{"BAD KEY":"` + canary + `"}}`},
		{"/api/v1/teams/alpha/apps/nope/secrets", `{"set":{"K":"` + canary + `"}}`},
		{"/api/v1/secrets", `{"set":{"K":"` + canary + `"},"unset":["K"]}`},
		{"/api/v1/secrets", `{"set":{"K":"` + canary + `"},"bogus":1}`},
		{"/api/v1/secrets", `{"set":{"K":` + canary + `}}`},
		{"/api/v1/secrets", `{"set":{"K":"` + strings.Repeat(canary, 5000) + `"}}`},
	} {
		r, _ := http.NewRequest("PATCH", f.srv.URL+req.path, strings.NewReader(req.body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+f.tokens[globalAdmin])
		status, data := f.send(r)
		if status < 400 {
			t.Errorf("PATCH %s %s: %d", req.path, req.body, status)
		}
		bodies.Write(data)
	}
	for id, rc := range routeCases() {
		if rc.method != "GET" || id == "streamDeploy" {
			continue
		}
		_, data := f.do(globalAdmin, "GET", f.expand(rc.path), nil)
		bodies.Write(data)
	}
	_, data := f.do(globalAdmin, "GET", "/api/v1/audit?limit=1000", nil)
	bodies.Write(data)
	for what, b := range map[string][]byte{"responses": bodies.Bytes(), "logs": f.logs.Bytes(), "database": dump(t, f)} {
		for _, v := range []string{canary, fixtureSecret} {
			if bytes.Contains(b, []byte(v)) {
				t.Errorf("a secret value appears in the %s", what)
			}
		}
	}
	if !bytes.Contains(bodies.Bytes(), []byte(`"CANARY"`)) {
		t.Error("the listings do not name the secret")
	}
}

// TestSecretsWithoutKey runs a server without a secrets key: config works, secrets are
// listed, and setting one is refused with how to configure a key.
func TestSecretsWithoutKey(t *testing.T) {
	f := newFixtureWith(t, nil)
	if status, data := f.do(teamAdmin, "PATCH", "/api/v1/teams/alpha/config", setting("A", "1")); status != 200 {
		t.Fatalf("config without a key: %d %s", status, data)
	}
	if status, data := f.do(teamAdmin, "GET", "/api/v1/teams/alpha/secrets", nil); status != 200 {
		t.Fatalf("list secrets without a key: %d %s", status, data)
	}
	status, data := f.do(teamAdmin, "PATCH", "/api/v1/teams/alpha/secrets", setting("A", "1"))
	var e apiv1.Error
	json.Unmarshal(data, &e)
	if status != http.StatusServiceUnavailable || !strings.Contains(e.Message, "--secrets-key-file") || !strings.Contains(e.Message, "BERTH_SECRETS_KEY") {
		t.Fatalf("set a secret without a key: %d %s", status, data)
	}
}

// TestDeployNeedsItsSettings: a deploy of a manifest that reads a config or secret key no
// level sets is refused at once, naming the key and the levels searched; once set, it is
// queued, and the resolved view shows where each value comes from.
func TestDeployNeedsItsSettings(t *testing.T) {
	f := newFixture(t)
	m := strings.Replace(reportsManifest, "web: {image: registry.example.com/reports:1}",
		`web: {image: registry.example.com/reports:1, variables: {DB_PASSWORD: "${secrets.DB_PASSWORD}", REGION: "${config.REGION}"}}`, 1)
	status, data := f.do(deployer, "POST", "/api/v1/deploys", apiv1.CreateDeploy{Env: "staging", Manifest: m})
	var e apiv1.Error
	json.Unmarshal(data, &e)
	t.Logf("refusal: %s", e.Message)
	if status != 400 || e.Field != "manifest" {
		t.Fatalf("deploy with a missing secret: %d %s", status, data)
	}
	for _, want := range []string{"DB_PASSWORD", "app alpha/reports in staging", "app alpha/reports", "team alpha", "global"} {
		if !strings.Contains(e.Message, want) {
			t.Errorf("the refusal does not say %q: %s", want, e.Message)
		}
	}
	if status, data := f.do(teamAdmin, "PATCH", "/api/v1/secrets", setting("DB_PASSWORD", "x")); status != 403 {
		t.Fatalf("team admin set a global secret: %d %s", status, data)
	}
	if status, data := f.do(teamAdmin, "PATCH", "/api/v1/teams/alpha/apps/reports/envs/staging/secrets", setting("DB_PASSWORD", "pw")); status != 200 {
		t.Fatalf("set the secret: %d %s", status, data)
	}
	if status, data := f.do(deployer, "POST", "/api/v1/deploys", apiv1.CreateDeploy{Env: "staging", Manifest: m}); status != 201 {
		t.Fatalf("deploy with its settings: %d %s", status, data)
	}
	status, data = f.do(ownViewer, "GET", "/api/v1/teams/alpha/apps/reports/envs/staging/resolved", nil)
	var res apiv1.ResolvedSettings
	if status != 200 || json.Unmarshal(data, &res) != nil {
		t.Fatalf("resolved: %d %s", status, data)
	}
	var got []string
	for _, c := range res.Config {
		got = append(got, c.Key+"="+c.Value+"@"+c.Level)
	}
	for _, s := range res.Secrets {
		got = append(got, s.Key+"@"+s.Level)
	}
	if strings.Join(got, " ") != "REGION=eu@team API_KEY@app DB_PASSWORD@app+env" {
		t.Errorf("resolved %v", got)
	}
}

// TestUpdateRedeploysAffectedApps: --redeploy queues a refreshing redeploy of the deployed
// apps that read a changed key and get it from the changed level, and no others.
func TestUpdateRedeploysAffectedApps(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	m := strings.Replace(reportsManifest, "web: {image: registry.example.com/reports:1}",
		`web: {image: registry.example.com/reports:1, variables: {REGION: "${config.REGION}"}}`, 1)
	status, data := f.do(deployer, "POST", "/api/v1/deploys", apiv1.CreateDeploy{Env: "staging", Manifest: m})
	var d apiv1.Deploy
	if status != 201 || json.Unmarshal(data, &d) != nil {
		t.Fatalf("deploy: %d %s", status, data)
	}
	claimed, ok, err := f.st.ClaimDeploy(ctx, "w", time.Minute)
	if err != nil || !ok || claimed.ID != d.ID {
		t.Fatalf("claim: %v %v %v", claimed.ID, ok, err)
	}
	if err := f.st.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.SetDeployObjects(ctx, d.ID, "w", []byte(`[]`)); err != nil {
			return err
		}
		_, err := tx.FinishDeploy(ctx, d.ID, "w", berth.DeploySucceeded, "available")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	redeploys := func(path string, u apiv1.UpdateSettings) []apiv1.Deploy {
		t.Helper()
		u.Redeploy = true
		status, data := f.do(globalAdmin, "PATCH", path, u)
		var out apiv1.ConfigUpdated
		if status != 200 || json.Unmarshal(data, &out) != nil {
			t.Fatalf("PATCH %s: %d %s", path, status, data)
		}
		return out.Deploys
	}
	// A key reports does not read; then REGION at the team level, which it reads.
	if ds := redeploys("/api/v1/teams/alpha/config", setting("OTHER", "1")); len(ds) != 0 {
		t.Errorf("an unused key redeployed %d apps", len(ds))
	}
	ds := redeploys("/api/v1/teams/alpha/config", setting("REGION", "us"))
	if len(ds) != 1 || ds[0].App != "reports" || ds[0].Kind != "redeploy" || ds[0].Revision != d.Revision {
		t.Fatalf("team REGION change redeployed %+v", ds)
	}
	// Overridden for the app in staging: a global change no longer reaches it.
	redeploys("/api/v1/teams/alpha/apps/reports/envs/staging/config", setting("REGION", "ap"))
	if ds := redeploys("/api/v1/config", setting("REGION", "global")); len(ds) != 0 {
		t.Errorf("an overridden key redeployed %+v", ds)
	}
	if ds := redeploys("/api/v1/teams/alpha/apps/reports/envs/staging/config", apiv1.UpdateSettings{Unset: []string{"REGION"}}); len(ds) != 1 {
		t.Errorf("unsetting the override redeployed %+v", ds)
	}
}
