package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/berth-dev/berth/internal/berth"
)

const userColumns = "id, name, email, is_admin, created_at"

func scanUser(sc scanner) (berth.User, error) {
	var u berth.User
	var created int64
	err := sc.Scan(&u.ID, &u.Name, &u.Email, &u.IsAdmin, &created)
	u.CreatedAt = fromMicros(created)
	return u, err
}

// User returns the user called name.
func (q queries) User(ctx context.Context, name string) (berth.User, error) {
	u, err := scanUser(q.queryRow(ctx, "SELECT "+userColumns+" FROM users WHERE name = ?", name))
	if errors.Is(err, sql.ErrNoRows) {
		return berth.User{}, notFound("user", name)
	}
	if err != nil {
		return berth.User{}, fmt.Errorf("get user %q: %w", name, err)
	}
	return u, nil
}

// Users returns every user, by name.
func (q queries) Users(ctx context.Context) ([]berth.User, error) {
	us, err := list(ctx, q, scanUser, "SELECT "+userColumns+" FROM users ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return us, nil
}

// CreateUser creates a user from u's Name, Email (optional, unique ignoring case) and
// IsAdmin.
func (tx *Tx) CreateUser(ctx context.Context, u berth.User) (berth.User, error) {
	if err := validateText("name", u.Name, 64); err != nil {
		return berth.User{}, fmt.Errorf("create user: %w", err)
	}
	if u.Email != "" {
		if err := validateText("email", u.Email, 254); err != nil {
			return berth.User{}, fmt.Errorf("create user %q: %w", u.Name, err)
		}
		if at := strings.IndexByte(u.Email, '@'); at <= 0 || at == len(u.Email)-1 {
			return berth.User{}, fmt.Errorf("create user %q: %w", u.Name, invalid("email", "%q is not an email address", u.Email))
		}
	}
	out, err := scanUser(tx.queryRow(ctx,
		"INSERT INTO users (name, email, is_admin, created_at) VALUES (?, ?, ?, ?) RETURNING "+userColumns,
		u.Name, u.Email, u.IsAdmin, micros(tx.stamp())))
	if err != nil {
		return berth.User{}, fmt.Errorf("create user %q: %w", u.Name, dbErr(err))
	}
	return out, nil
}

// SetUserAdmin grants or withdraws global admin rights.
func (tx *Tx) SetUserAdmin(ctx context.Context, name string, admin bool) (berth.User, error) {
	u, err := scanUser(tx.queryRow(ctx,
		"UPDATE users SET is_admin = ? WHERE name = ? RETURNING "+userColumns, admin, name))
	if errors.Is(err, sql.ErrNoRows) {
		return berth.User{}, notFound("user", name)
	}
	if err != nil {
		return berth.User{}, fmt.Errorf("set admin of user %q: %w", name, dbErr(err))
	}
	return u, nil
}

// DeleteUser deletes a user with its tokens, memberships and protected-environment
// allowances. Revisions and audit events keep the user's name.
func (tx *Tx) DeleteUser(ctx context.Context, name string) error {
	res, err := tx.exec(ctx, "DELETE FROM users WHERE name = ?", name)
	if err != nil {
		return fmt.Errorf("delete user %q: %w", name, dbErr(err))
	}
	return mustAffect(res, notFound("user", name))
}
