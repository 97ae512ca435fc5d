package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/berth-dev/berth/internal/berth"
)

const freezeColumns = "id, env, starts_at, ends_at, reason, created_by, created_at"

func scanFreeze(sc scanner) (berth.FreezeWindow, error) {
	var w berth.FreezeWindow
	var start, end, created int64
	err := sc.Scan(&w.ID, &w.Env, &start, &end, &w.Reason, &w.CreatedBy, &created)
	w.Start, w.End, w.CreatedAt = fromMicros(start), fromMicros(end), fromMicros(created)
	return w, err
}

// AddFreezeWindow freezes w.Env from w.Start to w.End, saying why.
func (tx *Tx) AddFreezeWindow(ctx context.Context, w berth.FreezeWindow) (berth.FreezeWindow, error) {
	if _, err := tx.Environment(ctx, w.Env); err != nil {
		return w, fmt.Errorf("freeze: %w", err)
	}
	switch {
	case w.Start.IsZero() || w.End.IsZero():
		return w, invalid("window", "a freeze window has a start and an end")
	case !w.End.After(w.Start):
		return w, invalid("end", "%s is not after the start, %s", w.End.UTC().Format(time.RFC3339), w.Start.UTC().Format(time.RFC3339))
	case w.End.Sub(w.Start) > 366*24*time.Hour:
		return w, invalid("end", "a freeze window lasts at most a year")
	}
	if err := validateProse("reason", w.Reason, 500); err != nil {
		return w, err
	}
	out, err := scanFreeze(tx.queryRow(ctx, `INSERT INTO freeze_windows (env, starts_at, ends_at, reason, created_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING `+freezeColumns,
		w.Env, micros(w.Start), micros(w.End), w.Reason, w.CreatedBy, micros(tx.stamp())))
	if err != nil {
		return w, fmt.Errorf("freeze %s: %w", w.Env, dbErr(err))
	}
	return out, nil
}

// FreezeWindows returns the freeze windows of env ("" for every environment) that end
// after since, by start.
func (q queries) FreezeWindows(ctx context.Context, env string, since time.Time) ([]berth.FreezeWindow, error) {
	ws, err := list(ctx, q, scanFreeze, "SELECT "+freezeColumns+` FROM freeze_windows
		WHERE (? = '' OR env = ?) AND ends_at > ? ORDER BY starts_at, id`, env, env, micros(since))
	if err != nil {
		return nil, fmt.Errorf("list freeze windows: %w", dbErr(err))
	}
	return ws, nil
}

// DeleteFreezeWindow ends freeze window id at once (deletes it).
func (tx *Tx) DeleteFreezeWindow(ctx context.Context, id int64) (berth.FreezeWindow, error) {
	w, err := scanFreeze(tx.queryRow(ctx, "SELECT "+freezeColumns+" FROM freeze_windows WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return w, notFound("freeze window", fmt.Sprint(id))
	}
	if err != nil {
		return w, fmt.Errorf("get freeze window %d: %w", id, dbErr(err))
	}
	if _, err := tx.exec(ctx, "DELETE FROM freeze_windows WHERE id = ?", id); err != nil {
		return w, fmt.Errorf("delete freeze window %d: %w", id, dbErr(err))
	}
	return w, nil
}

// checkFreeze refuses (a *berth.FrozenError) a deploy of nd into an environment inside one
// of its freeze windows now, unless it is an automatic rollback (which mends) or an
// emergency (nd.Options.Emergency says why; it returns the window, to audit). A deploy that
// waits for an approval is checked again when approved.
func (tx *Tx) checkFreeze(ctx context.Context, nd berth.NewDeploy) (*berth.FreezeWindow, error) {
	if nd.Kind == berth.KindAutoRollback {
		return nil, nil
	}
	now := micros(tx.stamp())
	w, err := scanFreeze(tx.queryRow(ctx, "SELECT "+freezeColumns+` FROM freeze_windows
		WHERE env = ? AND starts_at <= ? AND ends_at > ? ORDER BY ends_at DESC LIMIT 1`, nd.Env, now, now))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("freeze windows of %s: %w", nd.Env, dbErr(err))
	}
	if nd.Options.Emergency == "" {
		return nil, &berth.FrozenError{Window: w}
	}
	if err := validateProse("emergency", nd.Options.Emergency, 500); err != nil {
		return nil, err
	}
	return &w, nil
}

// CheckFreeze is checkFreeze for a deploy d leaving its approval for the queue.
func (tx *Tx) CheckFreeze(ctx context.Context, d berth.Deploy) (*berth.FreezeWindow, error) {
	return tx.checkFreeze(ctx, berth.NewDeploy{Team: d.Team, App: d.App, Env: d.Env, Kind: d.Kind, Options: d.Options})
}
