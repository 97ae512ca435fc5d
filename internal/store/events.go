package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/berth-dev/berth/internal/berth"
)

// Bounds of what one stored cluster event keeps; Kubernetes' own limits are similar
// (a message of 1 KiB is usual, the API server takes more).
const (
	maxEventMessage = 4 << 10
	maxEventField   = 512
)

const clusterEventColumns = `ce.id, e.name, ce.uid, ce.team, ce.app, ce.type, ce.reason, ce.object, ce.message,
	ce.count, ce.first_at, ce.last_at`

const clusterEventFrom = ` FROM cluster_events ce JOIN environments e ON e.id = ce.env_id`

func scanClusterEvent(sc scanner) (berth.ClusterEvent, error) {
	var ev berth.ClusterEvent
	var first, last int64
	err := sc.Scan(&ev.ID, &ev.Env, &ev.UID, &ev.Team, &ev.App, &ev.Type, &ev.Reason, &ev.Object, &ev.Message,
		&ev.Count, &first, &last)
	ev.FirstAt, ev.LastAt = fromMicros(first), fromMicros(last)
	return ev, err
}

// SaveClusterEvents records events, each under its environment and uid: a new uid is
// added, a known one updated when the cluster saw it again since (a later LastAt, or a
// higher Count at the same time), and left alone otherwise, so the same event seen twice
// (a watch that restarted, two servers watching one cluster) is stored once. It returns
// how many events it added or updated.
func (tx *Tx) SaveClusterEvents(ctx context.Context, evs []berth.ClusterEvent) (int, error) {
	envIDs := map[string]int64{}
	changed := 0
	for _, ev := range evs {
		what := fmt.Sprintf("save cluster event %s of %s/%s in %s", ev.UID, ev.Team, ev.App, ev.Env)
		if err := checkClusterEvent(&ev); err != nil {
			return changed, fmt.Errorf("%s: %w", what, err)
		}
		envID, ok := envIDs[ev.Env]
		if !ok {
			err := tx.queryRow(ctx, "SELECT id FROM environments WHERE name = ?", ev.Env).Scan(&envID)
			if errors.Is(err, sql.ErrNoRows) {
				return changed, notFound("environment", ev.Env)
			}
			if err != nil {
				return changed, fmt.Errorf("%s: %w", what, dbErr(err))
			}
			envIDs[ev.Env] = envID
		}
		res, err := tx.exec(ctx, `INSERT INTO cluster_events (env_id, uid, team, app, type, reason, object, message, count, first_at, last_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (env_id, uid) DO UPDATE SET type = excluded.type, reason = excluded.reason, message = excluded.message,
				count = excluded.count, last_at = excluded.last_at
			WHERE excluded.last_at > cluster_events.last_at
				OR (excluded.last_at = cluster_events.last_at AND excluded.count > cluster_events.count)`,
			envID, ev.UID, ev.Team, ev.App, ev.Type, ev.Reason, ev.Object, ev.Message, ev.Count,
			micros(ev.FirstAt), micros(ev.LastAt))
		if err != nil {
			return changed, fmt.Errorf("%s: %w", what, dbErr(err))
		}
		if n, err := res.RowsAffected(); err == nil && n > 0 {
			changed++
		}
	}
	return changed, nil
}

// checkClusterEvent refuses an event without what identifies it, and cuts free text to the
// bounds the table keeps (on a rune boundary).
func checkClusterEvent(ev *berth.ClusterEvent) error {
	switch {
	case ev.Env == "" || ev.UID == "" || ev.Team == "" || ev.App == "" || ev.Object == "":
		return invalid("event", "environment, uid, team, app and object are required")
	case ev.LastAt.IsZero():
		return invalid("event", "the time it was last seen is required")
	case len(ev.UID) > 128 || len(ev.Team) > 63 || len(ev.App) > 63:
		return invalid("event", "uid, team or app is too long")
	}
	if ev.FirstAt.IsZero() || ev.FirstAt.After(ev.LastAt) {
		ev.FirstAt = ev.LastAt
	}
	if ev.Count < 1 {
		ev.Count = 1
	}
	ev.Type = cut(ev.Type, 64)
	ev.Reason = cut(ev.Reason, maxEventField)
	ev.Object = cut(ev.Object, maxEventField)
	ev.Message = cut(ev.Message, maxEventMessage)
	return nil
}

// cut returns s at most n bytes long, ending on a whole rune, with invalid UTF-8 replaced.
func cut(s string, n int) string {
	if !utf8.ValidString(s) {
		s = string([]rune(s))
	}
	// PostgreSQL's text refuses NUL, which SQLite would keep: neither stores it.
	s = strings.ReplaceAll(s, "\x00", "")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// ClusterEvents returns the newest stored events f selects (at most f.Limit, bounded by
// berth.MaxClusterEvents), oldest first.
func (q queries) ClusterEvents(ctx context.Context, f berth.ClusterEventFilter) ([]berth.ClusterEvent, error) {
	query := "SELECT " + clusterEventColumns + clusterEventFrom + " WHERE 1=1"
	var args []any
	for _, c := range []struct{ col, val string }{{"e.name", f.Env}, {"ce.team", f.Team}, {"ce.app", f.App}, {"ce.type", f.Type}} {
		if c.val != "" {
			query += " AND " + c.col + " = ?"
			args = append(args, c.val)
		}
	}
	if !f.Since.IsZero() {
		query += " AND ce.last_at >= ?"
		args = append(args, micros(f.Since))
	}
	if !f.Until.IsZero() {
		query += " AND ce.first_at <= ?"
		args = append(args, micros(f.Until))
	}
	limit := f.Limit
	if limit <= 0 || limit > berth.MaxClusterEvents {
		limit = berth.MaxClusterEvents
	}
	query += " ORDER BY ce.last_at DESC, ce.id DESC LIMIT ?"
	args = append(args, limit)
	evs, err := list(ctx, q, scanClusterEvent, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list cluster events: %w", dbErr(err))
	}
	slices.Reverse(evs)
	return evs, nil
}

// PruneClusterEvents deletes the stored cluster events last seen before olderThan (zero:
// none by age) and those of apps that no longer exist, and returns how many it deleted.
func (tx *Tx) PruneClusterEvents(ctx context.Context, olderThan time.Time) (int64, error) {
	var deleted int64
	if !olderThan.IsZero() {
		res, err := tx.exec(ctx, "DELETE FROM cluster_events WHERE last_at < ?", micros(olderThan))
		if err != nil {
			return 0, fmt.Errorf("prune cluster events by age: %w", dbErr(err))
		}
		deleted, _ = res.RowsAffected()
	}
	res, err := tx.exec(ctx, `DELETE FROM cluster_events WHERE NOT EXISTS (
		SELECT 1 FROM apps a JOIN teams t ON t.id = a.team_id WHERE t.name = cluster_events.team AND a.name = cluster_events.app)`)
	if err != nil {
		return deleted, fmt.Errorf("prune cluster events of deleted apps: %w", dbErr(err))
	}
	n, _ := res.RowsAffected()
	return deleted + n, nil
}

// TrimClusterEvents keeps the newest keep stored events of team's app in env (by when they
// were last seen) and deletes the others; it returns how many it deleted.
func (tx *Tx) TrimClusterEvents(ctx context.Context, env, team, app string, keep int) (int64, error) {
	if keep < 0 {
		return 0, invalid("keep", "must not be negative")
	}
	res, err := tx.exec(ctx, `DELETE FROM cluster_events WHERE team = ? AND app = ?
		AND env_id = (SELECT id FROM environments WHERE name = ?)
		AND id NOT IN (
			SELECT ce.id FROM cluster_events ce JOIN environments e ON e.id = ce.env_id
			WHERE e.name = ? AND ce.team = ? AND ce.app = ? ORDER BY ce.last_at DESC, ce.id DESC LIMIT ?)`,
		team, app, env, env, team, app, keep)
	if err != nil {
		return 0, fmt.Errorf("trim cluster events of %s/%s in %s: %w", team, app, env, dbErr(err))
	}
	n, _ := res.RowsAffected()
	return n, nil
}
