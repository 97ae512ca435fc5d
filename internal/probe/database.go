package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// cleanupTimeout bounds the removal of what a failed round trip left, after the step's own
// time may have run out.
const cleanupTimeout = 5 * time.Second

// checkDatabase makes a round trip through the probe database: a row inserted, read back
// and deleted, in a table the probe creates if missing.
func checkDatabase(ctx context.Context, c Config, _ *scrubber) (string, error) {
	if c.DatabaseURL == "" {
		return "", notConfigured(EnvDatabaseURL)
	}
	cfg, err := pgx.ParseConfig(c.DatabaseURL)
	if err != nil {
		// pgx masks the password of the DSN it quotes; the scrubber catches any other form.
		return "", fmt.Errorf("%s: %w", EnvDatabaseURL, err)
	}
	where := fmt.Sprintf("postgres %s/%s as %s", net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), cfg.Database, cfg.User)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return "", fmt.Errorf("%s: connect: %w", where, err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		_ = conn.Close(ctx)
	}()
	if err := roundTrip(ctx, conn); err != nil {
		return "", fmt.Errorf("%s: %w", where, err)
	}
	return "insert, read back, delete in berth_probe on " + where, nil
}

func roundTrip(ctx context.Context, conn *pgx.Conn) (err error) {
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS berth_probe (id text PRIMARY KEY, at timestamptz NOT NULL)`); err != nil {
		return fmt.Errorf("create table berth_probe: %w", err)
	}
	id := randomID()
	if _, err := conn.Exec(ctx, `INSERT INTO berth_probe (id, at) VALUES ($1, now())`, id); err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	deleted := false
	defer func() {
		if !deleted {
			// Leave no row behind when the read fails but the database still answers.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
			defer cancel()
			_, _ = conn.Exec(ctx, `DELETE FROM berth_probe WHERE id = $1`, id)
		}
	}()
	var got string
	if err := conn.QueryRow(ctx, `SELECT id FROM berth_probe WHERE id = $1`, id).Scan(&got); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return errors.New("read back: the row just inserted is missing")
		}
		return fmt.Errorf("read back: %w", err)
	}
	if got != id {
		return fmt.Errorf("read back %q, inserted %q", got, id)
	}
	tag, err := conn.Exec(ctx, `DELETE FROM berth_probe WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	deleted = true
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("delete: %d rows deleted, want 1", tag.RowsAffected())
	}
	return nil
}
