package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/berth"
)

// LinkChat links the chat user chatUser of provider (a Slack user id) to the Berth user
// called user, replacing an earlier link of that chat user.
func (tx *Tx) LinkChat(ctx context.Context, provider, chatUser, user, by string) error {
	if err := validateText("provider", provider, 32); err != nil {
		return err
	}
	if err := validateText("chat_user", chatUser, 64); err != nil {
		return err
	}
	u, err := tx.User(ctx, user)
	if err != nil {
		return fmt.Errorf("link chat user: %w", err)
	}
	if _, err := tx.exec(ctx, `INSERT INTO chat_links (provider, chat_user, user_id, created_by, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (provider, chat_user) DO UPDATE SET user_id = excluded.user_id, created_by = excluded.created_by,
			created_at = excluded.created_at`, provider, chatUser, u.ID, by, micros(tx.stamp())); err != nil {
		return fmt.Errorf("link chat user %s: %w", chatUser, dbErr(err))
	}
	return nil
}

// ChatUser returns the Berth user the chat user chatUser of provider is linked to.
func (q queries) ChatUser(ctx context.Context, provider, chatUser string) (berth.User, error) {
	u, err := scanUser(q.queryRow(ctx, "SELECT u.id, u.name, u.email, u.is_admin, u.created_at FROM chat_links l "+
		"JOIN users u ON u.id = l.user_id WHERE l.provider = ? AND l.chat_user = ?", provider, chatUser))
	if errors.Is(err, sql.ErrNoRows) {
		return u, notFound("chat user", provider+"/"+chatUser)
	}
	if err != nil {
		return u, fmt.Errorf("get chat user: %w", dbErr(err))
	}
	return u, nil
}

// UserByEmail returns the user whose email is email, ignoring case.
func (q queries) UserByEmail(ctx context.Context, email string) (berth.User, error) {
	if strings.TrimSpace(email) == "" {
		return berth.User{}, notFound("user with email", email)
	}
	u, err := scanUser(q.queryRow(ctx, "SELECT "+userColumns+" FROM users WHERE email <> '' AND lower(email) = lower(?)", email))
	if errors.Is(err, sql.ErrNoRows) {
		return u, notFound("user with email", email)
	}
	if err != nil {
		return u, fmt.Errorf("get user by email: %w", dbErr(err))
	}
	return u, nil
}

// TakeChatRequest records that a chat request signed with the signature whose SHA-256 is
// sig arrived at, or returns berth.ErrConflict when one did already: each signature is
// accepted once. Signatures older than window are forgotten (the chat service's signing
// window refuses them anyway).
func (tx *Tx) TakeChatRequest(ctx context.Context, provider, sig string, at time.Time, window time.Duration) error {
	if err := validateSHA256("signature", sig); err != nil {
		return err
	}
	if _, err := tx.exec(ctx, "DELETE FROM chat_requests WHERE received_at < ?", micros(at.Add(-window))); err != nil {
		return fmt.Errorf("prune chat requests: %w", dbErr(err))
	}
	res, err := tx.exec(ctx, `INSERT INTO chat_requests (provider, signature, received_at) VALUES (?, ?, ?)
		ON CONFLICT (provider, signature) DO NOTHING`, provider, sig, micros(at))
	if err != nil {
		return fmt.Errorf("take chat request: %w", dbErr(err))
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		if err != nil {
			return err
		}
		return fmt.Errorf("a chat request with this signature was taken already (a replay): %w", berth.ErrConflict)
	}
	return nil
}
