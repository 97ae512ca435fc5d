package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

// TestProvisionersCLI: a platform admin sets a provisioner file with the CLI; a bad template
// is refused at its file:line:column and changes nothing; show and list read it back.
func TestProvisionersCLI(t *testing.T) {
	srv := startServer(t, t.TempDir())
	shopEnv(t, srv, appManifest)
	dir := t.TempDir()
	good := filepath.Join(dir, "platform.yaml")
	if err := os.WriteFile(good, []byte(`- type: redis
  description: The shared Redis.
  expected_outputs: [host, port, password]
  secrets: [password]
  outputs: |
    host: redis.platform.svc.cluster.local
    port: 6379
    password: {{ .State.password | default "unset" | quote }}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	out := mustBerth(t, srv, "provisioners", "set", "--env", "staging", "-f", good)
	if !strings.Contains(out, "environment staging: provisioner file version 1 (provisions redis)") {
		t.Errorf("set: %s", out)
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("- type: redis\n  outputs: |\n    host: {{ env \"HOME\" }}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := runBerth(t, srv, "provisioners", "set", "--env", "staging", "-f", bad)
	if code == 0 || !strings.Contains(out, `bad.yaml:3:5: [0].outputs: template: function "env" not defined`) {
		t.Errorf("bad file: exit %d\n%s", code, out)
	}

	var f apiv1.ProvisionerFile
	if err := json.Unmarshal([]byte(mustBerth(t, srv, "provisioners", "show", "--env", "staging", "-o", "json")), &f); err != nil {
		t.Fatal(err)
	}
	if f.Version != 1 || len(f.Types) != 1 || f.Types[0].Type != "redis" || strings.Join(f.Types[0].Secrets, ",") != "password" {
		t.Errorf("show: %+v", f)
	}
	out = mustBerth(t, srv, "provisioners", "show", "--env", "staging")
	for _, want := range []string{"provisioner file version 1", "redis", "host,port,password", "The shared Redis."} {
		if !strings.Contains(out, want) {
			t.Errorf("show does not say %q:\n%s", want, out)
		}
	}
	out = mustBerth(t, srv, "provisioners", "list", "--env", "staging")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[1], "1 ") {
		t.Errorf("list, one version after the refused set:\n%s", out)
	}
}
