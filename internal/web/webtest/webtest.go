// Package webtest drives the dashboard in a real headless Chromium (through chromedp) for
// tests: a browser per caller, and steps that fail the test saying what was being done,
// where the browser was and what the page said. SignInForm signs a plain HTTP client in.
package webtest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Browser starts a headless Chromium of its own (its own cookies) for the test, at
// 1280×800. It accepts the confirmation dialogs pages ask for.
func Browser(t testing.TB) context.Context {
	t.Helper()
	var path string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Fatal("no Chromium on PATH: scripts/deps.sh (run by make test) installs Debian's chromium")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // tests may run as root, where Chromium's sandbox refuses to start
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 800),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first action starts the browser, which lives as long as ctx: no timeout here.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	go func() {
		for _, err := range chromedp.Events(ctx, page.JavascriptDialogOpening) {
			if err != nil {
				return
			}
			go chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return ctx
}

// Do runs browser steps with a time limit.
func Do(t testing.TB, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	Read(t, ctx, what, chromedp.Steps(steps...))
}

// Read runs one browser action that returns a value, with a time limit.
func Read[T any](t testing.TB, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	v, err := chromedp.Run(tctx, a)
	if err != nil {
		lctx, lcancel := context.WithTimeout(ctx, 5*time.Second)
		defer lcancel()
		loc, _ := chromedp.Run(lctx, chromedp.Location())
		body, _ := chromedp.Run(lctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 2000) : ""`))
		t.Fatal(fmt.Errorf("%s (at %s): %w\npage text:\n%s", what, loc, err, body))
	}
	return v
}

// Text returns the visible text of the first element css selects.
func Text(t testing.TB, ctx context.Context, css string) string {
	t.Helper()
	return Read(t, ctx, "read "+css, chromedp.Text(chromedp.CSS(css)))
}

// WaitJS waits until the JavaScript expression is true on the page. It keeps asking
// while the page navigates or reloads, which interrupts an evaluation.
func WaitJS(expr string, timeout time.Duration) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		deadline := time.Now().Add(timeout)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
			if err == nil && ok {
				return nil
			}
			if time.Now().After(deadline) {
				if err == nil {
					err = fmt.Errorf("still false after %v", timeout)
				}
				return fmt.Errorf("wait for %s: %w", expr, err)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-tick.C:
			}
		}
	})
}

// SignIn signs in on the login page with token and waits until it sees css.
func SignIn(t testing.TB, ctx context.Context, base, token, css string) {
	t.Helper()
	Do(t, ctx, "sign in",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Submit(chromedp.ID("token")),
		// Signed in once the header names the user: waiting for css alone would take the
		// sign-in page for the next one when css is on both (body), and a navigation right
		// after would race the sign-in's redirect.
		chromedp.WaitVisible(chromedp.CSS("header .who .user")),
		chromedp.WaitVisible(chromedp.CSS(css)))
}

// Client is a plain HTTP client for the dashboard: a cookie jar of its own, and redirects
// not followed, so that tests see them.
func Client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([0-9a-f]{64})"`)

// SignInForm signs c (a Client, or another with a cookie jar that does not follow
// redirects) in to the
// dashboard at base with token through the login form, as a browser would. It returns the
// session cookie and the CSRF token of the signed-in pages' forms.
func SignInForm(t testing.TB, c *http.Client, base, token string) (*http.Cookie, string) {
	t.Helper()
	read := func(resp *http.Response, err error) (*http.Response, string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	_, body := read(c.Get(base + "/login"))
	m := csrfInput.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("login page without a CSRF token:\n%s", body)
	}
	resp, body := read(c.PostForm(base+"/login", url.Values{"csrf": {m[1]}, "token": {token}}))
	var session *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "berth_session" {
			session = ck
		}
	}
	if resp.StatusCode != http.StatusSeeOther || session == nil {
		t.Fatalf("sign in: %d\n%s", resp.StatusCode, body)
	}
	_, body = read(c.Get(base + "/"))
	if m = csrfInput.FindStringSubmatch(body); m == nil {
		t.Fatalf("signed-in page without a CSRF token:\n%s", body)
	}
	return session, m[1]
}
