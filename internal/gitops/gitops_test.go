package gitops

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/giteatest"
)

// when is the tests' clock.
var when = time.Date(2026, 5, 1, 12, 30, 0, 0, time.UTC)

func newClient() *Client { return &Client{Now: func() time.Time { return when }} }

// TestPublishToGitea publishes to a real Gitea over HTTP and reads back with go-git and
// with real git.
func TestPublishToGitea(t *testing.T) {
	g := giteatest.Start(t)
	ctx := t.Context()
	change := func(repo *giteatest.Repo, base, dir, msg string, files map[string]string) Change {
		ch := Change{URL: repo.CloneURL, Token: g.Token, Base: base, Dir: dir, Message: msg,
			Author: "Alice", Email: "alice@example.com", Files: map[string][]byte{}}
		for name, content := range files {
			ch.Files[name] = []byte(content)
		}
		return ch
	}

	t.Run("OrphanOnEmptyRepo", func(t *testing.T) {
		repo := g.CreateRepo(t, "empty")
		c := newClient()
		res, err := c.Publish(ctx, change(repo, "staging", "shop/web", "deploy 1: shop/web revision 1 to staging by alice\n\nbody",
			map[string]string{"deployment.yaml": "kind: Deployment\n", "service.yaml": "kind: Service\n"}))
		if err != nil {
			t.Fatal(err)
		}
		if !res.Created || res.Unchanged || len(res.Commit) != 40 {
			t.Fatalf("result %+v, want a new commit", res)
		}
		files, tip, err := c.Read(ctx, repo.CloneURL, g.Token, "staging", "shop/web")
		if err != nil {
			t.Fatal(err)
		}
		want := map[string][]byte{"deployment.yaml": []byte("kind: Deployment\n"), "service.yaml": []byte("kind: Service\n")}
		if diff := cmp.Diff(want, files); diff != "" || tip != res.Commit {
			t.Errorf("read tip %s (want %s), files (-want +got):\n%s", tip, res.Commit, diff)
		}
		log, err := c.Log(ctx, repo.CloneURL, g.Token, "staging", 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(log) != 1 || log[0].SHA != res.Commit || log[0].Message != "deploy 1: shop/web revision 1 to staging by alice\n\nbody\n" ||
			log[0].Author != "Alice" || log[0].Email != "alice@example.com" || !log[0].When.Equal(when) {
			t.Errorf("log %+v, want the one orphan commit", log)
		}
		fsck(t, repo.CloneURL, "staging")
	})

	t.Run("ReplacesTheDirExactly", func(t *testing.T) {
		repo := g.CreateRepo(t, "replace")
		repo.Commit(t, "main", "init", map[string]string{
			"README.md": "platform\n", "shop/api/deployment.yaml": "api\n",
			// Names that sort around "shop/" in git's order of a tree.
			"shop.yaml": "x\n", "shop-a": "x\n", "shop0": "x\n", "shop/web.yaml": "x\n",
		})
		c := newClient()
		if _, err := c.Publish(ctx, change(repo, "main", "shop/web", "deploy 1: shop/web",
			map[string]string{"a.yaml": "a1\n", "b.yaml": "b1\n", "c.yaml": "c1\n"})); err != nil {
			t.Fatal(err)
		}
		res, err := c.Publish(ctx, change(repo, "main", "shop/web", "deploy 2: shop/web",
			map[string]string{"a.yaml": "a2\n", "d.yaml": "d2\n"}))
		if err != nil || !res.Created {
			t.Fatalf("second publish: %+v, %v", res, err)
		}
		dir := fsck(t, repo.CloneURL, "main")
		got := tree(t, dir)
		want := map[string]string{
			"README.md": "platform\n", "shop/api/deployment.yaml": "api\n",
			"shop.yaml": "x\n", "shop-a": "x\n", "shop0": "x\n", "shop/web.yaml": "x\n",
			"shop/web/a.yaml": "a2\n", "shop/web/d.yaml": "d2\n",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("the repository's files (-want +got):\n%s", diff)
		}
		log, err := c.Log(ctx, repo.CloneURL, "", "main", 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(log) != 2 || firstLine(log[0].Message) != "deploy 2: shop/web" || firstLine(log[1].Message) != "deploy 1: shop/web" {
			t.Errorf("log %+v", log)
		}

		// No files: the directory goes, and shop/ stays for its other entries.
		if _, err := c.Publish(ctx, change(repo, "main", "shop/web", "deploy 3: shop/web removed", nil)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.Read(ctx, repo.CloneURL, g.Token, "main", "shop/web"); !errors.Is(err, berth.ErrNotFound) {
			t.Errorf("read a removed directory: %v, want not found", err)
		}
		if files, _, err := c.Read(ctx, repo.CloneURL, g.Token, "main", "shop/api"); err != nil || string(files["deployment.yaml"]) != "api\n" {
			t.Errorf("read shop/api: %q, %v", files, err)
		}
	})

	t.Run("SameChangeTwiceCommitsOnce", func(t *testing.T) {
		repo := g.CreateRepo(t, "twice")
		c := newClient()
		ch := change(repo, "staging", "shop/web", "deploy 7: shop/web revision 3 to staging by alice", map[string]string{"a.yaml": "a\n"})
		first, err := c.Publish(ctx, ch)
		if err != nil {
			t.Fatal(err)
		}
		// A resumed deploy renders again, maybe differently, at another time: the message's
		// first line says it is done.
		c.Now = func() time.Time { return when.Add(time.Hour) }
		ch.Files = map[string][]byte{"a.yaml": []byte("changed\n")}
		ch.Message += "\n\nresumed"
		second, err := c.Publish(ctx, ch)
		if err != nil {
			t.Fatal(err)
		}
		if second != (Result{Commit: first.Commit}) {
			t.Errorf("second publish %+v, want the first's commit %s, not created", second, first.Commit)
		}
		if log, err := c.Log(ctx, repo.CloneURL, g.Token, "staging", 10); err != nil || len(log) != 1 {
			t.Errorf("log %+v, %v: want one commit", log, err)
		}

		// Another deploy with the files as they are: no empty commit.
		ch.Message = "deploy 8: shop/web revision 3 to staging by bob"
		ch.Files = map[string][]byte{"a.yaml": []byte("a\n")}
		third, err := c.Publish(ctx, ch)
		if err != nil {
			t.Fatal(err)
		}
		if third != (Result{Commit: first.Commit, Unchanged: true}) {
			t.Errorf("unchanged publish %+v, want unchanged at %s", third, first.Commit)
		}
	})

	t.Run("PullRequestBranch", func(t *testing.T) {
		repo := g.CreateRepo(t, "pr")
		base := repo.Commit(t, "main", "init", map[string]string{"shop/api/a.yaml": "api\n", "shop/web/old.yaml": "old\n"})
		c := newClient()
		ch := change(repo, "main", "shop/web", "deploy 42: shop/web revision 9 to production by alice", map[string]string{"new.yaml": "new\n"})
		ch.Branch = "berth/production/deploy-42"
		res, err := c.Publish(ctx, ch)
		if err != nil || !res.Created {
			t.Fatalf("publish: %+v, %v", res, err)
		}
		web, _, err := c.Read(ctx, repo.CloneURL, g.Token, ch.Branch, "shop/web")
		if err != nil || len(web) != 1 || string(web["new.yaml"]) != "new\n" {
			t.Errorf("the branch's shop/web: %q, %v", web, err)
		}
		if api, _, err := c.Read(ctx, repo.CloneURL, g.Token, ch.Branch, "shop/api"); err != nil || string(api["a.yaml"]) != "api\n" {
			t.Errorf("the branch's shop/api: %q, %v", api, err)
		}
		log, err := c.Log(ctx, repo.CloneURL, g.Token, ch.Branch, 5)
		if err != nil || len(log) != 2 || log[0].SHA != res.Commit || log[1].SHA != base {
			t.Errorf("the branch's log %+v, %v: want the change on %s", log, err, base)
		}
		if _, tip, err := c.Read(ctx, repo.CloneURL, g.Token, "main", "shop/web"); err != nil || tip != base {
			t.Errorf("main's tip %s, %v: want it untouched at %s", tip, err, base)
		}
		if n := repo.OpenPR(t, ch.Branch, "main", "deploy 42"); n <= 0 {
			t.Errorf("pull request number %d", n)
		}

		// The base moves, and the deploy is tried again: the same first line reuses the
		// branch; another resets it onto the new base.
		moved := repo.Commit(t, "main", "other", map[string]string{"shop/api/a.yaml": "api 2\n"})
		if again, err := c.Publish(ctx, ch); err != nil || again != (Result{Commit: res.Commit}) {
			t.Errorf("publish again: %+v, %v: want the branch's commit reused", again, err)
		}
		ch.Message = "deploy 42: shop/web revision 9 to production by alice (attempt 2)"
		reset, err := c.Publish(ctx, ch)
		if err != nil || !reset.Created {
			t.Fatalf("reset: %+v, %v", reset, err)
		}
		log, err = c.Log(ctx, repo.CloneURL, g.Token, ch.Branch, 5)
		if err != nil || len(log) != 3 || log[0].SHA != reset.Commit || log[1].SHA != moved || log[2].SHA != base {
			t.Errorf("the reset branch's log %+v, %v: want the change on %s", log, err, moved)
		}
		fsck(t, repo.CloneURL, ch.Branch)
	})

	t.Run("PullRequestToAMissingBase", func(t *testing.T) {
		repo := g.CreateRepo(t, "prnew")
		c := newClient()
		ch := change(repo, "production", "shop/web", "deploy 1: shop/web to production", map[string]string{"a.yaml": "a\n"})
		ch.Branch = "berth/production/deploy-1"
		res, err := c.Publish(ctx, ch)
		if err != nil || !res.Created {
			t.Fatalf("publish: %+v, %v", res, err)
		}
		base, err := c.Log(ctx, repo.CloneURL, g.Token, "production", 5)
		if err != nil || len(base) != 1 || firstLine(base[0].Message) != "Start production" {
			t.Fatalf("production's log %+v, %v: want one empty start", base, err)
		}
		log, err := c.Log(ctx, repo.CloneURL, g.Token, ch.Branch, 5)
		if err != nil || len(log) != 2 || log[1].SHA != base[0].SHA {
			t.Errorf("the branch's log %+v, %v: want the change on the start", log, err)
		}
		if n := repo.OpenPR(t, ch.Branch, "production", "deploy 1"); n <= 0 {
			t.Errorf("pull request number %d", n)
		}
	})

	t.Run("RetriesWhenTheBranchMoves", func(t *testing.T) {
		repo := g.CreateRepo(t, "moved")
		repo.Commit(t, "main", "init", map[string]string{"README.md": "x\n"})
		c := newClient()
		var calls []int
		c.beforePush = func(attempt int) {
			calls = append(calls, attempt)
			if attempt == 1 {
				repo.Commit(t, "main", "another deploy", map[string]string{"shop/api/a.yaml": "api\n"})
			}
		}
		res, err := c.Publish(ctx, change(repo, "main", "shop/web", "deploy 5: shop/web", map[string]string{"a.yaml": "web\n"}))
		if err != nil || !res.Created {
			t.Fatalf("publish: %+v, %v", res, err)
		}
		if !cmp.Equal(calls, []int{1, 2}) {
			t.Errorf("attempts %v, want 1 and 2", calls)
		}
		got := tree(t, fsck(t, repo.CloneURL, "main"))
		want := map[string]string{"README.md": "x\n", "shop/api/a.yaml": "api\n", "shop/web/a.yaml": "web\n"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("the repository's files (-want +got):\n%s", diff)
		}
	})

	t.Run("GivesUpWhenTheBranchKeepsMoving", func(t *testing.T) {
		repo := g.CreateRepo(t, "busy")
		repo.Commit(t, "main", "init", map[string]string{"README.md": "x\n"})
		c := newClient()
		c.beforePush = func(attempt int) {
			repo.Commit(t, "main", fmt.Sprintf("another deploy %d", attempt), map[string]string{"other/a.yaml": fmt.Sprint(attempt)})
		}
		_, err := c.Publish(ctx, change(repo, "main", "shop/web", "deploy 5: shop/web", map[string]string{"a.yaml": "web\n"}))
		if !errors.Is(err, berth.ErrConflict) || !strings.Contains(err.Error(), "4 attempts") {
			t.Fatalf("publish: %v, want a conflict after 4 attempts", err)
		}
	})

	t.Run("ConcurrentPublishesAllLand", func(t *testing.T) {
		repo := g.CreateRepo(t, "race")
		c := newClient()
		apps := []string{"a/web", "b/web", "c/web"}
		errs := make([]error, len(apps))
		var wg sync.WaitGroup
		for i, app := range apps {
			wg.Go(func() {
				_, errs[i] = c.Publish(ctx, change(repo, "staging", app, "deploy of "+app, map[string]string{"x.yaml": app}))
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		got := tree(t, fsck(t, repo.CloneURL, "staging"))
		want := map[string]string{"a/web/x.yaml": "a/web", "b/web/x.yaml": "b/web", "c/web/x.yaml": "c/web"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("the repository's files (-want +got):\n%s", diff)
		}
		if log, err := c.Log(ctx, repo.CloneURL, g.Token, "staging", 10); err != nil || len(log) != 3 {
			t.Errorf("log %+v, %v: want 3 commits", log, err)
		}
	})

	t.Run("BadToken", func(t *testing.T) {
		const token = "bad-token-0123456789abcdef"
		var out struct {
			CloneURL string `json:"clone_url"`
		}
		g.Do(t, "POST", "/user/repos", map[string]any{"name": "private", "private": true, "auto_init": true, "default_branch": "main"}, &out)
		c := newClient()
		ch := Change{URL: out.CloneURL, Token: token, Base: "main", Dir: "shop/web", Message: "deploy 1", Author: "Alice",
			Files: map[string][]byte{"a.yaml": []byte("a\n")}}
		_, err := c.Publish(ctx, ch)
		if !errors.Is(err, ErrDenied) || strings.Contains(err.Error(), token) {
			t.Errorf("publish with a bad token: %v, want denied, without the token", err)
		}
		_, _, err = c.Read(ctx, out.CloneURL, token, "main", "shop/web")
		if !errors.Is(err, ErrDenied) || strings.Contains(err.Error(), token) {
			t.Errorf("read with a bad token: %v, want denied, without the token", err)
		}

		// A public repository is read without a token, but not pushed to with a bad one.
		public := g.CreateRepo(t, "public")
		public.Commit(t, "main", "init", map[string]string{"README.md": "x\n"})
		_, err = c.Publish(ctx, Change{URL: public.CloneURL, Token: token, Base: "main", Dir: "shop/web", Message: "deploy 1",
			Author: "Alice", Files: map[string][]byte{"a.yaml": []byte("a\n")}})
		if !errors.Is(err, ErrDenied) || strings.Contains(err.Error(), token) {
			t.Errorf("publish to a public repository with a bad token: %v, want denied, without the token", err)
		}
	})

	t.Run("Canceled", func(t *testing.T) {
		repo := g.CreateRepo(t, "canceled")
		ctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := newClient().Publish(ctx, change(repo, "main", "shop/web", "deploy 1", map[string]string{"a.yaml": "a\n"}))
		if !errors.Is(err, context.Canceled) {
			t.Errorf("publish with a canceled context: %v, want canceled", err)
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		repo := g.CreateRepo(t, "found")
		repo.Commit(t, "main", "init", map[string]string{"shop/web/a.yaml": "a\n"})
		c := newClient()
		for name, call := range map[string]func() error{
			"repository": func() error {
				_, _, err := c.Read(ctx, g.URL+"/"+giteatest.AdminUser+"/nothing.git", g.Token, "main", "shop/web")
				return err
			},
			"branch": func() error { _, _, err := c.Read(ctx, repo.CloneURL, g.Token, "nothing", "shop/web"); return err },
			"dir":    func() error { _, _, err := c.Read(ctx, repo.CloneURL, g.Token, "main", "shop/api"); return err },
			"log":    func() error { _, err := c.Log(ctx, repo.CloneURL, g.Token, "nothing", 1); return err },
		} {
			if err := call(); !errors.Is(err, berth.ErrNotFound) {
				t.Errorf("%s: %v, want not found", name, err)
			}
		}
	})

	t.Run("TooLarge", func(t *testing.T) {
		repo := g.CreateRepo(t, "large")
		repo.Commit(t, "main", "init", map[string]string{"shop/web/big.yaml": strings.Repeat("x", 4096)})
		c := &Client{MaxBytes: 2048}
		if _, _, err := c.Read(ctx, repo.CloneURL, g.Token, "main", "shop/web"); !errors.Is(err, ErrTooLarge) {
			t.Errorf("read: %v, want too large", err)
		}
	})

	t.Run("FileInTheWay", func(t *testing.T) {
		repo := g.CreateRepo(t, "blocked")
		repo.Commit(t, "main", "init", map[string]string{"shop": "a file\n"})
		_, err := newClient().Publish(ctx, change(repo, "main", "shop/web", "deploy 1", map[string]string{"a.yaml": "a\n"}))
		if !errors.Is(err, berth.ErrConflict) {
			t.Errorf("publish under a file: %v, want a conflict", err)
		}
	})
}

// TestPublishRefusesBadInputs: bad inputs are refused before any call, naming the field.
func TestPublishRefusesBadInputs(t *testing.T) {
	good := func() Change {
		return Change{URL: "http://127.0.0.1:1/o/r.git", Token: "t", Base: "staging", Dir: "shop/web",
			Files: map[string][]byte{"a.yaml": nil}, Message: "deploy 1", Author: "Alice", Email: "a@b"}
	}
	for _, tc := range []struct {
		name, field string
		change      func(*Change)
	}{
		{"ftp", "url", func(c *Change) { c.URL = "ftp://host/o/r" }},
		{"ssh", "url", func(c *Change) { c.URL = "git@host:o/r.git" }},
		{"file", "url", func(c *Change) { c.URL = "file:///tmp/r" }},
		{"credentials", "url", func(c *Change) { c.URL = "https://u:secret@host/o/r" }},
		{"query", "url", func(c *Change) { c.URL = "https://host/o/r?token=x" }},
		{"no token", "token", func(c *Change) { c.Token = "" }},
		{"no base", "base", func(c *Change) { c.Base = "" }},
		{"base with space", "base", func(c *Change) { c.Base = "a b" }},
		{"base with ..", "base", func(c *Change) { c.Base = "a..b" }},
		{"branch .lock", "branch", func(c *Change) { c.Branch = "berth/x.lock" }},
		{"branch -x", "branch", func(c *Change) { c.Branch = "-x" }},
		{"branch //", "branch", func(c *Change) { c.Branch = "a//b" }},
		{"no dir", "dir", func(c *Change) { c.Dir = "" }},
		{"absolute dir", "dir", func(c *Change) { c.Dir = "/shop/web" }},
		{"dir ..", "dir", func(c *Change) { c.Dir = "shop/../web" }},
		{"dir trailing /", "dir", func(c *Change) { c.Dir = "shop/web/" }},
		{"dir .git", "dir", func(c *Change) { c.Dir = "shop/.git" }},
		{"file with /", "files", func(c *Change) { c.Files["a/b.yaml"] = nil }},
		{"empty file name", "files", func(c *Change) { c.Files[""] = nil }},
		{"file ..", "files", func(c *Change) { c.Files[".."] = nil }},
		{"no message", "message", func(c *Change) { c.Message = "\n\nbody" }},
		{"no author", "author", func(c *Change) { c.Author = " " }},
		{"author <", "author", func(c *Change) { c.Author = "a <b>" }},
		{"email newline", "email", func(c *Change) { c.Email = "a@b\nc" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch := good()
			tc.change(&ch)
			_, err := newClient().Publish(t.Context(), ch)
			var inv *berth.InvalidError
			if !errors.As(err, &inv) || inv.Field != tc.field {
				t.Fatalf("Publish: %v, want invalid %s", err, tc.field)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("the error %q holds the URL's password", err)
			}
		})
	}
	if _, err := newClient().Log(t.Context(), "https://host/o/r", "", "main", 0); !errors.Is(err, berth.ErrInvalid) {
		t.Errorf("Log of 0 commits: %v, want invalid", err)
	}
}

// TestScrub: the token is removed from an error's message, as it is and encoded.
func TestScrub(t *testing.T) {
	r := newClient().open("https://host/o/r", "tok/en+0123")
	for in, want := range map[string]string{
		"bad token tok/en+0123 given":                   "bad token [token] given",
		"echo tok%2Fen%2B0123 and tok%2Fen+0123":        "echo [token] and [token]",
		"Authorization: Basic YmVydGg6dG9rL2VuKzAxMjM=": "Authorization: Basic [token]",
		"no token here": "no token here",
		"status 401: line one\nline two tok/en+0123\x1b[m": "status 401: line one line two [token][m",
	} {
		err := r.fail("call", errors.New(in))
		if got := strings.TrimPrefix(err.Error(), "call of https://host/o/r: "); got != want {
			t.Errorf("fail(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestTreesAreDeterministic: the same files give the same tree, whatever the map's order
// and whatever the directory held before.
func TestTreesAreDeterministic(t *testing.T) {
	files := map[string][]byte{}
	for i := range 50 {
		files[fmt.Sprintf("object-%02d.yaml", i)] = []byte(fmt.Sprint(i))
	}
	r := newClient().open("https://host/o/r", "")
	other, err := replaceDir(r.st, plumbing.ZeroHash, "shop/web", map[string][]byte{"old.yaml": []byte("old")})
	if err != nil {
		t.Fatal(err)
	}
	var hashes []string
	for _, root := range []plumbing.Hash{plumbing.ZeroHash, plumbing.ZeroHash, other} {
		h, err := replaceDir(r.st, root, "shop/web", files)
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, h.String())
	}
	if hashes[0] != hashes[1] || hashes[0] != hashes[2] {
		t.Errorf("trees %v, want one", hashes)
	}
}

// fsck clones branch of url with real git, checks every object strictly (git's order of
// a tree's entries included) and returns the checkout.
func fsck(t *testing.T, url, branch string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "checkout")
	runGit(t, "", "clone", "-q", "--branch", branch, url, dir)
	runGit(t, dir, "fsck", "--strict", "--no-dangling")
	return dir
}

// tree returns the files of a checkout, by path, without .git.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.Name() == ".git" && d.IsDir() {
			if err == nil {
				err = filepath.SkipDir
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func runGit(t *testing.T, dir string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}
