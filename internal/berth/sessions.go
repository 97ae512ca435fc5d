package berth

import (
	"fmt"
	"time"
)

// Session is a dashboard sign-in: the browser holds a random secret in a cookie, the store
// only its SHA-256. A session acts with the API token it was signed in with, so revoking
// or expiring the token ends it too. Zero EndedAt means the session was not ended.
type Session struct {
	ID      int64
	TokenID int64
	// CreatedAt is when the user signed in; LastSeenAt when the session was last used
	// (written at most about once a minute).
	CreatedAt  time.Time
	LastSeenAt time.Time
	// ExpiresAt is the absolute end, however active the session is.
	ExpiresAt time.Time
	// EndedAt is when the user signed out.
	EndedAt time.Time
}

// Check returns [ErrSessionEnded] or [ErrSessionExpired] (wrapped) when s may not be used
// at now: signed out, past its absolute end, or unused for idle or longer (idle 0: no
// idle limit). It says nothing about the token behind s, which callers check too.
func (s Session) Check(now time.Time, idle time.Duration) error {
	switch {
	case !s.EndedAt.IsZero():
		return fmt.Errorf("signed out at %s: %w", s.EndedAt.Format(time.RFC3339), ErrSessionEnded)
	case !now.Before(s.ExpiresAt):
		return fmt.Errorf("reached its end at %s: %w", s.ExpiresAt.Format(time.RFC3339), ErrSessionExpired)
	case idle > 0 && !now.Before(s.LastSeenAt.Add(idle)):
		return fmt.Errorf("unused since %s (idle limit %s): %w", s.LastSeenAt.Format(time.RFC3339), idle, ErrSessionExpired)
	}
	return nil
}

// SessionAuth is what resolving a session cookie needs: the session, and its token with
// the token's owner and the owner's memberships.
type SessionAuth struct {
	Session Session
	TokenAuth
}
