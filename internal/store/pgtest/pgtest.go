// Package pgtest gives tests a real, throwaway PostgreSQL: one server per test binary,
// started on first use from the machine's installed PostgreSQL binaries in a temporary
// directory, and a fresh database for every test.
//
// Use it as
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
//	func TestX(t *testing.T) { dsn := pgtest.NewDatabase(t); ... }
//
// The server never touches a PostgreSQL the machine may already run: it has its own data
// directory, a free loopback port and its socket in the temporary directory, and it dies
// with the test binary even when that is killed.
package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/freeport"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

var (
	mu      sync.Mutex
	current *server
	failed  error // a failed start is not retried by every test
)

type server struct {
	dir    string // temporary directory: data/, the socket, postgres.log
	port   int
	proc   *os.Process
	exited chan struct{} // closed when postgres exits
	admin  *sql.DB       // to the "postgres" database, for CREATE DATABASE
	seq    atomic.Int64
	// RequirePasswords, once.
	hbaOnce sync.Once
	hbaErr  error
}

// Main runs the tests and then stops the server, if one was started. It returns the exit
// code for os.Exit.
func Main(m *testing.M) int {
	code := m.Run()
	Stop()
	return code
}

// NewDatabase creates an empty database on the test server, starting the server if
// needed, and returns its postgres:// URL. The database is dropped when t ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	s, err := start()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	name := fmt.Sprintf("berth_test_%d", s.seq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := s.admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := s.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("pgtest: drop database %s: %v", name, err)
		}
	})
	return s.url(name)
}

// Stop stops the server and deletes its files. NewDatabase starts a new one afterwards.
func Stop() {
	mu.Lock()
	defer mu.Unlock()
	if current == nil {
		return
	}
	current.stop()
	current = nil
}

func (s *server) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

func start() (*server, error) {
	mu.Lock()
	defer mu.Unlock()
	if current != nil {
		return current, nil
	}
	if failed != nil {
		return nil, failed
	}
	s, err := newServer()
	if err != nil {
		failed = err
		return nil, err
	}
	current = s
	return s, nil
}

// binDir finds the directory holding initdb and postgres: the newest
// /usr/lib/postgresql/VERSION/bin (Debian, Ubuntu), else wherever PATH has initdb.
func binDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(dir string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
		return v
	}
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	if p, err := exec.LookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", errors.New("PostgreSQL server binaries (initdb, postgres) not found under " +
		"/usr/lib/postgresql/*/bin or on PATH; the tests need a real PostgreSQL: run scripts/deps.sh, " +
		"which installs the Debian package `postgresql` (or: apt-get install postgresql)")
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// newServer runs initdb and starts postgres.
func newServer() (*server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	// PostgreSQL refuses to run as root: then run it as the postgres user the package
	// creates, which must own the directory and be able to reach it.
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root, and PostgreSQL refuses to run as root, but there is no "+
				"`postgres` user to run it as (the Debian package postgresql creates one): %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	}
	removeStale()
	dir, err := os.MkdirTemp("", "berth-pgtest-")
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(dir)
		}
	}()
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
		if err := reachable(filepath.Dir(dir)); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.Command(filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	initdb.Dir, initdb.Env = dir, serverEnv()
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb %s: %w\n%s", data, err, out)
	}

	// A free port can be taken between our probe and postgres binding it: retry.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freeport.Pick()
		if err != nil {
			return nil, err
		}
		s := &server{dir: dir, port: port, exited: make(chan struct{})}
		if lastErr = s.run(bin, data, cred); lastErr == nil {
			ok = true
			return s, nil
		}
	}
	return nil, lastErr
}

func serverEnv() []string {
	return []string{"PATH=" + os.Getenv("PATH"), "LANG=C", "LC_ALL=C", "TZ=UTC"}
}

// run starts postgres and waits until it accepts connections.
func (s *server) run(bin, data string, cred *syscall.Credential) error {
	logPath := filepath.Join(s.dir, "postgres.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(filepath.Join(bin, "postgres"), "-D", data,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "port="+strconv.Itoa(s.port),
		"-c", "unix_socket_directories="+s.dir,
		// Durability is worthless for a database thrown away after the run.
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "autovacuum=off",
		"-c", "max_connections=200",
		"-c", "shared_buffers=32MB",
	)
	cmd.Dir, cmd.Env = s.dir, serverEnv()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// SIGQUIT (immediate shutdown) when the test binary dies without calling Stop.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT, Setpgid: true}

	started := make(chan error, 1)
	go func() {
		// The parent-death signal fires when the thread that started the child exits, not
		// the process: start postgres from a locked thread that lives as long as it does.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		cmd.Wait()
		close(s.exited)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	s.proc = cmd.Process

	s.admin, err = sql.Open("pgx", s.url("postgres"))
	if err != nil {
		s.stop()
		return err
	}
	s.admin.SetMaxOpenConns(4)
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := s.admin.PingContext(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-s.exited:
			s.admin.Close()
			return fmt.Errorf("postgres exited during startup; %s says:\n%s", logPath, tail(logPath))
		default:
		}
		if time.Now().After(deadline) {
			s.stopProcess()
			s.admin.Close()
			return fmt.Errorf("postgres did not accept connections within 60s (%v); %s says:\n%s", err, logPath, tail(logPath))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *server) stop() {
	if s.admin != nil {
		s.admin.Close()
	}
	s.stopProcess()
	os.RemoveAll(s.dir)
}

// stopProcess asks postgres for a fast shutdown and kills it if that takes too long.
func (s *server) stopProcess() {
	if s.proc == nil {
		return
	}
	s.proc.Signal(syscall.SIGINT)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		s.proc.Kill()
		<-s.exited
	}
}

// reachable checks that the postgres user can reach dir, i.e. every directory from the
// root to dir is searchable by others.
func reachable(dir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("the postgres user cannot reach %s (%s is not searchable by others): set TMPDIR to a directory it can reach, such as /tmp", dir, d)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// removeStale deletes the directories of servers whose test binaries died without
// stopping them (postgres itself dies with its test binary).
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "berth-pgtest-*"))
	for _, d := range dirs {
		// A directory just created by another test binary may not have owner.pid yet.
		if fi, err := os.Stat(d); err != nil || time.Since(fi.ModTime()) < time.Minute {
			continue
		}
		if alive(filepath.Join(d, "owner.pid")) || alive(filepath.Join(d, "data", "postmaster.pid")) {
			continue
		}
		os.RemoveAll(d)
	}
}

// alive reports whether the process whose id is on the first line of pidFile runs.
func alive(pidFile string) bool {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		return false
	}
	return syscall.Kill(pid, 0) == nil || errors.Is(syscall.Kill(pid, 0), syscall.EPERM)
}

func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
