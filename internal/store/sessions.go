package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/berth-dev/berth/internal/berth"
)

// NewSession is what [Tx.CreateSession] stores: the hash of a secret made by
// NewSessionSecret, never the secret.
type NewSession struct {
	TokenID   int64     // the API token the user signed in with
	Hash      string    // HashToken(secret)
	ExpiresAt time.Time // the absolute end; must be later than now
}

// SessionSecret is a freshly generated session secret. Secret goes into the browser's
// cookie and is never stored; Hash is.
type SessionSecret struct {
	Secret string
	Hash   string
}

// NewSessionSecret generates a session secret of 256 random bits. It has no berth_
// prefix: it is not an API token, and the API, which looks it up among tokens, refuses it.
func NewSessionSecret() SessionSecret {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand since Go 1.24)
	secret := base64.RawURLEncoding.EncodeToString(b)
	return SessionSecret{Secret: secret, Hash: HashToken(secret)}
}

// SessionTouchInterval is how stale a session's last-seen time may get: [Store.TouchSession]
// writes it at most once per interval, so that page views, mostly reads, do not queue for
// the database's write lock. Idle limits are therefore this precise.
const SessionTouchInterval = time.Minute

const sessionColumns = "id, token_id, created_at, last_seen_at, expires_at, ended_at"

func scanSession(sc scanner) (berth.Session, error) {
	var s berth.Session
	var created, seen, expires int64
	var ended sql.NullInt64
	err := sc.Scan(&s.ID, &s.TokenID, &created, &seen, &expires, &ended)
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt, s.EndedAt = fromMicros(created), fromMicros(seen), fromMicros(expires), fromNullMicros(ended)
	return s, err
}

// Session returns the session with the given id.
func (q queries) Session(ctx context.Context, id int64) (berth.Session, error) {
	s, err := scanSession(q.queryRow(ctx, "SELECT "+sessionColumns+" FROM sessions WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return berth.Session{}, fmt.Errorf("session %d: %w", id, berth.ErrNotFound)
	}
	if err != nil {
		return berth.Session{}, fmt.Errorf("get session %d: %w", id, err)
	}
	return s, nil
}

// SessionByHash finds a session by the hash of its secret, with its token, the token's
// owner and the owner's memberships. Like [queries.TokenByHash] it returns ended and
// expired sessions, and revoked and expired tokens: callers check [berth.Session.Check]
// and [berth.Token.Check], so that they can say why a session is refused. The lookup by
// hash is safe against timing attacks for the same reason.
func (q queries) SessionByHash(ctx context.Context, hash string) (berth.SessionAuth, error) {
	s, err := scanSession(q.queryRow(ctx, "SELECT "+sessionColumns+" FROM sessions WHERE hash = ?", hash))
	if errors.Is(err, sql.ErrNoRows) {
		return berth.SessionAuth{}, fmt.Errorf("session: %w", berth.ErrNotFound)
	}
	if err != nil {
		return berth.SessionAuth{}, fmt.Errorf("look up session: %w", err)
	}
	auth, err := q.tokenAuth(ctx, "t.id = ?", s.TokenID)
	if err != nil {
		// The token went (with its user) since the session was read: so did the session.
		return berth.SessionAuth{}, fmt.Errorf("session %d: %w", s.ID, err)
	}
	return berth.SessionAuth{Session: s, TokenAuth: auth}, nil
}

// Sessions returns the sessions signed in with the token, ended and expired ones
// included, oldest first.
func (q queries) Sessions(ctx context.Context, tokenID int64) ([]berth.Session, error) {
	ss, err := list(ctx, q, scanSession, "SELECT "+sessionColumns+" FROM sessions WHERE token_id = ? ORDER BY id", tokenID)
	if err != nil {
		return nil, fmt.Errorf("list sessions of token %d: %w", tokenID, err)
	}
	return ss, nil
}

// CreateSession stores a new session, seen now.
func (tx *Tx) CreateSession(ctx context.Context, ns NewSession) (berth.Session, error) {
	if err := validateSHA256("hash", ns.Hash); err != nil {
		return berth.Session{}, fmt.Errorf("create session for token %d: %w", ns.TokenID, err)
	}
	now := tx.stamp()
	if !ns.ExpiresAt.After(now) {
		return berth.Session{}, fmt.Errorf("create session for token %d: %w", ns.TokenID,
			invalid("expiresAt", "%s is not later than now (%s)", ns.ExpiresAt.Format(time.RFC3339), now.Format(time.RFC3339)))
	}
	var id int64
	err := tx.queryRow(ctx, `INSERT INTO sessions (hash, token_id, created_at, last_seen_at, expires_at)
		SELECT CAST(? AS TEXT), id, CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT)
		FROM api_tokens WHERE id = ?
		RETURNING id`,
		ns.Hash, micros(now), micros(now), micros(ns.ExpiresAt), ns.TokenID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return berth.Session{}, fmt.Errorf("create session: token %d: %w", ns.TokenID, berth.ErrNotFound)
	}
	if err != nil {
		return berth.Session{}, fmt.Errorf("create session for token %d: %w", ns.TokenID, dbErr(err))
	}
	return tx.Session(ctx, id)
}

// EndSession ends a session from now on (signing out). Ending an ended session changes
// nothing.
func (tx *Tx) EndSession(ctx context.Context, id int64) (berth.Session, error) {
	res, err := tx.exec(ctx, "UPDATE sessions SET ended_at = COALESCE(ended_at, ?) WHERE id = ?", micros(tx.stamp()), id)
	if err != nil {
		return berth.Session{}, fmt.Errorf("end session %d: %w", id, dbErr(err))
	}
	if err := mustAffect(res, fmt.Errorf("end session %d: %w", id, berth.ErrNotFound)); err != nil {
		return berth.Session{}, err
	}
	return tx.Session(ctx, id)
}

// DeleteSessionsOver deletes the sessions that ended or reached their absolute end at or
// before t, and returns how many. Nothing can use them any more; what happened is in the
// audit log.
func (tx *Tx) DeleteSessionsOver(ctx context.Context, t time.Time) (int64, error) {
	res, err := tx.exec(ctx, "DELETE FROM sessions WHERE expires_at <= ? OR ended_at <= ?", micros(t), micros(t))
	if err != nil {
		return 0, fmt.Errorf("delete old sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete old sessions: %w", err)
	}
	return n, nil
}

// TouchSession records that s was just used, unless that was recorded less than
// SessionTouchInterval ago. It is not audited.
func (s *Store) TouchSession(ctx context.Context, sess berth.Session) error {
	now := s.now().UTC().Truncate(time.Microsecond)
	if now.Sub(sess.LastSeenAt) < SessionTouchInterval {
		return nil
	}
	w := queries{q: s.db, d: s.d}
	// The condition keeps concurrent touches of several replicas to one write, and never
	// moves the time back.
	_, err := w.exec(ctx, "UPDATE sessions SET last_seen_at = ? WHERE id = ? AND last_seen_at <= ?",
		micros(now), sess.ID, micros(now.Add(-SessionTouchInterval)))
	if err != nil {
		return fmt.Errorf("touch session %d: %w", sess.ID, err)
	}
	return nil
}
