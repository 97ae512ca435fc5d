package pgtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// RequirePasswords makes the test server check passwords on TCP for every role but the
// superuser postgres (which NewDatabase's URLs use): the server starts trusting everyone,
// under which a wrong password could never fail. It holds for the rest of the test binary.
func RequirePasswords(t testing.TB) {
	t.Helper()
	s, err := start()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	s.hbaOnce.Do(func() { s.hbaErr = s.requirePasswords() })
	if s.hbaErr != nil {
		t.Fatalf("pgtest: require passwords: %v", s.hbaErr)
	}
}

func (s *server) requirePasswords() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var file string
	if err := s.admin.QueryRowContext(ctx, "SHOW hba_file").Scan(&file); err != nil {
		return err
	}
	for _, q := range []string{
		`COPY (VALUES ('local all all trust'), ('host all postgres 127.0.0.1/32 trust'),
			('host all all 127.0.0.1/32 scram-sha-256')) TO '` + strings.ReplaceAll(file, "'", "''") + `'`,
		"SELECT pg_reload_conf()",
		"CREATE ROLE pgtest_probe LOGIN PASSWORD 'probe-password'",
	} {
		if _, err := s.admin.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	defer s.admin.ExecContext(context.Background(), "DROP ROLE pgtest_probe")
	// The server reloads in the background: wait until it refuses a wrong password.
	wrong := fmt.Sprintf("postgres://pgtest_probe:wrong-password@127.0.0.1:%d/postgres?sslmode=disable", s.port)
	for ctx.Err() == nil {
		db, err := sql.Open("pgx", wrong)
		if err != nil {
			return err
		}
		err = db.PingContext(ctx)
		db.Close()
		var pe *pgconn.PgError
		switch {
		case err == nil:
			continue
		case errors.As(err, &pe) && pe.Code == "28P01": // invalid_password
			return nil
		default:
			return err
		}
	}
	return ctx.Err()
}
