package pgadmin

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/berth-dev/berth/internal/berth"
)

// TableSum is one table's row count and checksum (berth.TableSum): the checksum is the
// sum, in decimal, of a 64-bit hash of each row's text, equal whatever the rows' order and
// different when a row differs.
type TableSum = berth.TableSum

// sumSettings pin whatever a row's text depends on, so that the sums of a database and
// of its restore, on another connection or server, agree: the output formats of dates,
// times, floats, bytea and money, and the search_path that qualifies regclass values.
// Row security off makes a table that the admin could read only in part an error, as it
// is for pg_dump. No timeouts: a big table takes long, and Dump idles in its snapshot's
// transaction while pg_dump runs.
const sumSettings = `SET LOCAL TimeZone = 'UTC';
SET LOCAL DateStyle = 'ISO, YMD';
SET LOCAL IntervalStyle = 'postgres';
SET LOCAL extra_float_digits = 1;
SET LOCAL bytea_output = 'hex';
SET LOCAL lc_monetary = 'C';
SET LOCAL search_path = pg_catalog;
SET LOCAL row_security = off;
SET LOCAL statement_timeout = 0;
SET LOCAL lock_timeout = 0;
SET LOCAL idle_in_transaction_session_timeout = 0`

// userTablesQuery lists the tables whose rows pg_dump dumps: ordinary tables (partitions
// included: a partitioned table holds no rows itself), neither temporary nor an
// extension's, outside the system's schemas.
const userTablesQuery = `SELECT n.nspname, c.relname
	FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
	WHERE c.relkind = 'r' AND c.relpersistence <> 't'
		AND n.nspname <> ALL (ARRAY['pg_catalog', 'information_schema'])
		AND n.nspname NOT LIKE 'pg\_toast%'
		AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d
			WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.objid = c.oid AND d.deptype = 'e')`

// Checksums returns the row count and checksum of every user table of database (all
// schemas but pg_catalog, information_schema and pg_toast*), taken in one snapshot and
// sorted by schema and table.
func (a *Admin) Checksums(ctx context.Context, dsn, database string) ([]TableSum, error) {
	what := "checksum database " + database
	if err := checkName("database", database); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	var sums []TableSum
	err := a.sessionIn(ctx, dsn, database, what, nil, func(c *pgx.Conn) error {
		return pgx.BeginTxFunc(ctx, c, snapshotTx, func(tx pgx.Tx) error {
			var err error
			sums, err = tableSums(ctx, tx)
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	return sums, nil
}

// snapshotTx sees one snapshot of the database for all its statements.
var snapshotTx = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}

// tableSums computes the sums of the user tables in tx, which must be a snapshotTx.
func tableSums(ctx context.Context, tx pgx.Tx) ([]TableSum, error) {
	if _, err := tx.Exec(ctx, sumSettings); err != nil {
		return nil, fmt.Errorf("settings: %w", err)
	}
	sums, err := userTables(ctx, tx)
	if err != nil {
		return nil, err
	}
	var version int
	if err := tx.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		return nil, fmt.Errorf("server version: %w", err)
	}
	for i := range sums {
		s := &sums[i]
		if err := tableSum(ctx, tx, s, version >= 140000); err != nil {
			return nil, fmt.Errorf("checksum table %s: %w", s, err)
		}
	}
	return sums, nil
}

// tableSum counts s's rows and sums a 64-bit hash of each. The hash is of the row as a
// record (hash_record_extended, PostgreSQL 14 and newer: each column's own hash function,
// about three times faster than printing the row) where every column's type has a hash
// function, else of the row's text; the checksum says which ("record:" or "text:"), so
// that sums taken either way are never taken for each other. Either way the sum does not
// depend on the rows' order, and a changed, missing or extra row changes it. r.* is the
// whole row even when a column is named r; sum() of bigint is numeric: it never overflows.
func tableSum(ctx context.Context, tx pgx.Tx, s *TableSum, records bool) error {
	from := " FROM ONLY " + pgx.Identifier{s.Schema, s.Table}.Sanitize() + " AS r"
	if records {
		// A column type without a hash function (json, point...) fails the query: the
		// savepoint keeps the transaction, and its snapshot, usable for the text form.
		if _, err := tx.Exec(ctx, "SAVEPOINT berth_sum"); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, "SELECT count(*), 'record:' || coalesce(sum(hash_record_extended(r.*, 0)), 0)::text"+from).Scan(&s.Rows, &s.Checksum)
		if err == nil {
			_, err = tx.Exec(ctx, "RELEASE SAVEPOINT berth_sum")
			return err
		}
		if pgCode(err) != "42883" { // undefined_function: "could not identify a hash function for type"
			return err
		}
		if _, err := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT berth_sum"); err != nil {
			return err
		}
	}
	return tx.QueryRow(ctx, "SELECT count(*), 'text:' || coalesce(sum(hashtextextended((r.*)::text, 0)), 0)::text"+from).Scan(&s.Rows, &s.Checksum)
}

// userTables returns the tables of userTablesQuery, sorted, without sums.
func userTables(ctx context.Context, tx pgx.Tx) ([]TableSum, error) {
	rows, _ := tx.Query(ctx, userTablesQuery)
	tables, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (TableSum, error) {
		var s TableSum
		err := row.Scan(&s.Schema, &s.Table)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	slices.SortFunc(tables, berth.CompareTables)
	return tables, nil
}

// HasData reports whether any user table of database (as Checksums counts them) holds a
// row.
func (a *Admin) HasData(ctx context.Context, dsn, database string) (bool, error) {
	what := "look for data in database " + database
	if err := checkName("database", database); err != nil {
		return false, fmt.Errorf("%s: %w", what, err)
	}
	var found bool
	err := a.sessionIn(ctx, dsn, database, what, nil, func(c *pgx.Conn) error {
		return pgx.BeginTxFunc(ctx, c, snapshotTx, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, sumSettings); err != nil {
				return fmt.Errorf("settings: %w", err)
			}
			tables, err := userTables(ctx, tx)
			if err != nil {
				return err
			}
			for _, t := range tables {
				err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT FROM ONLY "+pgx.Identifier{t.Schema, t.Table}.Sanitize()+")").Scan(&found)
				if err != nil {
					return fmt.Errorf("read table %s: %w", t, err)
				}
				if found {
					return nil
				}
			}
			return nil
		})
	})
	return found, err
}
