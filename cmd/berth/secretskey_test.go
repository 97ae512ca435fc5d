package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/seal"
)

// A fresh server with no key configured makes one in its data directory, says so once,
// and uses it from then on; secrets work out of the box, and the rollout reads them. A
// configured key still wins, and a database sealed with another key still refuses to start.
func TestSecretsKeyOutOfTheBox(t *testing.T) {
	data := t.TempDir()
	srv := startServer(t, data)
	file, ns := settingsSetup(t, srv)
	if out, code := berthIn(t, srv, "box-team-1", "secrets", "set", "API_KEY", "--team", "shop"); code != 0 {
		t.Fatalf("secrets set on a fresh server: exit %d\n%s", code, out)
	}
	keyPath := filepath.Join(data, "secrets.key")
	fi, err := os.Stat(keyPath)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("generated key %s: %v (mode %v), want a 0600 file", keyPath, err, fi)
	}
	key, err := seal.Load(keyPath, "")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(srv.out.String(), "generated a secrets key"); n != 1 || !strings.Contains(srv.out.String(), keyPath) {
		t.Errorf("the log says %d times that it generated the key (want once, with the path):\n%s", n, srv.out.String())
	}
	srv.cmd.Process.Signal(syscall.SIGTERM)
	<-srv.done
	srv.done <- nil

	// Restarted without a key: the same one, no second message, and the secret reaches the pods.
	srv = startServer(t, data)
	if strings.Contains(srv.out.String(), "generated a secrets key") {
		t.Errorf("a restart generated another key:\n%s", srv.out.String())
	}
	mustBerth(t, srv, "apps", "create", "web", "--team", "shop", "-f", file)
	mustBerth(t, srv, "secrets", "set", "DB_PASSWORD=box-app-1", "--app", "web")
	mustBerth(t, srv, "config", "set", "REGION=eu", "--team", "shop")
	mustBerth(t, srv, "deploy", "-f", file, "--env", "staging", "--wait")
	if got := liveSecrets(t, ns); got["API_KEY"] != "box-team-1" || got["DB_PASSWORD"] != "box-app-1" {
		t.Fatalf("live secrets %v", got)
	}
	srv.cmd.Process.Signal(syscall.SIGTERM)
	<-srv.done
	srv.done <- nil

	// Another key given explicitly wins over the file, and the stored secrets refuse it.
	other, otherID := keyFile(t)
	cmd := exec.Command(berthBinary(t), "server", "--data-dir", data, "--listen", "127.0.0.1:0", "--secrets-key-file", other)
	cmd.Env = append(os.Environ(), "BERTH_BOOTSTRAP_TOKEN="+adminToken)
	done := make(chan struct{})
	var out []byte
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("a server with another key kept running")
	}
	if err == nil || !strings.Contains(string(out), key.ID()) || !strings.Contains(string(out), otherID) {
		t.Errorf("server with another key: %v\n%s", err, out)
	}
}
