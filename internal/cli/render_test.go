package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRenderResourcesOffline: berth render provisions service, dns and route as a deploy
// would, types of a platform provisioner file through its templates (a secret output as a
// reference to APP-resources, never its value), and marks only what a server alone can
// provide (postgres) as a placeholder.
func TestRenderResourcesOffline(t *testing.T) {
	dir := t.TempDir()
	manifest := filepath.Join(dir, "berth.yaml")
	os.WriteFile(manifest, []byte(`apiVersion: berth.dev/v1
metadata: {name: shop, team: web}
containers:
  web:
    image: nginx
    variables:
      USERS: ${resources.users.url}
      DB: ${resources.db.url}
      CACHE_HOST: ${resources.cache.host}
      CACHE_PASSWORD: ${resources.cache.password}
service:
  ports: {http: {port: 80, targetPort: 8080}}
resources:
  users: {type: service, params: {app: users-api}}
  db: {type: postgres}
  dns: {type: dns}
  route: {type: route, params: {host: "${resources.dns.host}", path: /api, port: http}}
  cache: {type: redis}
`), 0o644)
	prov := filepath.Join(dir, "platform.yaml")
	os.WriteFile(prov, []byte(`- uri: template://platform/redis
  type: redis
  outputs: |
    host: redis.platform.svc.cluster.local
    port: "6379"
    password: "s3cr3t-canary"
  secrets: [password]
`), 0o644)

	h := newHarness(t, false)
	if err := h.run("render", "-f", manifest, "--env", "staging", "--provisioners", prov, "--base-domain", "staging.example.com"); err != nil {
		t.Fatal(err)
	}
	out := h.out.String()
	for _, want := range []string{
		"value: http://users-api.web-staging.svc.cluster.local",
		"value: <offline:resources.db.url>",
		"host: shop.web.staging.example.com",
		"path: /api",
		"name: shop-route-route",
		"value: redis.platform.svc.cluster.local",
		"name: shop-resources",
		"key: cache.password",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("render lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "s3cr3t-canary") {
		t.Errorf("render shows a secret output's value:\n%s", out)
	}

	// Without the file, redis is a placeholder; a bad file is refused where it is wrong.
	h = newHarness(t, false)
	if err := h.run("render", "-f", manifest, "--env", "staging"); err != nil {
		t.Fatal(err)
	}
	if out := h.out.String(); !strings.Contains(out, "<offline:resources.cache.host>") || !strings.Contains(out, "host: shop.web.staging.localhost") {
		t.Errorf("render without a provisioner file:\n%s", out)
	}
	os.WriteFile(prov, []byte("- type: redis\n  outputs: \"{{ .Nope \"\n"), 0o644)
	h = newHarness(t, false)
	err := h.run("render", "-f", manifest, "--env", "staging", "--provisioners", prov)
	if err == nil || !strings.Contains(err.Error(), "platform.yaml:2:") {
		t.Errorf("a bad provisioner file: %v", err)
	}
}
