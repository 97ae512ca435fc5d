// Package registrytest starts the dev cluster's image registry program (CNCF Distribution,
// built by tools/node/build.sh) for a test: on a free loopback port, with its own storage,
// stopped when the test ends.
package registrytest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/devcluster"
	"github.com/berth-dev/berth/internal/freeport"
)

// Registry is a running registry.
type Registry struct {
	// Addr is where it listens: 127.0.0.1:port, plain HTTP.
	Addr string
	// Storage is its root directory.
	Storage string
	// Log is the file it writes its log to.
	Log string
}

// config is the least the registry needs: files on disk, loopback HTTP, no auth.
const config = `version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`

// startTimeout bounds the wait for the registry to answer; a first build of the program
// before it is not counted.
const startTimeout = 30 * time.Second

// Start builds the registry program with the dev cluster's binaries (tools/kube; or reuses
// the cached build), starts it and waits until it answers /v2/. It stops when t ends.
func Start(t testing.TB) *Registry {
	t.Helper()
	ctx := context.Background()
	bins, err := devcluster.ResolveBinaries(ctx, "", testWriter{t})
	if err != nil {
		t.Fatalf("build the registry: %v", err)
	}
	dir := t.TempDir()
	r := &Registry{Storage: filepath.Join(dir, "storage"), Log: filepath.Join(dir, "registry.log")}
	port, err := freeport.Pick()
	if err != nil {
		t.Fatal(err)
	}
	r.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cfg := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, config, r.Storage, r.Addr), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(r.Log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(bins.Path("registry"), "serve", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	// No OpenTelemetry exporter: by default it would try to send traces to localhost:4318.
	cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none")
	// Die with the test binary if it is killed before the cleanup runs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the registry: %v", err)
	}
	// exited hands Wait's error to the readiness wait (once); done tells the cleanup,
	// however many read exited before it, that the process is gone.
	exited, done := make(chan error, 1), make(chan struct{})
	go func() { exited <- cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	if err := waitReady(r.Addr, exited); err != nil {
		log, _ := os.ReadFile(r.Log)
		t.Fatalf("the registry at %s did not start: %v\nits log:\n%s", r.Addr, err, log)
	}
	return r
}

// waitReady polls /v2/ until it answers 200 OK, the registry exits, or startTimeout passes.
func waitReady(addr string, exited <-chan error) error {
	c := &http.Client{Timeout: 2 * time.Second}
	deadline := time.After(startTimeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := c.Get("http://" + addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET /v2/: %s", resp.Status)
		}
		select {
		case werr := <-exited:
			return fmt.Errorf("it exited: %v", werr)
		case <-deadline:
			return fmt.Errorf("no answer within %s: %v", startTimeout, err)
		case <-tick.C:
		}
	}
}

// testWriter sends the build's progress to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
