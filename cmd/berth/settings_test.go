package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/kubetest"
	"github.com/berth-dev/berth/internal/seal"
	"github.com/berth-dev/berth/internal/web/webtest"
)

// settingsManifest reads two secrets (one spliced into a longer value) and a config value.
// Its image is examples/hello's in the real node's registry, where --set fail=crash makes
// its containers exit at start (TestSecretsCanary); the readiness probe keeps such a
// container from counting as ready for the moment it runs. kwok's simulated pods run no
// container and are ready with any image.
const settingsManifest = `apiVersion: berth.dev/v1
metadata: {name: web, team: shop}
args: {fail: ""}
containers:
  web:
    image: registry.berth.localhost/hello:1
    variables:
      API_KEY: ${secrets.API_KEY}
      DB_URL: postgres://app:${secrets.DB_PASSWORD}@db/app
      REGION: ${config.REGION}
      HELLO_FAIL: ${args.fail}
    readinessProbe: {httpGet: {path: /ready, port: 8080}}
replicas: 2
`

// keyFile writes a new secrets key to a file and returns its path and id.
func keyFile(t *testing.T) (string, string) {
	t.Helper()
	raw := make([]byte, seal.KeySize)
	rand.Read(raw)
	k, err := seal.NewKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "secrets.key")
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(raw)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, k.ID()
}

// settingsSetup creates team shop and environment staging on srv and writes
// settingsManifest; it returns the manifest's path and the namespace.
func settingsSetup(t *testing.T, srv *serverProc) (string, string) {
	t.Helper()
	return shopEnv(t, srv, settingsManifest)
}

func mustBerth(t *testing.T, srv *serverProc, args ...string) string {
	t.Helper()
	out, code := runBerth(t, srv, args...)
	if code != 0 {
		t.Fatalf("berth %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// liveSecrets returns the data of the app's Secret in ns on the test cluster.
func liveSecrets(t *testing.T, ns string) map[string]string {
	t.Helper()
	return liveSecretsIn(t, kubetest.Client(t), ns)
}

// liveSecretsIn returns the data of the app's Secret in ns through cs.
func liveSecretsIn(t *testing.T, cs kubernetes.Interface, ns string) map[string]string {
	t.Helper()
	s, err := cs.CoreV1().Secrets(ns).Get(context.Background(), "web-secrets", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for k, v := range s.Data {
		out[k] = string(v)
	}
	return out
}

// liveDeployment returns the app's Deployment in ns through cs.
func liveDeployment(t *testing.T, cs kubernetes.Interface, ns string) *appsv1.Deployment {
	t.Helper()
	d, err := cs.AppsV1().Deployments(ns).Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// apiGet returns the body of a GET as the admin.
func apiGet(t *testing.T, srv *serverProc, path string) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", srv.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return data
}

func deployIDs(t *testing.T, srv *serverProc) []int64 {
	t.Helper()
	var ds apiv1.List[apiv1.Deploy]
	if err := json.Unmarshal(apiGet(t, srv, "/api/v1/teams/shop/apps/web/deploys?limit=1000"), &ds); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, d := range ds.Items {
		ids = append(ids, d.ID)
	}
	return ids
}

func canary(t *testing.T, name string) string {
	b := make([]byte, 8)
	rand.Read(b)
	return "canary-" + name + "-" + hex.EncodeToString(b)
}

// TestSecretsCanary sets secrets with unique canary values and goes through deploys that
// succeed and fail (containers that crash at start; a missing secret, refused at once and,
// unset behind a running app, failed by the engine before applying anything), a redeploy
// on change, a refresh, a rollback, listings, audit, error paths and every read of the API,
// against a server logging at debug level. The app runs on the real node, whose kubelet
// puts the secrets in real containers and reports their crashes. The canaries must be in
// the Kubernetes Secret and nowhere else: not in the server's output, API responses, CLI
// output or the raw database and WAL files.
func TestSecretsCanary(t *testing.T) {
	data := t.TempDir()
	key, _ := keyFile(t)
	srv := startServer(t, data, "--log-level", "debug", "--secrets-key-file", key)
	cluster, ns := realNodeShop(t, srv)
	cs := cluster.Client(t)
	file := writeManifest(t, settingsManifest)
	canaries := map[string]string{}
	for _, name := range []string{"team", "app", "env", "bad", "later"} {
		canaries[name] = canary(t, name)
	}
	var outputs bytes.Buffer
	run := func(want int, stdin string, args ...string) string {
		t.Helper()
		out, code := berthIn(t, srv, stdin, args...)
		outputs.WriteString(out)
		if want >= 0 && code != want {
			t.Fatalf("berth %s: exit %d, want %d\n%s", strings.Join(args, " "), code, want, out)
		}
		return out
	}

	// Secrets read from stdin (team level) and from the command line (app level).
	run(0, canaries["team"]+"\n", "secrets", "set", "API_KEY", "--team", "shop")
	run(0, "", "apps", "create", "web", "--team", "shop", "-f", file)
	run(0, "", "secrets", "set", "DB_PASSWORD="+canaries["app"], "--app", "web")
	run(0, "", "config", "set", "REGION=eu-west-1", "--team", "shop")

	// A manifest that reads a secret no level sets is refused before anything happens.
	missing := filepath.Join(t.TempDir(), "berth.yaml")
	os.WriteFile(missing, []byte(strings.Replace(settingsManifest, "REGION: ${config.REGION}", "REGION: ${config.REGION}\n      NOPE: ${secrets.MISSING_KEY}", 1)), 0o644)
	out := run(1, "", "deploy", "-f", missing, "--env", "staging", "--wait")
	for _, want := range []string{"MISSING_KEY", "app shop/web in staging, app shop/web, team shop, global"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing-secret refusal lacks %q:\n%s", want, out)
		}
	}
	if ids := deployIDs(t, srv); len(ids) != 0 {
		t.Fatalf("the refused deploy was recorded: %v", ids)
	}

	out = run(0, "", "deploy", "-f", file, "--env", "staging", "--wait")
	if !strings.Contains(out, "succeeded") {
		t.Fatalf("deploy:\n%s", out)
	}
	if got := liveSecretsIn(t, cs, ns); got["API_KEY"] != canaries["team"] || got["DB_PASSWORD"] != canaries["app"] || len(got) != 2 {
		t.Fatalf("live Secret after the first deploy holds the wrong values (%d keys)", len(got))
	}
	cm, err := cs.CoreV1().ConfigMaps(ns).Get(context.Background(), "web-config", metav1.GetOptions{})
	if err != nil || cm.Data["REGION"] != "eu-west-1" || cm.Labels["app.kubernetes.io/managed-by"] != "berth" {
		t.Fatalf("live ConfigMap: %v %v", cm, err)
	}
	sum1 := liveDeployment(t, cs, ns).Spec.Template.Annotations["berth.dev/config-checksum"]

	// A rollout that crash-loops fails and is rolled back automatically.
	out = run(1, "", "deploy", "-f", file, "--env", "staging", "--set", "fail=crash", "--timeout", "60s", "--wait")
	if !strings.Contains(out, "CrashLoopBackOff") || !strings.Contains(out, "automatic rollback") {
		t.Errorf("crash-looping deploy:\n%s", out)
	}

	// Revision 2 (three replicas), so that the redeploys below are of revision 2 and a
	// rollback --to 1 returns to the first deploy's objects.
	os.WriteFile(file, []byte(strings.Replace(settingsManifest, "replicas: 2", "replicas: 3", 1)), 0o644)
	run(0, "", "deploy", "-f", file, "--env", "staging", "--wait")
	sum1 = liveDeployment(t, cs, ns).Spec.Template.Annotations["berth.dev/config-checksum"]

	// A new secret version at the app+env level, read from stdin, rolls the pods.
	out = run(0, canaries["env"], "secrets", "set", "API_KEY", "--app", "web", "--env", "staging", "--redeploy")
	if !strings.Contains(out, "1 succeeded, 0 failed") {
		t.Errorf("secrets set --redeploy:\n%s", out)
	}
	if got := liveSecretsIn(t, cs, ns); got["API_KEY"] != canaries["env"] {
		t.Error("the redeploy did not inject the new version")
	}
	if sum2 := liveDeployment(t, cs, ns).Spec.Template.Annotations["berth.dev/config-checksum"]; sum2 == sum1 || sum2 == "" {
		t.Errorf("pod template checksum %q did not change from %q", sum2, sum1)
	}

	// Unset behind the running app: the redeploy fails before applying anything.
	before := liveDeployment(t, cs, ns).Generation
	out = run(1, "", "secrets", "unset", "DB_PASSWORD", "--app", "web", "--redeploy")
	if !strings.Contains(out, "DB_PASSWORD") || !strings.Contains(out, "1 failed") {
		t.Errorf("unset --redeploy:\n%s", out)
	}
	if got := liveSecretsIn(t, cs, ns); got["DB_PASSWORD"] != canaries["app"] || liveDeployment(t, cs, ns).Generation != before {
		t.Error("a deploy that failed on a missing secret changed the live objects")
	}
	run(0, canaries["later"], "secrets", "set", "DB_PASSWORD", "--app", "web")
	out = run(0, "", "deploy", "web", "--env", "staging", "--refresh", "--wait")
	if got := liveSecretsIn(t, cs, ns); got["DB_PASSWORD"] != canaries["later"] || got["API_KEY"] != canaries["env"] {
		t.Errorf("refresh did not inject the current versions:\n%s", out)
	}

	// Rollback to the first deploy re-applies exactly its secret versions.
	run(0, "", "rollback", "web", "--env", "staging", "--to", "1", "--wait")
	if got := liveSecretsIn(t, cs, ns); got["API_KEY"] != canaries["team"] || got["DB_PASSWORD"] != canaries["app"] {
		t.Error("the rollback did not re-apply the first deploy's secret versions")
	}
	// The stored Secret has no values, the live one has: that is not drift.
	var st apiv1.AppStatus
	if err := json.Unmarshal([]byte(run(0, "", "status", "web", "--env", "staging", "-o", "json")), &st); err != nil ||
		len(st.Envs) != 1 || st.Envs[0].Live == nil || len(st.Envs[0].Live.Drift) != 0 {
		t.Errorf("status after rollback: %+v %v", st, err)
	}

	// Error paths with a canary in the request.
	run(-1, "", "secrets", "set", "BAD KEY="+canaries["bad"], "--team", "shop")
	run(-1, "", "secrets", "set", "K="+canaries["bad"], "--app", "nope", "--team", "shop")
	run(-1, canaries["bad"], "secrets", "set", "K", "--app", "web", "--env", "nope")
	run(-1, canaries["bad"], "secrets", "set", "K", "L")

	// Listings, status, history and audit, through the CLI.
	for _, args := range [][]string{
		{"secrets", "list"}, {"secrets", "list", "--team", "shop"}, {"secrets", "list", "--app", "web", "-o", "json"},
		{"secrets", "list", "--app", "web", "--env", "staging", "-o", "yaml"},
		{"secrets", "list", "--app", "web", "--env", "staging", "--resolved"},
		{"config", "list", "--app", "web", "--env", "staging", "--resolved", "-o", "json"},
		{"history", "web", "-o", "json"}, {"status", "web", "-o", "json"}, {"audit", "-o", "json", "--limit", "1000"},
	} {
		run(0, "", args...)
	}
	if !strings.Contains(outputs.String(), "API_KEY") || !strings.Contains(outputs.String(), "app shop/web in staging") {
		t.Errorf("the listings do not show names and levels")
	}

	// Every read of the API about these deploys, the raw way.
	var bodies bytes.Buffer
	ids := deployIDs(t, srv)
	if len(ids) < 7 {
		t.Errorf("only %d deploys", len(ids))
	}
	for _, id := range ids {
		for _, sub := range []string{"", "/objects", "/events", "/stream"} {
			bodies.Write(apiGet(t, srv, fmt.Sprintf("/api/v1/deploys/%d%s", id, sub)))
		}
	}
	for _, p := range []string{"/api/v1/secrets", "/api/v1/teams/shop/secrets", "/api/v1/teams/shop/apps/web/secrets",
		"/api/v1/teams/shop/apps/web/envs/staging/secrets", "/api/v1/teams/shop/apps/web/envs/staging/resolved",
		"/api/v1/teams/shop/apps/web/status", "/api/v1/audit?limit=1000", "/api/v1/openapi.json", "/metrics"} {
		bodies.Write(apiGet(t, srv, p))
	}
	if !bytes.Contains(bodies.Bytes(), []byte(`"berth.dev/secret-versions"`)) {
		t.Error("stored objects do not name the secret versions")
	}
	// And every dashboard page about them.
	var pages bytes.Buffer
	dashboard := []string{"/", "/apps/shop/web", "/audit?team=shop"}
	for _, id := range ids {
		dashboard = append(dashboard, fmt.Sprintf("/deploys/%d", id), fmt.Sprintf("/deploys/%d/events", id))
	}
	session, _ := webtest.SignInForm(t, webtest.Client(), srv.url, adminToken)
	for _, p := range dashboard {
		req, _ := http.NewRequest("GET", srv.url+p, nil)
		req.AddCookie(session)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("dashboard %s: %d", p, resp.StatusCode)
		}
		pages.Write(b)
	}
	if !bytes.Contains(pages.Bytes(), []byte("API_KEY")) || !bytes.Contains(pages.Bytes(), []byte("Secret/web-secrets")) {
		t.Error("the dashboard shows neither the secret's name nor the Secret object")
	}

	// Stop the server so that its logs are complete, then look everywhere.
	srv.cmd.Process.Signal(syscall.SIGTERM)
	<-srv.done
	srv.done <- nil
	places := map[string][]byte{"server output": srv.out.Bytes(), "CLI output": outputs.Bytes(), "API responses": bodies.Bytes(),
		"dashboard pages": pages.Bytes()}
	for _, f := range []string{"berth.db", "berth.db-wal"} {
		if b, err := os.ReadFile(filepath.Join(data, f)); err == nil {
			places[f] = b
		}
	}
	if len(places["berth.db"]) == 0 || !bytes.Contains(srv.out.Bytes(), []byte(`"msg":"deploy finished"`)) {
		t.Errorf("nothing captured: database %d bytes, server output %d bytes", len(places["berth.db"]), len(places["server output"]))
	}
	for name, c := range canaries {
		for where, b := range places {
			for _, form := range []string{c, base64.StdEncoding.EncodeToString([]byte(c)), c[len("canary-"):]} {
				if bytes.Contains(b, []byte(form)) {
					t.Errorf("canary %s appears in the %s", name, where)
					break
				}
			}
		}
	}
}

// TestSecretsKeyRotation rotates the secrets key of a stopped server's database, restarts
// it with only the new key and deploys: the values injected are right, and every stored
// version (a rollback's) still decrypts. A server given the old key, or none, refuses to
// start and names the key id it needs.
func TestSecretsKeyRotation(t *testing.T) {
	data := t.TempDir()
	oldKey, oldID := keyFile(t)
	newKey, newID := keyFile(t)
	srv := startServer(t, data, "--secrets-key-file", oldKey)
	file, ns := settingsSetup(t, srv)
	if out, code := berthIn(t, srv, "rot-team-1", "secrets", "set", "API_KEY", "--team", "shop"); code != 0 {
		t.Fatalf("secrets set: %s", out)
	}
	mustBerth(t, srv, "apps", "create", "web", "--team", "shop", "-f", file)
	mustBerth(t, srv, "secrets", "set", "DB_PASSWORD=rot-app-1", "--app", "web")
	mustBerth(t, srv, "config", "set", "REGION=eu", "--team", "shop")
	mustBerth(t, srv, "deploy", "-f", file, "--env", "staging", "--wait")
	// Revision 2, so that rollback --to 1 returns to the first deploy's objects.
	os.WriteFile(file, []byte(strings.Replace(settingsManifest, "replicas: 2", "replicas: 3", 1)), 0o644)
	mustBerth(t, srv, "deploy", "-f", file, "--env", "staging", "--wait")
	mustBerth(t, srv, "secrets", "set", "DB_PASSWORD=rot-app-2", "--app", "web", "--redeploy")
	if got := liveSecrets(t, ns); got["API_KEY"] != "rot-team-1" || got["DB_PASSWORD"] != "rot-app-2" {
		t.Fatalf("live values before rotation: %v", got)
	}
	srv.cmd.Process.Signal(syscall.SIGTERM)
	<-srv.done
	srv.done <- nil

	rotate := exec.Command(berthBinary(t), "server", "rotate-key", "--data-dir", data, "--secrets-key-file", oldKey, "--new-key-file", newKey)
	rotate.Env = os.Environ()
	out, err := rotate.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "re-encrypted 3 secret values") || !strings.Contains(string(out), newID) {
		t.Fatalf("rotate-key: %v\n%s", err, out)
	}

	// The old key, or none: the server will not start, and says which key it needs.
	for name, args := range map[string][]string{"old key": {"--secrets-key-file", oldKey}, "no key": nil} {
		cmd := exec.Command(berthBinary(t), append([]string{"server", "--data-dir", data, "--listen", "127.0.0.1:0"}, args...)...)
		cmd.Env = append(os.Environ(), "BERTH_BOOTSTRAP_TOKEN="+adminToken)
		done := make(chan struct{})
		var out []byte
		var err error
		go func() { out, err = cmd.CombinedOutput(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("server with %s kept running", name)
		}
		if err == nil || !strings.Contains(string(out), newID) {
			t.Errorf("server with %s: %v\n%s", name, err, out)
		}
		if name == "old key" && !strings.Contains(string(out), oldID) {
			t.Errorf("server with the old key does not name it:\n%s", out)
		}
	}

	srv = startServer(t, data, "--secrets-key-file", newKey)
	out2 := mustBerth(t, srv, "secrets", "list", "--app", "web", "-o", "json")
	var list []apiv1.Secret
	if err := json.Unmarshal([]byte(out2), &list); err != nil || len(list) != 1 || list[0].KeyID != newID || list[0].Version != 2 {
		t.Errorf("secrets after rotation: %v\n%s", err, out2)
	}
	mustBerth(t, srv, "secrets", "set", "DB_PASSWORD=rot-app-3", "--app", "web")
	mustBerth(t, srv, "deploy", "web", "--env", "staging", "--refresh", "--wait")
	if got := liveSecrets(t, ns); got["API_KEY"] != "rot-team-1" || got["DB_PASSWORD"] != "rot-app-3" {
		t.Fatalf("live values after rotation and refresh: %v", got)
	}
	// The first deploy's versions, sealed with the old key and re-sealed, still decrypt.
	mustBerth(t, srv, "rollback", "web", "--env", "staging", "--to", "1", "--wait")
	if got := liveSecrets(t, ns); got["DB_PASSWORD"] != "rot-app-1" {
		t.Fatalf("rollback after rotation applied %v", got)
	}
	if audit := mustBerth(t, srv, "audit", "-o", "json"); !strings.Contains(audit, "secrets.rotate-key") {
		t.Error("the rotation is not in the audit log")
	}
}
