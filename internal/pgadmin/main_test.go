package pgadmin_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/berth-dev/berth/internal/pgadmin"
	"github.com/berth-dev/berth/internal/store/pgtest"
)

// TestMain stops the throwaway PostgreSQL server that the tests start.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var sslDisable = url.Values{"sslmode": {"disable"}}

// server is a fresh database on the test server and the ways into it.
type server struct {
	host, db string
	port     int
	super    string // DSN of the database as the superuser
	admin    string // DSN of the database as a role with only CREATEDB and CREATEROLE
	team     string // a team name of this test's own, for pgadmin.Names
}

func newServer(t *testing.T) *server {
	t.Helper()
	super := pgtest.NewDatabase(t)
	pgtest.RequirePasswords(t)
	host, port, err := pgadmin.ParseDSN(super)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(super)
	if err != nil {
		t.Fatal(err)
	}
	db := strings.TrimPrefix(u.Path, "/")
	s := &server{host: host, db: db, port: port, super: super, team: strings.ReplaceAll(db, "_", "")}
	s.admin = s.role(t, db+"_admin", "CREATEDB CREATEROLE")
	return s
}

// role creates a login role with attrs, dropped when t ends, and returns its DSN.
func (s *server) role(t *testing.T, name, attrs string) string {
	t.Helper()
	password := "pw-" + name
	s.exec(t, fmt.Sprintf("CREATE ROLE %s LOGIN %s PASSWORD '%s'", name, attrs, password))
	t.Cleanup(func() { s.exec(t, "DROP ROLE IF EXISTS "+name) })
	return pgadmin.URL(s.host, s.port, s.db, name, password, sslDisable)
}

// database names app's database and role, with a fresh password, and drops them when t ends.
func (s *server) database(t *testing.T, app string) pgadmin.Database {
	t.Helper()
	name, role := pgadmin.Names(s.team, app, "dev", "db")
	d := pgadmin.Database{Name: name, Role: role, Password: newPassword(t)}
	t.Cleanup(func() {
		if err := pgadmin.New(nil).Drop(context.Background(), s.super, d); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	return d
}

// connect connects to database db as d's role with d's password.
func (s *server) connect(t *testing.T, db string, d pgadmin.Database) (*pgx.Conn, error) {
	t.Helper()
	c, err := pgx.Connect(t.Context(), pgadmin.URL(s.host, s.port, db, d.Role, d.Password, sslDisable))
	if err == nil {
		t.Cleanup(func() { c.Close(context.Background()) })
	}
	return c, err
}

func (s *server) exec(t *testing.T, sql string) {
	t.Helper()
	ctx := context.Background() // also in cleanups, when t.Context is done
	c, err := pgx.Connect(ctx, s.super)
	if err != nil {
		t.Errorf("%s: %v", sql, err)
		return
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, sql); err != nil {
		t.Errorf("%s: %v", sql, err)
	}
}

func newPassword(t *testing.T) string {
	t.Helper()
	p, err := pgadmin.NewPassword()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// pgCode returns the SQLSTATE of err, or "".
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}
