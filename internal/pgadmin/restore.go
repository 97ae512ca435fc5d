package pgadmin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// renameWait bounds how long Swap retries its renames while connections that slipped in
// keep the databases in use.
const renameWait = 15 * time.Second

// RestoreScratch creates database scratch, owned by role owner ("" for the admin) and
// closed to PUBLIC, restores r, a dump of Dump, into it as owner, and returns the sums of
// every table restored (as Checksums takes them): every object then belongs to owner, and
// the owner of a database that Swap replaces with scratch can use all of it. Ownership and
// privileges of the dump are left out.
//
// Each table is summed as soon as pg_restore has loaded its data, on a connection of its
// own, while pg_restore goes on with the rest (the next tables, indexes, constraints), so
// that checking a restore costs little more than the restore. For that each table's data
// commits as it is loaded (no --single-transaction): scratch is only ever swapped in whole,
// once checked, and a failed restore drops it.
//
// Scratch must not exist: a leftover of an earlier restore is the caller's to drop
// (DropDatabase), so that a mistaken name never costs a database.
func (a *Admin) RestoreScratch(ctx context.Context, tools Tools, dsn, scratch, owner string, r io.Reader) ([]TableSum, error) {
	what := "restore into database " + scratch
	err := checkName("database", scratch)
	if err == nil && owner != "" {
		err = checkName("role", owner)
	}
	if err == nil && tools.Restore == "" {
		err = errors.New("no pg_restore given (see FindTools)")
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	env, secrets, err := a.toolEnv(dsn, scratch)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	var where string
	err = a.session(ctx, dsn, what, nil, func(c *pgx.Conn) error {
		where = address(c.Config().Config)
		if err := lock(ctx, c, scratch); err != nil {
			return err
		}
		db := pgx.Identifier{scratch}.Sanitize()
		create := "CREATE DATABASE " + db
		if owner != "" {
			create += " OWNER " + pgx.Identifier{owner}.Sanitize()
		}
		// template0, as pg_dump's documentation asks: what a site added to template1
		// would clash with the dump's own objects.
		if _, err := c.Exec(ctx, create+" TEMPLATE template0"); err != nil {
			if alreadyThere(err) {
				return fmt.Errorf("database %s exists: drop the leftover of an earlier restore first", scratch)
			}
			return fmt.Errorf("create: %w", err)
		}
		return run(ctx, c, "revoke", "REVOKE CONNECT ON DATABASE "+db+" FROM PUBLIC", false)
	})
	if err != nil {
		return nil, err
	}
	args := []string{
		"--no-owner", "--no-privileges", "--exit-on-error", "--verbose", "--no-password",
		// A connection string rather than a name, which pg_restore would read as one if it
		// held a '=' or started with postgres://; the rest comes from env.
		"--dbname=dbname=" + conninfoQuote(scratch),
	}
	if owner != "" {
		args = append(args, "--role="+owner)
	}
	summer := a.startSums(ctx, dsn, scratch)
	err = runTool(ctx, tools.Restore, args, env, r, nil, secrets, summer.line)
	loaded, sumErr := summer.finish(err == nil)
	if err == nil && sumErr != nil {
		err = sumErr
	}
	var sums []TableSum
	if err == nil {
		sums, err = a.sumRest(ctx, dsn, scratch, loaded)
	}
	if err != nil {
		err = fmt.Errorf("%s on %s: %w", what, where, err)
		// A failed restore leaves scratch half made: drop it even when ctx is done.
		dropCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		return nil, errors.Join(err, a.DropDatabase(dropCtx, dsn, scratch))
	}
	a.logger().Info("restored postgres database", "database", scratch, "owner", owner, "server", where, "tables", len(sums))
	return sums, nil
}

// dataLine is how pg_restore --verbose says it starts loading a table's data; its next
// line says it is done.
const dataLine = `pg_restore: processing data for table "`

// summer sums the tables pg_restore has loaded, in the order it loads them, on one
// connection, while pg_restore goes on.
type summer struct {
	mu      sync.Mutex
	queue   []string // "schema.table", as pg_restore names them
	loading string   // the table whose data pg_restore is loading
	closed  bool
	wake    chan struct{}
	done    chan struct{}
	sums    map[string]TableSum // by schema.table
	err     error
	cancel  context.CancelFunc
}

func (a *Admin) startSums(ctx context.Context, dsn, database string) *summer {
	ctx, cancel := context.WithCancel(ctx)
	s := &summer{wake: make(chan struct{}, 1), done: make(chan struct{}), sums: map[string]TableSum{}, cancel: cancel}
	go func() {
		defer close(s.done)
		s.err = a.sessionIn(ctx, dsn, database, "checksum database "+database, nil, func(c *pgx.Conn) error {
			var version int
			if err := c.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
				return fmt.Errorf("server version: %w", err)
			}
			for {
				name, ok := s.next(ctx)
				if !ok {
					return ctx.Err()
				}
				err := pgx.BeginTxFunc(ctx, c, snapshotTx, func(tx pgx.Tx) error {
					if _, err := tx.Exec(ctx, sumSettings); err != nil {
						return fmt.Errorf("settings: %w", err)
					}
					// The table pg_restore named, among the user tables; none (a name
					// the query cannot match) is summed after the restore instead.
					rows, _ := tx.Query(ctx, "SELECT * FROM ("+userTablesQuery+") t (schema, name) WHERE schema || '.' || name = $1", name)
					found, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (TableSum, error) {
						var t TableSum
						return t, row.Scan(&t.Schema, &t.Table)
					})
					if err != nil || len(found) != 1 {
						return err
					}
					t := found[0]
					if err := tableSum(ctx, tx, &t, version >= 140000); err != nil {
						return fmt.Errorf("checksum table %s: %w", t, err)
					}
					s.mu.Lock()
					s.sums[t.String()] = t
					s.mu.Unlock()
					return nil
				})
				if err != nil {
					return err
				}
			}
		})
	}()
	return s
}

// line reads one line of pg_restore's progress.
func (s *summer) line(l string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !strings.HasPrefix(l, "pg_restore: ") || strings.HasPrefix(l, "pg_restore: error") || strings.HasPrefix(l, "pg_restore: warning") {
		return
	}
	if s.loading != "" {
		s.queue = append(s.queue, s.loading)
		s.loading = ""
		s.signal()
	}
	if name, ok := strings.CutPrefix(l, dataLine); ok && strings.HasSuffix(name, `"`) {
		s.loading = strings.TrimSuffix(name, `"`)
	}
}

func (s *summer) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// next waits for a loaded table; false when there is none left.
func (s *summer) next(ctx context.Context) (string, bool) {
	for {
		s.mu.Lock()
		if len(s.queue) > 0 {
			name := s.queue[0]
			s.queue = s.queue[1:]
			s.mu.Unlock()
			return name, true
		}
		closed := s.closed
		s.mu.Unlock()
		if closed {
			return "", false
		}
		select {
		case <-ctx.Done():
			return "", false
		case <-s.wake:
		}
	}
}

// finish waits for the sums of what was loaded (restored: pg_restore succeeded, so the
// table it was loading last is loaded too) or stops them.
func (s *summer) finish(restored bool) (map[string]TableSum, error) {
	s.mu.Lock()
	if restored && s.loading != "" {
		s.queue = append(s.queue, s.loading)
	}
	s.closed = true
	s.mu.Unlock()
	s.signal()
	if !restored {
		s.cancel()
	}
	<-s.done
	s.cancel()
	return s.sums, s.err
}

// sumRest returns the sums of every user table of database: those in done, and the rest
// (tables whose data pg_restore did not name, such as empty ones) summed now.
func (a *Admin) sumRest(ctx context.Context, dsn, database string, done map[string]TableSum) ([]TableSum, error) {
	var sums []TableSum
	err := a.sessionIn(ctx, dsn, database, "checksum database "+database, nil, func(c *pgx.Conn) error {
		return pgx.BeginTxFunc(ctx, c, snapshotTx, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, sumSettings); err != nil {
				return fmt.Errorf("settings: %w", err)
			}
			var version int
			if err := tx.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
				return fmt.Errorf("server version: %w", err)
			}
			tables, err := userTables(ctx, tx)
			if err != nil {
				return err
			}
			for _, t := range tables {
				if d, ok := done[t.String()]; ok {
					sums = append(sums, d)
					continue
				}
				if err := tableSum(ctx, tx, &t, version >= 140000); err != nil {
					return fmt.Errorf("checksum table %s: %w", t, err)
				}
				sums = append(sums, t)
			}
			return nil
		})
	})
	return sums, err
}

// conninfoQuote quotes s as a value of a libpq connection string.
func conninfoQuote(s string) string {
	var b []byte
	b = append(b, '\'')
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' || s[i] == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return string(append(b, '\''))
}

// Swap makes database scratch the new target, with target's owner, CONNECT granted only
// to it as Ensure leaves it. It keeps new connections out of target, ends those it has,
// and renames target to previous and scratch to target in one transaction, so that the app
// never sees a missing or half-restored database. Previous, the old target, is left for
// the caller to drop (DropDatabase): the swap is complete without that, and dropping a big
// database, which makes PostgreSQL checkpoint, need not hold up whoever waits for the swap.
//
// A Swap that fails, unlike one that crashes, leaves target open to connections, as it
// was. Called again with the same names after a failure or a crash at any point, Swap
// finishes the job: with target and scratch there it swaps them; with target and
// previous there the renames happened, and it settles target again. With neither
// scratch nor previous there, the restored database was lost (previous is dropped only
// once the restore is over): Swap fails rather than report a swap it cannot vouch for.
func (a *Admin) Swap(ctx context.Context, dsn, target, scratch, previous string) error {
	what := "swap database " + scratch + " in as " + target
	if err := checkNames(target, scratch, previous); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return a.session(ctx, dsn, what, nil, func(c *pgx.Conn) error {
		if err := lock(ctx, c, target); err != nil {
			return err
		}
		dbs, err := databases(ctx, c, target, scratch, previous)
		if err != nil {
			return err
		}
		tgt, scr, prev := dbs[target], dbs[scratch], dbs[previous]
		switch {
		case !tgt.exists:
			return fmt.Errorf("database %s does not exist", target)
		case scr.exists && prev.exists:
			return fmt.Errorf("databases %s and %s both exist: a swap cannot tell which is which", scratch, previous)
		case scr.exists:
			err = a.rename(ctx, dsn, c, target, scratch, previous, tgt.owner)
		case prev.exists:
			// The renames happened: previous is the database that was target. Settling
			// again is harmless.
			err = pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error { return settle(ctx, tx, target, prev.owner) })
		default:
			return fmt.Errorf("nothing to swap: neither %s nor %s exists: the restored database was lost; restore again", scratch, previous)
		}
		if err != nil {
			return err
		}
		a.logger().Info("swapped postgres database", "database", target, "from", scratch, "server", address(c.Config().Config))
		return nil
	})
}

// rename keeps connections out of target, ends those of target and scratch, and renames
// target to previous and scratch to target, retrying while a connection that slipped in
// keeps one in use. When it fails, target is open to connections again.
func (a *Admin) rename(ctx context.Context, dsn string, c *pgx.Conn, target, scratch, previous, owner string) (err error) {
	tgt := pgx.Identifier{target}.Sanitize()
	// Committed on its own: a failure from here on opens target again; a crash leaves it
	// closed, which Swap, called again, or Abandon opens again.
	if err := run(ctx, c, "close "+target, "ALTER DATABASE "+tgt+" WITH ALLOW_CONNECTIONS false", false); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, a.reopen(ctx, dsn, c, target))
		}
	}()
	deadline := time.Now().Add(renameWait)
	for {
		// Only a connection that was starting when target closed can still come in.
		_, err := c.Exec(ctx, `SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity
			WHERE datname IN ($1, $2) AND pid <> pg_catalog.pg_backend_pid()`, target, scratch)
		if err != nil {
			return fmt.Errorf("end the connections to %s and %s: %w", target, scratch, err)
		}
		err = pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			for _, r := range [][2]string{{target, previous}, {scratch, target}} {
				sql := "ALTER DATABASE " + pgx.Identifier{r[0]}.Sanitize() + " RENAME TO " + pgx.Identifier{r[1]}.Sanitize()
				if _, err := tx.Exec(ctx, sql); err != nil {
					return fmt.Errorf("rename %s to %s: %w", r[0], r[1], err)
				}
			}
			return settle(ctx, tx, target, owner)
		})
		if err == nil || pgCode(err) != "55006" || time.Now().After(deadline) { // object_in_use
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// reopenWait bounds how long a failed rename tries to open target again.
const reopenWait = 10 * time.Second

// reopen opens target to connections again after a failed rename, though ctx may have
// ended: on c or, when ending ctx closed c mid-statement, on a connection of its own.
func (a *Admin) reopen(ctx context.Context, dsn string, c *pgx.Conn, target string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reopenWait)
	defer cancel()
	what, sql := "open "+target+" again", "ALTER DATABASE "+pgx.Identifier{target}.Sanitize()+" WITH ALLOW_CONNECTIONS true"
	if !c.IsClosed() {
		return run(ctx, c, what, sql, false)
	}
	// Closing c cancelled its statement, whose transaction may hold target (renamed, not
	// yet committed): the ALTER DATABASE waits for it to end. No lock: c's backend holds
	// it until it finds c gone, and a Swap that took it meanwhile would only retry its
	// renames for the connections let in.
	return a.session(ctx, dsn, what, nil, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, sql)
		return err
	})
}

// settle gives database to owner as Ensure leaves it (every privilege, CONNECT revoked
// from PUBLIC) and opens it to connections.
func settle(ctx context.Context, tx pgx.Tx, database, owner string) error {
	db, role := pgx.Identifier{database}.Sanitize(), pgx.Identifier{owner}.Sanitize()
	for _, s := range []struct{ what, sql string }{
		{"set owner", "ALTER DATABASE " + db + " OWNER TO " + role},
		{"grant", "GRANT ALL ON DATABASE " + db + " TO " + role},
		{"revoke", "REVOKE CONNECT ON DATABASE " + db + " FROM PUBLIC"},
		{"open " + database, "ALTER DATABASE " + db + " WITH ALLOW_CONNECTIONS true"},
	} {
		if _, err := tx.Exec(ctx, s.sql); err != nil {
			return fmt.Errorf("%s: %w", s.what, err)
		}
	}
	return nil
}

// Abandon undoes a restore that will not be swapped in: it drops scratch and opens
// target to connections again, which a Swap that failed or crashed may have left closed.
// Once Swap has renamed, call Swap again instead: Abandon knows nothing of previous.
func (a *Admin) Abandon(ctx context.Context, dsn, target, scratch string) error {
	what := "abandon database " + scratch
	if err := checkNames(target, scratch); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return a.session(ctx, dsn, what, nil, func(c *pgx.Conn) error {
		if err := lock(ctx, c, target); err != nil {
			return err
		}
		if err := run(ctx, c, "drop", "DROP DATABASE IF EXISTS "+pgx.Identifier{scratch}.Sanitize()+" WITH (FORCE)", false); err != nil {
			return err
		}
		dbs, err := databases(ctx, c, target)
		if err != nil {
			return err
		}
		if tgt := dbs[target]; tgt.exists && !tgt.allowConn {
			return run(ctx, c, "open "+target, "ALTER DATABASE "+pgx.Identifier{target}.Sanitize()+" WITH ALLOW_CONNECTIONS true", false)
		}
		return nil
	})
}

// DropDatabase ends the connections of database name and drops it; a missing one is no
// error. It is for the throwaway databases of restores and drills: Drop drops an app's.
func (a *Admin) DropDatabase(ctx context.Context, dsn, name string) error {
	what := "drop database " + name
	if err := checkName("database", name); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return a.session(ctx, dsn, what, nil, func(c *pgx.Conn) error {
		if err := run(ctx, c, "drop", "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)", false); err != nil {
			return err
		}
		a.logger().Info("dropped postgres database", "database", name, "server", address(c.Config().Config))
		return nil
	})
}

// dbState is what Swap and Abandon need to know of a database.
type dbState struct {
	exists, allowConn bool
	owner             string
}

// databases looks names up in pg_database; those missing have the zero dbState.
func databases(ctx context.Context, c *pgx.Conn, names ...string) (map[string]dbState, error) {
	rows, _ := c.Query(ctx, `SELECT datname, pg_catalog.pg_get_userbyid(datdba), datallowconn
		FROM pg_catalog.pg_database WHERE datname = ANY($1)`, names)
	states := map[string]dbState{}
	var (
		name string
		s    dbState
	)
	_, err := pgx.ForEachRow(rows, []any{&name, &s.owner, &s.allowConn}, func() error {
		s.exists = true
		states[name] = s
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("look up databases: %w", err)
	}
	return states, nil
}

// checkNames checks database names that must differ from each other.
func checkNames(names ...string) error {
	for i, n := range names {
		if err := checkName("database", n); err != nil {
			return err
		}
		for _, m := range names[:i] {
			if n == m {
				return fmt.Errorf("database name %q given twice", n)
			}
		}
	}
	return nil
}

// pgCode returns the SQLSTATE of err, or "".
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}
