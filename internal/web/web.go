// Package web is Berth's dashboard: server-rendered HTML pages served by `berth server` at
// "/". Every page is a call into internal/service, so what a user may see and do is decided
// by the same authorization code as the API. Signing in with an API token starts a
// server-side session (internal/service): the HttpOnly, SameSite=Strict cookie holds only
// the session's random secret, and signing out, revoking the token or the session's
// lifetimes end it. Every form carries a CSRF token bound to the session (the sign-in
// form, before there is one, to a second cookie), and forms a browser says came from
// elsewhere are refused.
package web

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/service"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

const (
	sessionCookie = "berth_session"
	csrfCookie    = "berth_csrf"
	csrfField     = "csrf"
	// maxFormBytes bounds a form's body: the dashboard's forms are a few short fields.
	maxFormBytes = 64 << 10
)

// Handler serves the dashboard.
type Handler struct {
	svc   *service.Service
	log   *slog.Logger
	now   func() time.Time
	mux   *http.ServeMux
	pages map[string]*template.Template
}

// New returns the dashboard on svc.
func New(svc *service.Service, log *slog.Logger) (*Handler, error) {
	h := &Handler{svc: svc, log: log, now: time.Now, mux: http.NewServeMux(), pages: map[string]*template.Template{}}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		page := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if page == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(h.funcs()).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, err
		}
		h.pages[page] = t
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	h.mux.Handle("GET /static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	}))
	h.mux.HandleFunc("GET /login", h.loginPage)
	h.mux.HandleFunc("POST /login", h.login)
	h.mux.Handle("POST /logout", h.form(h.logout))
	h.mux.Handle("GET /{$}", h.page(h.overview))
	h.mux.Handle("GET /apps/{team}/{app}", h.page(h.app))
	h.mux.Handle("GET /apps/{team}/{app}/envs/{env}/logs/events", h.page(h.appLogs))
	h.mux.Handle("POST /apps/{team}/{app}/envs/{env}/rollback", h.form(h.rollback))
	h.mux.Handle("GET /apps/{team}/{app}/backups", h.page(h.backups))
	h.mux.Handle("POST /apps/{team}/{app}/backups/{id}/restore", h.form(h.restoreBackup))
	h.mux.Handle("POST /apps/{team}/{app}/envs/{env}/backups", h.form(h.backUpNow))
	h.mux.Handle("POST /apps/{team}/{app}/envs/{env}/drills", h.form(h.drillNow))
	h.mux.Handle("POST /deploys/{id}/decide", h.form(h.decide))
	h.mux.Handle("GET /deploys/{id}", h.page(h.deploy))
	h.mux.Handle("GET /deploys/{id}/events", h.page(h.deployEvents))
	h.mux.Handle("GET /audit", h.page(h.audit))
	h.mux.Handle("GET /probes", h.page(h.probes))
	h.mux.Handle("POST /probes/{env}/runs", h.form(h.runProbe))
	h.mux.Handle("GET /teams/{team}/previews", h.page(h.previews))
	h.mux.Handle("GET /teams/{team}/trains", h.page(h.trains))
	h.mux.Handle("GET /teams/{team}/trains/{name}", h.page(h.train))
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.render(w, r, http.StatusNotFound, "error", nil, errorPage{Title: "Not found", Message: "There is no page at " + r.URL.Path + "."})
	})
	return h, nil
}

// ServeHTTP serves a dashboard request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "same-origin")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'")
	h.mux.ServeHTTP(w, r)
}

// view is what every page template gets.
type view struct {
	Title string
	// Nav names the section the page belongs to, for the header.
	Nav  string
	User *authz.Principal
	CSRF string
	Data any
}

type errorPage struct{ Title, Message string }

// pageFunc renders one page for a signed-in user.
type pageFunc func(w http.ResponseWriter, r *http.Request, p *authz.Principal) error

// page wraps a GET handler: the session's principal, or a redirect to sign in.
func (h *Handler) page(fn pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := h.principal(w, r)
		if !ok {
			return
		}
		if err := fn(w, r, p); err != nil {
			h.fail(w, r, p, err)
		}
	})
}

// form wraps a POST handler: a form from the dashboard's own pages, carrying the CSRF
// token of the session it is sent with, and the session's principal; or refusal.
func (h *Handler) form(fn pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkSource(r); err != nil {
			h.refuse(w, r, err, sourceHint)
			return
		}
		// Without a session there is nothing to forge: principal sends the browser to sign in.
		if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
			if err := checkFormToken(r, sessionCSRF(c.Value)); err != nil {
				h.refuse(w, r, err, "Reload the page and try again.")
				return
			}
		}
		p, ok := h.principal(w, r)
		if !ok {
			return
		}
		if err := fn(w, r, p); err != nil {
			h.fail(w, r, p, err)
		}
	})
}

// principal resolves the session cookie to its user, or sends the browser to sign in.
func (h *Handler) principal(w http.ResponseWriter, r *http.Request) (*authz.Principal, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		h.toLogin(w, r, "")
		return nil, false
	}
	p, err := h.svc.AuthenticateSession(r.Context(), c.Value)
	if errors.Is(err, berth.ErrUnauthenticated) {
		h.log.InfoContext(r.Context(), "dashboard session refused", "path", r.URL.Path, "err", err)
		h.clearSession(w, r)
		h.toLogin(w, r, endedMessage(err))
		return nil, false
	}
	if err != nil { // the database, say: the session may be fine, keep it
		h.fail(w, r, nil, err)
		return nil, false
	}
	return p, true
}

// toLogin sends the browser to sign in, with msg naming one of loginMessages ("" for none).
func (h *Handler) toLogin(w http.ResponseWriter, r *http.Request, msg string) {
	q := url.Values{}
	if r.Method == http.MethodGet && r.URL.Path != "/" {
		q.Set("next", r.URL.RequestURI())
	}
	if msg != "" {
		q.Set("msg", msg)
	}
	target := "/login"
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	if strings.HasSuffix(r.URL.Path, "/events") { // an EventSource cannot follow to a page
		http.Error(w, "not signed in", http.StatusUnauthorized)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// fail renders err as an error page with the status the API would answer.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, p *authz.Principal, err error) {
	status, title := http.StatusInternalServerError, "Something went wrong"
	var denied *authz.Denied
	var invalid *berth.InvalidError
	switch {
	case errors.As(err, &denied):
		status, title = http.StatusForbidden, "Not allowed"
	case errors.Is(err, berth.ErrNotFound):
		status, title = http.StatusNotFound, "Not found"
	case errors.As(err, &invalid):
		status, title = http.StatusBadRequest, "Cannot do that"
	case errors.Is(err, berth.ErrConflict):
		status, title = http.StatusConflict, "Conflict"
	case errors.Is(err, context.Canceled):
		return
	}
	msg := errMessage(err)
	if status == http.StatusInternalServerError {
		h.log.ErrorContext(r.Context(), "dashboard", "path", r.URL.Path, "err", err)
		msg = "The server could not show this page. The error is in the server's log."
	}
	h.render(w, r, status, "error", p, errorPage{Title: title, Message: msg})
}

func errMessage(err error) string {
	var denied *authz.Denied
	if errors.As(err, &denied) {
		return denied.Reason
	}
	return err.Error()
}

// render writes a page. The page is rendered to a buffer first, so a template error is a
// clean 500 rather than half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, page string, p *authz.Principal, data any) {
	t := h.pages[page]
	v := view{Title: titleOf(data), Nav: page, User: p, CSRF: h.csrfToken(w, r, p), Data: data}
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		h.log.ErrorContext(r.Context(), "render page", "page", page, "err", err)
		http.Error(w, "the page could not be rendered; the error is in the server's log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// titled pages name themselves.
type titled interface{ PageTitle() string }

func titleOf(data any) string {
	switch d := data.(type) {
	case titled:
		return d.PageTitle()
	case errorPage:
		return d.Title
	}
	return ""
}

// refuse answers a form it will not act on: 403 and a page saying why, and what to do.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, err error, hint string) {
	h.log.WarnContext(r.Context(), "dashboard form refused", "path", r.URL.Path, "err", err)
	h.render(w, r, http.StatusForbidden, "error", nil, errorPage{Title: "Form refused", Message: err.Error() + " " + hint})
}

// sourceHint follows a refusal by checkSource.
const sourceHint = "The dashboard accepts forms only from its own pages: open it and use the form there."

// csrfToken returns the CSRF token for the page's forms. A signed-in user's (p non-nil)
// is bound to the session; before there is a session, on the sign-in page, it is the
// browser's login CSRF cookie, set when it has none.
func (h *Handler) csrfToken(w http.ResponseWriter, r *http.Request, p *authz.Principal) string {
	if p != nil {
		if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
			return sessionCSRF(c.Value)
		}
	}
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) == 64 {
		return c.Value
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	tok := hex.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: tok, Path: "/", HttpOnly: true,
		Secure: secure(r), SameSite: http.SameSiteStrictMode})
	return tok
}

// sessionCSRF is the CSRF token of a session's forms: an HMAC keyed with the session's
// secret, which only the browser's HttpOnly cookie holds. No other session's token, and no
// token the sign-in page handed out, matches it; and it reveals nothing of the secret, so
// the token may sit in every page. Being derived, it works on every replica and needs no
// storage.
func sessionCSRF(sessionSecret string) string {
	m := hmac.New(sha256.New, []byte(sessionSecret))
	m.Write([]byte("berth dashboard CSRF token v1"))
	return hex.EncodeToString(m.Sum(nil))
}

// checkSource refuses a form the browser says came from somewhere other than the
// dashboard's own pages: Sec-Fetch-Site other than same-origin (or none: typed by the
// user), an Origin of another host, or Origin: null, which browsers send for sandboxed
// frames, data: and file: pages and some redirects — pages anyone can make. Clients that
// send neither header are left to the CSRF token.
func checkSource(r *http.Request) error {
	switch site := r.Header.Get("Sec-Fetch-Site"); site {
	case "", "same-origin", "none":
	default:
		return fmt.Errorf("the form was sent from another site (Sec-Fetch-Site: %s).", site)
	}
	switch o := r.Header.Get("Origin"); o {
	case "":
	case "null":
		return errors.New("the form was sent from a page without an origin (Origin: null), such as a sandboxed frame or a local file.")
	default:
		if u, err := url.Parse(o); err != nil || u.Host != r.Host {
			return errors.New("the form was sent from another site (Origin: " + o + ").")
		}
	}
	return nil
}

// checkFormToken reads the form (bounded by maxFormBytes) and checks that its CSRF field
// is want.
func checkFormToken(r *http.Request, want string) error {
	r.Body = http.MaxBytesReader(nil, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return fmt.Errorf("the form could not be read (%v).", err)
	}
	sent := r.PostForm.Get(csrfField)
	if sent == "" {
		return errors.New("the form has no CSRF token.")
	}
	if subtle.ConstantTimeCompare([]byte(sent), []byte(want)) != 1 {
		return errors.New("the form's CSRF token is wrong: it was not made for this session.")
	}
	return nil
}

// checkLoginCSRF checks the sign-in form, sent before there is a session: its CSRF field
// must match the login CSRF cookie, which a cross-site page can neither read nor make the
// browser send (SameSite=Strict).
func checkLoginCSRF(r *http.Request) error {
	c, err := r.Cookie(csrfCookie)
	if err != nil || len(c.Value) != 64 {
		return errors.New("the form has no valid CSRF token (the browser sent no token cookie).")
	}
	return checkFormToken(r, c.Value)
}

// secure reports whether the request came over TLS, directly or through a proxy that
// says so; cookies are then Secure.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// setSession gives the browser the session's secret until the session's absolute end; the
// server ends it sooner when it is idle, signed out of, or its token is revoked.
func (h *Handler) setSession(w http.ResponseWriter, r *http.Request, secret string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: secret, Path: "/", HttpOnly: true,
		Secure: secure(r), SameSite: http.SameSiteStrictMode, MaxAge: max(1, int(expires.Sub(h.now()).Seconds()))})
}

func (h *Handler) clearSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true,
		Secure: secure(r), SameSite: http.SameSiteStrictMode, MaxAge: -1})
}
