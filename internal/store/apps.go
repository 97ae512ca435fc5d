package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/berth-dev/berth/internal/berth"
)

const (
	appColumns = "a.id, a.team_id, t.name, a.name, a.created_by, a.created_at, a.latest_revision"
	appFrom    = " FROM apps a JOIN teams t ON t.id = a.team_id"
)

func scanApp(sc scanner) (berth.App, error) {
	var a berth.App
	var created int64
	err := sc.Scan(&a.ID, &a.TeamID, &a.Team, &a.Name, &a.CreatedBy, &created, &a.LatestRevision)
	a.CreatedAt = fromMicros(created)
	return a, err
}

func appKey(team, app string) string { return team + "/" + app }

// App returns team's app called name.
func (q queries) App(ctx context.Context, team, name string) (berth.App, error) {
	a, err := scanApp(q.queryRow(ctx, "SELECT "+appColumns+appFrom+" WHERE t.name = ? AND a.name = ?", team, name))
	if errors.Is(err, sql.ErrNoRows) {
		return berth.App{}, q.missingApp(ctx, team, name)
	}
	if err != nil {
		return berth.App{}, fmt.Errorf("get app %q: %w", appKey(team, name), err)
	}
	return a, nil
}

// missingApp says whether the team or only the app is missing.
func (q queries) missingApp(ctx context.Context, team, name string) error {
	if _, err := q.Team(ctx, team); err != nil {
		return err
	}
	return notFound("app", appKey(team, name))
}

// Apps returns the apps of team, or of every team when team is empty, by team and name.
func (q queries) Apps(ctx context.Context, team string) ([]berth.App, error) {
	query, args := "SELECT "+appColumns+appFrom+" ORDER BY t.name, a.name", []any(nil)
	if team != "" {
		if _, err := q.Team(ctx, team); err != nil {
			return nil, fmt.Errorf("list apps: %w", err)
		}
		query, args = "SELECT "+appColumns+appFrom+" WHERE t.name = ? ORDER BY a.name", []any{team}
	}
	as, err := list(ctx, q, scanApp, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list apps: %w", err)
	}
	return as, nil
}

// CreateApp registers an app called name for team; createdBy names the actor.
func (tx *Tx) CreateApp(ctx context.Context, team, name, createdBy string) (berth.App, error) {
	if err := berth.ValidateName("name", name); err != nil {
		return berth.App{}, fmt.Errorf("create app in team %q: %w", team, err)
	}
	if err := validateText("created_by", createdBy, 254); err != nil {
		return berth.App{}, fmt.Errorf("create app %q: %w", appKey(team, name), err)
	}
	a := berth.App{Team: team, Name: name, CreatedBy: createdBy}
	var created int64
	err := tx.queryRow(ctx, `INSERT INTO apps (team_id, name, created_by, created_at)
		SELECT id, CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT) FROM teams WHERE name = ?
		RETURNING id, team_id, created_at`,
		name, createdBy, micros(tx.stamp()), team).Scan(&a.ID, &a.TeamID, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return berth.App{}, fmt.Errorf("create app %q: %w", name, notFound("team", team))
	}
	if err != nil {
		return berth.App{}, fmt.Errorf("create app %q: %w", appKey(team, name), dbErr(err))
	}
	a.CreatedAt = fromMicros(created)
	return a, nil
}

// DeleteApp deletes team's app called name with its revisions. Its resources stay, orphaned,
// with their data: only `berth resources delete --confirm` drops them.
func (tx *Tx) DeleteApp(ctx context.Context, team, name string) error {
	res, err := tx.exec(ctx, "DELETE FROM apps WHERE name = ? AND team_id = (SELECT id FROM teams WHERE name = ?)", name, team)
	if err != nil {
		return fmt.Errorf("delete app %q: %w", appKey(team, name), dbErr(err))
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		if err != nil {
			return err
		}
		if _, err := tx.exec(ctx, "UPDATE resources SET status = ?, updated_at = ? WHERE team = ? AND app = ? AND status = ?",
			berth.ResourceOrphaned, micros(tx.stamp()), team, name, berth.ResourceActive); err != nil {
			return fmt.Errorf("delete app %q: orphan its resources: %w", appKey(team, name), dbErr(err))
		}
		return nil
	}
	return fmt.Errorf("delete app: %w", tx.missingApp(ctx, team, name))
}

const (
	revisionColumns = "r.app_id, t.name, a.name, r.revision, r.manifest, r.digest, r.created_by, r.created_at, r.source"
	revisionFrom    = " FROM app_revisions r JOIN apps a ON a.id = r.app_id JOIN teams t ON t.id = a.team_id"
)

func scanRevision(sc scanner) (berth.Revision, error) {
	var r berth.Revision
	var created int64
	var source string
	err := sc.Scan(&r.AppID, &r.Team, &r.App, &r.Number, &r.Manifest, &r.Digest, &r.CreatedBy, &created, &source)
	r.CreatedAt = fromMicros(created)
	if err == nil && source != "" {
		r.Source = &berth.GitSource{}
		if err := json.Unmarshal([]byte(source), r.Source); err != nil {
			return r, fmt.Errorf("revision %d of %q: source: %w", r.Number, appKey(r.Team, r.App), err)
		}
	}
	return r, err
}

// AddRevision stores manifest as the app's next revision.
func (tx *Tx) AddRevision(ctx context.Context, team, app, manifest, createdBy string) (berth.Revision, error) {
	return tx.addRevision(ctx, team, app, manifest, createdBy, nil)
}

// AddGitRevision stores manifest, read from a commit of the app's repository, as the app's
// next revision, with src as its source.
func (tx *Tx) AddGitRevision(ctx context.Context, team, app, manifest, createdBy string, src berth.GitSource) (berth.Revision, error) {
	if !src.Forge.Valid() || src.Repo == "" || src.SHA == "" {
		return berth.Revision{}, invalid("source", "a revision from git needs its forge, repository and commit")
	}
	return tx.addRevision(ctx, team, app, manifest, createdBy, &src)
}

func (tx *Tx) addRevision(ctx context.Context, team, app, manifest, createdBy string, src *berth.GitSource) (berth.Revision, error) {
	key := appKey(team, app)
	if err := validateText("created_by", createdBy, 254); err != nil {
		return berth.Revision{}, fmt.Errorf("add revision to app %q: %w", key, err)
	}
	if manifest == "" {
		return berth.Revision{}, fmt.Errorf("add revision to app %q: %w", key, invalid("manifest", "must not be empty"))
	}
	// Bumping the counter locks the app's row, so concurrent revisions of one app get
	// consecutive numbers.
	source := ""
	if src != nil {
		b, err := json.Marshal(src)
		if err != nil {
			return berth.Revision{}, err
		}
		source = string(b)
	}
	r := berth.Revision{Team: team, App: app, Manifest: manifest, CreatedBy: createdBy, CreatedAt: tx.stamp(), Source: src}
	err := tx.queryRow(ctx, `UPDATE apps SET latest_revision = latest_revision + 1
		WHERE name = ? AND team_id = (SELECT id FROM teams WHERE name = ?)
		RETURNING id, latest_revision`, app, team).Scan(&r.AppID, &r.Number)
	if errors.Is(err, sql.ErrNoRows) {
		return berth.Revision{}, fmt.Errorf("add revision: %w", tx.missingApp(ctx, team, app))
	}
	if err != nil {
		return berth.Revision{}, fmt.Errorf("add revision to app %q: %w", key, dbErr(err))
	}
	sum := sha256.Sum256([]byte(manifest))
	r.Digest = hex.EncodeToString(sum[:])
	if _, err := tx.exec(ctx, `INSERT INTO app_revisions (app_id, revision, manifest, digest, created_by, created_at, source)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		r.AppID, r.Number, r.Manifest, r.Digest, r.CreatedBy, micros(r.CreatedAt), source); err != nil {
		return berth.Revision{}, fmt.Errorf("add revision %d to app %q: %w", r.Number, key, dbErr(err))
	}
	return r, nil
}

// Revision returns revision number of team's app.
func (q queries) Revision(ctx context.Context, team, app string, number int64) (berth.Revision, error) {
	r, err := scanRevision(q.queryRow(ctx, "SELECT "+revisionColumns+revisionFrom+
		" WHERE t.name = ? AND a.name = ? AND r.revision = ?", team, app, number))
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := q.App(ctx, team, app); err != nil {
			return berth.Revision{}, err
		}
		return berth.Revision{}, fmt.Errorf("revision %d of app %q: %w", number, appKey(team, app), berth.ErrNotFound)
	}
	if err != nil {
		return berth.Revision{}, fmt.Errorf("get revision %d of app %q: %w", number, appKey(team, app), err)
	}
	return r, nil
}

// LatestRevision returns the newest revision of team's app; [ErrNotFound] before the first.
func (q queries) LatestRevision(ctx context.Context, team, app string) (berth.Revision, error) {
	r, err := scanRevision(q.queryRow(ctx, "SELECT "+revisionColumns+revisionFrom+
		" WHERE t.name = ? AND a.name = ? AND r.revision = a.latest_revision", team, app))
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := q.App(ctx, team, app); err != nil {
			return berth.Revision{}, err
		}
		return berth.Revision{}, fmt.Errorf("app %q has no revisions: %w", appKey(team, app), berth.ErrNotFound)
	}
	if err != nil {
		return berth.Revision{}, fmt.Errorf("get latest revision of app %q: %w", appKey(team, app), err)
	}
	return r, nil
}

// Revisions returns every revision of team's app, newest first.
func (q queries) Revisions(ctx context.Context, team, app string) ([]berth.Revision, error) {
	if _, err := q.App(ctx, team, app); err != nil {
		return nil, fmt.Errorf("list revisions: %w", err)
	}
	rs, err := list(ctx, q, scanRevision, "SELECT "+revisionColumns+revisionFrom+
		" WHERE t.name = ? AND a.name = ? ORDER BY r.revision DESC", team, app)
	if err != nil {
		return nil, fmt.Errorf("list revisions of app %q: %w", appKey(team, app), err)
	}
	return rs, nil
}
