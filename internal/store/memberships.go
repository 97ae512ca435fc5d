package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Role is what a member may do in a team: a viewer reads, a deployer also deploys, an
// admin also manages the team's apps and members.
type Role string

// The roles, from least to most privileged.
const (
	RoleViewer   Role = "viewer"
	RoleDeployer Role = "deployer"
	RoleAdmin    Role = "admin"
)

func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleDeployer:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// Allows reports whether r grants at least what need does.
func (r Role) Allows(need Role) bool { return r.Valid() && r.rank() >= need.rank() }

// Membership gives a user a role in a team.
type Membership struct {
	UserID    int64     `json:"user_id"`
	User      string    `json:"user"`
	TeamID    int64     `json:"team_id"`
	Team      string    `json:"team"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

const (
	membershipColumns = "m.user_id, u.name, m.team_id, t.name, m.role, m.created_at"
	membershipFrom    = " FROM memberships m JOIN users u ON u.id = m.user_id JOIN teams t ON t.id = m.team_id"
)

func scanMembership(sc scanner) (Membership, error) {
	var m Membership
	var created int64
	err := sc.Scan(&m.UserID, &m.User, &m.TeamID, &m.Team, &m.Role, &created)
	m.CreatedAt = fromMicros(created)
	return m, err
}

// Membership returns user's membership of team.
func (q queries) Membership(ctx context.Context, user, team string) (Membership, error) {
	m, err := scanMembership(q.queryRow(ctx,
		"SELECT "+membershipColumns+membershipFrom+" WHERE u.name = ? AND t.name = ?", user, team))
	if errors.Is(err, sql.ErrNoRows) {
		return Membership{}, fmt.Errorf("membership of user %q in team %q: %w", user, team, ErrNotFound)
	}
	if err != nil {
		return Membership{}, fmt.Errorf("get membership of user %q in team %q: %w", user, team, err)
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
func (q queries) Memberships(ctx context.Context, f MembershipFilter) ([]Membership, error) {
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
func (tx *Tx) SetMembership(ctx context.Context, user, team string, role Role) (Membership, error) {
	if !role.Valid() {
		return Membership{}, fmt.Errorf("set membership of user %q in team %q: %w", user, team,
			invalid("role", "%q is not one of viewer, deployer, admin", role))
	}
	var m Membership
	var created int64
	err := tx.queryRow(ctx, `INSERT INTO memberships (user_id, team_id, role, created_at)
		SELECT u.id, t.id, CAST(? AS TEXT), CAST(? AS BIGINT) FROM users u, teams t WHERE u.name = ? AND t.name = ?
		ON CONFLICT (user_id, team_id) DO UPDATE SET role = excluded.role
		RETURNING user_id, team_id, role, created_at`,
		string(role), micros(tx.stamp()), user, team).Scan(&m.UserID, &m.TeamID, &m.Role, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return Membership{}, fmt.Errorf("set membership: %w", tx.missingUserOrTeam(ctx, user, team))
	}
	if err != nil {
		return Membership{}, fmt.Errorf("set membership of user %q in team %q: %w", user, team, dbErr(err))
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
	return fmt.Errorf("user %q is not a member of team %q: %w", user, team, ErrNotFound)
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
	return fmt.Errorf("user %q and team %q exist but the change found no row: %w", user, team, ErrNotFound)
}
