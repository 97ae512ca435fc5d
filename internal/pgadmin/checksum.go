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
// about three times faster than printing the row) when records allows it, the columns'
// types hash a value as its restore hashes (recordSafeQuery) and they all have a hash
// function; else it is of the row's text. The checksum says which ("record:" or "text:"),
// so that sums taken either way are never taken for each other; Dump's and
// RestoreScratch's sums both decide here, from the same column types, so they decide
// alike. Either way the sum does not depend on the rows' order, and a changed, missing or
// extra row changes it. r.* is the whole row even when a column is named r; sum() of
// bigint is numeric: it never overflows.
func tableSum(ctx context.Context, tx pgx.Tx, s *TableSum, records bool) error {
	from := " FROM ONLY " + pgx.Identifier{s.Schema, s.Table}.Sanitize() + " AS r"
	if records {
		if err := tx.QueryRow(ctx, recordSafeQuery, s.Schema, s.Table, textOnlyTypes).Scan(&records); err != nil {
			return fmt.Errorf("read its column types: %w", err)
		}
	}
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

// textOnlyTypes are the types of pg_catalog whose values a restore does not keep as the
// same hash, though it keeps their text: the reg* types hold the OIDs of what they name,
// which pg_restore creates anew (their text is the name); aclitem holds roles' OIDs. The
// others hold OIDs, transaction and command ids or row positions, whose meaning a restore
// does not keep: their text at least compares them as written.
var textOnlyTypes = []string{
	"regproc", "regprocedure", "regoper", "regoperator", "regclass", "regcollation", "regtype",
	"regrole", "regnamespace", "regconfig", "regdictionary",
	"aclitem",
	"oid", "oidvector", "int2vector", "xid", "xid8", "cid", "tid",
}

// recordSafeQuery says whether the rows of table $1.$2 hash as records alike in any
// database they are restored to, given $3, textOnlyTypes. It follows each column's type
// through domains (to their base type), arrays (to their element type), ranges and
// multiranges (to their subtype) and composite types (to their attributes' types), whose
// hash functions hash what they hold, down to the types that hold the values themselves,
// which must be base types of pg_catalog outside $3: an enum's hash is of its label's
// OID, which pg_restore creates anew; an extension's or a user's type hashes as it likes.
// An array is the type its element type names as its array: int2vector, oidvector, point
// and name have an element type too but are not arrays. Multiranges are PostgreSQL 14's,
// as hash_record_extended is.
const recordSafeQuery = `WITH RECURSIVE types (oid) AS (
		SELECT atttypid FROM pg_catalog.pg_attribute
		WHERE attrelid = (SELECT c.oid FROM pg_catalog.pg_class c
				JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2)
			AND attnum > 0 AND NOT attisdropped
	UNION
		SELECT held.oid FROM types JOIN pg_catalog.pg_type t ON t.oid = types.oid, LATERAL (
			SELECT t.typbasetype WHERE t.typtype = 'd'
			UNION ALL SELECT e.oid FROM pg_catalog.pg_type e WHERE e.oid = t.typelem AND e.typarray = t.oid
			UNION ALL SELECT rngsubtype FROM pg_catalog.pg_range WHERE t.oid IN (rngtypid, rngmultitypid)
			UNION ALL SELECT atttypid FROM pg_catalog.pg_attribute
				WHERE t.typtype = 'c' AND attrelid = t.typrelid AND attnum > 0 AND NOT attisdropped
		) held (oid)
	)
	SELECT NOT EXISTS (SELECT FROM types JOIN pg_catalog.pg_type t ON t.oid = types.oid
		WHERE t.typtype <> ALL (ARRAY['d', 'r', 'm', 'c']::"char"[])
			AND NOT EXISTS (SELECT FROM pg_catalog.pg_type e WHERE e.oid = t.typelem AND e.typarray = t.oid)
			AND NOT (t.typtype = 'b' AND t.typnamespace = 'pg_catalog'::pg_catalog.regnamespace
				AND t.typname::text <> ALL ($3::text[])))`

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
