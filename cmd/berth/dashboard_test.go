package main

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/kubetest"
	"github.com/berth-dev/berth/internal/web/webtest"
)

// shopYAML is the dashboard test's app; tag changes its image.
func shopYAML(tag string) string {
	return fmt.Sprintf(`apiVersion: berth.dev/v1
metadata: {name: shop, team: fleet}
containers:
  web: {image: registry.example.com/shop:%s}
service:
  ports: {http: {port: 80, targetPort: 8080}}
replicas: 2
`, tag)
}

// screenshots saves each page at 1280×800 into $BERTH_SCREENSHOTS_DIR (make screenshots
// points it at docs/screenshots) or a temporary directory, and checks the image.
type screenshots struct {
	t   *testing.T
	dir string
}

func newScreenshots(t *testing.T) *screenshots {
	dir := os.Getenv("BERTH_SCREENSHOTS_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &screenshots{t: t, dir: dir}
}

func (s *screenshots) take(ctx context.Context, name string) {
	s.t.Helper()
	webtest.Do(s.t, ctx, "viewport for "+name, chromedp.EmulateViewport(1280, 800))
	buf := webtest.Read(s.t, ctx, "screenshot "+name, chromedp.CaptureScreenshot())
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		s.t.Fatalf("screenshot %s: %v", name, err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 800 {
		s.t.Fatalf("screenshot %s is %dx%d, want 1280x800", name, b.Dx(), b.Dy())
	}
	if err := os.WriteFile(filepath.Join(s.dir, name+".png"), buf, 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// fitsWidth fails the test when the page scrolls sideways at a phone's width (its tables
// and cards must reflow instead) or at 1280 px.
func fitsWidth(t *testing.T, ctx context.Context) {
	t.Helper()
	const overflow = `document.documentElement.scrollWidth - window.innerWidth`
	webtest.Do(t, ctx, "phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulatePortrait))
	if px := webtest.Read(t, ctx, "measure at 390 px", chromedp.Evaluate[int](overflow)); px > 0 {
		t.Errorf("at 390 px the page is %d px too wide", px)
	}
	webtest.Do(t, ctx, "desktop width", chromedp.EmulateViewport(1280, 800))
	if px := webtest.Read(t, ctx, "measure at 1280 px", chromedp.Evaluate[int](overflow)); px > 0 {
		t.Errorf("at 1280 px the page is %d px too wide", px)
	}
}

// TestDashboard drives the dashboard in headless Chromium: sign in, the app list, an
// app's page, a rollback to an earlier revision watched live to success, the rollback in
// the audit log, the app's backups page with a stale schedule; a viewer gets no rollback
// or restore action, and forged or unauthorized forms are refused without changing
// anything. It saves a screenshot of every page.
func TestDashboard(t *testing.T) {
	srv, c, ns := fleet(t, "--workers", "4")
	ctx := context.Background()
	deployAll(t, c, []string{shopYAML("1.0.0"), appYAML("api"), appYAML("worker")})
	deployAll(t, c, []string{shopYAML("1.1.0")})
	if _, err := c.CreateUser(ctx, apiv1.CreateUser{Name: "vera"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetMember(ctx, "fleet", "vera", "viewer"); err != nil {
		t.Fatal(err)
	}
	veraTok, err := c.CreateToken(ctx, apiv1.CreateToken{Name: "browser", User: "vera"})
	if err != nil {
		t.Fatal(err)
	}
	// A backup schedule of shop in staging that expects a backup within a second of being
	// set: with no database to back up, it is stale by the time the page is opened.
	if _, err := c.SetBackupSchedule(ctx, "fleet", "shop", "staging", apiv1.SetBackupSchedule{Cron: "0 3 * * *", Drill: "0 4 * * 0",
		TimeZone: "Europe/Lisbon", StaleAfter: "1s"}); err != nil {
		t.Fatal(err)
	}
	shots := newScreenshots(t)
	b := webtest.Browser(t)

	// Signing in: the login page, a wrong token, then the admin's, which lands on the page
	// the browser first asked for.
	webtest.Do(t, b, "open the dashboard",
		chromedp.Navigate(srv.url+"/apps/fleet/shop"),
		chromedp.WaitVisible(chromedp.ID("token")))
	shots.take(b, "login")
	webtest.Do(t, b, "sign in with a wrong token",
		chromedp.SendKeys(chromedp.ID("token"), "berth_not_a_real_token_000000000000000000000"),
		chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.CSS(".alert")))
	if msg := webtest.Text(t, b, ".alert"); !strings.Contains(msg, "not accepted") {
		t.Errorf("wrong token: %q", msg)
	}
	webtest.Do(t, b, "sign in",
		chromedp.SendKeys(chromedp.ID("token"), adminToken),
		chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-deploy]`)))

	// The app list: every app with its environment's revision and state.
	webtest.Do(t, b, "app list",
		chromedp.Navigate(srv.url+"/"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-app="worker"]`)))
	list := webtest.Text(t, b, `tr[data-app="shop"]`)
	for _, want := range []string{"shop", "staging", "rev 2", "succeeded", "deploy by admin"} {
		if !strings.Contains(list, want) {
			t.Errorf("app list row for shop lacks %q:\n%s", want, list)
		}
	}
	fitsWidth(t, b)
	shots.take(b, "apps")

	// The app page: environment, live pods, history, and a rollback action.
	webtest.Do(t, b, "open shop",
		chromedp.Click(chromedp.CSS(`a.app-link[href="/apps/fleet/shop"]`)),
		chromedp.WaitVisible(chromedp.CSS(`button.rollback`)))
	envCard, hist := webtest.Text(t, b, ".env-card"), webtest.Text(t, b, "table.history")
	for _, want := range []string{"staging", "revision 2", "2/2 ready", "Running", "No drift"} {
		if !strings.Contains(envCard, want) {
			t.Errorf("environment card lacks %q:\n%s", want, envCard)
		}
	}
	if !strings.Contains(hist, "Roll back to rev 1") || strings.Contains(hist, "Roll back to rev 2") {
		t.Errorf("history should offer a rollback to revision 1 only:\n%s", hist)
	}
	fitsWidth(t, b)
	shots.take(b, "app")

	// Roll back to revision 1 (accepting the confirmation) and watch the deploy page follow
	// it live to success.
	webtest.Do(t, b, "roll back",
		chromedp.Click(chromedp.CSS(`button.rollback`)),
		chromedp.WaitVisible(chromedp.ID("progress")),
		webtest.WaitJS(`document.getElementById("state").textContent.trim() === "succeeded"`, 2*time.Minute),
		chromedp.WaitVisible(chromedp.CSS(`pre.diff`)))
	loc := webtest.Read(t, b, "location", chromedp.Location())
	id := loc[strings.LastIndex(loc, "/")+1:]
	hist2, err := c.Deploys(ctx, "fleet", "shop", "staging", 1)
	if err != nil {
		t.Fatal(err)
	}
	if d := hist2[0]; fmt.Sprint(d.ID) != id || d.Kind != "rollback" || d.Revision != 1 || d.State != "succeeded" {
		t.Fatalf("the page shows deploy %s; the newest deploy is %+v", id, d)
	}
	live, err := kubetest.Client(t).AppsV1().Deployments(ns).Get(ctx, "shop", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := live.Spec.Template.Spec.Containers[0].Image; img != "registry.example.com/shop:1.0.0" {
		t.Errorf("after rolling back, the cluster runs %s", img)
	}
	diff := webtest.Text(t, b, `pre.diff[aria-label="changes to Deployment/shop"]`)
	if !regexp.MustCompile(`(?m)^-\s+- image: registry.example.com/shop:1.1.0$`).MatchString(diff) ||
		!regexp.MustCompile(`(?m)^\+\s+- image: registry.example.com/shop:1.0.0$`).MatchString(diff) {
		t.Errorf("the Deployment's diff should replace image 1.1.0 with 1.0.0:\n%s", diff)
	}
	fitsWidth(t, b)
	shots.take(b, "deploy")

	// The rollback is in the audit log, found with the filters.
	webtest.Do(t, b, "audit log",
		chromedp.Navigate(srv.url+"/audit"),
		chromedp.WaitVisible(chromedp.CSS(`form.filters`)),
		chromedp.SetValue(chromedp.CSS(`input[name="app"]`), "shop"),
		chromedp.SetValue(chromedp.CSS(`select[name="since"]`), "1h"),
		chromedp.Submit(chromedp.CSS(`form.filters`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-event]`)))
	audit := webtest.Text(t, b, "table.audit")
	if !strings.Contains(audit, "deploy.rollback") || !strings.Contains(audit, "app/fleet/shop/env/staging") {
		t.Errorf("audit log lacks the rollback:\n%s", audit)
	}
	if strings.Contains(audit, "app/fleet/api") {
		t.Errorf("the app filter let another app's events through:\n%s", audit)
	}
	fitsWidth(t, b)
	shots.take(b, "audit")

	// The app's backups page, linked from its page: staging's schedule, marked stale.
	webtest.Do(t, b, "open shop's backups",
		chromedp.Navigate(srv.url+"/apps/fleet/shop"),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/apps/fleet/shop/backups"]`)),
		chromedp.Click(chromedp.CSS(`a[href="/apps/fleet/shop/backups"]`)),
		chromedp.WaitVisible(chromedp.ID("backups-staging")))
	backups := webtest.Text(t, b, "#backups-staging")
	for _, want := range []string{"STALE", "Backups are stale", "0 3 * * *", "Europe/Lisbon", "none succeeded yet"} {
		if !strings.Contains(backups, want) {
			t.Errorf("staging's backups lack %q:\n%s", want, backups)
		}
	}
	fitsWidth(t, b)
	shots.take(b, "backups")

	// A viewer sees the app but is offered no rollback, and is told why.
	v := webtest.Browser(t)
	webtest.SignIn(t, v, srv.url, veraTok.Secret, `tr[data-app="shop"]`)
	webtest.Do(t, v, "viewer opens shop",
		chromedp.Navigate(srv.url+"/apps/fleet/shop"),
		chromedp.WaitVisible(chromedp.CSS(`table.history`)))
	if n := webtest.Read(t, v, "count rollback buttons", chromedp.Evaluate[int](`document.querySelectorAll("button.rollback").length`)); n != 0 {
		t.Errorf("a viewer is offered %d rollback buttons", n)
	}
	if page := webtest.Text(t, v, "main"); !strings.Contains(page, "Rollback is not offered to you here") || !strings.Contains(page, "needs role deployer") {
		t.Errorf("the viewer's page should say why there is no rollback:\n%s", page)
	}
	webtest.Do(t, v, "viewer opens shop's backups",
		chromedp.Navigate(srv.url+"/apps/fleet/shop/backups"),
		chromedp.WaitVisible(chromedp.ID("backups-staging")))
	if page := webtest.Text(t, v, "main"); !strings.Contains(page, "Restores are not offered to you") || !strings.Contains(page, "STALE") {
		t.Errorf("the viewer's backups page should show the stale backups and say why there is no restore:\n%s", page)
	}

	// Forms refused: no CSRF token, a wrong one, the sign-in page's pair or another
	// session's token, another site's Origin, Origin: null, Sec-Fetch-Site: cross-site —
	// even for the admin — and the viewer's well-formed post, which the same authorization
	// as the API denies.
	before := deployCount(t, c)
	form := url.Values{"revision": {"1"}}
	target := srv.url + "/apps/fleet/shop/envs/staging/rollback"
	const csrf = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	adminSession, adminCSRF := webtest.SignInForm(t, webtest.Client(), srv.url, adminToken)
	veraSession, veraCSRF := webtest.SignInForm(t, webtest.Client(), srv.url, veraTok.Secret)
	for _, tc := range []struct {
		name, session, cookieCSRF, fieldCSRF, origin, site string
		status                                             int
	}{
		{name: "no CSRF token", session: adminSession.Value, status: http.StatusForbidden},
		{name: "CSRF cookie but no field", session: adminSession.Value, cookieCSRF: csrf, status: http.StatusForbidden},
		{name: "wrong CSRF field", session: adminSession.Value, cookieCSRF: csrf, fieldCSRF: strings.Repeat("f", 64), status: http.StatusForbidden},
		{name: "the sign-in page's pair", session: adminSession.Value, cookieCSRF: csrf, fieldCSRF: csrf, status: http.StatusForbidden},
		{name: "another session's token", session: adminSession.Value, fieldCSRF: veraCSRF, status: http.StatusForbidden},
		{name: "another site's origin", session: adminSession.Value, fieldCSRF: adminCSRF, origin: "https://evil.example", status: http.StatusForbidden},
		{name: "Origin: null", session: adminSession.Value, fieldCSRF: adminCSRF, origin: "null", status: http.StatusForbidden},
		{name: "Sec-Fetch-Site: cross-site", session: adminSession.Value, fieldCSRF: adminCSRF, site: "cross-site", status: http.StatusForbidden},
		{name: "viewer with a valid form", session: veraSession.Value, fieldCSRF: veraCSRF, status: http.StatusForbidden},
	} {
		f := url.Values{}
		for k, vs := range form {
			f[k] = vs
		}
		if tc.fieldCSRF != "" {
			f.Set("csrf", tc.fieldCSRF)
		}
		req, _ := http.NewRequest("POST", target, strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: "berth_session", Value: tc.session})
		if tc.cookieCSRF != "" {
			req.AddCookie(&http.Cookie{Name: "berth_csrf", Value: tc.cookieCSRF})
		}
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		if tc.site != "" {
			req.Header.Set("Sec-Fetch-Site", tc.site)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.status)
		}
	}
	if after := deployCount(t, c); after != before {
		t.Errorf("refused forms queued %d deploys", after-before)
	}
	denied, err := c.Audit(ctx, apiclient.AuditFilter{Team: "fleet", Actor: "vera"})
	if err != nil {
		t.Fatal(err)
	}
	if len(denied) != 1 || denied[0].Action != "deploy.rollback" || denied[0].Outcome != "denied" {
		t.Errorf("the viewer's refused rollback should be audited once as denied: %+v", denied)
	}
}

func deployCount(t *testing.T, c *apiclient.Client) int {
	t.Helper()
	ds, err := c.Deploys(context.Background(), "fleet", "shop", "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	return len(ds)
}
