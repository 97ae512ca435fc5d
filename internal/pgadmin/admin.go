// Package pgadmin owns Berth's conversation with the PostgreSQL servers that platform
// admins register for environments: it checks that an admin connection may create
// databases and roles, and makes, rotates, looks up and drops the one database and login
// role that each app's postgres resource gets. It also names them ([Names]) and makes
// their passwords ([NewPassword]); deciding what to provision, and where, is the
// caller's. It backs such a database up ([Admin.Dump], with pg_dump), restores it beside
// the original ([Admin.RestoreScratch], with pg_restore), verifies the restore against
// sums taken with the dump (berth.CompareSums) and swaps it in ([Admin.Swap]); storing dumps
// and deciding when is the caller's.
//
// Every call opens its own connection with pgx and closes it before returning: these are
// rare admin operations, not worth a pool. Errors say what failed on which server and
// never hold a password, neither the admin DSN's nor a role's.
package pgadmin

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DefaultConnectTimeout bounds each connection whose DSN sets no connect_timeout.
const DefaultConnectTimeout = 10 * time.Second

// minServerVersion is PostgreSQL 13, the first with DROP DATABASE ... WITH (FORCE).
const minServerVersion = 130000

// Admin manages databases and roles on registered PostgreSQL servers.
type Admin struct {
	// ConnectTimeout bounds each connection unless the DSN sets connect_timeout;
	// zero means DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// Logger hears what Ensure and Drop change.
	Logger *slog.Logger
}

// New returns an Admin that logs to logger (nil discards) and uses DefaultConnectTimeout.
func New(logger *slog.Logger) *Admin {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Admin{ConnectTimeout: DefaultConnectTimeout, Logger: logger}
}

// ServerInfo describes the server an admin DSN reaches.
type ServerInfo struct {
	Version string // server_version, e.g. "16.4 (Debian 16.4-1.pgdg120+1)"
	Host    string
	Port    int
}

// Database is one app's database and the login role that owns it.
type Database struct {
	Name     string
	Role     string
	Password string // only Ensure reads it
}

// EnsureResult says what Ensure did.
type EnsureResult struct {
	Created bool // the database did not exist before
}

// Check connects with dsn and verifies that its role may create databases and roles.
func (a *Admin) Check(ctx context.Context, dsn string) (ServerInfo, error) {
	var info ServerInfo
	err := a.session(ctx, dsn, "check postgres", nil, func(c *pgx.Conn) error {
		var (
			name                        string
			super, createDB, createRole bool
			version                     int
		)
		err := c.QueryRow(ctx, `SELECT rolname, rolsuper, rolcreatedb, rolcreaterole,
				current_setting('server_version_num')::int
			FROM pg_roles WHERE rolname = current_user`).Scan(&name, &super, &createDB, &createRole, &version)
		if err != nil {
			return fmt.Errorf("read the admin role: %w", err)
		}
		info = ServerInfo{
			Version: c.PgConn().ParameterStatus("server_version"),
			Host:    c.Config().Host,
			Port:    int(c.Config().Port),
		}
		if version < minServerVersion {
			return fmt.Errorf("PostgreSQL %s is too old: Berth needs 13 or newer", info.Version)
		}
		if super {
			return nil
		}
		var missing, grant []string
		if !createDB {
			missing, grant = append(missing, "databases"), append(grant, "CREATEDB")
		}
		if !createRole {
			missing, grant = append(missing, "roles"), append(grant, "CREATEROLE")
		}
		if len(missing) > 0 {
			return fmt.Errorf("role %s may not create %s (ALTER ROLE %s %s)", name,
				strings.Join(missing, " or "), pgx.Identifier{name}.Sanitize(), strings.Join(grant, " "))
		}
		return nil
	})
	if err != nil {
		return ServerInfo{}, err
	}
	return info, nil
}

// Ensure makes database d.Name, owned by the login role d.Role with password d.Password,
// creating what is missing and setting the password every time, so that it also rotates;
// only the role may connect to the database.
func (a *Admin) Ensure(ctx context.Context, dsn string, d Database) (EnsureResult, error) {
	what := "ensure database " + d.Name
	if err := d.validate(); err != nil {
		return EnsureResult{}, fmt.Errorf("%s: %w", what, err)
	}
	if err := checkPassword(d.Password); err != nil {
		return EnsureResult{}, fmt.Errorf("%s: %w", what, err)
	}
	verifier, err := scramVerifier(d.Password)
	if err != nil {
		return EnsureResult{}, fmt.Errorf("%s: %w", what, err)
	}
	var res EnsureResult
	err = a.session(ctx, dsn, what, []string{d.Password, verifier}, func(c *pgx.Conn) error {
		if err := lock(ctx, c, d.Name); err != nil {
			return err
		}
		var super, hasRole, powerful, hasDB bool
		err := c.QueryRow(ctx, `SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
				EXISTS (SELECT FROM pg_roles WHERE rolname = $1),
				EXISTS (SELECT FROM pg_roles WHERE rolname = $1
					AND (rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls)),
				EXISTS (SELECT FROM pg_database WHERE datname = $2)`,
			d.Role, d.Name).Scan(&super, &hasRole, &powerful, &hasDB)
		if err != nil {
			return fmt.Errorf("look up: %w", err)
		}
		if powerful {
			// Setting its password would hand an app the keys to the server.
			return fmt.Errorf("role %s exists and may do more than log in: refusing to set its password", d.Role)
		}
		role, db := pgx.Identifier{d.Role}.Sanitize(), pgx.Identifier{d.Name}.Sanitize()
		log := a.logger().With("database", d.Name, "role", d.Role, "server", address(c.Config().Config))

		if !hasRole {
			if err := run(ctx, c, "create role "+d.Role, "CREATE ROLE "+role, true); err != nil {
				return err
			}
			log.Info("created postgres role")
		}
		if err := run(ctx, c, "set password of role "+d.Role,
			"ALTER ROLE "+role+" WITH LOGIN PASSWORD "+literal(verifier), false); err != nil {
			return err
		}
		if !super {
			// CREATE DATABASE ... OWNER and, later, DROP DATABASE need the admin to be a
			// member of the owner (and to SET ROLE to it, since PostgreSQL 16).
			if err := run(ctx, c, "grant role "+d.Role+" to the admin", "GRANT "+role+" TO CURRENT_USER", false); err != nil {
				return err
			}
		}
		if hasDB {
			if err := run(ctx, c, "set owner", "ALTER DATABASE "+db+" OWNER TO "+role, false); err != nil {
				return err
			}
		} else {
			// CREATE DATABASE cannot run in a transaction, so the statements run one by one;
			// a concurrent Ensure through another admin database may win the race.
			_, err := c.Exec(ctx, "CREATE DATABASE "+db+" OWNER "+role)
			switch {
			case err == nil:
				res.Created = true
				log.Info("created postgres database")
			case !alreadyThere(err):
				return fmt.Errorf("create: %w", err)
			}
		}
		if err := run(ctx, c, "grant", "GRANT ALL ON DATABASE "+db+" TO "+role, false); err != nil {
			return err
		}
		return run(ctx, c, "revoke", "REVOKE CONNECT ON DATABASE "+db+" FROM PUBLIC", false)
	})
	if err != nil {
		return EnsureResult{}, err
	}
	return res, nil
}

// Exists reports whether both database d.Name and role d.Role exist.
func (a *Admin) Exists(ctx context.Context, dsn string, d Database) (bool, error) {
	what := "look up database " + d.Name
	if err := d.validate(); err != nil {
		return false, fmt.Errorf("%s: %w", what, err)
	}
	var ok bool
	err := a.session(ctx, dsn, what, []string{d.Password}, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)
			AND EXISTS (SELECT FROM pg_roles WHERE rolname = $2)`, d.Name, d.Role).Scan(&ok)
	})
	return ok, err
}

// Drop ends the database's connections and drops it, then its role; missing ones are no
// error.
func (a *Admin) Drop(ctx context.Context, dsn string, d Database) error {
	what := "drop database " + d.Name
	if err := d.validate(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return a.session(ctx, dsn, what, []string{d.Password}, func(c *pgx.Conn) error {
		if err := lock(ctx, c, d.Name); err != nil {
			return err
		}
		// FORCE terminates the connections in the same statement: terminating first would
		// leave the app time to reconnect before the drop.
		if err := run(ctx, c, "drop", "DROP DATABASE IF EXISTS "+pgx.Identifier{d.Name}.Sanitize()+" WITH (FORCE)", false); err != nil {
			return err
		}
		if err := run(ctx, c, "drop role "+d.Role, "DROP ROLE IF EXISTS "+pgx.Identifier{d.Role}.Sanitize(), false); err != nil {
			return err
		}
		a.logger().Info("dropped postgres database", "database", d.Name, "role", d.Role, "server", address(c.Config().Config))
		return nil
	})
}

// session connects with dsn, runs f and closes the connection. Its errors start with what
// and the server's address, and hold none of secrets nor the DSN's password.
func (a *Admin) session(ctx context.Context, dsn, what string, secrets []string, f func(*pgx.Conn) error) error {
	return a.sessionIn(ctx, dsn, "", what, secrets, f)
}

// sessionIn is session connected to database instead of the DSN's, unless database is "".
func (a *Admin) sessionIn(ctx context.Context, dsn, database, what string, secrets []string, f func(*pgx.Conn) error) error {
	cfg, err := parseConfig(dsn)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if database != "" {
		cfg.Database = database
	}
	secrets = append(secrets, cfg.Password)
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = a.ConnectTimeout
		if cfg.ConnectTimeout <= 0 {
			cfg.ConnectTimeout = DefaultConnectTimeout
		}
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		err = f(conn)
		// Close says goodbye to the server even when ctx is done, but not forever.
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		conn.Close(closeCtx)
		cancel()
	}
	if err != nil {
		return scrub(fmt.Errorf("%s on %s: %w", what, address(cfg.Config), err), secrets...)
	}
	return nil
}

// address is the host:port of the server a connection goes to first.
func address(cfg pgconn.Config) string {
	return net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
}

func (a *Admin) logger() *slog.Logger {
	if a.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Logger
}

// lock takes a session advisory lock on the database's name, so that concurrent Ensure
// and Drop calls through the same admin database take turns instead of racing on the
// catalogs ("tuple concurrently updated"). Closing the connection releases it.
func lock(ctx context.Context, c *pgx.Conn, name string) error {
	sum := sha256.Sum256([]byte("berth/pgadmin/" + name))
	if _, err := c.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(binary.BigEndian.Uint64(sum[:8]))); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	return nil
}

// run executes one statement; with tolerateExisting, an error saying the object already
// exists is none.
func run(ctx context.Context, c *pgx.Conn, what, sql string, tolerateExisting bool) error {
	if _, err := c.Exec(ctx, sql); err != nil && !(tolerateExisting && alreadyThere(err)) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// alreadyThere reports whether err says that a CREATE found its object existing: a
// concurrent CREATE that committed first shows as duplicate_database or duplicate_object,
// or as a unique_violation of the catalog when both passed the existence check.
func alreadyThere(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "42P04" || pe.Code == "42710" || pe.Code == "23505")
}

// validate checks the names: PostgreSQL would silently truncate a longer one, and
// Identifier.Sanitize silently drops NUL bytes.
func (d Database) validate() error {
	if err := checkName("database", d.Name); err != nil {
		return err
	}
	return checkName("role", d.Role)
}

// checkName checks one name of kind ("database", "role") as validate does.
func checkName(kind, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%s name is empty", kind)
	case len(name) > maxIdent:
		return fmt.Errorf("%s name %q is longer than PostgreSQL's %d bytes", kind, name, maxIdent)
	case strings.ContainsRune(name, 0):
		return fmt.Errorf("%s name %q holds a NUL byte", kind, name)
	}
	return nil
}
