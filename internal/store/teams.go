package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/berth-dev/berth/internal/berth"
)

const teamColumns = "id, name, created_at, chat_channel"

func scanTeam(sc scanner) (berth.Team, error) {
	var t berth.Team
	var created int64
	err := sc.Scan(&t.ID, &t.Name, &created, &t.ChatChannel)
	t.CreatedAt = fromMicros(created)
	return t, err
}

// Team returns the team called name.
func (q queries) Team(ctx context.Context, name string) (berth.Team, error) {
	t, err := scanTeam(q.queryRow(ctx, "SELECT "+teamColumns+" FROM teams WHERE name = ?", name))
	if errors.Is(err, sql.ErrNoRows) {
		return berth.Team{}, notFound("team", name)
	}
	if err != nil {
		return berth.Team{}, fmt.Errorf("get team %q: %w", name, err)
	}
	return t, nil
}

// Teams returns every team, by name.
func (q queries) Teams(ctx context.Context) ([]berth.Team, error) {
	ts, err := list(ctx, q, scanTeam, "SELECT "+teamColumns+" FROM teams ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("list teams: %w", err)
	}
	return ts, nil
}

// CreateTeam creates a team; name must be a DNS-1123 label not yet taken ([ErrConflict]).
func (tx *Tx) CreateTeam(ctx context.Context, name string) (berth.Team, error) {
	if err := berth.ValidateName("name", name); err != nil {
		return berth.Team{}, fmt.Errorf("create team: %w", err)
	}
	t, err := scanTeam(tx.queryRow(ctx,
		"INSERT INTO teams (name, created_at) VALUES (?, ?) RETURNING "+teamColumns,
		name, micros(tx.stamp())))
	if err != nil {
		return berth.Team{}, fmt.Errorf("create team %q: %w", name, dbErr(err))
	}
	return t, nil
}

// DeleteTeam deletes a team and its memberships. A team that still owns apps is not
// deleted ([ErrConflict]).
func (tx *Tx) DeleteTeam(ctx context.Context, name string) error {
	res, err := tx.exec(ctx, "DELETE FROM teams WHERE name = ?", name)
	if classify(err) == errForeignKey {
		return fmt.Errorf("delete team %q: %w: it still owns apps", name, berth.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("delete team %q: %w", name, dbErr(err))
	}
	return mustAffect(res, notFound("team", name))
}

// mustAffect returns missing when res affected no row.
func mustAffect(res sql.Result, missing error) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return missing
	}
	return nil
}
