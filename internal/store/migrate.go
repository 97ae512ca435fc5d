package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Migrations are files migrations/NNNN_name.sql, written once in SQL both databases accept,
// with {{id}} for an auto-assigned primary key. Where the SQL must differ, the migration
// is two files, NNNN_name.sqlite.sql and NNNN_name.postgres.sql. A migration is never
// edited once released; a change is a new migration.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// migrationLockKey is the PostgreSQL advisory lock that serializes migrations across
// processes opening one database at the same time ("berth" in ASCII, then "mig").
const migrationLockKey = 0x62657274_686d6967

// loadMigrations returns the migrations for d in version order.
func loadMigrations(d *dialect) ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	type files struct {
		name             string
		shared, specific *string
	}
	byVersion := map[int]*files{}
	for _, e := range entries {
		file := e.Name()
		base := strings.TrimSuffix(file, ".sql")
		only := ""
		for _, other := range []string{DialectSQLite, DialectPostgres} {
			if b, ok := strings.CutSuffix(base, "."+other); ok {
				base, only = b, other
			}
		}
		num, name, ok := strings.Cut(base, "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil || version <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name[.dialect].sql", file)
		}
		f := byVersion[version]
		if f == nil {
			f = &files{name: name}
			byVersion[version] = f
		} else if f.name != name {
			return nil, fmt.Errorf("migration %s: version %d is also named %q", file, version, f.name)
		}
		if only != "" && only != d.name {
			continue
		}
		body, err := migrationFiles.ReadFile(path.Join("migrations", file))
		if err != nil {
			return nil, err
		}
		sql := d.expand(string(body))
		if only == "" {
			f.shared = &sql
		} else {
			f.specific = &sql
		}
	}
	out := make([]migration, 0, len(byVersion))
	for v, f := range byVersion {
		m := migration{version: v, name: f.name}
		switch {
		case f.specific != nil:
			m.sql = *f.specific
		case f.shared != nil:
			m.sql = *f.shared
		}
		// A version with only the other dialect's file is recorded with nothing to run,
		// which keeps version numbers the same in both databases.
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("migrations: version %d is missing", i+1)
		}
	}
	return out, nil
}

// migrate applies pending migrations in one transaction: either all of them or none.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := loadMigrations(s.d)
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: begin: %w", err)
	}
	defer tx.Rollback()
	q := queries{q: tx, d: s.d}
	if s.d == postgresDialect {
		// Held until commit; a second process opening the same database waits here and
		// then finds the migrations applied. SQLite needs nothing: BEGIN IMMEDIATE has
		// already taken the database's write lock.
		if _, err := q.exec(ctx, "SELECT pg_advisory_xact_lock(?)", int64(migrationLockKey)); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
	}
	if _, err := q.exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version BIGINT PRIMARY KEY,
		name TEXT NOT NULL,
		applied_at BIGINT NOT NULL
	)`); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	applied, err := list(ctx, q, func(sc scanner) (int, error) {
		var v int
		return v, sc.Scan(&v)
	}, "SELECT version FROM schema_migrations ORDER BY version")
	if err != nil {
		return fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	done := map[int]bool{}
	for _, v := range applied {
		if v > len(ms) {
			return fmt.Errorf("migrate: database schema version %d is newer than this berth knows (%d): upgrade berth", v, len(ms))
		}
		done[v] = true
	}
	for _, m := range ms {
		if done[m.version] {
			continue
		}
		if strings.TrimSpace(m.sql) != "" {
			// Without arguments both drivers run a multi-statement script.
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("migrate: apply %04d_%s (%s): %w", m.version, m.name, s.d.name, err)
			}
		}
		if _, err := q.exec(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
			m.version, m.name, micros(s.now())); err != nil {
			return fmt.Errorf("migrate: record %04d_%s: %w", m.version, m.name, err)
		}
		s.log.InfoContext(ctx, "applied database migration", "version", m.version, "name", m.name, "dialect", s.d.name)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}

// SchemaVersion returns the newest migration applied to the database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	if err := s.queryRow(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return int(v.Int64), nil
}
