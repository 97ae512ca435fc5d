package service

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// The dashboard's session lifetimes. A session ends at the first of: signing out, its API
// token revoked or expired, SessionIdle without a request, SessionLifetime after signing
// in. An hour of idleness lets a deploy page sit open over a meeting; twelve hours is a
// working day, after which the browser asks for the token again.
const (
	SessionIdle     = time.Hour
	SessionLifetime = 12 * time.Hour
)

// SignIn authenticates an API token as Authenticate does and starts a dashboard session
// that acts with it. It returns the session's secret, which only the browser's cookie
// holds (the store keeps its SHA-256), and the session. One audit event, session.create,
// names the token by id and prefix; a token that is not accepted starts nothing.
func (s *Service) SignIn(ctx context.Context, tokenSecret string) (string, berth.Session, error) {
	auth, err := s.authenticate(ctx, tokenSecret)
	if err != nil {
		return "", berth.Session{}, err
	}
	now := s.now()
	expires := now.Add(SessionLifetime)
	if t := auth.Token.ExpiresAt; !t.IsZero() && t.Before(expires) {
		expires = t
	}
	secret := store.NewSessionSecret()
	var sess berth.Session
	c := change{action: "session.create", target: tokenTarget(auth.Token),
		details: map[string]any{"prefix": auth.Token.Prefix, "expiresAt": expires.UTC().Format(time.RFC3339)}}
	err = s.mutate(ctx, principalOf(auth), &c, func() error { return nil }, func(tx *store.Tx) error {
		// Signing in tidies up: sessions nobody can use any more go.
		if _, err := tx.DeleteSessionsOver(ctx, now); err != nil {
			return err
		}
		var err error
		sess, err = tx.CreateSession(ctx, store.NewSession{TokenID: auth.Token.ID, Hash: secret.Hash, ExpiresAt: expires})
		return err
	})
	if err != nil {
		return "", berth.Session{}, fmt.Errorf("sign in with token %s: %w", auth.Token.Prefix, err)
	}
	return secret.Secret, sess, nil
}

// AuthenticateSession turns a session cookie's secret into a principal, as Authenticate
// does a bearer token, or berth.ErrUnauthenticated saying why not (wrapping
// berth.ErrSessionEnded, berth.ErrSessionExpired, berth.ErrTokenRevoked or
// berth.ErrTokenExpired when that is the reason). It records that the session and its
// token were used.
func (s *Service) AuthenticateSession(ctx context.Context, secret string) (*authz.Principal, error) {
	if secret == "" {
		return nil, fmt.Errorf("%w: not signed in", berth.ErrUnauthenticated)
	}
	auth, err := s.st.SessionByHash(ctx, store.HashToken(secret))
	if errors.Is(err, berth.ErrNotFound) {
		return nil, fmt.Errorf("%w: unknown session", berth.ErrUnauthenticated)
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate session: %w", err)
	}
	now := s.now()
	if err := auth.Session.Check(now, SessionIdle); err != nil {
		return nil, fmt.Errorf("%w: the session of token %s %w", berth.ErrUnauthenticated, auth.Token.Prefix, err)
	}
	if err := auth.Token.Check(now); err != nil {
		return nil, fmt.Errorf("%w: the session's %w", berth.ErrUnauthenticated, err)
	}
	if err := s.st.TouchSession(ctx, auth.Session); err != nil {
		s.log.WarnContext(ctx, "record session use", "token", auth.Token.ID, "err", err)
	}
	s.touchToken(ctx, auth.Token, now)
	return principalOf(auth.TokenAuth), nil
}

// errEnded stops SignOut's transaction when another request ended the session first.
var errEnded = errors.New("session already ended")

// SignOut ends the session a cookie's secret names, with one audit event, session.end.
// Its token may have been revoked or have expired since: the session still ends. A
// session that is unknown, or already ended, is left as it is and not audited again.
func (s *Service) SignOut(ctx context.Context, secret string) error {
	if secret == "" {
		return nil
	}
	auth, err := s.st.SessionByHash(ctx, store.HashToken(secret))
	if errors.Is(err, berth.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sign out: %w", err)
	}
	if !auth.Session.EndedAt.IsZero() {
		return nil
	}
	c := change{action: "session.end", target: tokenTarget(auth.Token), details: map[string]any{"prefix": auth.Token.Prefix}}
	err = s.mutate(ctx, principalOf(auth.TokenAuth), &c, func() error { return nil }, func(tx *store.Tx) error {
		cur, err := tx.Session(ctx, auth.Session.ID)
		if err != nil {
			return err
		}
		if !cur.EndedAt.IsZero() {
			return errEnded
		}
		_, err = tx.EndSession(ctx, auth.Session.ID)
		return err
	})
	if errors.Is(err, errEnded) || errors.Is(err, berth.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sign out of the session of token %s: %w", auth.Token.Prefix, err)
	}
	return nil
}

// tokenTarget names a token in audit events, as token.revoke does.
func tokenTarget(t berth.Token) string {
	return "user/" + t.User + "/token/" + strconv.FormatInt(t.ID, 10)
}
