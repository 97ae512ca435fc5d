package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/kubetest"
	"github.com/berth-dev/berth/internal/store/pgtest"
)

// These tests run the real berth binary: a server process that can be killed with -9, and
// the CLI against it.

var (
	berthBin   string
	buildOnce  sync.Once
	buildError error
)

// TestMain starts one local Kubernetes cluster for the deploy tests; the binary is built
// on first use; PostgreSQL starts when a test asks for a database.
func TestMain(m *testing.M) {
	kubetest.Main(m, pgtest.Stop, func() {
		if berthBin != "" {
			os.RemoveAll(filepath.Dir(berthBin))
		}
	})
}

// berthBinary builds the berth binary once per test run.
func berthBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "berth-e2e-")
		if err != nil {
			buildError = err
			return
		}
		berthBin = filepath.Join(dir, "berth")
		// Static, as make build makes it: the probe tests put this binary in the probe image.
		build := exec.Command("go", "build", "-o", berthBin, ".")
		build.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			buildError = fmt.Errorf("build berth: %v\n%s", err, out)
		}
	})
	if buildError != nil {
		t.Fatal(buildError)
	}
	return berthBin
}

const adminToken = "berth_e2e_admin_token_0123456789abcdefghijklmnop"

type serverProc struct {
	cmd  *exec.Cmd
	url  string
	done chan error
	// out is everything the server wrote to stdout and stderr.
	out *syncBuffer
}

// syncBuffer is a bytes.Buffer safe for concurrent writes and reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

func (b *syncBuffer) String() string { return string(b.Bytes()) }

// startServer runs `berth server` on dataDir and a free port, and waits until it listens.
func startServer(t testing.TB, dataDir string, extra ...string) *serverProc {
	t.Helper()
	args := append([]string{"server", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--log-level", "warn"}, extra...)
	cmd := exec.Command(berthBinary(t), args...)
	cmd.Env = append(os.Environ(), "BERTH_BOOTSTRAP_TOKEN="+adminToken)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &serverProc{cmd: cmd, done: make(chan error, 1), out: &syncBuffer{}}
	stderr := p.out
	cmd.Stderr = p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			p.out.Write([]byte(sc.Text() + "\n"))
			if rest, ok := strings.CutPrefix(sc.Text(), "berth server listening on "); ok {
				urlc <- strings.Fields(rest)[0]
			}
		}
	}()
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill(); <-p.done })
	select {
	case p.url = <-urlc:
	case err := <-p.done:
		p.done <- err
		t.Fatalf("server exited: %v\n%s", err, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("server did not start\n%s", stderr.String())
	}
	return p
}

func (p *serverProc) kill9(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := <-p.done
	p.done <- err
}

func post(client *http.Client, url string, body any) (int, error) {
	data, _ := json.Marshal(body)
	req, err := http.NewRequest("POST", url, bytes.NewReader(data))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// burst creates teams "<prefix>-<g>-<i>" from 64 goroutines, 200 each, and returns the
// acknowledged ones. It stops a goroutine at its first transport error (a killed server).
// stopAfter, when positive, calls onCount once that many writes are acknowledged.
func burst(t testing.TB, url, prefix string, stopAfter int64, onCount func()) (acked []string, fiveXX int64) {
	const goroutines, writes = 64, 200
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: goroutines}, Timeout: time.Minute}
	var mu sync.Mutex
	var n, bad atomic.Int64
	var once sync.Once
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range writes {
				name := fmt.Sprintf("%s-%d-%d", prefix, g, i)
				status, err := post(client, url+"/api/v1/teams", apiv1.CreateTeam{Name: name})
				if err != nil {
					return
				}
				switch {
				case status == http.StatusCreated:
					mu.Lock()
					acked = append(acked, name)
					mu.Unlock()
					if c := n.Add(1); stopAfter > 0 && c >= stopAfter {
						once.Do(onCount)
					}
				case status >= 500:
					bad.Add(1)
				default:
					t.Errorf("create team %s: status %d", name, status)
					return
				}
			}
		})
	}
	wg.Wait()
	return acked, bad.Load()
}

func teamNames(t testing.TB, url string) map[string]bool {
	t.Helper()
	req, _ := http.NewRequest("GET", url+"/api/v1/teams", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list apiv1.List[apiv1.Team]
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, tm := range list.Items {
		names[tm.Name] = true
	}
	return names
}

// TestConcurrentWritesSurviveKill9 writes through the API on SQLite from 64 goroutines ×
// 200 writes with no 5xx, then kills the server with SIGKILL in the middle of a second
// burst, restarts it, and checks that every acknowledged write is there and the database
// passes PRAGMA integrity_check.
func TestConcurrentWritesSurviveKill9(t *testing.T) {
	data := t.TempDir()
	srv := startServer(t, data)

	ackedA, bad := burst(t, srv.url, "a", 0, nil)
	if bad > 0 {
		t.Errorf("%d writes got a 5xx", bad)
	}
	if len(ackedA) != 64*200 {
		t.Fatalf("%d of %d writes acknowledged", len(ackedA), 64*200)
	}

	ackedB, _ := burst(t, srv.url, "b", 2000, func() { srv.kill9(t) })
	if len(ackedB) < 2000 || len(ackedB) >= 64*200 {
		t.Fatalf("the kill did not land mid-burst: %d acknowledged", len(ackedB))
	}

	srv = startServer(t, data)
	have := teamNames(t, srv.url)
	missing := 0
	for _, name := range append(ackedA, ackedB...) {
		if !have[name] {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d acknowledged writes lost after kill -9", missing)
	}
	t.Logf("%d + %d acknowledged writes all present after kill -9 and restart", len(ackedA), len(ackedB))

	db, err := sql.Open("sqlite", filepath.Join(data, "berth.db")+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var result string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&result); err != nil || result != "ok" {
		t.Fatalf("integrity_check: %q, %v", result, err)
	}
}

// TestSIGTERMShutsDownGracefully checks that the server exits 0 on SIGTERM.
func TestSIGTERMShutsDownGracefully(t *testing.T) {
	srv := startServer(t, t.TempDir())
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-srv.done:
		srv.done <- err
		if err != nil {
			t.Fatalf("server exited with %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server still running 30 s after SIGTERM")
	}
}

// berth runs the CLI against srv and returns its output and exit code.
func runBerth(t testing.TB, srv *serverProc, args ...string) (string, int) {
	t.Helper()
	return berthIn(t, srv, "", args...)
}

// berthIn runs the CLI against srv with stdin.
func berthIn(t testing.TB, srv *serverProc, stdin string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, berthBinary(t), args...)
	cmd.Env = append(os.Environ(), "BERTH_SERVER="+srv.url, "BERTH_TOKEN="+adminToken, "BERTH_CONFIG="+filepath.Join(t.TempDir(), "config.json"))
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// TestAuditVerifyReportsTampering edits, deletes and inserts audit rows directly in the
// database; `berth audit verify` must report each one.
func TestAuditVerifyReportsTampering(t *testing.T) {
	data := t.TempDir()
	srv := startServer(t, data)
	for _, team := range []string{"t1", "t2", "t3", "t4", "t5", "t6", "t7"} {
		if out, code := runBerth(t, srv, "teams", "create", team); code != 0 {
			t.Fatalf("teams create: %d %s", code, out)
		}
	}
	if out, code := runBerth(t, srv, "audit", "verify"); code != 0 || !strings.Contains(out, "intact") {
		t.Fatalf("verify before tampering: exit %d\n%s", code, out)
	}

	db, err := sql.Open("sqlite", filepath.Join(data, "berth.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Someone with write access to the database file can drop the append-only triggers;
	// the hash chain is what must catch them.
	for _, q := range []string{
		`DROP TRIGGER audit_events_no_update`,
		`DROP TRIGGER audit_events_no_delete`,
		`UPDATE audit_events SET actor = 'mallory' WHERE id = 3`,
		`DELETE FROM audit_events WHERE id = 5`,
		`INSERT INTO audit_events (id, occurred_at, actor, action, target, team, app, request_id, outcome, details, prev_hash, hash)
		 SELECT 100, occurred_at, 'mallory', 'team.delete', 'team/t1', 't1', '', '', 'success', details, hash, hash FROM audit_events WHERE id = 8`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	out, code := runBerth(t, srv, "audit", "verify")
	if code != 1 {
		t.Fatalf("verify after tampering: exit %d, want 1\n%s", code, out)
	}
	for _, want := range []string{"event 3: edited", "event 5: deleted", "event 100: inserted"} {
		if !strings.Contains(out, want) {
			t.Errorf("verify output does not report %q:\n%s", want, out)
		}
	}
}

// TestFirstStartPrintsAdminTokenOnce starts a server with no BERTH_BOOTSTRAP_TOKEN: the
// first start prints a working token, a restart prints none; then the CLI logs in with it
// and saves the login with mode 0600.
func TestFirstStartPrintsAdminTokenOnce(t *testing.T) {
	data := t.TempDir()
	start := func() (string, *exec.Cmd, chan error) {
		cmd := exec.Command(berthBinary(t), "server", "--data-dir", data, "--listen", "127.0.0.1:0")
		cmd.Env = os.Environ()
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		var out strings.Builder
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
			if strings.HasPrefix(sc.Text(), "berth server listening on ") {
				break
			}
		}
		go func() { io.Copy(io.Discard, stdout); done <- cmd.Wait() }()
		t.Cleanup(func() { cmd.Process.Kill() })
		return out.String(), cmd, done
	}
	first, cmd, done := start()
	var token, url string
	for _, f := range strings.Fields(first) {
		if strings.HasPrefix(f, "berth_") {
			token = f
		}
		if strings.HasPrefix(f, "http://") {
			url = f
		}
	}
	if token == "" || url == "" {
		t.Fatalf("first start printed no token or address:\n%s", first)
	}

	cfg := filepath.Join(t.TempDir(), "berth", "config.json")
	login := exec.Command(berthBinary(t), "login", "--server", url)
	login.Env = append(os.Environ(), "BERTH_CONFIG="+cfg)
	login.Stdin = strings.NewReader(token + "\n")
	if out, err := login.CombinedOutput(); err != nil || !strings.Contains(string(out), "as admin") {
		t.Fatalf("login: %v\n%s", err, out)
	}
	fi, err := os.Stat(cfg)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config %s: mode %v, err %v; want 0600", cfg, fi.Mode(), err)
	}
	list := exec.Command(berthBinary(t), "teams", "create", "first")
	list.Env = append(os.Environ(), "BERTH_CONFIG="+cfg)
	if out, err := list.CombinedOutput(); err != nil {
		t.Fatalf("teams create with the saved login: %v\n%s", err, out)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	<-done
	second, _, _ := start()
	if strings.Contains(second, "berth_") {
		t.Fatalf("restart printed a token again:\n%s", second)
	}
}
