package service_test

import (
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/service"
	"github.com/berth-dev/berth/internal/store"
)

const adminToken = "berth_service_test_admin_token_0123456789abcdef"

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// sessions is a service on a fresh SQLite database with a fake clock shared by the store,
// and the bootstrap admin.
func sessions(t *testing.T) (*service.Service, *store.Store, *clock, *authz.Principal) {
	t.Helper()
	clk := &clock{now: time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)}
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "berth.db"), store.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := service.New(st, slog.New(slog.DiscardHandler), clk.Now)
	if _, err := svc.Bootstrap(t.Context(), adminToken); err != nil {
		t.Fatal(err)
	}
	admin, err := svc.Authenticate(t.Context(), adminToken)
	if err != nil {
		t.Fatal(err)
	}
	return svc, st, clk, admin
}

// refused fails unless AuthenticateSession refuses secret for want.
func refused(t *testing.T, svc *service.Service, what, secret string, want error) {
	t.Helper()
	p, err := svc.AuthenticateSession(t.Context(), secret)
	if !errors.Is(err, berth.ErrUnauthenticated) || (want != nil && !errors.Is(err, want)) {
		t.Errorf("%s: AuthenticateSession = %v, %v; want %v and %v", what, p, err, berth.ErrUnauthenticated, want)
	}
}

func accepted(t *testing.T, svc *service.Service, what, secret, user string) {
	t.Helper()
	p, err := svc.AuthenticateSession(t.Context(), secret)
	if err != nil || p.Name != user {
		t.Fatalf("%s: AuthenticateSession = %+v, %v; want %s", what, p, err, user)
	}
}

func sessionEvents(t *testing.T, st *store.Store) []berth.AuditEvent {
	t.Helper()
	evs, err := st.ListAudit(t.Context(), berth.AuditFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []berth.AuditEvent
	for _, ev := range evs {
		if strings.HasPrefix(ev.Action, "session.") {
			out = append(out, ev)
		}
	}
	return out
}

func TestSessionSignInAndOut(t *testing.T) {
	svc, st, clk, _ := sessions(t)
	ctx := t.Context()

	if _, _, err := svc.SignIn(ctx, "berth_wrong_wrong_wrong_wrong_wrong_wrong"); !errors.Is(err, berth.ErrUnauthenticated) {
		t.Fatalf("SignIn with an unknown token: %v", err)
	}
	secret, sess, err := svc.SignIn(ctx, adminToken)
	if err != nil {
		t.Fatal(err)
	}
	if secret == "" || strings.Contains(secret, adminToken) || !sess.ExpiresAt.Equal(clk.Now().Add(service.SessionLifetime)) {
		t.Fatalf("SignIn = %q, %+v", secret, sess)
	}
	accepted(t, svc, "a new session", secret, "admin")

	// The session's secret is no API token, and the token is no session.
	if _, err := svc.Authenticate(ctx, secret); !errors.Is(err, berth.ErrUnauthenticated) {
		t.Errorf("the session's secret works as a bearer token: %v", err)
	}
	refused(t, svc, "the token as a session", adminToken, nil)
	refused(t, svc, "no session", "", nil)

	// One audit event, naming the token, never the secrets.
	evs := sessionEvents(t, st)
	if len(evs) != 1 || evs[0].Action != "session.create" || evs[0].Actor != "admin" || evs[0].Outcome != berth.OutcomeSuccess ||
		!strings.HasPrefix(evs[0].Target, "user/admin/token/") || evs[0].Details["prefix"] != adminToken[:6] {
		t.Fatalf("audit after signing in: %+v", evs)
	}

	// Signing out ends it, once.
	clk.Advance(time.Minute)
	if err := svc.SignOut(ctx, secret); err != nil {
		t.Fatal(err)
	}
	refused(t, svc, "after signing out", secret, berth.ErrSessionEnded)
	if err := svc.SignOut(ctx, secret); err != nil {
		t.Errorf("signing out again: %v", err)
	}
	if err := svc.SignOut(ctx, "never-a-session"); err != nil {
		t.Errorf("signing out of an unknown session: %v", err)
	}
	evs = sessionEvents(t, st)
	if len(evs) != 2 || evs[0].Action != "session.end" || evs[0].Target != evs[1].Target || evs[0].Actor != "admin" {
		t.Errorf("audit after signing out twice: %+v", evs)
	}
	all, err := st.ListAudit(ctx, berth.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(all)
	if strings.Contains(string(raw), secret) || strings.Contains(string(raw), adminToken) {
		t.Errorf("the audit log holds a secret:\n%s", raw)
	}
}

// TestSessionLifetimes: idle for SessionIdle, or SessionLifetime after signing in however
// busy, or the token's own end, whichever comes first.
func TestSessionLifetimes(t *testing.T) {
	svc, _, clk, admin := sessions(t)
	ctx := t.Context()

	// In use, a session outlives SessionIdle; left alone for it, it ends.
	secret, _, err := svc.SignIn(ctx, adminToken)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		clk.Advance(service.SessionIdle - 2*time.Minute)
		accepted(t, svc, "used within the idle limit", secret, "admin")
	}
	clk.Advance(service.SessionIdle)
	refused(t, svc, "idle", secret, berth.ErrSessionExpired)

	// However busy, it ends SessionLifetime after signing in.
	secret, _, err = svc.SignIn(ctx, adminToken)
	if err != nil {
		t.Fatal(err)
	}
	step := service.SessionIdle / 2
	for used := step; used < service.SessionLifetime; used += step {
		clk.Advance(step)
		accepted(t, svc, "busy", secret, "admin")
	}
	clk.Advance(step)
	refused(t, svc, "past its lifetime", secret, berth.ErrSessionExpired)

	// A token that ends sooner ends its session then.
	tok, tokSecret, err := svc.CreateToken(ctx, admin, "", "short", 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	secret, sess, err := svc.SignIn(ctx, tokSecret)
	if err != nil {
		t.Fatal(err)
	}
	if !sess.ExpiresAt.Equal(tok.ExpiresAt) {
		t.Errorf("a session of a token expiring at %v expires at %v", tok.ExpiresAt, sess.ExpiresAt)
	}
	clk.Advance(30 * time.Minute)
	refused(t, svc, "its token expired", secret, nil)

	// Revoking the token ends its sessions at once.
	other, otherSecret, err := svc.CreateToken(ctx, admin, "", "browser", 0)
	if err != nil {
		t.Fatal(err)
	}
	secret, _, err = svc.SignIn(ctx, otherSecret)
	if err != nil {
		t.Fatal(err)
	}
	accepted(t, svc, "before revoking", secret, "admin")
	if _, err := svc.RevokeToken(ctx, admin, other.ID); err != nil {
		t.Fatal(err)
	}
	refused(t, svc, "its token revoked", secret, berth.ErrTokenRevoked)
	if _, _, err := svc.SignIn(ctx, otherSecret); !errors.Is(err, berth.ErrUnauthenticated) {
		t.Errorf("signing in with a revoked token: %v", err)
	}
}
