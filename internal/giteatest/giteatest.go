// Package giteatest runs a real Gitea for tests: built from the Go module proxy by
// tools/gitea/build.sh, started on a free loopback port with SQLite in the test's temporary
// directory, with an admin made through Gitea's own CLI. Tests create repositories and push
// to them over HTTP with real git, and receive Gitea's real webhooks.
package giteatest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/freeport"
	"github.com/berth-dev/berth/internal/tooltest"
)

// The admin every Gitea of a test has.
const (
	AdminUser     = "berth-admin"
	AdminPassword = "berth-admin-password-0123"
	adminEmail    = "admin@berth.localhost"
)

// startTimeout bounds a Gitea's start, from migration to its API answering.
const startTimeout = 2 * time.Minute

// Gitea is a running Gitea.
type Gitea struct {
	// URL is its base URL, http://127.0.0.1:PORT (no trailing slash).
	URL string
	// Token is an API token of the admin with every scope.
	Token string
	// Dir is its work directory; its log is Dir/log/gitea.log.
	Dir string

	bin string
	ini string
}

// binaries builds (or finds in the cache) Gitea and returns its directory.
func binaries(t testing.TB) string {
	t.Helper()
	dir, err := tooltest.Build("gitea")
	if err != nil {
		t.Fatalf("giteatest: %v", err)
	}
	return dir
}

// Start runs a new Gitea for the test, stopped when the test ends.
func Start(t testing.TB) *Gitea {
	t.Helper()
	dir := binaries(t)
	g := &Gitea{Dir: t.TempDir(), bin: filepath.Join(dir, "bin", "gitea")}
	port, err := freeport.Pick()
	if err != nil {
		t.Fatal(err)
	}
	g.URL = "http://127.0.0.1:" + strconv.Itoa(port)
	g.ini = filepath.Join(g.Dir, "app.ini")
	if err := os.WriteFile(g.ini, []byte(config(g.Dir, dir, port)), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if out, err := g.cli(ctx, "migrate"); err != nil {
		t.Fatalf("giteatest: gitea migrate: %v\n%s", err, out)
	}
	if out, err := g.cli(ctx, "admin", "user", "create", "--username", AdminUser, "--password", AdminPassword,
		"--email", adminEmail, "--admin", "--must-change-password=false"); err != nil {
		t.Fatalf("giteatest: gitea admin user create: %v\n%s", err, out)
	}
	out, err := g.cli(ctx, "admin", "user", "generate-access-token", "--username", AdminUser,
		"--token-name", "berth-tests", "--scopes", "all", "--raw")
	if err != nil {
		t.Fatalf("giteatest: gitea admin user generate-access-token: %v\n%s", err, out)
	}
	// The output mixes the CLI's log lines with the token: the token is the line that is
	// one (40 hex digits), wherever a log line lands.
	if g.Token = accessToken(string(out)); g.Token == "" {
		t.Fatalf("giteatest: gitea admin user generate-access-token printed no token:\n%s", out)
	}

	logFile, err := os.Create(filepath.Join(g.Dir, "web.out"))
	if err != nil {
		t.Fatal(err)
	}
	web := exec.Command(g.bin, "--config", g.ini, "--work-path", g.Dir, "web")
	web.Stdout, web.Stderr = logFile, logFile
	web.Env = g.env()
	if err := web.Start(); err != nil {
		t.Fatalf("giteatest: start gitea web: %v", err)
	}
	// exited hands Wait's error to the readiness wait (once); done tells the cleanup,
	// however many read exited before it, that the process is gone.
	exited, done := make(chan error, 1), make(chan struct{})
	go func() { exited <- web.Wait(); logFile.Close(); close(done) }()
	t.Cleanup(func() {
		_ = web.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = web.Process.Kill()
			<-done
		}
	})
	if err := g.waitReady(ctx, exited); err != nil {
		t.Fatalf("giteatest: %v; the end of %s:\n%s", err, logFile.Name(), tooltest.Tail(readFile(logFile.Name())+readFile(filepath.Join(g.Dir, "log", "gitea.log")), 30))
	}
	return g
}

// config is the app.ini of a Gitea in dir on port, reading its static files from static.
func config(dir, static string, port int) string {
	return fmt.Sprintf(`I_AM_BEING_UNSAFE_RUNNING_AS_ROOT = true
WORK_PATH = %[1]s
RUN_MODE = prod

[server]
STATIC_ROOT_PATH = %[2]s
HTTP_ADDR = 127.0.0.1
HTTP_PORT = %[3]d
ROOT_URL = http://127.0.0.1:%[3]d/
DISABLE_SSH = true
OFFLINE_MODE = true

[database]
DB_TYPE = sqlite3
PATH = %[1]s/data/gitea.db

[repository]
ROOT = %[1]s/repos
DEFAULT_BRANCH = main

[security]
INSTALL_LOCK = true

[log]
ROOT_PATH = %[1]s/log
MODE = file
LEVEL = Warn

[webhook]
ALLOWED_HOST_LIST = loopback
DELIVER_TIMEOUT = 10

[service]
DISABLE_REGISTRATION = true

[indexer]
REPO_INDEXER_ENABLED = false

[cron]
ENABLED = false
`, dir, static, port)
}

// cli runs one of Gitea's admin commands on its config.
func (g *Gitea) cli(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, g.bin, append([]string{"--config", g.ini, "--work-path", g.Dir}, args...)...)
	cmd.Env = g.env()
	return cmd.CombinedOutput()
}

func (g *Gitea) env() []string {
	return append(os.Environ(), "GITEA_WORK_DIR="+g.Dir, "HOME="+g.Dir)
}

// waitReady polls the API's version until it answers.
func (g *Gitea) waitReady(ctx context.Context, exited <-chan error) error {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", g.URL+"/api/v1/version", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-exited:
			return fmt.Errorf("gitea web exited while starting: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("gitea's API did not answer within %s", startTimeout)
		case <-t.C:
		}
	}
}

// Do calls Gitea's API as the admin: method on /api/v1+path with in as JSON, decoding the
// answer into out (when not nil). A status of 300 or more is an error with the answer.
func (g *Gitea) Do(t testing.TB, method, path string, in, out any) {
	t.Helper()
	if err := g.do(t.Context(), method, path, in, out); err != nil {
		t.Fatalf("giteatest: %v", err)
	}
}

func (g *Gitea) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, g.URL+"/api/v1"+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "token "+g.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, data)
	}
	if out != nil && len(data) > 0 {
		return json.Unmarshal(data, out)
	}
	return nil
}

// Repo is a repository of the admin's.
type Repo struct {
	g    *Gitea
	Name string
	// CloneURL is its HTTP clone URL, without credentials.
	CloneURL string
	work     string
}

// CreateRepo creates an empty repository of the admin's, with main as its default branch.
func (g *Gitea) CreateRepo(t testing.TB, name string) *Repo {
	t.Helper()
	var out struct {
		CloneURL string `json:"clone_url"`
	}
	g.Do(t, "POST", "/user/repos", map[string]any{"name": name, "default_branch": "main", "private": false}, &out)
	r := &Repo{g: g, Name: name, CloneURL: out.CloneURL, work: filepath.Join(t.TempDir(), name)}
	return r
}

// FullName is OWNER/NAME.
func (r *Repo) FullName() string { return AdminUser + "/" + r.Name }

// Commit writes files (path -> content; "" deletes the file) on branch, creating the branch
// from the current one when it is new, commits them with message and pushes over HTTP with
// real git. It returns the commit's sha.
func (r *Repo) Commit(t testing.TB, branch, message string, files map[string]string) string {
	t.Helper()
	return r.CommitAs(t, branch, message, "", files)
}

// CommitAs is Commit by author ("Name <email>"; "" for the tests' identity).
func (r *Repo) CommitAs(t testing.TB, branch, message, author string, files map[string]string) string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(r.work, ".git")); err != nil {
		r.git(t, "", "init", "--initial-branch=main", r.work)
		r.git(t, r.work, "remote", "add", "origin", r.authURL())
	}
	if r.hasCommits(t) {
		if branch != r.current(t) {
			if r.branchExists(t, branch) {
				r.git(t, r.work, "checkout", branch)
			} else {
				r.git(t, r.work, "checkout", "-b", branch)
			}
		}
	} else if branch != "main" {
		r.git(t, r.work, "checkout", "-b", branch)
	}
	for path, content := range files {
		p := filepath.Join(r.work, filepath.FromSlash(path))
		if content == "" {
			r.git(t, r.work, "rm", "-q", "--", path)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		r.git(t, r.work, "add", "--", path)
	}
	args := []string{"commit", "-q", "-m", message}
	if author != "" {
		args = append(args, "--author", author)
	}
	r.git(t, r.work, args...)
	r.git(t, r.work, "push", "-q", "origin", branch)
	return strings.TrimSpace(r.git(t, r.work, "rev-parse", "HEAD"))
}

// Tag tags the current commit and pushes the tag.
func (r *Repo) Tag(t testing.TB, tag string) {
	t.Helper()
	r.git(t, r.work, "tag", tag)
	r.git(t, r.work, "push", "-q", "origin", tag)
}

// OpenPR opens a pull request of branch head into base through the API and returns its
// number.
func (r *Repo) OpenPR(t testing.TB, head, base, title string) int {
	t.Helper()
	var out struct {
		Number int `json:"number"`
	}
	// Gitea records a pushed branch after the push returns: until then the pull request's
	// head is not found.
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := r.g.do(t.Context(), "POST", "/repos/"+r.FullName()+"/pulls", map[string]any{"head": head, "base": base, "title": title}, &out)
		if err == nil {
			break
		}
		if !strings.Contains(err.Error(), "404") || time.Now().After(deadline) {
			t.Fatalf("giteatest: %v", err)
		}
		time.Sleep(100 * time.Millisecond) // Gitea has no watch for its branches
	}
	if out.Number <= 0 {
		t.Fatalf("giteatest: pull request %s -> %s: no number in the answer", head, base)
	}
	return out.Number
}

func (r *Repo) hasCommits(t testing.TB) bool {
	cmd := exec.Command("git", "-C", r.work, "rev-parse", "--verify", "-q", "HEAD")
	cmd.Env = gitEnv()
	return cmd.Run() == nil
}

func (r *Repo) current(t testing.TB) string {
	return strings.TrimSpace(r.git(t, r.work, "rev-parse", "--abbrev-ref", "HEAD"))
}

func (r *Repo) branchExists(t testing.TB, branch string) bool {
	cmd := exec.Command("git", "-C", r.work, "rev-parse", "--verify", "-q", "refs/heads/"+branch)
	cmd.Env = gitEnv()
	return cmd.Run() == nil
}

// authURL is the clone URL with the admin's credentials, for pushing.
func (r *Repo) authURL() string {
	return strings.Replace(r.CloneURL, "http://", "http://"+AdminUser+":"+r.g.Token+"@", 1)
}

func (r *Repo) git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	if dir != "" {
		args = append([]string{"-C", dir}, args...)
	}
	cmd := exec.Command("git", args...)
	cmd.Env = gitEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("giteatest: git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// gitEnv is git's environment: no user config, an identity, no prompts.
func gitEnv() []string {
	return append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=Berth Tests", "GIT_AUTHOR_EMAIL=tests@berth.localhost",
		"GIT_COMMITTER_NAME=Berth Tests", "GIT_COMMITTER_EMAIL=tests@berth.localhost")
}

func readFile(path string) string {
	data, _ := os.ReadFile(path)
	return string(data)
}

// accessToken returns the last line of out that is a Gitea access token, "" if none is.
func accessToken(out string) string {
	lines := strings.Split(out, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if len(l) == 40 && strings.Trim(l, "0123456789abcdef") == "" {
			return l
		}
	}
	return ""
}
