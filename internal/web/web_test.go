package web

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/service"
	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/web/webtest"
)

const adminToken = "berth_web_test_admin_token_0123456789abcdef"

// server is the dashboard on a service over a fresh SQLite database (no cluster: the pages
// tested here read only the store). The browser tests in cmd/berth cover the rest.
func server(t *testing.T) *httptest.Server {
	t.Helper()
	srv, _, _ := serverWithStore(t)
	return srv
}

func serverWithStore(t *testing.T) (*httptest.Server, *service.Service, *store.Store) {
	t.Helper()
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.DiscardHandler)
	svc := service.New(st, log, time.Now)
	if _, err := svc.Bootstrap(t.Context(), adminToken); err != nil {
		t.Fatal(err)
	}
	h, err := New(svc, log)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, svc, st
}

// client is a browser-like client: a cookie jar, and redirects not followed so tests see
// them.
func client(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func postForm(t *testing.T, c *http.Client, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := c.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// signIn starts a session with token, as the sign-in form does, and returns its cookie's
// value.
func signIn(t *testing.T, svc *service.Service, token string) string {
	t.Helper()
	secret, _, err := svc.SignIn(t.Context(), token)
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([0-9a-f]{64})"`)

func TestSignInFlow(t *testing.T) {
	srv := server(t)
	c := client(t)

	// Signed out, a page sends the browser to sign in, remembering where it was going.
	resp, _ := get(t, c, srv.URL+"/audit?team=x")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=%2Faudit%3Fteam%3Dx" {
		t.Fatalf("signed out: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body := get(t, c, srv.URL+"/login?next=/audit")
	m := csrfInput.FindStringSubmatch(body)
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("login page: %d\n%s", resp.StatusCode, body)
	}
	csrf := m[1]
	var csrfCookie *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "berth_csrf" {
			csrfCookie = ck
		}
	}
	if csrfCookie == nil || !csrfCookie.HttpOnly || csrfCookie.SameSite != http.SameSiteStrictMode || csrfCookie.Value != csrf {
		t.Fatalf("CSRF cookie: %+v", csrfCookie)
	}
	for _, h := range []string{"Content-Security-Policy", "X-Frame-Options"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("login page has no %s header", h)
		}
	}

	// The sign-in form itself needs the CSRF token.
	resp, body = postForm(t, c, srv.URL+"/login", url.Values{"token": {adminToken}})
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "CSRF") {
		t.Fatalf("sign in without CSRF: %d\n%s", resp.StatusCode, body)
	}
	resp, body = postForm(t, c, srv.URL+"/login", url.Values{"csrf": {csrf}, "token": {"berth_wrong_wrong_wrong_wrong_wrong_wrong"}})
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "not accepted") || strings.Contains(body, "berth_wrong") {
		t.Fatalf("wrong token: %d\n%s", resp.StatusCode, body)
	}

	// A ?next= off this site is ignored.
	resp, _ = postForm(t, c, srv.URL+"/login", url.Values{"csrf": {csrf}, "token": {adminToken}, "next": {"//evil.example/x"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("sign in: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	var session *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "berth_session" {
			session = ck
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Secure {
		t.Fatalf("session cookie: %+v", session)
	}

	// Signed in: the pages, which never show the token.
	for _, path := range []string{"/", "/audit", "/audit?since=24h"} {
		resp, body := get(t, c, srv.URL+path)
		if resp.StatusCode != 200 || !strings.Contains(body, "Sign out") || strings.Contains(body, adminToken) {
			t.Errorf("%s: %d\n%s", path, resp.StatusCode, body)
		}
	}
	resp, body = get(t, c, srv.URL+"/audit?since=forever")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "choose 1h, 24h, 7d or 30d") {
		t.Errorf("bad filter: %d\n%s", resp.StatusCode, body)
	}
	for _, path := range []string{"/apps/nope/nothing", "/deploys/999", "/deploys/x", "/no/such/page"} {
		if resp, body := get(t, c, srv.URL+path); resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "Not found") {
			t.Errorf("%s: %d\n%s", path, resp.StatusCode, body)
		}
	}

	// Signing out needs the form's token too (the signed-in pages', bound to the session),
	// and ends the session.
	if resp, _ := postForm(t, c, srv.URL+"/logout", nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign out without CSRF: %d", resp.StatusCode)
	}
	_, body = get(t, c, srv.URL+"/")
	m = csrfInput.FindStringSubmatch(body)
	if m == nil || m[1] == csrf {
		t.Fatalf("the signed-in page's CSRF token is missing or the sign-in page's:\n%s", body)
	}
	if resp, _ := postForm(t, c, srv.URL+"/logout", url.Values{"csrf": {m[1]}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("sign out: %d", resp.StatusCode)
	}
	if resp, _ := get(t, c, srv.URL+"/"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after signing out: %d", resp.StatusCode)
	}
}

// withSession sends a request with the given session cookie value, and nothing else.
func withSession(t *testing.T, method, u, session string, form url.Values) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(form.Encode()))
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.AddCookie(&http.Cookie{Name: "berth_session", Value: session})
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestSignOutEndsSession: the session cookie holds a session's secret, not the token, and
// signing out ends the session on the server, so a copy of the cookie kept from before
// signs nobody in.
func TestSignOutEndsSession(t *testing.T) {
	srv := server(t)
	c := client(t)
	session, csrf := webtest.SignInForm(t, c, srv.URL, adminToken)
	if strings.Contains(session.Value, adminToken) || strings.HasPrefix(session.Value, "berth_") {
		t.Errorf("the session cookie holds the token: %q", session.Value)
	}
	if max := int(service.SessionLifetime.Seconds()); session.MaxAge < max-5 || session.MaxAge > max {
		t.Errorf("session cookie Max-Age %d, want the session's lifetime %d", session.MaxAge, max)
	}
	if resp := withSession(t, "GET", srv.URL+"/", session.Value, nil); resp.StatusCode != 200 {
		t.Fatalf("the copied cookie before signing out: %d", resp.StatusCode)
	}
	resp, _ := postForm(t, c, srv.URL+"/logout", url.Values{"csrf": {csrf}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?msg=signed-out" {
		t.Fatalf("sign out: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp = withSession(t, "GET", srv.URL+"/", session.Value, nil)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/login?msg=session-ended" {
		t.Errorf("the copied cookie after signing out: %d %s, want a redirect to sign in", resp.StatusCode, loc)
	}
	resp = withSession(t, "GET", srv.URL+"/", adminToken, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the token itself as the session cookie: %d, want a redirect to sign in", resp.StatusCode)
	}
}

// TestRevokedTokenEndsSession: revoking the token a session was signed in with ends the
// session at its next request, and the login page says why.
func TestRevokedTokenEndsSession(t *testing.T) {
	srv, svc, _ := serverWithStore(t)
	admin, err := svc.Authenticate(t.Context(), adminToken)
	if err != nil {
		t.Fatal(err)
	}
	tok, secret, err := svc.CreateToken(t.Context(), admin, "", "browser", 0)
	if err != nil {
		t.Fatal(err)
	}
	c := client(t)
	session, _ := webtest.SignInForm(t, c, srv.URL, secret)
	if _, err := svc.RevokeToken(t.Context(), admin, tok.ID); err != nil {
		t.Fatal(err)
	}
	resp, _ := get(t, c, srv.URL+"/audit")
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/login?msg=token-revoked&next=%2Faudit" {
		t.Fatalf("after revoking the token: %d %s", resp.StatusCode, loc)
	}
	if _, body := get(t, c, srv.URL+"/login?msg=token-revoked"); !strings.Contains(body, "its API token was revoked") {
		t.Errorf("the login page does not say the token was revoked:\n%s", body)
	}
	if resp := withSession(t, "GET", srv.URL+"/", session.Value, nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the revoked token's session: %d", resp.StatusCode)
	}
}

// postRaw posts form with exactly the given cookies and headers.
func postRaw(t *testing.T, u string, cookies []*http.Cookie, form url.Values, headers map[string]string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	for _, ck := range cookies {
		req.AddCookie(&http.Cookie{Name: ck.Name, Value: ck.Value})
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestFormsBoundToSession: a form's CSRF token is its session's: the pair an anonymous
// sign-in page hands out, or another session's token, is refused with a session; and so
// is a form the browser says came from another site or from a page without an origin,
// even with the right token. (The rollback form names no app: a form let through would
// answer 404.)
func TestFormsBoundToSession(t *testing.T) {
	srv, svc, _ := serverWithStore(t)
	admin, err := svc.Authenticate(t.Context(), adminToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateUser(t.Context(), admin, berth.User{Name: "mallory"}); err != nil {
		t.Fatal(err)
	}
	_, mallorySecret, err := svc.CreateToken(t.Context(), admin, "mallory", "browser", 0)
	if err != nil {
		t.Fatal(err)
	}

	// What an attacker can get: a sign-in page's pair, and a session of their own.
	anon := client(t)
	_, body := get(t, anon, srv.URL+"/login")
	m := csrfInput.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("login page:\n%s", body)
	}
	u, _ := url.Parse(srv.URL)
	var loginPair *http.Cookie
	for _, ck := range anon.Jar.Cookies(u) {
		if ck.Name == "berth_csrf" {
			loginPair = ck
		}
	}
	_, malloryCSRF := webtest.SignInForm(t, client(t), srv.URL, mallorySecret)

	victim := client(t)
	session, csrf := webtest.SignInForm(t, victim, srv.URL, adminToken)
	host := u.Host
	for _, tc := range []struct {
		name    string
		cookies []*http.Cookie
		field   string
		headers map[string]string
		says    string
	}{
		{"an anonymous sign-in page's pair", []*http.Cookie{session, loginPair}, m[1], nil, "not made for this session"},
		{"another session's token", []*http.Cookie{session}, malloryCSRF, nil, "not made for this session"},
		{"no token", []*http.Cookie{session}, "", nil, "no CSRF token"},
		{"Origin: null", []*http.Cookie{session}, csrf, map[string]string{"Origin": "null"}, "Origin: null"},
		{"Sec-Fetch-Site: cross-site", []*http.Cookie{session}, csrf, map[string]string{"Sec-Fetch-Site": "cross-site"}, "Sec-Fetch-Site: cross-site"},
		{"Sec-Fetch-Site: same-site", []*http.Cookie{session}, csrf, map[string]string{"Sec-Fetch-Site": "same-site"}, "Sec-Fetch-Site: same-site"},
		// Refused for where they came from before their token is looked at.
		{"Origin: null with a sign-in pair", []*http.Cookie{session, loginPair}, m[1], map[string]string{"Origin": "null"}, "Origin: null"},
		{"cross-site with a sign-in pair", []*http.Cookie{session, loginPair}, m[1], map[string]string{"Sec-Fetch-Site": "cross-site"}, "Sec-Fetch-Site: cross-site"},
		{"another site's Origin", []*http.Cookie{session}, csrf, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "same-origin"}, "Origin: https://evil.example"},
	} {
		form := url.Values{"revision": {"1"}}
		if tc.field != "" {
			form.Set("csrf", tc.field)
		}
		resp, body := postRaw(t, srv.URL+"/apps/shop/web/envs/staging/rollback", tc.cookies, form, tc.headers)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "Form refused") || !strings.Contains(body, tc.says) {
			t.Errorf("%s: %d, want 403 saying %q", tc.name, resp.StatusCode, tc.says)
		}
	}
	resp, _ := postRaw(t, srv.URL+"/apps/shop/web/envs/staging/rollback", []*http.Cookie{session}, url.Values{"revision": {"1"}, "csrf": {csrf}}, nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("the session's own form: %d, want 404 (no such app)", resp.StatusCode)
	}

	// The sign-in form too refuses what came from elsewhere.
	for _, h := range []map[string]string{{"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}} {
		resp, body := postRaw(t, srv.URL+"/login", []*http.Cookie{loginPair}, url.Values{"csrf": {m[1]}, "token": {adminToken}}, h)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "own pages") {
			t.Errorf("sign in with %v: %d\n%s", h, resp.StatusCode, body)
		}
	}

	// The session's own token, from its own pages, signs out.
	resp, _ = postRaw(t, srv.URL+"/logout", []*http.Cookie{session}, url.Values{"csrf": {csrf}},
		map[string]string{"Origin": "http://" + host, "Sec-Fetch-Site": "same-origin"})
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("sign out with the session's token: %d", resp.StatusCode)
	}
}

func TestSecureCookiesBehindTLS(t *testing.T) {
	srv := server(t)
	req, _ := http.NewRequest("GET", srv.URL+"/login", nil)
	req.Header.Set("X-Forwarded-Proto", "https")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, ck := range resp.Cookies() {
		if !ck.Secure {
			t.Errorf("cookie %s is not Secure under TLS", ck.Name)
		}
	}
}

func TestRevokedSessionEnds(t *testing.T) {
	srv := server(t)
	c := client(t)
	u, _ := url.Parse(srv.URL)
	c.Jar.SetCookies(u, []*http.Cookie{{Name: "berth_session", Value: "berth_revoked_or_unknown_token_000000000000"}})
	resp, _ := get(t, c, srv.URL+"/")
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?msg=") {
		t.Fatalf("unknown session token: %d %s", resp.StatusCode, loc)
	}
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == "berth_session" {
			t.Errorf("the dead session cookie was kept")
		}
	}
}

// TestLoginMessages: the login page shows only its own messages, named by ?msg=; a link
// cannot make it say anything else.
func TestLoginMessages(t *testing.T) {
	srv := server(t)
	note := regexp.MustCompile(`<p class="note">([^<]*)</p>`)
	for _, tc := range []struct{ msg, want string }{
		{"signed-out", "Signed out."},
		{"session-ended", "Your session ended. Sign in again."},
		{"Your account is locked: call +1 555 0100 and read them your token", ""},
		{"Signed out.", ""},
		{"", ""},
		{"signed-out-or-not", ""},
	} {
		resp, body := get(t, client(t), srv.URL+"/login?msg="+url.QueryEscape(tc.msg))
		got := ""
		if m := note.FindStringSubmatch(body); m != nil {
			got = m[1]
		}
		if resp.StatusCode != 200 || got != tc.want {
			t.Errorf("?msg=%q: %d, shows %q, want %q", tc.msg, resp.StatusCode, got, tc.want)
		}
		if tc.want == "" && (strings.Contains(body, "locked") || strings.Contains(body, "Signed out")) {
			t.Errorf("?msg=%q: the page shows the link's text:\n%s", tc.msg, body)
		}
	}
}

func TestLineDiff(t *testing.T) {
	a := "a\nb\nc\nd\ne\nf\ng\nh\ni\n"
	b := "a\nb\nc\nD\ne\nf\ng\nh\ni\nj\n"
	got := lineDiff(a, b, 1)
	var lines []string
	for _, l := range got {
		lines = append(lines, l.Op+l.Text)
	}
	want := "@…  c -d +D  e @…  i +j" // context lines have the op " "
	if strings.Join(lines, " ") != want {
		t.Errorf("diff = %q, want %q", strings.Join(lines, " "), want)
	}
	if lineDiff(a, a, 3) != nil {
		t.Error("equal texts differ")
	}
	if got := lineDiff("", "x\ny\n", 3); len(got) != 3 || got[1].Op != "+" || got[2].Op != "+" {
		t.Errorf("added text: %+v", got)
	}
	// Beyond the table's bound, a whole replacement.
	var big1, big2 strings.Builder
	for i := range 3000 {
		big1.WriteString("x" + string(rune('a'+i%26)) + "\n")
		big2.WriteString("y" + string(rune('a'+i%26)) + "\n")
	}
	if got := lineDiff(big1.String(), big2.String(), 0); len(got) != 6001 {
		t.Errorf("big diff has %d lines", len(got))
	}
}

func TestRelative(t *testing.T) {
	for d, want := range map[time.Duration]string{
		10 * time.Second: "just now", 70 * time.Second: "1 min ago", 10 * time.Minute: "10 min ago",
		5 * time.Hour: "5 h ago", 72 * time.Hour: "3 days ago", -10 * time.Minute: "in 10 min",
	} {
		if got := relative(d); got != want {
			t.Errorf("relative(%v) = %q, want %q", d, got, want)
		}
	}
	if got := string(when(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), time.Date(2026, 1, 2, 4, 4, 5, 0, time.UTC))); !strings.Contains(got, `title="2026-01-02 03:04:05 UTC"`) || !strings.Contains(got, ">1 h ago<") {
		t.Errorf("when: %s", got)
	}
}

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{"/apps/a/b": "/apps/a/b", "//evil.example": "", "/\\evil": "", "https://evil.example/": "", "": ""} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
	// Browsers drop tabs and newlines from URLs and read a backslash as a slash, so each
	// of these would lead to //evil.example.
	for _, in := range []string{"/\t/evil.example", "/\n/evil.example", "/\r/evil.example", "/\x00/evil", "/\x7f/evil",
		"/\u0085/evil", "/a/\\/evil", "/\xff/evil", "relative/path", "javascript:alert(1)"} {
		if got := localPath(in); got != "" {
			t.Errorf("localPath(%q) = %q, want it refused", in, got)
		}
	}
	for _, in := range []string{"/", "/audit?team=shop&since=24h", "/apps/shop/web#history", "/%09/escaped-is-a-path", "/deploys/3"} {
		if got := localPath(in); got != in {
			t.Errorf("localPath(%q) = %q, want it kept", in, got)
		}
	}
}

// TestNextStaysOnSite follows a ?next= with a tab in it (which browsers drop, making
// //evil.example) through the login page and the sign-in: neither the form nor the
// redirect carries it.
func TestNextStaysOnSite(t *testing.T) {
	srv := server(t)
	for _, next := range []string{"/\t/evil.example", "/\n/evil.example", "/\\evil.example", "//evil.example", "/\\/evil.example"} {
		c := client(t)
		resp, body := get(t, c, srv.URL+"/login?next="+url.QueryEscape(next))
		m := csrfInput.FindStringSubmatch(body)
		if resp.StatusCode != 200 || m == nil {
			t.Fatalf("login page: %d\n%s", resp.StatusCode, body)
		}
		if !strings.Contains(body, `name="next" value=""`) || strings.Contains(body, "evil.example") {
			t.Errorf("next=%q: the sign-in form carries it:\n%s", next, body)
		}
		// Straight through the transport: a client would refuse to parse such a Location.
		req, _ := http.NewRequest("POST", srv.URL+"/login", strings.NewReader(url.Values{"csrf": {m[1]}, "token": {adminToken}, "next": {next}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, ck := range c.Jar.Cookies(req.URL) {
			req.AddCookie(ck)
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/" {
			t.Errorf("next=%q: sign in answers %d Location %q, want /", next, resp.StatusCode, loc)
		}
	}
}

// queuedDeploy registers team "shop" with app "web" and queues a deploy of it to env
// "staging"; no engine runs it, so the test plays the worker through the store.
func queuedDeploy(t *testing.T, svc *service.Service) berth.Deploy {
	t.Helper()
	ctx := t.Context()
	admin, err := svc.Authenticate(ctx, adminToken)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte("apiVersion: v1\nkind: Config\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateTeam(ctx, admin, "shop"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateEnvironment(ctx, admin, berth.Environment{Name: "staging", Kubeconfig: kubeconfig}); err != nil {
		t.Fatal(err)
	}
	d, err := svc.CreateDeploy(ctx, admin, service.DeployRequest{Env: "staging", Manifest: `apiVersion: berth.dev/v1
metadata: {name: web, team: shop}
containers:
  web: {image: registry.example.com/web:1}
replicas: 3
`})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// worker plays the deploy engine: it claims d and reports progress, then finishes it.
type worker struct {
	t  *testing.T
	st *store.Store
	d  berth.Deploy
}

func claim(t *testing.T, st *store.Store, d berth.Deploy) *worker {
	t.Helper()
	got, ok, err := st.ClaimDeploy(t.Context(), "test-worker", time.Minute)
	if err != nil || !ok || got.ID != d.ID {
		t.Fatalf("claim: %+v %v %v", got, ok, err)
	}
	return &worker{t: t, st: st, d: got}
}

func (w *worker) progress(phase string, ready int) {
	w.t.Helper()
	if _, err := w.st.AddDeployEvent(w.t.Context(), berth.DeployEvent{DeployID: w.d.ID, Phase: phase,
		Message: fmt.Sprintf("%d of 3 ready", ready), Desired: 3, Ready: ready, Updated: 3, Available: ready}); err != nil {
		w.t.Fatal(err)
	}
}

func (w *worker) finish(state berth.DeployState, reason string) {
	w.t.Helper()
	err := w.st.Tx(w.t.Context(), func(tx *store.Tx) error {
		_, err := tx.FinishDeploy(w.t.Context(), w.d.ID, "test-worker", state, reason)
		return err
	})
	if err != nil {
		w.t.Fatal(err)
	}
}

// TestDeployEventsStream reads the deploy page's event stream while the deploy progresses:
// each event once, in order, then the final state, and the stream ends.
func TestDeployEventsStream(t *testing.T) {
	srv, svc, st := serverWithStore(t)
	d := queuedDeploy(t, svc)
	session := signIn(t, svc, adminToken)
	req, _ := http.NewRequestWithContext(t.Context(), "GET", fmt.Sprintf("%s/deploys/%d/events", srv.URL, d.ID), nil)
	req.AddCookie(&http.Cookie{Name: "berth_session", Value: session})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, ct)
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if l := sc.Text(); l != "" {
				lines <- l
			}
		}
		close(lines)
	}()
	next := func() string {
		select {
		case l := <-lines:
			return l
		case <-time.After(30 * time.Second):
			t.Fatal("no event within 30 s")
		}
		return ""
	}
	w := claim(t, st, d)
	var lastID string
	for ready := range 4 {
		w.progress("progressing", ready)
		id, ev, data := next(), next(), next()
		if !strings.HasPrefix(id, "id: ") || ev != "event: progress" || !strings.Contains(data, fmt.Sprintf(`"ready":%d`, ready)) {
			t.Fatalf("event %d: %s %s %s", ready, id, ev, data)
		}
		if ready == 1 {
			lastID = strings.TrimPrefix(id, "id: ")
		}
	}
	w.finish(berth.DeploySucceeded, "available")
	if ev, data := next(), next(); ev != "event: deploy" || !strings.Contains(data, `"state":"succeeded"`) {
		t.Fatalf("final event: %s %s", ev, data)
	}
	if l, open := <-lines; open {
		t.Errorf("the stream went on after the deploy ended: %q", l)
	}

	// A browser reconnecting with Last-Event-ID gets only the events after it.
	req, _ = http.NewRequestWithContext(t.Context(), "GET", fmt.Sprintf("%s/deploys/%d/events", srv.URL, d.ID), nil)
	req.AddCookie(&http.Cookie{Name: "berth_session", Value: session})
	req.Header.Set("Last-Event-ID", lastID)
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	if n := strings.Count(string(rest), "event: progress"); n != 2 || !strings.Contains(string(rest), `"ready":2`) || strings.Contains(string(rest), `"ready":1`) {
		t.Errorf("resumed after event %s: %d progress events\n%s", lastID, n, rest)
	}

	// Another user's session, or none, gets no stream.
	if resp, _ := get(t, client(t), fmt.Sprintf("%s/deploys/%d/events", srv.URL, d.ID)); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("signed out stream: %d", resp.StatusCode)
	}
}

// TestDeployPageFollowsLive opens a deploy's page in Chromium while the deploy waits for
// a worker; the page follows the progress the worker reports (server-sent events), then
// shows the final state.
func TestDeployPageFollowsLive(t *testing.T) {
	srv, svc, st := serverWithStore(t)
	d := queuedDeploy(t, svc)
	b := webtest.Browser(t)
	webtest.SignIn(t, b, srv.URL, adminToken, ".who")
	webtest.Do(t, b, "open the deploy",
		chromedp.Navigate(fmt.Sprintf("%s/deploys/%d", srv.URL, d.ID)),
		chromedp.WaitVisible(chromedp.ID("progress")))
	if got := webtest.Text(t, b, "#counts"); got != "waiting for a worker" {
		t.Errorf("a queued deploy shows %q", got)
	}
	// The page has not loaded again when it shows new progress: it is the script.
	webtest.Read(t, b, "mark the page", chromedp.Evaluate[int](`window.berthMark = 1`))

	w := claim(t, st, d)
	w.progress("progressing", 1)
	webtest.Do(t, b, "first progress", webtest.WaitJS(`document.getElementById("counts").textContent === "1/3 ready · progressing"`, time.Minute))
	w.progress("progressing", 3)
	webtest.Do(t, b, "more progress", webtest.WaitJS(`document.getElementById("events").children.length === 2 && document.getElementById("bar").value === 3`, time.Minute))
	if got := webtest.Read(t, b, "still the same page", chromedp.Evaluate[int](`window.berthMark || 0`)); got != 1 {
		t.Fatal("the page reloaded instead of following the stream")
	}
	if got := webtest.Text(t, b, "#state"); got != "running" {
		t.Errorf("state while progressing: %q", got)
	}
	w.finish(berth.DeployFailed, "ProgressDeadlineExceeded: pods not ready")
	webtest.Do(t, b, "final state", webtest.WaitJS(`document.getElementById("state").textContent === "failed" && document.getElementById("state").dataset.final === "true"`, time.Minute))
	if got := webtest.Text(t, b, "#reason"); !strings.Contains(got, "ProgressDeadlineExceeded") {
		t.Errorf("reason: %q", got)
	}
}

// TestDeployPageShowsSmokeTests: a deploy's page lists each smoke test with its result,
// status or exit code, time and attempts, and the failing one's excerpt, escaped.
func TestDeployPageShowsSmokeTests(t *testing.T) {
	srv, svc, st := serverWithStore(t)
	d := queuedDeploy(t, svc)
	w := claim(t, st, d)
	run := berth.SmokeRun{Revision: d.Revision, Skipped: 1, Duration: 1512 * time.Millisecond, Results: []berth.SmokeResult{
		{Name: "GET /smoke", Kind: berth.SmokeHTTP, Passed: true, Status: 200, Attempts: 1, Duration: 8 * time.Millisecond},
		{Name: "hello check", Kind: berth.SmokeCommand, ExitCode: 1, Detail: "exit code 1", Attempts: 2, Duration: 1500 * time.Millisecond,
			Excerpt: "GET http://web/smoke: 500 <b>Internal</b>"},
	}}
	if err := st.Tx(t.Context(), func(tx *store.Tx) error { return tx.SetDeploySmoke(t.Context(), d.ID, "test-worker", run) }); err != nil {
		t.Fatal(err)
	}
	w.finish(berth.DeployFailed, `smoke test "hello check" failed: exit code 1`)
	req, _ := http.NewRequestWithContext(t.Context(), "GET", fmt.Sprintf("%s/deploys/%d", srv.URL, d.ID), nil)
	req.AddCookie(&http.Cookie{Name: "berth_session", Value: signIn(t, svc, adminToken)})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	body := string(data)
	if resp.StatusCode != 200 {
		t.Fatalf("deploy page: %d", resp.StatusCode)
	}
	for _, want := range []string{
		fmt.Sprintf("Smoke tests of revision %d", d.Revision), `class="badge bad">failed</span>`, "in 1.512s",
		`<td class="mono">GET /smoke</td><td>http</td>`, `<td class="mono">200</td>`,
		"failed: exit code 1", `<td class="mono">exit 1</td>`, "<td>1.5s</td><td>2</td>",
		"500 &lt;b&gt;Internal&lt;/b&gt;", "1 more not run after the failure.",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("deploy page lacks %q", want)
		}
	}
	if strings.Contains(body, "<b>Internal</b>") {
		t.Error("the excerpt is not escaped")
	}
}
