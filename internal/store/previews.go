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

const (
	previewColumns = `p.id, t.name, a.name, p.base, p.pr, p.url, p.branch, p.sha, p.fork, p.env, p.comment_id,
		p.state, p.reason, p.created_at, p.updated_at`
	previewFrom = " FROM previews p JOIN apps a ON a.id = p.app_id JOIN teams t ON t.id = a.team_id"
)

func scanPreview(sc scanner) (berth.Preview, error) {
	var p berth.Preview
	var created, updated int64
	err := sc.Scan(&p.ID, &p.Team, &p.App, &p.Base, &p.PR, &p.URL, &p.Branch, &p.SHA, &p.Fork, &p.Env, &p.CommentID,
		&p.State, &p.Reason, &created, &updated)
	p.CreatedAt, p.UpdatedAt = fromMicros(created), fromMicros(updated)
	return p, err
}

// OpenPreview makes (or brings up to date) the environment of p's pull request's preview
// from base, a preview environment, and records p as active at p.SHA: the environment,
// named berth.PreviewEnvName, copies base's cluster, scheduling and storage class, takes
// the namespace of its own name and the base domain pr-N.<base's>. The comment id of an
// earlier record is kept. It belongs in the transaction that queues the preview's deploy.
func (tx *Tx) OpenPreview(ctx context.Context, p berth.Preview, base berth.Environment) (berth.Preview, berth.Environment, error) {
	if base.PreviewOf == "" {
		return p, berth.Environment{}, invalid("git.previews.env", "environment %s is no preview environment: a platform admin makes one with "+
			"`berth envs create NAME --preview-of FALLBACK` (the environment previews' dependencies fall back to)", base.Name)
	}
	if p.PR <= 0 {
		return p, berth.Environment{}, invalid("pr", "must be a pull request's number")
	}
	for field, v := range map[string]string{"branch": p.Branch, "sha": p.SHA} {
		if err := validateText(field, v, 255); err != nil {
			return p, berth.Environment{}, err
		}
	}
	if len(p.URL) > 2048 {
		return p, berth.Environment{}, invalid("url", "is longer than 2048 bytes")
	}
	name := berth.PreviewEnvName(base.Name, p.Team, p.App, p.PR)
	// The app's pods carry the label app.kubernetes.io/instance APP-ENV, at most 63 characters.
	if err := berth.ValidateName("environment", name); err != nil || len(p.App)+1+len(name) > 63 {
		return p, berth.Environment{}, invalid("environment", "the preview's environment %s (with the app's name, %s-%s) would be longer "+
			"than 63 characters: shorten the preview environment's, team's or app's name", name, p.App, name)
	}
	switch prev, err := tx.PreviewOfEnv(ctx, name); {
	case errors.Is(err, berth.ErrNotFound):
	case err != nil:
		return p, berth.Environment{}, err
	case prev.Team != p.Team || prev.App != p.App || prev.Base != base.Name || prev.PR != p.PR:
		// Names with '-' can meet: team shop's app web-api and team shop-web's app api.
		return p, berth.Environment{}, fmt.Errorf("open preview: environment %s is the preview of %s/%s #%d already: "+
			"rename the app or the preview environment: %w", name, prev.Team, prev.App, prev.PR, berth.ErrConflict)
	case prev.State == berth.PreviewClosing:
		return p, berth.Environment{}, fmt.Errorf("open preview: the preview %s is being closed; try again when it is: %w", name, berth.ErrConflict)
	}
	var appID int64
	err := tx.queryRow(ctx, `SELECT a.id FROM apps a JOIN teams t ON t.id = a.team_id WHERE t.name = ? AND a.name = ?`,
		p.Team, p.App).Scan(&appID)
	if errors.Is(err, sql.ErrNoRows) {
		return p, berth.Environment{}, fmt.Errorf("open preview: %w", tx.missingApp(ctx, p.Team, p.App))
	}
	if err != nil {
		return p, berth.Environment{}, fmt.Errorf("open preview: %w", dbErr(err))
	}
	selector, tolerations, err := schedulingColumns(base.Scheduling)
	if err != nil {
		return p, berth.Environment{}, err
	}
	domain := ""
	if base.BaseDomain != "" {
		domain = fmt.Sprintf("pr-%d.%s", p.PR, base.BaseDomain)
	}
	now := micros(tx.stamp())
	switch existing, err := tx.Environment(ctx, name); {
	case errors.Is(err, berth.ErrNotFound):
		if _, err := tx.exec(ctx, `INSERT INTO environments
			(name, kubeconfig, context, in_cluster, namespace_template, protected, node_selector, tolerations, created_at,
			 base_domain, storage_class, preview_base)
			VALUES (?, ?, ?, ?, '{env}', FALSE, ?, ?, ?, ?, ?, ?)`,
			name, base.Kubeconfig, base.Context, base.InCluster, selector, tolerations, now, domain, base.StorageClass, base.Name); err != nil {
			return p, berth.Environment{}, fmt.Errorf("open preview: environment %s: %w", name, dbErr(err))
		}
	case err != nil:
		return p, berth.Environment{}, err
	case existing.PreviewBase != base.Name:
		return p, berth.Environment{}, fmt.Errorf("open preview: environment %s exists and is not this preview's: %w", name, berth.ErrConflict)
	default:
		if _, err := tx.exec(ctx, `UPDATE environments SET kubeconfig = ?, context = ?, in_cluster = ?, node_selector = ?,
			tolerations = ?, base_domain = ?, storage_class = ? WHERE name = ?`,
			base.Kubeconfig, base.Context, base.InCluster, selector, tolerations, domain, base.StorageClass, name); err != nil {
			return p, berth.Environment{}, fmt.Errorf("open preview: environment %s: %w", name, dbErr(err))
		}
	}
	if _, err := tx.exec(ctx, `INSERT INTO previews (app_id, base, pr, url, branch, sha, fork, env, state, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?)
		ON CONFLICT (app_id, base, pr) DO UPDATE SET url = excluded.url, branch = excluded.branch, sha = excluded.sha,
			fork = excluded.fork, env = excluded.env, state = 'active', reason = '', updated_at = excluded.updated_at`,
		appID, base.Name, p.PR, p.URL, p.Branch, p.SHA, p.Fork, name, now, now); err != nil {
		return p, berth.Environment{}, fmt.Errorf("open preview: %w", dbErr(err))
	}
	out, err := tx.Preview(ctx, p.Team, p.App, base.Name, p.PR)
	if err != nil {
		return p, berth.Environment{}, err
	}
	env, err := tx.Environment(ctx, name)
	return out, env, err
}

// Preview returns team's app's preview of pull request pr from the preview environment base.
func (q queries) Preview(ctx context.Context, team, app, base string, pr int) (berth.Preview, error) {
	p, err := scanPreview(q.queryRow(ctx, "SELECT "+previewColumns+previewFrom+
		" WHERE t.name = ? AND a.name = ? AND p.base = ? AND p.pr = ?", team, app, base, pr))
	if errors.Is(err, sql.ErrNoRows) {
		return p, notFound("preview", fmt.Sprintf("%s/%s#%d in %s", team, app, pr, base))
	}
	if err != nil {
		return p, fmt.Errorf("get preview: %w", dbErr(err))
	}
	return p, nil
}

// PreviewOfEnv returns the preview whose environment env is.
func (q queries) PreviewOfEnv(ctx context.Context, env string) (berth.Preview, error) {
	p, err := scanPreview(q.queryRow(ctx, "SELECT "+previewColumns+previewFrom+" WHERE p.env = ? ORDER BY p.id DESC LIMIT 1", env))
	if errors.Is(err, sql.ErrNoRows) {
		return p, notFound("preview of environment", env)
	}
	if err != nil {
		return p, fmt.Errorf("get preview of environment %s: %w", env, dbErr(err))
	}
	return p, nil
}

// BranchPreview returns the active preview of team's app from base for a pull request
// whose head is branch (the newest, when several are), for resolving another preview's
// service resources to it. A fork's preview is never one: anyone may open a pull request
// from a fork, on any branch name.
func (q queries) BranchPreview(ctx context.Context, team, app, base, branch string) (berth.Preview, error) {
	p, err := scanPreview(q.queryRow(ctx, "SELECT "+previewColumns+previewFrom+
		" WHERE t.name = ? AND a.name = ? AND p.base = ? AND p.branch = ? AND p.state = 'active' AND NOT p.fork ORDER BY p.updated_at DESC, p.id DESC LIMIT 1",
		team, app, base, branch))
	if errors.Is(err, sql.ErrNoRows) {
		return p, notFound("preview", fmt.Sprintf("%s/%s of branch %s in %s", team, app, branch, base))
	}
	if err != nil {
		return p, fmt.Errorf("get preview of branch %s: %w", branch, dbErr(err))
	}
	return p, nil
}

// PreviewFilter selects previews; empty fields select all. Limit 0 is 100, at most 1000.
type PreviewFilter struct {
	Team, App string
	// States selects previews in any of them (none: every state).
	States []berth.PreviewState
	// UpdatedBefore selects previews last deployed before it (zero: any).
	UpdatedBefore time.Time
	Limit         int
}

// Previews returns the previews f selects, newest first.
func (q queries) Previews(ctx context.Context, f PreviewFilter) ([]berth.Preview, error) {
	query := "SELECT " + previewColumns + previewFrom + " WHERE 1 = 1"
	var args []any
	if f.Team != "" {
		query += " AND t.name = ?"
		args = append(args, f.Team)
	}
	if f.App != "" {
		query += " AND a.name = ?"
		args = append(args, f.App)
	}
	if len(f.States) > 0 {
		query += " AND p.state IN (?" + strings.Repeat(", ?", len(f.States)-1) + ")"
		for _, st := range f.States {
			args = append(args, string(st))
		}
	}
	if !f.UpdatedBefore.IsZero() {
		query += " AND p.updated_at < ?"
		args = append(args, micros(f.UpdatedBefore))
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	query += " ORDER BY p.updated_at DESC, p.id DESC LIMIT ?"
	ps, err := list(ctx, q, scanPreview, query, append(args, f.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("list previews: %w", dbErr(err))
	}
	return ps, nil
}

// SetPreviewComment records the forge's id of the comment kept on preview id's pull request.
func (tx *Tx) SetPreviewComment(ctx context.Context, id, comment int64) error {
	res, err := tx.exec(ctx, "UPDATE previews SET comment_id = ? WHERE id = ?", comment, id)
	if err != nil {
		return fmt.Errorf("preview %d: record comment: %w", id, dbErr(err))
	}
	return mustAffect(res, notFound("preview", fmt.Sprint(id)))
}

// BeginClosePreview moves preview id to closing, so that nothing deploys into it while it
// is torn down, and reports whether it did: only an active preview (or one closing
// already, whose teardown is resumed) with no deploy queued or running in its environment,
// and, when notAfter is not zero, not deployed since notAfter (an expiry must not close a
// preview pushed to since it was found stale).
func (tx *Tx) BeginClosePreview(ctx context.Context, id int64, notAfter time.Time) (bool, error) {
	cutoff := int64(0)
	if !notAfter.IsZero() {
		cutoff = micros(notAfter)
	}
	res, err := tx.exec(ctx, `UPDATE previews SET state = 'closing'
		WHERE id = ? AND (state = 'closing' OR (state = 'active' AND (CAST(? AS BIGINT) = 0 OR updated_at <= ?)))
		AND NOT EXISTS (SELECT 1 FROM deploys d WHERE d.app_id = previews.app_id AND d.env = previews.env
			AND d.state IN ('queued', 'running'))`, id, cutoff, cutoff)
	if err != nil {
		return false, fmt.Errorf("close preview %d: %w", id, dbErr(err))
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ClosePreview marks preview id closed, saying why, once BeginClosePreview moved it to
// closing; closing a closed one changes nothing. It does not touch the preview's
// environment: its history stays, and a reopened pull request deploys into it again.
func (tx *Tx) ClosePreview(ctx context.Context, id int64, reason string) (berth.Preview, error) {
	if len(reason) > 1024 {
		reason = reason[:1024]
	}
	if _, err := tx.exec(ctx, "UPDATE previews SET state = 'closed', reason = ?, updated_at = ? WHERE id = ? AND state = 'closing'",
		reason, micros(tx.stamp()), id); err != nil {
		return berth.Preview{}, fmt.Errorf("close preview %d: %w", id, dbErr(err))
	}
	p, err := scanPreview(tx.queryRow(ctx, "SELECT "+previewColumns+previewFrom+" WHERE p.id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return p, notFound("preview", fmt.Sprint(id))
	}
	if err == nil && p.State != berth.PreviewClosed {
		return p, fmt.Errorf("close preview %d: it is %s, not closing: %w", id, p.State, berth.ErrConflict)
	}
	return p, err
}
