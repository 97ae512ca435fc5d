package web

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// TestPreviewsPage: a team's previews page, linked from the front page, lists its active
// previews with a link to each pull request and to the app's environment, the branch
// escaped (a branch name is the pull request author's to choose) and a URL that is not a
// web page's not linked; ?all=true adds the closed ones with why. Another team's viewer
// is refused and an unknown team is not found.
func TestPreviewsPage(t *testing.T) {
	srv, svc, st := serverWithStore(t)
	ctx := t.Context()
	queuedDeploy(t, svc) // team shop, app web, environment staging
	admin, err := svc.Authenticate(ctx, adminToken)
	if err != nil {
		t.Fatal(err)
	}
	staging, err := st.Environment(ctx, "staging")
	if err != nil {
		t.Fatal(err)
	}
	base, err := svc.CreateEnvironment(ctx, admin, berth.Environment{Name: "preview", Kubeconfig: staging.Kubeconfig, PreviewOf: "staging"})
	if err != nil {
		t.Fatal(err)
	}
	const hostile = `<script>alert(1)</script>`
	err = st.Tx(ctx, func(tx *store.Tx) error {
		if _, _, err := tx.OpenPreview(ctx, berth.Preview{Team: "shop", App: "web", PR: 7, Branch: hostile,
			SHA: "0123456789abcdef0123456789abcdef01234567", URL: "http://127.0.0.1:3000/shop/web/pulls/7"}, base); err != nil {
			return err
		}
		p, _, err := tx.OpenPreview(ctx, berth.Preview{Team: "shop", App: "web", PR: 8, Branch: "typo",
			SHA: "fedcba9876543210fedcba9876543210fedcba98", URL: "javascript:alert(8)"}, base)
		if err != nil {
			return err
		}
		if _, err := tx.BeginClosePreview(ctx, p.ID, time.Time{}); err != nil {
			return err
		}
		_, err = tx.ClosePreview(ctx, p.ID, "merged")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []func() error{
		func() error { _, err := svc.CreateTeam(ctx, admin, "other"); return err },
		func() error { _, err := svc.CreateUser(ctx, admin, berth.User{Name: "bob"}); return err },
		func() error { _, err := svc.SetMember(ctx, admin, "other", "bob", "viewer"); return err },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	_, bobToken, err := svc.CreateToken(ctx, admin, "bob", "t", 0)
	if err != nil {
		t.Fatal(err)
	}

	page := func(session, path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+path, nil)
		req.AddCookie(&http.Cookie{Name: "berth_session", Value: session})
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return resp.StatusCode, string(b)
	}
	session := signIn(t, svc, adminToken)
	if _, body := page(session, "/"); !strings.Contains(body, `href="/teams/shop/previews"`) {
		t.Errorf("the front page does not link to shop's previews")
	}

	status, body := page(session, "/teams/shop/previews")
	if status != 200 {
		t.Fatalf("previews page: %d\n%s", status, body)
	}
	for _, want := range []string{`<a href="http://127.0.0.1:3000/shop/web/pulls/7">#7</a>`, "&lt;script&gt;alert(1)&lt;/script&gt;",
		`title="0123456789abcdef0123456789abcdef01234567">0123456789ab<`, `href="/apps/shop/web#env-preview-shop-web-pr7"`,
		`href="/teams/shop/previews?all=true"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the previews page lacks %q", want)
		}
	}
	if strings.Contains(body, hostile) {
		t.Errorf("the previews page holds the branch's markup unescaped")
	}
	if strings.Count(body, `data-preview=`) != 1 || strings.Contains(body, "typo") {
		t.Errorf("the previews page lists other than the one active preview")
	}

	status, body = page(session, "/teams/shop/previews?all=true")
	if status != 200 || strings.Count(body, `data-preview=`) != 2 || !strings.Contains(body, "merged") {
		t.Fatalf("previews page with the closed ones: %d\n%s", status, body)
	}
	if strings.Contains(body, `href="javascript:`) || strings.Contains(body, "ZgotmplZ") || !strings.Contains(body, `">#8</span>`) {
		t.Errorf("a pull request's URL that is no web page's is linked")
	}

	for _, c := range []struct {
		session, path string
		status        int
	}{
		{signIn(t, svc, bobToken), "/teams/shop/previews", http.StatusForbidden},
		{session, "/teams/nope/previews", http.StatusNotFound},
	} {
		if status, body := page(c.session, c.path); status != c.status {
			t.Errorf("%s: %d, want %d\n%s", c.path, status, c.status, body)
		}
	}
}
