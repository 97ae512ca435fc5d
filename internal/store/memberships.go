package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/berth-dev/berth/internal/berth"
)

const (
	membershipColumns = "m.user_id, u.name, m.team_id, t.name, m.role, m.created_at"
	membershipFrom    = " FROM memberships m JOIN users u ON u.id = m.user_id JOIN teams t ON t.id = m.team_id"
)

func scanMembership(sc scanner) (berth.Membership, error) {
	var m berth.Membership
	var created int64
	err := sc.Scan(&m.UserID, &m.User, &m.TeamID, &m.Team, &m.Role, &created)
	m.CreatedAt = fromMicros(created)
	return m, err
}

// Membership returns user's membership of team.
func (q queries) Membership(ctx context.Context, user, team string) (berth.Membership, error) {
	m, err := scanMembership(q.queryRow(ctx,
		"SELECT "+membershipColumns+membershipFrom+" WHERE u.name = ? AND t.name = ?", user, team))
	if errors.Is(err, sql.ErrNoRows) {
		return berth.Membership{}, fmt.Errorf("membership of user %q in team %q: %w", user, team, berth.ErrNotFound)
	}
	if err != nil {
		return berth.Membership{}, fmt.Errorf("get membership of user %q in team %q: %w", user, team, err)
	}
	return m, nil
}

// MembershipFilter selects memberships; empty fields match everything.
type MembershipFilter struct {
	User string
	Team string
}

// Memberships returns the memberships f selects, by team and user name. Naming a user or
// team that does not exist is [ErrNotFound], not an empty list.
func (q queries) Memberships(ctx context.Context, f MembershipFilter) ([]berth.Membership, error) {
	var where []string
	var args []any
	if f.User != "" {
		if _, err := q.User(ctx, f.User); err != nil {
			return nil, fmt.Errorf("list memberships: %w", err)
		}
		where, args = append(where, "u.name = ?"), append(args, f.User)
	}
	if f.Team != "" {
		if _, err := q.Team(ctx, f.Team); err != nil {
			return nil, fmt.Errorf("list memberships: %w", err)
		}
		where, args = append(where, "t.name = ?"), append(args, f.Team)
	}
	query := "SELECT " + membershipColumns + membershipFrom
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	ms, err := list(ctx, q, scanMembership, query+" ORDER BY t.name, u.name", args...)
	if err != nil {
		return nil, fmt.Errorf("list memberships: %w", err)
	}
	return ms, nil
}

// SetMembership makes user a member of team with role, or changes the role of a member.
func (tx *Tx) SetMembership(ctx context.Context, user, team string, role berth.Role) (berth.Membership, error) {
	if !role.Valid() {
		return berth.Membership{}, fmt.Errorf("set membership of user %q in team %q: %w", user, team,
			invalid("role", "%q is not one of viewer, deployer, admin", role))
	}
	var m berth.Membership
	var created int64
	err := tx.queryRow(ctx, `INSERT INTO memberships (user_id, team_id, role, created_at)
		SELECT u.id, t.id, CAST(? AS TEXT), CAST(? AS BIGINT) FROM users u, teams t WHERE u.name = ? AND t.name = ?
		ON CONFLICT (user_id, team_id) DO UPDATE SET role = excluded.role
		RETURNING user_id, team_id, role, created_at`,
		string(role), micros(tx.stamp()), user, team).Scan(&m.UserID, &m.TeamID, &m.Role, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return berth.Membership{}, fmt.Errorf("set membership: %w", tx.missingUserOrTeam(ctx, user, team))
	}
	if err != nil {
		return berth.Membership{}, fmt.Errorf("set membership of user %q in team %q: %w", user, team, dbErr(err))
	}
	m.User, m.Team, m.CreatedAt = user, team, fromMicros(created)
	return m, nil
}

// RemoveMembership removes user from team.
func (tx *Tx) RemoveMembership(ctx context.Context, user, team string) error {
	res, err := tx.exec(ctx, `DELETE FROM memberships
		WHERE user_id = (SELECT id FROM users WHERE name = ?) AND team_id = (SELECT id FROM teams WHERE name = ?)`,
		user, team)
	if err != nil {
		return fmt.Errorf("remove user %q from team %q: %w", user, team, dbErr(err))
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return err
	}
	if err := tx.missingUserOrTeam(ctx, user, team); err != nil {
		return fmt.Errorf("remove membership: %w", err)
	}
	return fmt.Errorf("user %q is not a member of team %q: %w", user, team, berth.ErrNotFound)
}

// missingUserOrTeam says which of user and team does not exist, after a statement that
// needed both found nothing.
func (q queries) missingUserOrTeam(ctx context.Context, user, team string) error {
	if _, err := q.User(ctx, user); err != nil {
		return err
	}
	if _, err := q.Team(ctx, team); err != nil {
		return err
	}
	return fmt.Errorf("user %q and team %q exist but the change found no row: %w", user, team, berth.ErrNotFound)
}
