// Package web is Berth's dashboard: server-rendered HTML pages served by `berth server` at
// "/". Every page is a call into internal/service, so what a user may see and do is decided
// by the same authorization code as the API. Signing in with an API token starts a
// server-side session (internal/service): the HttpOnly, SameSite=Strict cookie holds only
// the session's random secret, and signing out, revoking the token or the session's
// lifetimes end it. Every form carries a CSRF token checked against a second cookie.
package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
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
	h.mux.Handle("POST /apps/{team}/{app}/envs/{env}/rollback", h.form(h.rollback))
	h.mux.Handle("GET /deploys/{id}", h.page(h.deploy))
	h.mux.Handle("GET /deploys/{id}/events", h.page(h.deployEvents))
	h.mux.Handle("GET /audit", h.page(h.audit))
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

// form wraps a POST handler: the session's principal and a valid CSRF token, or refusal.
func (h *Handler) form(fn pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h.checkCSRF(r); err != nil {
			h.log.WarnContext(r.Context(), "dashboard form refused", "path", r.URL.Path, "err", err)
			h.render(w, r, http.StatusForbidden, "error", nil, errorPage{Title: "Form refused",
				Message: err.Error() + " Reload the page and try again."})
			return
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
	v := view{Title: titleOf(data), Nav: page, User: p, CSRF: h.csrfToken(w, r), Data: data}
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

// csrfToken returns the browser's CSRF token, setting the cookie when it has none. Forms
// send it back in a hidden field; a cross-site page can neither read the cookie nor make
// the browser send it (SameSite=Strict), so it cannot forge a matching pair.
func (h *Handler) csrfToken(w http.ResponseWriter, r *http.Request) string {
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

func (h *Handler) checkCSRF(r *http.Request) error {
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		if u, err := url.Parse(o); err != nil || u.Host != r.Host {
			return errors.New("the form was sent from another site (" + o + ").")
		}
	}
	c, err := r.Cookie(csrfCookie)
	if err != nil || len(c.Value) != 64 {
		return errors.New("the form has no valid CSRF token (the browser sent no token cookie).")
	}
	r.Body = http.MaxBytesReader(nil, r.Body, 64<<10)
	sent := r.PostFormValue(csrfField)
	if subtle.ConstantTimeCompare([]byte(sent), []byte(c.Value)) != 1 {
		return errors.New("the form's CSRF token is missing or wrong.")
	}
	return nil
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
