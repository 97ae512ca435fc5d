package forge

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/giteatest"
)

// TestGiteaClient runs the client against one real Gitea: files read at a commit, commit
// statuses, the one comment of a pull request, a webhook registered, and a bad token.
func TestGiteaClient(t *testing.T) {
	g := giteatest.Start(t)
	repo := g.CreateRepo(t, "web")
	c, err := NewClient(berth.ForgeGitea, repo.CloneURL, g.Token)
	if err != nil {
		t.Fatal(err)
	}
	name := repo.FullName()
	old := repo.Commit(t, "main", "first", map[string]string{"berth.yaml": "version: one\n", "deploy/old.yaml": "old\n"})
	head := repo.Commit(t, "main", "second", map[string]string{"berth.yaml": "version: two\n", "deploy/old.yaml": ""})

	t.Run("ReadFile", func(t *testing.T) {
		ctx := t.Context()
		for _, tc := range []struct{ path, ref, want string }{
			{"berth.yaml", old, "version: one\n"},
			{"berth.yaml", head, "version: two\n"},
			{"berth.yaml", "main", "version: two\n"},
			{"deploy/old.yaml", old, "old\n"},
		} {
			got, err := c.ReadFile(ctx, name, tc.path, tc.ref)
			if err != nil || string(got) != tc.want {
				t.Errorf("ReadFile(%s at %s) = %q, %v; want %q", tc.path, tc.ref, got, err, tc.want)
			}
		}
		for _, tc := range []struct{ path, ref string }{
			{"deploy/old.yaml", head},                // deleted by the head commit
			{"nope.yaml", head},                      // never there
			{"berth.yaml", strings.Repeat("ab", 20)}, // no such commit
			{"berth.yaml", "no-such-branch"},         // no such branch: not the default one's file
		} {
			_, err := c.ReadFile(ctx, name, tc.path, tc.ref)
			want := fmt.Sprintf("%s not found in %s at %s", tc.path, name, tc.ref)
			if !errors.Is(err, berth.ErrNotFound) || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "gitea: GET") {
				t.Errorf("ReadFile(%s at %s): %v; want ErrNotFound saying %q", tc.path, tc.ref, err, want)
			}
		}
		_, err := c.ReadFile(ctx, name, "deploy", old)
		if err == nil || errors.Is(err, berth.ErrNotFound) {
			t.Errorf("a directory read as a file: %v", err)
		}
		big := repo.Commit(t, "main", "big", map[string]string{"big.yaml": strings.Repeat("x: y\n", MaxFile/5+1)})
		_, err = c.ReadFile(ctx, name, "big.yaml", big)
		if err == nil || !strings.Contains(err.Error(), "larger than 1048576 bytes") {
			t.Errorf("a file over MaxFile: %v", err)
		}
	})

	t.Run("BranchHead", func(t *testing.T) {
		sha := repo.Commit(t, "topic-x", "on a branch", map[string]string{"x.txt": "x\n"})
		if got, err := c.BranchHead(t.Context(), name, "topic-x"); err != nil || got != sha {
			t.Errorf("BranchHead(topic-x) = %q, %v; want %s", got, err, sha)
		}
		if _, err := c.BranchHead(t.Context(), name, "gone"); !errors.Is(err, berth.ErrNotFound) {
			t.Errorf("BranchHead of a missing branch: %v; want ErrNotFound", err)
		}
	})

	t.Run("ResolveRef", func(t *testing.T) {
		ctx := t.Context()
		tip := repo.Commit(t, "topic-r", "on a branch to tag", map[string]string{"r.txt": "r\n"})
		repo.Tag(t, "v1.0.0") // lightweight, at tip
		// An annotated tag, made through the API, of an older commit.
		g.Do(t, "POST", "/repos/"+name+"/tags", map[string]string{"tag_name": "v0.9.0", "target": old, "message": "the first"}, nil)
		for _, tc := range []struct{ ref, sha, full string }{
			{"topic-r", tip, "refs/heads/topic-r"},
			{"refs/heads/topic-r", tip, "refs/heads/topic-r"},
			{"v1.0.0", tip, "refs/tags/v1.0.0"},
			{"refs/tags/v1.0.0", tip, "refs/tags/v1.0.0"},
			{"v0.9.0", old, "refs/tags/v0.9.0"},
			{old, old, ""},
			{head[:7], head, ""},
			{strings.ToUpper(old[:10]), old, ""},
		} {
			sha, full, err := c.ResolveRef(ctx, name, tc.ref)
			if err != nil || sha != tc.sha || full != tc.full {
				t.Errorf("ResolveRef(%s) = %s, %q, %v; want %s, %q", tc.ref, sha, full, err, tc.sha, tc.full)
			}
		}
		for ref, want := range map[string]string{
			"no-such-ref":            "no-such-ref is no branch, tag or commit of " + name,
			"abcdef0":                "abcdef0 is no branch, tag or commit of " + name,
			strings.Repeat("ab", 20): strings.Repeat("ab", 20) + " is no commit of " + name,
			"refs/tags/topic-r":      "refs/tags/topic-r is no tag of " + name,
			"refs/heads/v1.0.0":      "refs/heads/v1.0.0 is no branch of " + name,
			head[:6]:                 head[:6] + " is no branch, tag or commit of " + name, // too short for a commit
		} {
			if _, _, err := c.ResolveRef(ctx, name, ref); !errors.Is(err, berth.ErrNotFound) || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("ResolveRef(%s): %v; want ErrNotFound saying %q", ref, err, want)
			}
		}
		for _, ref := range []string{"", "a..b", "-x", "x y", "@", "main@{1}"} {
			if _, _, err := c.ResolveRef(ctx, name, ref); !errors.Is(err, berth.ErrInvalid) {
				t.Errorf("ResolveRef(%q): %v; want ErrInvalid", ref, err)
			}
		}
	})

	t.Run("SetStatus", func(t *testing.T) {
		desc := strings.Repeat("é", 200)
		for _, st := range []Status{
			{State: StatusPending, Context: "berth/staging", Description: "deploying", TargetURL: "http://berth.example/deploys/1"},
			{State: StatusSuccess, Context: "berth/staging", Description: desc, TargetURL: "http://berth.example/deploys/1"},
			{State: StatusFailure, Context: "berth/preview"},
		} {
			if err := c.SetStatus(t.Context(), name, old, st); err != nil {
				t.Fatalf("SetStatus %+v: %v", st, err)
			}
		}
		var got []struct {
			State       string `json:"status"`
			Context     string `json:"context"`
			Description string `json:"description"`
			TargetURL   string `json:"target_url"`
		}
		g.Do(t, "GET", "/repos/"+name+"/commits/"+old+"/statuses?sort=oldest", nil, &got)
		if len(got) != 3 {
			t.Fatalf("%d statuses on %s, want 3: %+v", len(got), old, got)
		}
		success := got[1]
		if success.State != "success" || success.Context != "berth/staging" || success.TargetURL != "http://berth.example/deploys/1" ||
			utf8.RuneCountInString(success.Description) != maxDescription || !strings.HasPrefix(desc, strings.TrimSuffix(success.Description, "…")) {
			t.Errorf("the success status: %+v", success)
		}
		if got[2].State != "failure" || got[2].Context != "berth/preview" {
			t.Errorf("the failure status: %+v", got[2])
		}
		var none []any
		g.Do(t, "GET", "/repos/"+name+"/commits/"+head+"/statuses", nil, &none)
		if len(none) != 0 {
			t.Errorf("statuses on %s, set on %s only: %v", head, old, none)
		}
	})

	t.Run("UpsertComment", func(t *testing.T) {
		ctx := t.Context()
		repo.Commit(t, "feature", "change", map[string]string{"README.md": "feature\n"})
		pr := repo.OpenPR(t, "feature", "main", "A change")
		comments := func() []struct {
			ID   int64  `json:"id"`
			Body string `json:"body"`
		} {
			var out []struct {
				ID   int64  `json:"id"`
				Body string `json:"body"`
			}
			g.Do(t, "GET", fmt.Sprintf("/repos/%s/issues/%d/comments", name, pr), nil, &out)
			return out
		}
		id, err := c.UpsertComment(ctx, name, pr, 0, "Preview: deploying")
		if err != nil || id <= 0 {
			t.Fatalf("create: %d, %v", id, err)
		}
		again, err := c.UpsertComment(ctx, name, pr, id, "Preview: ready at https://pr-1.web.example")
		if err != nil || again != id {
			t.Fatalf("edit: %d, %v (want %d)", again, err, id)
		}
		if got := comments(); len(got) != 1 || got[0].ID != id || got[0].Body != "Preview: ready at https://pr-1.web.example" {
			t.Fatalf("comments after an edit: %+v", got)
		}
		g.Do(t, "DELETE", fmt.Sprintf("/repos/%s/issues/comments/%d", name, id), nil, nil)
		renewed, err := c.UpsertComment(ctx, name, pr, id, "Preview: updated")
		if err != nil || renewed <= 0 || renewed == id {
			t.Fatalf("edit of a deleted comment: %d, %v (the deleted one was %d)", renewed, err, id)
		}
		if got := comments(); len(got) != 1 || got[0].ID != renewed || got[0].Body != "Preview: updated" {
			t.Fatalf("comments after the deleted one was made anew: %+v", got)
		}
		// A marked comment whose id the caller lost is found and edited, not repeated.
		marked, err := c.UpsertComment(ctx, name, pr, 0, "<!-- berth:preview a/b -->\nfirst")
		if err != nil {
			t.Fatal(err)
		}
		found, err := c.UpsertComment(ctx, name, pr, 0, "<!-- berth:preview a/b -->\nsecond")
		if err != nil || found != marked {
			t.Fatalf("upsert of a marked comment without its id: %d, %v; want %d", found, err, marked)
		}
		if got := comments(); len(got) != 2 || got[1].Body != "<!-- berth:preview a/b -->\nsecond" {
			t.Fatalf("comments after a marked upsert without the id: %+v", got)
		}
	})

	// GitOps output's pull requests: one per deploy's branch into the environment's, opened
	// once however often asked, then merged or closed.
	t.Run("PullRequests", func(t *testing.T) {
		ctx := t.Context()
		platform := g.CreateRepo(t, "platform")
		pname := platform.FullName()
		platform.Commit(t, "main", "init", map[string]string{"README.md": "platform\n"})
		platform.Commit(t, "production", "deploy 41", map[string]string{"shop/web/deployment-web.yaml": "replicas: 1\n"})
		const head = "berth/production/deploy-42"
		platform.Commit(t, head, "deploy 42", map[string]string{"shop/web/deployment-web.yaml": "replicas: 2\n"})
		// Right after the push, which Gitea may not have recorded yet.
		n, u, err := c.OpenPullRequest(ctx, pname, head, "production", "Deploy shop/web revision 2 to production (deploy 42)", "Merging it applies it.\n")
		if err != nil || n <= 0 || u != fmt.Sprintf("%s/%s/pulls/%d", g.URL, pname, n) {
			t.Fatalf("OpenPullRequest = %d, %q, %v", n, u, err)
		}
		// A retry (after a crash) finds the open one: Gitea answers 409.
		again, againURL, err := c.OpenPullRequest(ctx, pname, head, "production", "Deploy shop/web revision 2 to production (deploy 42)", "")
		if err != nil || again != n || againURL != u {
			t.Fatalf("OpenPullRequest again = %d, %q, %v; want %d, %q", again, againURL, err, n, u)
		}
		var open []struct {
			Number int    `json:"number"`
			Title  string `json:"title"`
			Body   string `json:"body"`
		}
		g.Do(t, "GET", "/repos/"+pname+"/pulls?state=open", nil, &open)
		if len(open) != 1 || open[0].Number != n || open[0].Body != "Merging it applies it.\n" {
			t.Fatalf("open pull requests: %+v; want #%d only", open, n)
		}
		state := func(n int) berth.GitOpsState {
			t.Helper()
			st, err := c.PullRequestState(ctx, pname, n)
			if err != nil {
				t.Fatalf("PullRequestState(%d): %v", n, err)
			}
			return st
		}
		if st := state(n); st != berth.GitOpsOpen {
			t.Fatalf("state of #%d: %s, want open", n, st)
		}
		giteaMerge(t, g, pname, n)
		if st := state(n); st != berth.GitOpsMerged {
			t.Errorf("state of #%d: %s, want merged", n, st)
		}

		// Another, whose title and body are over the bounds, closed unmerged.
		platform.Commit(t, "berth/production/deploy-43", "deploy 43", map[string]string{"shop/web/deployment-web.yaml": "replicas: 3\n"})
		other, _, err := c.OpenPullRequest(ctx, pname, "berth/production/deploy-43", "production",
			"Deploy\x1b\n"+strings.Repeat("é", 300), strings.Repeat("b", MaxComment+10))
		if err != nil || other <= 0 || other == n {
			t.Fatalf("OpenPullRequest of deploy-43 = %d, %v", other, err)
		}
		var got struct {
			Title string `json:"title"`
			Body  string `json:"body"`
		}
		g.Do(t, "GET", fmt.Sprintf("/repos/%s/pulls/%d", pname, other), nil, &got)
		if want := "Deploy " + strings.Repeat("é", (maxTitle-7-3)/2) + "…"; got.Title != want {
			t.Errorf("the title: %q (%d bytes), want %q (%d)", got.Title, len(got.Title), want, len(want))
		}
		if len(got.Body) != MaxComment || !strings.HasSuffix(got.Body, "b…") {
			t.Errorf("the body: %d bytes, ending %q; want %d", len(got.Body), got.Body[max(0, len(got.Body)-8):], MaxComment)
		}
		if st := state(other); st != berth.GitOpsOpen {
			t.Fatalf("state of #%d: %s, want open", other, st)
		}
		g.Do(t, "PATCH", fmt.Sprintf("/repos/%s/pulls/%d", pname, other), map[string]string{"state": "closed"}, nil)
		if st := state(other); st != berth.GitOpsClosed {
			t.Errorf("state of #%d: %s, want closed", other, st)
		}
		if st := state(n); st != berth.GitOpsMerged {
			t.Errorf("state of #%d: %s, want still merged", n, st)
		}

		_, err = c.PullRequestState(ctx, pname, 999)
		if !errors.Is(err, berth.ErrNotFound) || !strings.HasPrefix(err.Error(), "pull request 999 not found in "+pname+": gitea: GET /repos/"+pname+"/pulls/999: HTTP 404") {
			t.Errorf("PullRequestState of no pull request: %v; want ErrNotFound", err)
		}
	})

	t.Run("CreateHook", func(t *testing.T) {
		type delivery struct {
			path   string
			header http.Header
			body   []byte
		}
		deliveries := make(chan delivery, 16)
		recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(io.LimitReader(r.Body, MaxBody))
			deliveries <- delivery{r.URL.Path, r.Header.Clone(), body}
			w.WriteHeader(http.StatusAccepted)
		}))
		defer recv.Close()
		hooked := g.CreateRepo(t, "hooked")
		const secret = "hook-secret-0123456789abcdef"
		if err := c.CreateHook(t.Context(), hooked.FullName(), recv.URL+"/hooks/gitea", secret); err != nil {
			t.Fatal(err)
		}
		sha := hooked.Commit(t, "main", "first", map[string]string{"berth.yaml": "version: one\n"})
		select {
		case got := <-deliveries:
			d, err := ReadDelivery(berth.ForgeGitea, got.header)
			if err != nil || got.path != "/hooks/gitea" || got.header.Get("Content-Type") != "application/json" {
				t.Fatalf("delivery to %s (%s): %v", got.path, got.header.Get("Content-Type"), err)
			}
			if !d.Verify(got.body, secret) {
				t.Fatal("the delivery is not signed with the secret given")
			}
			ev, err := d.Parse(got.body)
			if err != nil || ev.Kind != EventPush || ev.SHA != sha || ev.Repo != hooked.FullName() {
				t.Fatalf("delivery %+v: %v", ev, err)
			}
		case <-time.After(60 * time.Second):
			t.Fatal("no delivery within 60 s of the push")
		}
		var hooks []struct {
			Events []string `json:"events"`
			Active bool     `json:"active"`
		}
		g.Do(t, "GET", "/repos/"+hooked.FullName()+"/hooks", nil, &hooks)
		if len(hooks) != 1 || !hooks[0].Active || !strings.Contains(strings.Join(hooks[0].Events, ","), "pull_request") {
			t.Errorf("hooks: %+v", hooks)
		}
	})

	// A bad token: every call fails saying the forge, the call and the status, never the token.
	t.Run("BadToken", func(t *testing.T) {
		const bad = "0123456789abcdef0123456789abcdef01234567"
		bc, err := NewClient(berth.ForgeGitea, repo.CloneURL, bad)
		if err != nil {
			t.Fatal(err)
		}
		ctx := t.Context()
		_, readErr := bc.ReadFile(ctx, name, "berth.yaml", head)
		_, commentErr := bc.UpsertComment(ctx, name, 1, 0, "x")
		_, _, openErr := bc.OpenPullRequest(ctx, name, "feature", "main", "x", "")
		_, stateErr := bc.PullRequestState(ctx, name, 1)
		for call, err := range map[string]error{
			"read":    readErr,
			"status":  bc.SetStatus(ctx, name, head, Status{State: StatusSuccess, Context: "berth/staging"}),
			"comment": commentErr,
			"hook":    bc.CreateHook(ctx, name, "http://127.0.0.1:1/hooks/gitea", "s"),
			"open":    openErr,
			"state":   stateErr,
		} {
			var apiErr *APIError
			if !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized || apiErr.Retryable() {
				t.Errorf("%s: %v, want a 401", call, err)
				continue
			}
			if msg := err.Error(); strings.Contains(msg, bad) || !strings.HasPrefix(msg, "gitea: ") || !strings.Contains(msg, "HTTP 401") {
				t.Errorf("%s: %s", call, msg)
			}
		}
	})

	// Nothing listening at the forge's address: no answer, retryable.
	t.Run("NoAnswer", func(t *testing.T) {
		down, err := NewClient(berth.ForgeGitea, "http://127.0.0.1:1/berth-admin/web", g.Token)
		if err != nil {
			t.Fatal(err)
		}
		err = down.SetStatus(t.Context(), name, head, Status{State: StatusError, Context: "berth/staging"})
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.Status != 0 || !apiErr.Retryable() || strings.Contains(err.Error(), g.Token) {
			t.Errorf("no answer: %v", err)
		}
	})
}

// TestGiteaCompare runs Compare against a real Gitea: two commits of different authors on
// top of a base, one of them the admin's email (so Gitea knows its user), listed oldest
// first whether head is a sha or a branch; nothing when head is base or behind it; and an
// unknown commit or branch is ErrNotFound.
func TestGiteaCompare(t *testing.T) {
	g := giteatest.Start(t)
	repo := g.CreateRepo(t, "train")
	c, err := NewClient(berth.ForgeGitea, repo.CloneURL, g.Token)
	if err != nil {
		t.Fatal(err)
	}
	name := repo.FullName()
	base := repo.Commit(t, "main", "base", map[string]string{"README.md": "base\n"})
	var admin struct {
		Email string `json:"email"`
	}
	g.Do(t, "GET", "/user", nil, &admin)
	// giteatest pushes as one identity: commits of other authors are made with the
	// contents API, which takes the author's name and email.
	commit := func(path, message, from, newBranch, author, email string) string {
		t.Helper()
		who := map[string]string{"name": author, "email": email}
		var out struct {
			Commit struct {
				SHA string `json:"sha"`
			} `json:"commit"`
		}
		g.Do(t, "POST", "/repos/"+name+"/contents/"+path, map[string]any{
			"content": base64.StdEncoding.EncodeToString([]byte(path + "\n")), "message": message,
			"branch": from, "new_branch": newBranch, "author": who, "committer": who,
		}, &out)
		if !isSHA(out.Commit.SHA) {
			t.Fatalf("commit of %s: no sha in the answer", path)
		}
		return out.Commit.SHA
	}
	first := commit("one.txt", "Add one\n\nThe body says why.\n", "main", "release", "Ada Lovelace", admin.Email)
	second := commit("two.txt", "Add two\n", "release", "", "Grace Hopper", "grace@example.com")

	want := berth.Comparison{Base: base, Total: 2, Commits: []berth.Commit{
		{SHA: first, Message: "Add one", AuthorName: "Ada Lovelace", AuthorEmail: admin.Email, AuthorLogin: giteatest.AdminUser,
			URL: g.URL + "/" + name + "/commit/" + first},
		{SHA: second, Message: "Add two", AuthorName: "Grace Hopper", AuthorEmail: "grace@example.com",
			URL: g.URL + "/" + name + "/commit/" + second},
	}}
	for _, head := range []string{second, "release"} {
		got, err := c.Compare(t.Context(), name, base, head)
		if err != nil {
			t.Fatalf("Compare(%s...%s): %v", base, head, err)
		}
		want.Head = head
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("Compare(base...%s) (-want +got):\n%s", head, d)
		}
	}
	for _, tc := range []struct{ base, head string }{{second, second}, {"release", "release"}, {second, base}} {
		got, err := c.Compare(t.Context(), name, tc.base, tc.head)
		if err != nil || got.Total != 0 || len(got.Commits) != 0 {
			t.Errorf("Compare(%s...%s) = %+v, %v; want no commits", tc.base, tc.head, got, err)
		}
	}
	for _, tc := range []struct{ base, head string }{
		{base, strings.Repeat("ab", 20)}, // no such commit
		{strings.Repeat("ab", 20), second},
		{base, "no-such-branch"},
	} {
		_, err := c.Compare(t.Context(), name, tc.base, tc.head)
		if !errors.Is(err, berth.ErrNotFound) || !strings.Contains(err.Error(), tc.base+" or "+tc.head+" not found in "+name) ||
			!strings.Contains(err.Error(), "gitea: GET /repos/"+name+"/compare/") {
			t.Errorf("Compare(%s...%s): %v; want ErrNotFound", tc.base, tc.head, err)
		}
	}
}

// giteaMerge merges pull request n of repo as a person would, once Gitea has checked that
// it can be (until then it answers 405 "Please try again later").
func giteaMerge(t *testing.T, g *giteatest.Gitea, repo string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var pr struct {
			Mergeable bool `json:"mergeable"`
		}
		g.Do(t, "GET", fmt.Sprintf("/repos/%s/pulls/%d", repo, n), nil, &pr)
		if pr.Mergeable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pull request #%d of %s not mergeable within 30 s", n, repo)
		}
		time.Sleep(100 * time.Millisecond) // Gitea has no watch for its merge checks
	}
	g.Do(t, "POST", fmt.Sprintf("/repos/%s/pulls/%d/merge", repo, n), map[string]string{"Do": "merge"}, nil)
}

// TestGiteaOpenPullRequestWaits: a pull request of a branch Gitea has not recorded yet (it
// does so in a queue after the push returns) is asked for again until it has; of the open
// ones listed after a 409, a fork's branch of the same name is not taken for the
// repository's own.
func TestGiteaOpenPullRequestWaits(t *testing.T) {
	pull := func(number int, headRepo int64) string {
		return fmt.Sprintf(`{"number":%d,"html_url":"http://git.example/o/platform/pulls/%d","state":"open","merged":false,`+
			`"head":{"ref":"berth/production/deploy-42","repo_id":%d},"base":{"ref":"production","repo_id":1}}`, number, number, headRepo)
	}
	var (
		mu    sync.Mutex
		calls []string
	)
	answers := []struct {
		status int
		body   string
	}{
		{404, `{"errors":null,"message":"not found","url":"http://git.example/api/swagger"}`},
		{404, `{"errors":null,"message":"not found","url":"http://git.example/api/swagger"}`},
		{201, pull(3, 1)},
		{409, `{"message":"pull request already exists for these targets [id: 3, issue_id: 3, head_repo_id: 1, base_repo_id: 1, head_branch: berth/production/deploy-42, base_branch: production]"}`},
		{200, "[" + pull(4, 2) + "," + pull(3, 1) + "]"},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, r.Method+" "+r.URL.RequestURI())
		if len(answers) == 0 {
			t.Errorf("unexpected call %s %s", r.Method, r.URL.RequestURI())
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		a := answers[0]
		answers = answers[1:]
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	}))
	defer srv.Close()
	c, err := NewClient(berth.ForgeGitea, srv.URL+"/o/platform", "t0ken")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		n, u, err := c.OpenPullRequest(t.Context(), "o/platform", "berth/production/deploy-42", "production", "Deploy", "")
		if err != nil || n != 3 || u != "http://git.example/o/platform/pulls/3" {
			t.Fatalf("OpenPullRequest = %d, %q, %v; want 3", n, u, err)
		}
	}
	want := []string{
		"POST /api/v1/repos/o/platform/pulls",
		"POST /api/v1/repos/o/platform/pulls",
		"POST /api/v1/repos/o/platform/pulls",
		"POST /api/v1/repos/o/platform/pulls",
		"GET /api/v1/repos/o/platform/pulls?state=open&base_branch=production&page=1&limit=50",
	}
	mu.Lock()
	defer mu.Unlock()
	if d := cmp.Diff(want, calls); d != "" {
		t.Errorf("calls (-want +got):\n%s", d)
	}
}
