package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/berth-dev/berth/internal/berth"
)

func TestParseDSN(t *testing.T) {
	for _, tc := range []struct {
		dsn, kind, target, err string
	}{
		{dsn: "/var/lib/berth/berth.db", kind: DialectSQLite, target: "/var/lib/berth/berth.db"},
		{dsn: "berth.db", kind: DialectSQLite, target: "berth.db"},
		{dsn: "sqlite:///var/lib/berth.db", kind: DialectSQLite, target: "/var/lib/berth.db"},
		{dsn: "sqlite://data/berth.db", kind: DialectSQLite, target: "data/berth.db"},
		{dsn: "sqlite:berth.db", kind: DialectSQLite, target: "berth.db"},
		{dsn: "postgres://u:pw@db:5432/berth?sslmode=disable", kind: DialectPostgres, target: "postgres://u:pw@db:5432/berth?sslmode=disable"},
		{dsn: "postgresql://db/berth", kind: DialectPostgres, target: "postgresql://db/berth"},
		{dsn: "", err: "empty"},
		{dsn: "sqlite://", err: "empty"},
		{dsn: "mysql://db/berth", err: "unsupported scheme"},
		{dsn: ":memory:", err: "in-memory"},
		{dsn: "file:berth.db?mode=memory", err: "in-memory"},
		{dsn: "berth.db?_pragma=foo", err: "'?'"},
		{dsn: "postgres://u:secret@db/%zz", err: "not a valid"},
	} {
		kind, target, err := parseDSN(tc.dsn)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseDSN(%q) error = %v, want one saying %q", tc.dsn, err, tc.err)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("parseDSN(%q) error %q leaks the password", tc.dsn, err)
			}
			continue
		}
		if err != nil || kind != tc.kind || target != tc.target {
			t.Errorf("parseDSN(%q) = %q, %q, %v; want %q, %q", tc.dsn, kind, target, err, tc.kind, tc.target)
		}
	}
	if got := redactURL("postgres://u:secret@db/berth"); strings.Contains(got, "secret") {
		t.Errorf("redactURL kept the password: %s", got)
	}
}

func TestRebind(t *testing.T) {
	q := "SELECT a FROM t WHERE b = ? AND c = '?' AND d IN (?, ?)"
	if got := sqliteDialect.rebind(q); got != q {
		t.Errorf("sqlite rebind changed the query: %s", got)
	}
	want := "SELECT a FROM t WHERE b = $1 AND c = '?' AND d IN ($2, $3)"
	for range 2 { // the second call is served from the cache
		if got := postgresDialect.rebind(q); got != want {
			t.Errorf("postgres rebind = %s, want %s", got, want)
		}
	}
}

// TestAuditHashKnownAnswer pins the audit hash encoding: changing it would make every
// existing audit log fail verification.
func TestAuditHashKnownAnswer(t *testing.T) {
	r := auditRow{
		id: 1, at: 1767225600000000, actor: "ann", action: "team.create", target: "team/web", team: "web",
		requestID: "req-1", outcome: "success", details: `{"role":"admin"}`, prevHash: genesisHash,
	}
	// Computed independently from the documented encoding (with Python's hashlib).
	const want = "4785c7900feb5b415103f42cf6f20e7608a20eb1482180abe36ef31fc9ebf921"
	got := hashAuditRow(r)
	if got != want {
		t.Errorf("hashAuditRow = %s, want %s", got, want)
	}
	// Field boundaries matter: moving a character from one field to the next changes the hash.
	moved := r
	moved.actor, moved.action = "an", "nteam.create"
	if hashAuditRow(moved) == got {
		t.Errorf("hash ignores field boundaries")
	}
}

func TestMigrationsLoad(t *testing.T) {
	for _, d := range []*dialect{sqliteDialect, postgresDialect} {
		ms, err := loadMigrations(d)
		if err != nil {
			t.Fatalf("%s: %v", d.name, err)
		}
		if len(ms) < 2 || ms[0].name != "init" || ms[1].name != "audit_append_only" {
			t.Fatalf("%s: migrations %+v", d.name, ms)
		}
		for _, m := range ms {
			if strings.Contains(m.sql, "{{") {
				t.Errorf("%s: migration %d has an unexpanded macro", d.name, m.version)
			}
		}
		if d == sqliteDialect && !strings.Contains(ms[1].sql, "RAISE(ABORT") ||
			d == postgresDialect && !strings.Contains(ms[1].sql, "plpgsql") {
			t.Errorf("%s: migration 2 is not the dialect's own file", d.name)
		}
	}
}

func TestSQLiteFileIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "berth.db")
	st, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("database file mode %v, want 0600", fi.Mode().Perm())
	}
	var mode string
	var sync, fk int
	if err := st.db.QueryRowContext(t.Context(), "PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if err := st.db.QueryRowContext(t.Context(), "PRAGMA synchronous").Scan(&sync); err != nil {
		t.Fatal(err)
	}
	if err := st.db.QueryRowContext(t.Context(), "PRAGMA foreign_keys").Scan(&fk); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" || sync != 2 || fk != 1 {
		t.Errorf("journal_mode=%s synchronous=%d foreign_keys=%d; want wal, 2 (FULL), 1", mode, sync, fk)
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want errKind
	}{
		{&pgconn.PgError{Code: "23505"}, errUnique},
		{&pgconn.PgError{Code: "23503"}, errForeignKey},
		{&pgconn.PgError{Code: "23514"}, errCheck},
		{fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: "40P01"}), errRetry},
		{&pgconn.PgError{Code: "40001"}, errRetry},
		{errors.New("other"), errOther},
	} {
		if got := classify(tc.err); got != tc.want {
			t.Errorf("classify(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	err := dbErr(&pgconn.PgError{Code: "23505", Message: "duplicate key"})
	if !errors.Is(err, berth.ErrConflict) || !strings.Contains(err.Error(), "duplicate key") {
		t.Errorf("dbErr = %v, want a conflict keeping the database's message", err)
	}
}

// TestTxRetries: a transaction PostgreSQL aborts as a deadlock victim runs again.
func TestTxRetries(t *testing.T) {
	st, err := Open(t.Context(), filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	calls := 0
	err = st.Tx(t.Context(), func(tx *Tx) error {
		calls++
		if _, err := tx.CreateTeam(t.Context(), "web"); err != nil {
			return err
		}
		if calls == 1 {
			return fmt.Errorf("create: %w", &pgconn.PgError{Code: "40P01"})
		}
		return nil
	})
	if err != nil || calls != 2 {
		t.Fatalf("Tx = %v after %d calls, want success on the second", err, calls)
	}
	calls = 0
	err = st.Tx(t.Context(), func(tx *Tx) error { calls++; return &pgconn.PgError{Code: "40001"} })
	if calls != maxTxAttempts || classify(err) != errRetry {
		t.Errorf("Tx = %v after %d calls, want the error after %d", err, calls, maxTxAttempts)
	}
}

func TestOpenErrors(t *testing.T) {
	_, err := Open(t.Context(), filepath.Join(t.TempDir(), "missing-dir", "berth.db"))
	if err == nil || !strings.Contains(err.Error(), "missing-dir") {
		t.Errorf("Open in a missing directory: %v, want an error naming the path", err)
	}
	_, err = Open(t.Context(), "postgres://berth:secret@127.0.0.1:1/berth?sslmode=disable&connect_timeout=2")
	if err == nil || strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("Open of an unreachable PostgreSQL: %v, want an error naming the server without the password", err)
	}

	// A database migrated by a newer berth is refused, not downgraded.
	path := filepath.Join(t.TempDir(), "berth.db")
	st, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.DB().ExecContext(t.Context(), "INSERT INTO schema_migrations VALUES (999, 'future', 0)"); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if _, err := Open(t.Context(), path); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open of a newer schema: %v, want an error saying it is newer", err)
	}
}

func TestSQLiteFile(t *testing.T) {
	for dsn, want := range map[string]string{"data/berth.db": "data/berth.db", "sqlite:///tmp/b.db": "/tmp/b.db", "postgres://u@h/db": "", "postgresql://u@h/db": "", "mysql://x": "", "": ""} {
		got, ok := SQLiteFile(dsn)
		if got != want || ok != (want != "") {
			t.Errorf("SQLiteFile(%q) = %q, %v; want %q", dsn, got, ok, want)
		}
	}
}
