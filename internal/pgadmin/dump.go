package pgadmin

import (
	"context"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"
)

// Dump writes database on the server of dsn to w in pg_dump's custom format (-Fc), as
// pg_dump writes it, and returns the sums of its user tables (see Checksums) taken in the
// very snapshot that pg_dump dumps, so that a restore of the dump must match them even
// when the database was written to meanwhile. It fails when pg_dump fails, whatever w
// received.
func (a *Admin) Dump(ctx context.Context, tools Tools, dsn, database string, w io.Writer) ([]TableSum, error) {
	what := "dump database " + database
	if err := checkName("database", database); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if tools.Dump == "" {
		return nil, fmt.Errorf("%s: no pg_dump given (see FindTools)", what)
	}
	env, secrets, err := a.toolEnv(dsn, database)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	var sums []TableSum
	err = a.sessionIn(ctx, dsn, database, what, nil, func(c *pgx.Conn) error {
		if err := checkToolVersion(ctx, c, tools); err != nil {
			return err
		}
		// The transaction exports its snapshot for pg_dump and must stay open until
		// pg_dump has imported it; the sums are computed meanwhile, in it.
		tx, err := c.BeginTx(ctx, snapshotTx)
		if err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		defer tx.Rollback(ctx) // after Commit a no-op; after a failure, closing the connection ends it anyway
		var snapshot string
		if err := tx.QueryRow(ctx, "SELECT pg_catalog.pg_export_snapshot()").Scan(&snapshot); err != nil {
			return fmt.Errorf("export snapshot: %w", err)
		}

		// The first to fail stops the other, and its error is the one returned.
		both, stop := context.WithCancelCause(ctx)
		defer stop(nil)
		summed := make(chan error, 1)
		go func() {
			var err error
			if sums, err = tableSums(both, tx); err != nil {
				err = fmt.Errorf("checksums: %w", err)
				stop(err)
			}
			summed <- err
		}()
		args := []string{"--format=custom", "--no-password", "--snapshot=" + snapshot}
		dumpErr := runTool(both, tools.Dump, args, env, nil, w, secrets, nil)
		if dumpErr != nil {
			stop(dumpErr)
		}
		sumErr := <-summed
		switch cause := context.Cause(both); {
		case cause != nil && ctx.Err() == nil:
			return cause
		case dumpErr != nil:
			return dumpErr
		case sumErr != nil:
			return sumErr
		}
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("end the snapshot's transaction: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, scrub(err, secrets...)
	}
	a.logger().Info("dumped postgres database", "database", database, "tables", len(sums))
	return sums, nil
}

// checkToolVersion refuses a server newer than the tools, with the remedy: pg_dump would
// refuse it too, saying less.
func checkToolVersion(ctx context.Context, c *pgx.Conn, tools Tools) error {
	var server int
	if err := c.QueryRow(ctx, "SELECT current_setting('server_version_num')::int / 10000").Scan(&server); err != nil {
		return fmt.Errorf("read the server's version: %w", err)
	}
	if tools.Version != 0 && server > tools.Version {
		return fmt.Errorf("pg_dump %d cannot dump PostgreSQL %d: install PostgreSQL %d's client programs (Debian: postgresql-client-%d)",
			tools.Version, server, server, server)
	}
	return nil
}
