// Package natstest runs a real queue server for tests: nats-server, built from the Go
// module proxy by tools/nats/build.sh, on free loopback ports with a token of its own. A
// test may stop it and start it again on the same address, as an outage.
package natstest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/freeport"
	"github.com/berth-dev/berth/internal/tooltest"
)

// startTimeout bounds a start, from exec to the monitoring endpoint's /healthz answering.
const startTimeout = 30 * time.Second

// Server is a running (or stopped) nats-server.
type Server struct {
	// URL is nats://127.0.0.1:PORT, what clients connect to; Token authenticates them.
	URL   string
	Token string
	// Log is its output.
	Log string

	t         testing.TB
	bin       string
	port, mon int
	mu        sync.Mutex
	cmd       *exec.Cmd
	exited    chan struct{}
	waitErr   error
}

// Start runs a new nats-server for the test, stopped when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	dir, err := tooltest.Build("nats")
	if err != nil {
		t.Fatalf("natstest: %v", err)
	}
	port, err := freeport.Pick()
	if err != nil {
		t.Fatal(err)
	}
	mon, err := freeport.Pick()
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 16)
	rand.Read(b)
	s := &Server{URL: "nats://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Token: hex.EncodeToString(b),
		Log: filepath.Join(t.TempDir(), "nats.log"), t: t, bin: filepath.Join(dir, "nats-server"), port: port, mon: mon}
	t.Cleanup(s.Stop)
	s.Resume()
	return s
}

// Resume starts the server again on its address after Stop (Start starts it first).
func (s *Server) Resume() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	logf, err := os.OpenFile(s.Log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		s.t.Fatal(err)
	}
	defer logf.Close()
	// The token goes in a config file, not on a command line every process can read.
	conf := filepath.Join(filepath.Dir(s.Log), "nats.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("authorization { token: %q }\n", s.Token)), 0o600); err != nil {
		s.t.Fatal(err)
	}
	cmd := exec.Command(s.bin, "--config", conf, "--addr", "127.0.0.1", "--port", strconv.Itoa(s.port),
		"--http_port", strconv.Itoa(s.mon))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("natstest: start nats-server: %v", err)
	}
	exited := make(chan struct{})
	go func() { s.waitErr = cmd.Wait(); close(exited) }()
	s.cmd, s.exited = cmd, exited
	if err := s.waitReady(); err != nil {
		log, _ := os.ReadFile(s.Log)
		s.t.Fatalf("natstest: nats-server at %s did not start: %v\nthe end of its log:\n%s", s.URL, err, tooltest.Tail(string(log), 30))
	}
}

// Stop stops the server (clients see it gone); Resume starts it again.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

// waitReady polls the monitoring endpoint's /healthz until it answers 200 OK, the server
// exits, or startTimeout passes.
func (s *Server) waitReady() error {
	c := &http.Client{Timeout: 2 * time.Second}
	url := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(s.mon)) + "/healthz"
	deadline := time.After(startTimeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("it exited: %v", s.waitErr)
		case <-deadline:
			return fmt.Errorf("/healthz did not answer 200 within %s (last: %v)", startTimeout, err)
		case <-tick.C:
		}
	}
}
