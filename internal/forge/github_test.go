package forge

import (
	"context"
	"encoding/json"
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
)

const (
	ghToken = "ghp_berthTestToken0123456789abcdefABCDEF"
	ghSHA   = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
)

// exchange is one call the fake GitHub expects, in order, and its answer.
type exchange struct {
	method, path, query string
	accept              string // checked when set
	body                string // the JSON body expected, compared as JSON; "" for none
	status              int
	contentType         string
	answer              string
}

// fakeGitHub is an httptest server answering GitHub's documented shapes. It fails the test
// on a call it did not expect (method, path, query, Authorization, body) and, at the end,
// when an expected call was not made.
func fakeGitHub(t *testing.T, want ...exchange) *httptest.Server {
	t.Helper()
	var mu sync.Mutex
	next := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if next >= len(want) {
			t.Errorf("unexpected call %s %s?%s", r.Method, r.URL.Path, r.URL.RawQuery)
			http.Error(w, `{"message":"unexpected"}`, http.StatusInternalServerError)
			return
		}
		x := want[next]
		next++
		if r.Method != x.method || r.URL.Path != x.path || r.URL.RawQuery != x.query {
			t.Errorf("call %d: %s %s?%s, want %s %s?%s", next, r.Method, r.URL.Path, r.URL.RawQuery, x.method, x.path, x.query)
		}
		if got := r.Header.Get("Authorization"); got != "Bearer "+ghToken {
			t.Errorf("call %d: Authorization %q", next, got)
		}
		if x.accept != "" && r.Header.Get("Accept") != x.accept {
			t.Errorf("call %d: Accept %q, want %q", next, r.Header.Get("Accept"), x.accept)
		}
		if x.body != "" {
			var got, exp any
			if err := json.Unmarshal(body, &got); err != nil {
				t.Errorf("call %d: body %q is not JSON: %v", next, body, err)
			}
			if err := json.Unmarshal([]byte(x.body), &exp); err != nil {
				t.Fatalf("call %d: the expected body is not JSON: %v", next, err)
			}
			if d := cmp.Diff(exp, got); d != "" {
				t.Errorf("call %d: %s %s body (-want +got):\n%s", next, x.method, x.path, d)
			}
		} else if len(body) > 0 {
			t.Errorf("call %d: unexpected body %q", next, body)
		}
		ct := x.contentType
		if ct == "" {
			ct = "application/json; charset=utf-8"
		}
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(x.status)
		io.WriteString(w, x.answer)
	}))
	t.Cleanup(func() {
		srv.Close()
		if next != len(want) {
			t.Errorf("%d of %d expected calls made; the first missing: %s %s", next, len(want), want[next].method, want[next].path)
		}
	})
	return srv
}

func gitHubClient(t *testing.T, srv *httptest.Server) *Client {
	t.Helper()
	c, err := NewClient(berth.ForgeGitHub, "https://github.com/octo/web", ghToken, WithAPIURL(srv.URL+"/"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const ghNotFound = `{"message":"Not Found","documentation_url":"https://docs.github.com/rest","status":"404"}`

func TestGitHubReadFile(t *testing.T) {
	const raw = "application/vnd.github.raw+json"
	manifest := "apiVersion: berth.dev/v1\nkind: App\n"
	big := strings.Repeat("x", MaxFile+1)
	srv := fakeGitHub(t,
		exchange{method: "GET", path: "/repos/octo/web/contents/deploy/berth.yaml", query: "ref=" + ghSHA, accept: raw,
			status: 200, contentType: "application/vnd.github.raw; charset=utf-8", answer: manifest},
		exchange{method: "GET", path: "/repos/octo/web/contents/berth.yaml", query: "ref=" + ghSHA, accept: raw,
			status: 404, answer: ghNotFound},
		exchange{method: "GET", path: "/repos/octo/web/contents/berth.yaml", query: "ref=" + ghSHA, accept: raw,
			status: 200, contentType: "application/vnd.github.raw", answer: big},
		exchange{method: "GET", path: "/repos/octo/web/contents/deploy", query: "ref=main", accept: raw,
			status: 200, answer: `[{"type":"file","name":"berth.yaml","path":"deploy/berth.yaml"}]`},
	)
	c := gitHubClient(t, srv)
	ctx := t.Context()

	got, err := c.ReadFile(ctx, "octo/web", "deploy/berth.yaml", ghSHA)
	if err != nil || string(got) != manifest {
		t.Fatalf("ReadFile = %q, %v", got, err)
	}
	_, err = c.ReadFile(ctx, "octo/web", "berth.yaml", ghSHA)
	if !errors.Is(err, berth.ErrNotFound) || !strings.Contains(err.Error(), "berth.yaml not found in octo/web at "+ghSHA) ||
		!strings.Contains(err.Error(), "HTTP 404") {
		t.Errorf("a missing file: %v", err)
	}
	_, err = c.ReadFile(ctx, "octo/web", "berth.yaml", ghSHA)
	if err == nil || !strings.Contains(err.Error(), "larger than 1048576 bytes") || errors.Is(err, berth.ErrNotFound) {
		t.Errorf("a file over MaxFile: %v", err)
	}
	_, err = c.ReadFile(ctx, "octo/web", "deploy", "main")
	if err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("a directory: %v", err)
	}
}

func TestGitHubSetStatus(t *testing.T) {
	long := strings.Repeat("é", 150) // 150 characters, 300 bytes
	want := strings.Repeat("é", 139) + "…"
	srv := fakeGitHub(t,
		exchange{method: "POST", path: "/repos/octo/web/statuses/" + ghSHA,
			body:   `{"state":"success","context":"berth/staging","description":"deployed","target_url":"https://berth.example/apps/web/deploys/7"}`,
			status: 201, answer: `{"id":1,"state":"success","context":"berth/staging","description":"deployed","target_url":"https://berth.example/apps/web/deploys/7"}`},
		exchange{method: "POST", path: "/repos/octo/web/statuses/" + ghSHA,
			body:   `{"state":"pending","context":"berth/staging","description":"` + want + `"}`,
			status: 201, answer: `{"id":2,"state":"pending"}`},
	)
	c := gitHubClient(t, srv)
	if err := c.SetStatus(t.Context(), "octo/web", ghSHA, Status{State: StatusSuccess, Context: "berth/staging",
		Description: "deployed", TargetURL: "https://berth.example/apps/web/deploys/7"}); err != nil {
		t.Fatal(err)
	}
	if err := c.SetStatus(t.Context(), "octo/web", ghSHA, Status{State: StatusPending, Context: "berth/staging", Description: long}); err != nil {
		t.Fatal(err)
	}
	if n := utf8.RuneCountInString(want); n != maxDescription {
		t.Fatalf("the expected description has %d characters", n)
	}
}

func TestGitHubUpsertComment(t *testing.T) {
	comment := func(id, body string) string {
		return `{"id":` + id + `,"node_id":"IC_x","body":"` + body + `","user":{"login":"berth"},"html_url":"https://github.com/octo/web/pull/7#issuecomment-` + id + `"}`
	}
	srv := fakeGitHub(t,
		exchange{method: "POST", path: "/repos/octo/web/issues/7/comments", body: `{"body":"one"}`, status: 201, answer: comment("1001", "one")},
		exchange{method: "PATCH", path: "/repos/octo/web/issues/comments/1001", body: `{"body":"two"}`, status: 200, answer: comment("1001", "two")},
		// The comment was deleted: edited in vain, then made anew.
		exchange{method: "PATCH", path: "/repos/octo/web/issues/comments/1001", body: `{"body":"three"}`, status: 404, answer: ghNotFound},
		exchange{method: "POST", path: "/repos/octo/web/issues/7/comments", body: `{"body":"three"}`, status: 201, answer: comment("1002", "three")},
	)
	c := gitHubClient(t, srv)
	ctx := t.Context()
	id, err := c.UpsertComment(ctx, "octo/web", 7, 0, "one")
	if err != nil || id != 1001 {
		t.Fatalf("create: %d, %v", id, err)
	}
	if id, err = c.UpsertComment(ctx, "octo/web", 7, id, "two"); err != nil || id != 1001 {
		t.Fatalf("edit: %d, %v", id, err)
	}
	if id, err = c.UpsertComment(ctx, "octo/web", 7, id, "three"); err != nil || id != 1002 {
		t.Fatalf("edit of a deleted comment: %d, %v", id, err)
	}
}

// TestGitHubUpsertCommentMarker: a body starting with a marker line edits the comment that
// starts with it when the caller has no id (it lost it), instead of commenting again.
func TestGitHubUpsertCommentMarker(t *testing.T) {
	srv := fakeGitHub(t,
		exchange{method: "GET", path: "/repos/octo/web/issues/7/comments", query: "page=1&per_page=100", status: 200,
			answer: `[{"id":1,"body":"LGTM"},{"id":1001,"body":"<!-- berth:preview shop/web preview -->\nold"}]`},
		exchange{method: "PATCH", path: "/repos/octo/web/issues/comments/1001", body: `{"body":"<!-- berth:preview shop/web preview -->\nnew"}`,
			status: 200, answer: `{"id":1001,"body":"x"}`},
	)
	c := gitHubClient(t, srv)
	id, err := c.UpsertComment(t.Context(), "octo/web", 7, 0, "<!-- berth:preview shop/web preview -->\nnew")
	if err != nil || id != 1001 {
		t.Fatalf("upsert without the id: %d, %v; want the marked comment 1001", id, err)
	}
}

func TestGitHubCreateHook(t *testing.T) {
	srv := fakeGitHub(t, exchange{method: "POST", path: "/repos/octo/web/hooks",
		body: `{"name":"web","active":true,"events":["push","pull_request"],` +
			`"config":{"url":"https://berth.example/hooks/github","content_type":"json","secret":"s3cret","insecure_ssl":"0"}}`,
		status: 201, answer: `{"id":12345678,"type":"Repository","name":"web","active":true,"events":["push","pull_request"],` +
			`"config":{"content_type":"json","insecure_ssl":"0","url":"https://berth.example/hooks/github"}}`})
	c := gitHubClient(t, srv)
	if err := c.CreateHook(t.Context(), "octo/web", "https://berth.example/hooks/github", "s3cret"); err != nil {
		t.Fatal(err)
	}
}

// TestGitHubErrors: a failed call says the forge, the call, the status and at most 200 bytes
// of GitHub's message, never the token, even when the answer echoes it.
func TestGitHubErrors(t *testing.T) {
	echo := `{"message":"Bad credentials: Bearer ` + ghToken + ` ` + strings.Repeat("z", 5000) + `"}`
	srv := fakeGitHub(t,
		exchange{method: "POST", path: "/repos/octo/web/statuses/" + ghSHA, body: `{"state":"failure","context":"berth/staging"}`,
			status: 401, answer: echo},
		exchange{method: "POST", path: "/repos/octo/web/statuses/" + ghSHA, body: `{"state":"failure","context":"berth/staging"}`,
			status: 422, answer: `{"message":"Validation Failed","errors":[{"resource":"Status","code":"custom","field":"description",` +
				`"message":"description is too long (maximum is 140 characters)"}],"documentation_url":"https://docs.github.com/rest"}`},
		exchange{method: "PATCH", path: "/repos/octo/web/issues/comments/5", body: `{"body":"x"}`,
			status: 500, contentType: "text/html", answer: "<html>" + ghToken + "</html>"},
	)
	c := gitHubClient(t, srv)
	ctx := t.Context()
	st := Status{State: StatusFailure, Context: "berth/staging"}
	err := c.SetStatus(ctx, "octo/web", ghSHA, st)
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 401 || apiErr.Retryable() {
		t.Fatalf("401: %#v", err)
	}
	msg := err.Error()
	if strings.Contains(msg, ghToken) || !strings.HasPrefix(msg, "github: POST /repos/octo/web/statuses/"+ghSHA+": HTTP 401 Unauthorized: Bad credentials") ||
		len(apiErr.Message) > maxMessage {
		t.Errorf("401: %s", msg)
	}
	err = c.SetStatus(ctx, "octo/web", ghSHA, st)
	if err == nil || !strings.Contains(err.Error(), "HTTP 422 Unprocessable Entity: Validation Failed; description is too long") {
		t.Errorf("422: %v", err)
	}
	_, err = c.UpsertComment(ctx, "octo/web", 3, 5, "x")
	if !errors.As(err, &apiErr) || apiErr.Status != 500 || !apiErr.Retryable() || strings.Contains(err.Error(), ghToken) ||
		!strings.HasSuffix(err.Error(), ": HTTP 500 Internal Server Error: <html>[token]</html>") {
		t.Errorf("500: %v", err)
	}
}

// TestGitHubTimeout: a call GitHub does not answer ends at the client's timeout, retryable.
func TestGitHubTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	c := gitHubClient(t, srv)
	c.timeout = 100 * time.Millisecond
	start := time.Now()
	err := c.SetStatus(context.Background(), "octo/web", ghSHA, Status{State: StatusPending, Context: "berth/staging"})
	var apiErr *APIError
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &apiErr) || !apiErr.Retryable() || !strings.HasPrefix(err.Error(), "github: POST") {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the call took %s", d)
	}
}

// TestGitHubBranchHead: GET /repos/{owner}/{repo}/branches/{branch}, answered in the shape
// GitHub documents; a missing branch is ErrNotFound.
func TestGitHubBranchHead(t *testing.T) {
	srv := fakeGitHub(t,
		exchange{method: "GET", path: "/repos/octo/web/branches/main", status: 200,
			answer: `{"name":"main","commit":{"sha":"` + ghSHA + `","node_id":"C_1","commit":{"message":"Fix all the bugs","tree":{"sha":"6dcb09b5b57875f334f61aebed695e2e4193db5e"}},"url":"https://api.github.com/repos/octo/web/commits/` + ghSHA + `"},"protected":false,"_links":{"self":"https://api.github.com/repos/octo/web/branches/main"}}`},
		exchange{method: "GET", path: "/repos/octo/web/branches/gone", status: 404, answer: ghNotFound},
	)
	c := gitHubClient(t, srv)
	if got, err := c.BranchHead(t.Context(), "octo/web", "main"); err != nil || got != ghSHA {
		t.Errorf("BranchHead(main) = %q, %v", got, err)
	}
	if _, err := c.BranchHead(t.Context(), "octo/web", "gone"); !errors.Is(err, berth.ErrNotFound) {
		t.Errorf("BranchHead(gone): %v; want ErrNotFound", err)
	}
}

// ghCompareCommit is one commit of a compare answer in the shape GitHub documents; author
// is the JSON of the GitHub user of its author's email ("null" when none is).
func ghCompareCommit(sha, message, name, email, author string) string {
	msg, _ := json.Marshal(message)
	who, _ := json.Marshal(name)
	return `{"url":"https://api.github.com/repos/octo/web/commits/` + sha + `","sha":"` + sha + `","node_id":"C_` + sha[:8] + `",` +
		`"html_url":"https://github.com/octo/web/commit/` + sha + `","comments_url":"https://api.github.com/repos/octo/web/commits/` + sha + `/comments",` +
		`"commit":{"url":"https://api.github.com/repos/octo/web/git/commits/` + sha + `",` +
		`"author":{"name":` + string(who) + `,"email":"` + email + `","date":"2011-04-14T16:00:49Z"},` +
		`"committer":{"name":"GitHub","email":"noreply@github.com","date":"2011-04-14T16:00:49Z"},` +
		`"message":` + string(msg) + `,"tree":{"url":"https://api.github.com/repos/octo/web/tree/` + ghSHA + `","sha":"` + ghSHA + `"},` +
		`"comment_count":0,"verification":{"verified":false,"reason":"unsigned","signature":null,"payload":null}},` +
		`"author":` + author + `,"committer":null,"parents":[{"url":"https://api.github.com/repos/octo/web/commits/` + ghSHA + `","sha":"` + ghSHA + `"}]}`
}

// ghCompare is a compare answer in the shape GitHub documents.
func ghCompare(status string, ahead, total int, commits ...string) string {
	return fmt.Sprintf(`{"url":"https://api.github.com/repos/octo/web/compare/main...topic","html_url":"https://github.com/octo/web/compare/main...topic",`+
		`"permalink_url":"https://github.com/octo/web/compare/octo:bbcd538...octo:0328041","diff_url":"https://github.com/octo/web/compare/main...topic.diff",`+
		`"patch_url":"https://github.com/octo/web/compare/main...topic.patch","base_commit":%s,"merge_base_commit":%s,`+
		`"status":%q,"ahead_by":%d,"behind_by":0,"total_commits":%d,"commits":[%s],`+
		`"files":[{"sha":"bbcd538c8e72b8c175046e27cc8f907076331401","filename":"file1.txt","status":"added","additions":103,"deletions":21,"changes":124,`+
		`"blob_url":"https://github.com/octo/web/blob/`+ghSHA+`/file1.txt","raw_url":"https://github.com/octo/web/raw/`+ghSHA+`/file1.txt",`+
		`"contents_url":"https://api.github.com/repos/octo/web/contents/file1.txt?ref=`+ghSHA+`","patch":"@@ -132,7 +132,7 @@ module Test @@ -1000,7 +1000,7 @@ module Test"}]}`,
		ghCompareCommit(ghSHA, "Base", "Monalisa Octocat", "mona@github.com", "null"),
		ghCompareCommit(ghSHA, "Base", "Monalisa Octocat", "mona@github.com", "null"),
		status, ahead, total, strings.Join(commits, ","))
}

// TestGitHubCompare: GET /repos/{owner}/{repo}/compare/{base}...{head} without paging (so
// that GitHub lists the newest commits), answered in the shape GitHub documents: the
// commits mapped with their first line, oldest first, the newest 250 kept, and a missing
// ref is ErrNotFound.
func TestGitHubCompare(t *testing.T) {
	const (
		first  = "1111111111111111111111111111111111111111"
		second = "2222222222222222222222222222222222222222"
	)
	long := strings.Repeat("é", 150) // 300 bytes: cut to 200, between two characters
	var many []string
	for i := range 260 {
		many = append(many, ghCompareCommit(fmt.Sprintf("%040x", i+1), fmt.Sprintf("Change %d", i+1), "Dev", "dev@example.com", "null"))
	}
	srv := fakeGitHub(t,
		exchange{method: "GET", path: "/repos/octo/web/compare/" + ghSHA + "...main", status: 200, answer: ghCompare("ahead", 2, 2,
			ghCompareCommit(first, "Fix the cart\r\n\r\nThe total was wrong\nwhen empty.", "Monalisa Octocat", "mona@github.com",
				`{"login":"octocat","id":1,"node_id":"MDQ6VXNlcjE=","avatar_url":"https://github.com/images/error/octocat_happy.gif","type":"User","site_admin":false}`),
			ghCompareCommit(second, "\x1b[31mRed\x07 alert:\t"+long+"\nsecond line", "Bo\x00b", "bob@example.com", "null"),
		)},
		exchange{method: "GET", path: "/repos/octo/web/compare/main...main", status: 200, answer: ghCompare("identical", 0, 0)},
		exchange{method: "GET", path: "/repos/octo/web/compare/" + ghSHA + "...release", status: 200, answer: ghCompare("ahead", 400, 400, many...)},
		exchange{method: "GET", path: "/repos/octo/web/compare/" + ghSHA + "...gone", status: 404, answer: `{"message":"Not Found","documentation_url":"https://docs.github.com/rest/commits/commits#compare-two-commits","status":"404"}`},
	)
	c := gitHubClient(t, srv)
	ctx := t.Context()

	got, err := c.Compare(ctx, "octo/web", ghSHA, "main")
	if err != nil {
		t.Fatal(err)
	}
	want := berth.Comparison{Base: ghSHA, Head: "main", Total: 2, Commits: []berth.Commit{
		{SHA: first, Message: "Fix the cart", AuthorName: "Monalisa Octocat", AuthorEmail: "mona@github.com", AuthorLogin: "octocat",
			URL: "https://github.com/octo/web/commit/" + first},
		{SHA: second, Message: "[31mRed alert: " + strings.Repeat("é", 92), AuthorName: "Bob", AuthorEmail: "bob@example.com",
			URL: "https://github.com/octo/web/commit/" + second},
	}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Compare (-want +got):\n%s", d)
	}
	if m := got.Commits[1].Message; len(m) > 200 || !utf8.ValidString(m) {
		t.Errorf("the long message is %d bytes: %q", len(m), m)
	}

	got, err = c.Compare(ctx, "octo/web", "main", "main")
	if err != nil || got.Total != 0 || len(got.Commits) != 0 {
		t.Errorf("Compare(main...main) = %+v, %v; want no commits", got, err)
	}

	got, err = c.Compare(ctx, "octo/web", ghSHA, "release")
	if err != nil || got.Total != 400 || len(got.Commits) != berth.MaxCompareCommits ||
		got.Commits[0].SHA != fmt.Sprintf("%040x", 11) || got.Commits[249].SHA != fmt.Sprintf("%040x", 260) {
		t.Errorf("Compare of 260 listed, 400 in all: %d commits, total %d, %v; want the newest 250, total 400", len(got.Commits), got.Total, err)
	}

	_, err = c.Compare(ctx, "octo/web", ghSHA, "gone")
	if !errors.Is(err, berth.ErrNotFound) || !strings.Contains(err.Error(), ghSHA+" or gone not found in octo/web") ||
		!strings.Contains(err.Error(), "github: GET /repos/octo/web/compare/"+ghSHA+"...gone: HTTP 404") {
		t.Errorf("Compare of a missing branch: %v; want ErrNotFound", err)
	}
}

// TestGitHubResolveRef: a branch (GET /repos/{owner}/{repo}/branches/{branch}), else a tag
// (git/ref/tags/{tag}; an annotated one's tag object read to its commit), else a commit
// (commits/{ref} with the sha media type), answered in the shapes GitHub documents; a ref
// none of them knows is ErrNotFound (GitHub answers 422 for an unknown sha), a forge that
// fails is not.
func TestGitHubResolveRef(t *testing.T) {
	const (
		tagSHA  = "3333333333333333333333333333333333333333"
		tagged  = "4444444444444444444444444444444444444444"
		shaType = "application/vnd.github.v3.sha"
	)
	branch := func(name string) string {
		return `{"name":"` + name + `","commit":{"sha":"` + ghSHA + `","node_id":"C_1","commit":{"message":"Fix all the bugs"},` +
			`"url":"https://api.github.com/repos/octo/web/commits/` + ghSHA + `"},"protected":false}`
	}
	ref := func(name, typ, sha string) string {
		return `{"ref":"refs/tags/` + name + `","node_id":"REF_1","url":"https://api.github.com/repos/octo/web/git/refs/tags/` + name + `",` +
			`"object":{"type":"` + typ + `","sha":"` + sha + `","url":"https://api.github.com/repos/octo/web/git/` + typ + `s/` + sha + `"}}`
	}
	refNotFound := `{"message":"Not Found","documentation_url":"https://docs.github.com/rest/git/refs#get-a-reference","status":"404"}`
	noCommit := `{"message":"No commit found for SHA: deadbeef","documentation_url":"https://docs.github.com/rest/commits/commits#get-a-commit","status":"422"}`
	srv := fakeGitHub(t,
		// main: a branch.
		exchange{method: "GET", path: "/repos/octo/web/branches/main", status: 200, answer: branch("main")},
		// v1.2.0: a lightweight tag.
		exchange{method: "GET", path: "/repos/octo/web/branches/v1.2.0", status: 404, answer: ghNotFound},
		exchange{method: "GET", path: "/repos/octo/web/git/ref/tags/v1.2.0", status: 200, answer: ref("v1.2.0", "commit", ghSHA)},
		// v2.0.0: an annotated tag.
		exchange{method: "GET", path: "/repos/octo/web/branches/v2.0.0", status: 404, answer: ghNotFound},
		exchange{method: "GET", path: "/repos/octo/web/git/ref/tags/v2.0.0", status: 200, answer: ref("v2.0.0", "tag", tagSHA)},
		exchange{method: "GET", path: "/repos/octo/web/git/tags/" + tagSHA, status: 200, answer: `{"node_id":"TAG_1","tag":"v2.0.0","sha":"` + tagSHA + `",` +
			`"url":"https://api.github.com/repos/octo/web/git/tags/` + tagSHA + `","message":"Release 2",` +
			`"tagger":{"name":"Monalisa Octocat","email":"octocat@github.com","date":"2014-11-07T22:01:45Z"},` +
			`"object":{"type":"commit","sha":"` + tagged + `","url":"https://api.github.com/repos/octo/web/git/commits/` + tagged + `"},` +
			`"verification":{"verified":false,"reason":"unsigned","signature":null,"payload":null}}`},
		// 6dcb09b: an abbreviated commit sha.
		exchange{method: "GET", path: "/repos/octo/web/branches/6dcb09b", status: 404, answer: ghNotFound},
		exchange{method: "GET", path: "/repos/octo/web/git/ref/tags/6dcb09b", status: 404, answer: refNotFound},
		exchange{method: "GET", path: "/repos/octo/web/commits/6dcb09b", accept: shaType, status: 200,
			contentType: "application/vnd.github.sha; charset=utf-8", answer: ghSHA},
		// A full sha: a commit, and nothing else asked.
		exchange{method: "GET", path: "/repos/octo/web/commits/" + tagged, accept: shaType, status: 200,
			contentType: "application/vnd.github.sha; charset=utf-8", answer: tagged},
		// deadbeef: no branch, tag or commit.
		exchange{method: "GET", path: "/repos/octo/web/branches/deadbeef", status: 404, answer: ghNotFound},
		exchange{method: "GET", path: "/repos/octo/web/git/ref/tags/deadbeef", status: 404, answer: refNotFound},
		exchange{method: "GET", path: "/repos/octo/web/commits/deadbeef", accept: shaType, status: 422, answer: noCommit},
		// gone: not hex, so no commit is asked for.
		exchange{method: "GET", path: "/repos/octo/web/branches/gone", status: 404, answer: ghNotFound},
		exchange{method: "GET", path: "/repos/octo/web/git/ref/tags/gone", status: 404, answer: refNotFound},
		// GitHub failing: an error to try again, not "no such ref".
		exchange{method: "GET", path: "/repos/octo/web/branches/main", status: 502, answer: `{"message":"Server Error"}`},
	)
	c := gitHubClient(t, srv)
	ctx := t.Context()
	for _, tc := range []struct{ ref, sha, full string }{
		{"main", ghSHA, "refs/heads/main"},
		{"v1.2.0", ghSHA, "refs/tags/v1.2.0"},
		{"v2.0.0", tagged, "refs/tags/v2.0.0"},
		{"6dcb09b", ghSHA, ""},
		{tagged, tagged, ""},
	} {
		sha, full, err := c.ResolveRef(ctx, "octo/web", tc.ref)
		if err != nil || sha != tc.sha || full != tc.full {
			t.Errorf("ResolveRef(%s) = %s, %q, %v; want %s, %q", tc.ref, sha, full, err, tc.sha, tc.full)
		}
	}
	for _, ref := range []string{"deadbeef", "gone"} {
		_, _, err := c.ResolveRef(ctx, "octo/web", ref)
		if !errors.Is(err, berth.ErrNotFound) || err.Error() != ref+" is no branch, tag or commit of octo/web: not found" {
			t.Errorf("ResolveRef(%s): %v; want ErrNotFound", ref, err)
		}
	}
	_, _, err := c.ResolveRef(ctx, "octo/web", "main")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || !apiErr.Retryable() || errors.Is(err, berth.ErrNotFound) ||
		!strings.HasPrefix(err.Error(), "github: GET /repos/octo/web/branches/main: HTTP 502") {
		t.Errorf("ResolveRef with GitHub failing: %v; want a retryable 502", err)
	}
}

// ghBranch is a pull request's head or base in the shape GitHub documents.
func ghBranch(ref string) string {
	return `{"label":"octo:` + ref + `","ref":"` + ref + `","sha":"` + ghSHA + `",` +
		`"user":{"login":"octo","id":1,"node_id":"MDQ6VXNlcjE=","type":"Organization","site_admin":false},` +
		`"repo":{"id":1296269,"node_id":"MDEwOlJlcG9zaXRvcnkxMjk2MjY5","name":"platform","full_name":"octo/platform",` +
		`"owner":{"login":"octo","id":1,"type":"Organization"},"private":true,"html_url":"https://github.com/octo/platform",` +
		`"url":"https://api.github.com/repos/octo/platform","default_branch":"main"}}`
}

// ghPull is a pull request in the shape GitHub documents: state "open" or "closed", and
// whether it was merged.
func ghPull(number int, head, state string, merged bool) string {
	mergedAt, closedAt := "null", "null"
	if state == "closed" {
		closedAt = `"2026-04-14T16:00:49Z"`
	}
	if merged {
		mergedAt = closedAt
	}
	return fmt.Sprintf(`{"url":"https://api.github.com/repos/octo/platform/pulls/%[1]d","id":1,"node_id":"MDExOlB1bGxSZXF1ZXN0MQ==",`+
		`"html_url":"https://github.com/octo/platform/pull/%[1]d","diff_url":"https://github.com/octo/platform/pull/%[1]d.diff",`+
		`"issue_url":"https://api.github.com/repos/octo/platform/issues/%[1]d","number":%[1]d,"state":%[2]q,"locked":false,`+
		`"title":"Deploy shop/web revision 2 to production (deploy 42)","user":{"login":"berth-bot","id":2,"type":"Bot"},`+
		`"body":"Merging this pull request applies it.","labels":[],"milestone":null,"active_lock_reason":null,`+
		`"created_at":"2026-04-14T15:00:49Z","updated_at":"2026-04-14T16:00:49Z","closed_at":%[3]s,"merged_at":%[4]s,`+
		`"merge_commit_sha":"e5bd3914e2e596debea16f433f57875b5b90bcd6","assignee":null,"assignees":[],"requested_reviewers":[],`+
		`"head":%[5]s,"base":%[6]s,"author_association":"MEMBER","auto_merge":null,"draft":false,`+
		`"merged":%[7]t,"mergeable":true,"rebaseable":true,"mergeable_state":"clean","merged_by":null,"comments":0,`+
		`"review_comments":0,"maintainer_can_modify":false,"commits":1,"additions":1,"deletions":1,"changed_files":1}`,
		number, state, closedAt, mergedAt, ghBranch(head), ghBranch("production"), merged)
}

// TestGitHubPullRequests: POST /repos/{owner}/{repo}/pulls; a 422 because one is open
// already finds it (GET pulls?head=OWNER:BRANCH&base=...&state=open), another 422 stands;
// GET pulls/{number} says open, merged or closed; answered in the shapes GitHub documents.
func TestGitHubPullRequests(t *testing.T) {
	const (
		head  = "berth/production/deploy-42"
		title = "Deploy shop/web revision 2 to production (deploy 42)"
		body  = "Merging this pull request applies it."
		list  = "base=production&head=octo%3Aberth%2Fproduction%2Fdeploy-42&page=1&per_page=100&state=open"
	)
	create := `{"title":"` + title + `","head":"` + head + `","base":"production","body":"` + body + `"}`
	exists := `{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom",` +
		`"message":"A pull request already exists for octo:berth/production/deploy-42."}],` +
		`"documentation_url":"https://docs.github.com/rest/pulls/pulls#create-a-pull-request","status":"422"}`
	noCommits := `{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom",` +
		`"message":"No commits between production and berth/production/deploy-44"}],` +
		`"documentation_url":"https://docs.github.com/rest/pulls/pulls#create-a-pull-request","status":"422"}`
	srv := fakeGitHub(t,
		exchange{method: "POST", path: "/repos/octo/platform/pulls", body: create, status: 201, answer: ghPull(1347, head, "open", false)},
		// Again: one is open already.
		exchange{method: "POST", path: "/repos/octo/platform/pulls", body: create, status: 422, answer: exists},
		exchange{method: "GET", path: "/repos/octo/platform/pulls", query: list, status: 200, answer: "[" + ghPull(1347, head, "open", false) + "]"},
		// No commits between them: refused, and none open.
		exchange{method: "POST", path: "/repos/octo/platform/pulls",
			body:   `{"title":"t","head":"berth/production/deploy-44","base":"production"}`,
			status: 422, answer: noCommits},
		exchange{method: "GET", path: "/repos/octo/platform/pulls",
			query:  "base=production&head=octo%3Aberth%2Fproduction%2Fdeploy-44&page=1&per_page=100&state=open",
			status: 200, answer: "[]"},
		// A repository the token does not see.
		exchange{method: "POST", path: "/repos/octo/platform/pulls", body: create, status: 404, answer: ghNotFound},
		exchange{method: "GET", path: "/repos/octo/platform/pulls/1347", status: 200, answer: ghPull(1347, head, "open", false)},
		exchange{method: "GET", path: "/repos/octo/platform/pulls/1347", status: 200, answer: ghPull(1347, head, "closed", true)},
		exchange{method: "GET", path: "/repos/octo/platform/pulls/1348", status: 200, answer: ghPull(1348, "berth/production/deploy-43", "closed", false)},
		exchange{method: "GET", path: "/repos/octo/platform/pulls/9999", status: 404, answer: ghNotFound},
	)
	c := gitHubClient(t, srv)
	ctx := t.Context()
	const url = "https://github.com/octo/platform/pull/1347"
	if n, u, err := c.OpenPullRequest(ctx, "octo/platform", head, "production", title, body); err != nil || n != 1347 || u != url {
		t.Fatalf("OpenPullRequest = %d, %q, %v", n, u, err)
	}
	if n, u, err := c.OpenPullRequest(ctx, "octo/platform", head, "production", title, body); err != nil || n != 1347 || u != url {
		t.Fatalf("OpenPullRequest of one open already = %d, %q, %v; want 1347", n, u, err)
	}
	_, _, err := c.OpenPullRequest(ctx, "octo/platform", "berth/production/deploy-44", "production", "t", "")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 422 || apiErr.Retryable() || errors.Is(err, berth.ErrNotFound) ||
		err.Error() != "github: POST /repos/octo/platform/pulls: HTTP 422 Unprocessable Entity: Validation Failed; No commits between production and berth/production/deploy-44" {
		t.Errorf("OpenPullRequest without commits: %v; want GitHub's 422", err)
	}
	_, _, err = c.OpenPullRequest(ctx, "octo/platform", head, "production", title, body)
	if !errors.Is(err, berth.ErrNotFound) || !strings.HasPrefix(err.Error(), head+" or production not found in octo/platform: github: POST") {
		t.Errorf("OpenPullRequest in a repository not seen: %v; want ErrNotFound", err)
	}

	for _, tc := range []struct {
		number int
		want   berth.GitOpsState
	}{{1347, berth.GitOpsOpen}, {1347, berth.GitOpsMerged}, {1348, berth.GitOpsClosed}} {
		if got, err := c.PullRequestState(ctx, "octo/platform", tc.number); err != nil || got != tc.want {
			t.Errorf("PullRequestState(%d) = %q, %v; want %q", tc.number, got, err, tc.want)
		}
	}
	_, err = c.PullRequestState(ctx, "octo/platform", 9999)
	if !errors.Is(err, berth.ErrNotFound) || !strings.HasPrefix(err.Error(), "pull request 9999 not found in octo/platform: github: GET /repos/octo/platform/pulls/9999: HTTP 404") {
		t.Errorf("PullRequestState(9999): %v; want ErrNotFound", err)
	}
}
