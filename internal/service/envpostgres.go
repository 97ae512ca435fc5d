package service

import (
	"context"
	"errors"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// PostgresAdmin talks to the PostgreSQL servers platform admins register for environments;
// cmd/berth wires internal/pgadmin. Its errors never hold a password.
type PostgresAdmin interface {
	// Check connects with dsn and verifies that its role may create databases and roles.
	Check(ctx context.Context, dsn string) (PostgresServer, error)
	// Drop ends the connections to database and drops it, then role; missing ones are no
	// error.
	Drop(ctx context.Context, dsn, database, role string) error
}

// PostgresServer is what Check learned of the server a DSN reaches.
type PostgresServer struct {
	Version string
	Host    string
	Port    int
}

// SetPostgresAdmin connects what SetEnvironmentPostgres checks servers with and
// DeleteResource drops databases with.
func (s *Service) SetPostgresAdmin(a PostgresAdmin) { s.pg = a }

// SetEnvironmentPostgres registers the PostgreSQL server on which the environment's
// postgres resources get their databases (global admins): dsn, a URL or keyword/value
// string whose role may create databases and roles, checked by connecting first. An empty
// dsn unregisters the server. The store keeps dsn sealed, and the DSN without its password
// for people; the audit event names the host, port and that DSN, never the password.
func (s *Service) SetEnvironmentPostgres(ctx context.Context, p *authz.Principal, env, dsn string) (berth.Environment, error) {
	c := change{action: "env.set-postgres", target: "env/" + env, details: map[string]any{}}
	if err := authz.Check(p, authz.EnvManage, authz.Resource{}); err != nil {
		return berth.Environment{}, s.mutate(ctx, p, &c, func() error { return err }, nil)
	}
	var out berth.Environment
	if dsn == "" {
		c.details["cleared"] = true
		err := s.mutate(ctx, p, &c, func() error { return nil }, func(tx *store.Tx) (err error) {
			if err := tx.SetEnvironmentPostgres(ctx, env, "", ""); err != nil {
				return err
			}
			out, err = tx.Environment(ctx, env)
			return err
		})
		return out, err
	}
	display, secrets, err := redactDSN(dsn)
	if err != nil {
		return berth.Environment{}, invalid("dsn", "%v", err)
	}
	if _, err := s.st.Environment(ctx, env); err != nil {
		return berth.Environment{}, storeErr(err)
	}
	if s.pg == nil {
		return berth.Environment{}, &unavailable{errors.New("this Berth server was started without a PostgreSQL admin: it cannot check or use PostgreSQL servers")}
	}
	// Before anything is stored: a server Berth cannot use would fail every deploy of a
	// postgres resource instead.
	info, err := s.pg.Check(ctx, dsn)
	if err != nil {
		if ctx.Err() != nil {
			return berth.Environment{}, ctx.Err()
		}
		return berth.Environment{}, invalid("dsn", "%s", scrub(err.Error(), secrets))
	}
	c.details["host"], c.details["port"], c.details["dsn"] = info.Host, info.Port, display
	err = s.mutate(ctx, p, &c, func() error { return nil }, func(tx *store.Tx) (err error) {
		if err := tx.SetEnvironmentPostgres(ctx, env, dsn, display); err != nil {
			return err
		}
		out, err = tx.Environment(ctx, env)
		return err
	})
	return out, err
}
