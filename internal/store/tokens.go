package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/berth"
)

// NewToken is what [Tx.CreateToken] stores: the hash of a secret made by NewTokenSecret,
// never the secret.
type NewToken struct {
	User      string    // owner's name
	Name      string    // unique per user, e.g. "laptop", "ci"
	Hash      string    // HashToken(secret)
	Prefix    string    // the secret's first characters, for display
	ExpiresAt time.Time // zero: never expires
}

// TokenSecret is a freshly generated API token. Secret is shown to its owner once and
// never stored; Hash and Prefix are.
type TokenSecret struct {
	Secret string
	Hash   string
	Prefix string
}

// tokenSecretPrefix starts every token secret, so that secret scanners can spot leaks.
const tokenSecretPrefix = "berth_"

// NewTokenSecret generates a token secret of 256 random bits.
func NewTokenSecret() TokenSecret {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand since Go 1.24)
	secret := tokenSecretPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
	return TokenSecret{Secret: secret, Hash: HashToken(secret), Prefix: secret[:len(tokenSecretPrefix)+6]}
}

// HashToken returns the hex SHA-256 of a token secret, the form in which the store keeps
// and looks up tokens. A fast hash suffices: secrets are random, not passwords.
func HashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

const (
	tokenColumns = "t.id, t.user_id, u.name, t.name, t.prefix, t.created_at, t.expires_at, t.revoked_at, t.last_used_at"
	tokenFrom    = " FROM api_tokens t JOIN users u ON u.id = t.user_id"
)

func scanToken(sc scanner, extra ...any) (berth.Token, error) {
	var t berth.Token
	var created int64
	var expires, revoked, used sql.NullInt64
	dest := append([]any{&t.ID, &t.UserID, &t.User, &t.Name, &t.Prefix, &created, &expires, &revoked, &used}, extra...)
	err := sc.Scan(dest...)
	t.CreatedAt = fromMicros(created)
	t.ExpiresAt, t.RevokedAt, t.LastUsedAt = fromNullMicros(expires), fromNullMicros(revoked), fromNullMicros(used)
	return t, err
}

func scanTokenRow(sc scanner) (berth.Token, error) { return scanToken(sc) }

// Token returns the token with the given id.
func (q queries) Token(ctx context.Context, id int64) (berth.Token, error) {
	t, err := scanToken(q.queryRow(ctx, "SELECT "+tokenColumns+tokenFrom+" WHERE t.id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return berth.Token{}, fmt.Errorf("token %d: %w", id, berth.ErrNotFound)
	}
	if err != nil {
		return berth.Token{}, fmt.Errorf("get token %d: %w", id, err)
	}
	return t, nil
}

// Tokens returns the tokens of the named user, or of every user when user is empty,
// revoked and expired ones included, oldest first.
func (q queries) Tokens(ctx context.Context, user string) ([]berth.Token, error) {
	query, args := "SELECT "+tokenColumns+tokenFrom+" ORDER BY t.id", []any(nil)
	if user != "" {
		if _, err := q.User(ctx, user); err != nil {
			return nil, fmt.Errorf("list tokens: %w", err)
		}
		query, args = "SELECT "+tokenColumns+tokenFrom+" WHERE u.name = ? ORDER BY t.id", []any{user}
	}
	ts, err := list(ctx, q, scanTokenRow, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return ts, nil
}

// TokenByHash finds a token by the hash of its secret, with its owner and the owner's
// memberships, in one query. It returns revoked and expired tokens too: callers check
// [Token.Check], so that they can say why a token is refused.
//
// Looking up by hash is safe against timing attacks without a separate constant-time
// comparison: the database compares SHA-256 hashes, never secrets, and how much of a hash
// matched reveals nothing about a secret that hashes to it.
func (q queries) TokenByHash(ctx context.Context, hash string) (berth.TokenAuth, error) {
	return q.tokenAuth(ctx, "t.hash = ?", hash)
}

// tokenAuth finds the token where says (a condition on t with one placeholder), with its
// owner and the owner's memberships.
func (q queries) tokenAuth(ctx context.Context, where string, arg any) (berth.TokenAuth, error) {
	rows, err := q.query(ctx, "SELECT "+tokenColumns+`, u.email, u.is_admin, u.created_at,
			m.team_id, tm.name, m.role, m.created_at`+tokenFrom+`
		LEFT JOIN memberships m ON m.user_id = t.user_id
		LEFT JOIN teams tm ON tm.id = m.team_id
		WHERE `+where+`
		ORDER BY tm.name`, arg)
	if err != nil {
		return berth.TokenAuth{}, fmt.Errorf("look up token: %w", err)
	}
	defer rows.Close()
	var a berth.TokenAuth
	found := false
	for rows.Next() {
		var userCreated int64
		var teamID, memberCreated sql.NullInt64
		var team, role sql.NullString
		t, err := scanToken(rows, &a.User.Email, &a.User.IsAdmin, &userCreated, &teamID, &team, &role, &memberCreated)
		if err != nil {
			return berth.TokenAuth{}, fmt.Errorf("look up token: %w", err)
		}
		if !found {
			found = true
			a.Token = t
			a.User.ID, a.User.Name, a.User.CreatedAt = t.UserID, t.User, fromMicros(userCreated)
		}
		if teamID.Valid {
			a.Memberships = append(a.Memberships, berth.Membership{
				UserID: t.UserID, User: t.User, TeamID: teamID.Int64, Team: team.String,
				Role: berth.Role(role.String), CreatedAt: fromMicros(memberCreated.Int64),
			})
		}
	}
	if err := rows.Err(); err != nil {
		return berth.TokenAuth{}, fmt.Errorf("look up token: %w", err)
	}
	if !found {
		return berth.TokenAuth{}, fmt.Errorf("token: %w", berth.ErrNotFound)
	}
	return a, nil
}

// CreateToken stores a new token for nt.User.
func (tx *Tx) CreateToken(ctx context.Context, nt NewToken) (berth.Token, error) {
	if err := validateText("name", nt.Name, 64); err != nil {
		return berth.Token{}, fmt.Errorf("create token for user %q: %w", nt.User, err)
	}
	if err := validateSHA256("hash", nt.Hash); err != nil {
		return berth.Token{}, fmt.Errorf("create token %q for user %q: %w", nt.Name, nt.User, err)
	}
	if err := validateText("prefix", nt.Prefix, 16); err != nil {
		return berth.Token{}, fmt.Errorf("create token %q for user %q: %w", nt.Name, nt.User, err)
	}
	var id int64
	err := tx.queryRow(ctx, `INSERT INTO api_tokens (user_id, name, hash, prefix, created_at, expires_at)
		SELECT id, CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS BIGINT)
		FROM users WHERE name = ?
		RETURNING id`,
		nt.Name, nt.Hash, nt.Prefix, micros(tx.stamp()), nullMicros(nt.ExpiresAt), nt.User).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return berth.Token{}, fmt.Errorf("create token %q: %w", nt.Name, notFound("user", nt.User))
	}
	if err != nil {
		return berth.Token{}, fmt.Errorf("create token %q for user %q: %w", nt.Name, nt.User, dbErr(err))
	}
	return tx.Token(ctx, id)
}

// RevokeToken revokes a token from now on. Revoking a revoked token changes nothing.
func (tx *Tx) RevokeToken(ctx context.Context, id int64) (berth.Token, error) {
	res, err := tx.exec(ctx, "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?",
		micros(tx.stamp()), id)
	if err != nil {
		return berth.Token{}, fmt.Errorf("revoke token %d: %w", id, dbErr(err))
	}
	if err := mustAffect(res, fmt.Errorf("revoke token %d: %w", id, berth.ErrNotFound)); err != nil {
		return berth.Token{}, err
	}
	return tx.Token(ctx, id)
}

// TokenTouchInterval is how stale a token's last-used time may get. TouchToken writes it at
// most once per interval and token, so that authenticated requests, mostly reads, do not
// queue for the database's write lock.
const TokenTouchInterval = time.Minute

// TouchToken records that t was just used, unless that was recorded less than
// TokenTouchInterval ago (by t's own LastUsedAt, or by this Store). It is not audited.
func (s *Store) TouchToken(ctx context.Context, t berth.Token) error {
	now := s.now().UTC().Truncate(time.Microsecond)
	if !t.LastUsedAt.IsZero() && now.Sub(t.LastUsedAt) < TokenTouchInterval {
		return nil
	}
	if v, ok := s.touched.Load(t.ID); ok && now.Sub(v.(time.Time)) < TokenTouchInterval {
		return nil
	}
	s.touched.Store(t.ID, now)
	w := queries{q: s.db, d: s.d}
	// The condition keeps concurrent touches of several replicas to one write.
	_, err := w.exec(ctx, `UPDATE api_tokens SET last_used_at = ?
		WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)`,
		micros(now), t.ID, micros(now.Add(-TokenTouchInterval)))
	if err != nil {
		s.touched.Delete(t.ID)
		return fmt.Errorf("touch token %d: %w", t.ID, err)
	}
	return nil
}
