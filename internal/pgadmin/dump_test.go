package pgadmin_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/pgadmin"
)

var findTools = sync.OnceValues(func() (pgadmin.Tools, error) { return pgadmin.FindTools(context.Background()) })

func tools(t *testing.T) pgadmin.Tools {
	t.Helper()
	tools, err := findTools()
	if err != nil {
		t.Fatal(err)
	}
	return tools
}

// admins are the two kinds of admin DSN that Berth must work with.
func (s *server) admins() []struct{ name, dsn string } {
	return []struct{ name, dsn string }{{"superuser", s.super}, {"createdb-createrole", s.admin}}
}

// seedSQL makes tables of many types, in two schemas, with NULLs, a bytea, a sequence, an
// index and a foreign key, and ROWS rows in each. One column is named r, as the alias of
// the checksums' query; ledger.entries has a json and a point column, types without a hash
// function, and ledger.moods columns whose hash is of OIDs that a restore creates anew (an
// enum, a domain over it, an array of it, a regclass), so their checksums are of the rows'
// text, where notes' is of its records.
const seedSQL = `
CREATE TABLE notes (
	id bigserial PRIMARY KEY, title text NOT NULL, body text, tags text[], score double precision,
	price numeric(12,2), created timestamptz, due date, blob bytea, meta jsonb, done boolean, r int);
CREATE INDEX notes_title ON notes (title);
CREATE SCHEMA ledger;
CREATE SEQUENCE ledger.entry_no;
CREATE TABLE ledger.entries (
	no bigint PRIMARY KEY DEFAULT nextval('ledger.entry_no'), note_id bigint REFERENCES notes (id),
	amount numeric, took interval, uid uuid, ip inet, at time with time zone, doc json, spot point);
INSERT INTO notes (title, body, tags, score, price, created, due, blob, meta, done, r)
	SELECT 'note ' || i, CASE WHEN i % 3 <> 0 THEN repeat(md5(i::text), 3) END, ARRAY['a' || i, NULL, 'c'],
		i / 7.0, i * 1.25, timestamptz '2024-02-29 12:00:00+01' + i * interval '1 hour',
		CASE WHEN i % 2 = 0 THEN date '2024-01-01' + i END, decode(md5(i::text), 'hex'),
		jsonb_build_object('i', i, 'odd', i % 2 = 1), CASE WHEN i % 5 <> 0 THEN i % 2 = 0 END, i
	FROM generate_series(1, ROWS) i;
INSERT INTO ledger.entries (note_id, amount, took, uid, ip, at, doc, spot)
	SELECT i, i * 0.001, i * interval '1 minute', md5(i::text)::uuid,
		CASE WHEN i % 4 <> 0 THEN ('10.0.' || i % 256 || '.1')::inet END, time with time zone '04:05:06+02',
		json_build_object('n', i), point(i, -i)
	FROM generate_series(1, ROWS) i;
CREATE TYPE ledger.mood AS ENUM ('sad', 'calm', 'glad');
CREATE DOMAIN ledger.good_mood AS ledger.mood CHECK (VALUE <> 'sad');
CREATE TABLE ledger.moods (
	id int PRIMARY KEY, mood ledger.mood, good ledger.good_mood, history ledger.mood[], about regclass);
INSERT INTO ledger.moods (id, mood, good, history, about)
	SELECT i, (enum_range(NULL::ledger.mood))[i % 3 + 1], CASE WHEN i % 2 = 0 THEN 'glad'::ledger.good_mood END,
		ARRAY['sad', NULL, 'calm']::ledger.mood[], CASE WHEN i % 2 = 0 THEN 'notes' ELSE 'ledger.entries' END::regclass
	FROM generate_series(1, ROWS) i;
`

// app ensures app's database through admin, fills it as the app's role with rows rows per
// table, and drops it, with the scratch and previous databases of a restore, when t ends.
func (s *server) app(t *testing.T, admin, app string, rows int) pgadmin.Database {
	t.Helper()
	d := s.database(t, app)
	for _, name := range []string{scratch(d), previous(d)} {
		t.Cleanup(func() {
			if err := pgadmin.New(nil).DropDatabase(context.Background(), s.super, name); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		})
	}
	if _, err := pgadmin.New(nil).Ensure(t.Context(), admin, d); err != nil {
		t.Fatal(err)
	}
	s.appExec(t, d, d.Name, strings.ReplaceAll(seedSQL, "ROWS", strconv.Itoa(rows)))
	return d
}

func scratch(d pgadmin.Database) string  { return d.Name + "_s" }
func previous(d pgadmin.Database) string { return d.Name + "_p" }

// appExec runs sql as d's role in database db.
func (s *server) appExec(t *testing.T, d pgadmin.Database, db, sql string) {
	t.Helper()
	c, err := s.connect(t, db, d)
	if err != nil {
		t.Fatalf("connect to %s as %s: %v", db, d.Role, err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(t.Context(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// value returns the first column of sql's one row, as text, run as the superuser.
func (s *server) value(t *testing.T, sql string, args ...any) string {
	t.Helper()
	c, err := pgx.Connect(t.Context(), s.super)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var v string
	if err := c.QueryRow(t.Context(), sql, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

func checksums(t *testing.T, dsn, db string) []pgadmin.TableSum {
	t.Helper()
	sums, err := pgadmin.New(nil).Checksums(t.Context(), dsn, db)
	if err != nil {
		t.Fatal(err)
	}
	return sums
}

func dump(t *testing.T, dsn, db string) ([]byte, []pgadmin.TableSum) {
	t.Helper()
	var buf bytes.Buffer
	sums, err := pgadmin.New(nil).Dump(t.Context(), tools(t), dsn, db, &buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), sums
}

// TestDumpRestoreSwap backs an app's database up, restores it beside the original and
// swaps it in while the app is connected, through each kind of admin.
func TestDumpRestoreSwap(t *testing.T) {
	s := newServer(t)
	for _, admin := range s.admins() {
		t.Run(admin.name, func(t *testing.T) {
			a, ctx := pgadmin.New(nil), t.Context()
			d := s.app(t, admin.dsn, strings.ReplaceAll(admin.name, "-", ""), 50)

			dumped, sums := dump(t, admin.dsn, d.Name)
			// Of their text: ledger.entries' json and point have no hash function,
			// ledger.moods' enum and regclass hash OIDs; notes' of its records.
			var got []string
			for _, sum := range sums {
				form, _, _ := strings.Cut(sum.Checksum, ":")
				got = append(got, fmt.Sprintf("%s %d %s", sum, sum.Rows, form))
			}
			want := []string{"ledger.entries 50 text", "ledger.moods 50 text", "public.notes 50 record"}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Dump's sums (table, rows, checksum of) differ (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(sums, checksums(t, admin.dsn, d.Name)); diff != "" {
				t.Fatalf("Checksums differ from Dump's (-dump +checksums):\n%s", diff)
			}

			restored, err := a.RestoreScratch(ctx, tools(t), admin.dsn, scratch(d), d.Role, bytes.NewReader(dumped))
			if err != nil {
				t.Fatal(err)
			}
			// The sums taken as pg_restore went are those of the restored database, and
			// equal the dump's.
			if diff := cmp.Diff(checksums(t, admin.dsn, scratch(d)), restored); diff != "" {
				t.Fatalf("RestoreScratch's sums differ from the restored database's (-database +restore):\n%s", diff)
			}
			if err := berth.CompareSums(sums, restored); err != nil {
				t.Fatalf("the restore differs: %v", err)
			}
			if got := s.value(t, "SELECT has_database_privilege('public', $1, 'CONNECT')::text", scratch(d)); got != "false" {
				t.Errorf("PUBLIC may connect to the scratch database: %s", got)
			}

			// A row written after the dump, and a connection the swap must end.
			s.appExec(t, d, d.Name, "INSERT INTO notes (title) VALUES ('after the dump')")
			held, err := s.connect(t, d.Name, d)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Swap(ctx, admin.dsn, d.Name, scratch(d), previous(d)); err != nil {
				t.Fatal(err)
			}
			if _, err := held.Exec(ctx, "SELECT 1"); err == nil {
				t.Error("a connection to the database before the swap still works")
			}
			dropReplaced(t, s, d)
			checkSwapped(t, s, d)
			if err := berth.CompareSums(sums, checksums(t, admin.dsn, d.Name)); err != nil {
				t.Fatalf("after the swap: %v", err)
			}
			// The app owns and can use every restored table and sequence.
			s.appExec(t, d, d.Name, `INSERT INTO notes (title) VALUES ('after the swap');
				INSERT INTO ledger.entries (note_id) SELECT max(id) FROM notes;
				UPDATE notes SET body = 'edited' WHERE id = 1; DELETE FROM ledger.entries WHERE no = 2;
				SELECT nextval('ledger.entry_no'), setval('notes_id_seq', 1000)`)
			c, err := s.connect(t, d.Name, d)
			if err != nil {
				t.Fatal(err)
			}
			var titles string
			if err := c.QueryRow(ctx, "SELECT string_agg(title, ',' ORDER BY id) FROM notes WHERE id > 50").Scan(&titles); err != nil || titles != "after the swap" {
				t.Errorf("rows after the dump's are %q (%v), want only the one written after the swap", titles, err)
			}
		})
	}
}

// dropReplaced checks that Swap left the database it replaced to its caller, and drops it.
func dropReplaced(t *testing.T, s *server, d pgadmin.Database) {
	t.Helper()
	if got := s.value(t, "SELECT count(*)::text FROM pg_database WHERE datname = $1", previous(d)); got != "1" {
		t.Errorf("the replaced database %s: %s of it", previous(d), got)
	}
	if err := pgadmin.New(nil).DropDatabase(t.Context(), s.super, previous(d)); err != nil {
		t.Fatal(err)
	}
}

// checkSwapped checks that d's database is there as Ensure leaves it, with no scratch or
// previous database beside it.
func checkSwapped(t *testing.T, s *server, d pgadmin.Database) {
	t.Helper()
	got := s.value(t, `SELECT string_agg(datname || ' ' || pg_get_userbyid(datdba) || ' ' || datallowconn
			|| ' ' || has_database_privilege('public', datname, 'CONNECT')
			|| ' ' || has_database_privilege($4, datname, 'CONNECT'), ', ' ORDER BY datname)
		FROM pg_database WHERE datname IN ($1, $2, $3)`, d.Name, scratch(d), previous(d), d.Role)
	if want := d.Name + " " + d.Role + " true false true"; got != want {
		t.Errorf("databases: %s, want %s (name, owner, allows connections, PUBLIC's CONNECT, the role's)", got, want)
	}
	if _, err := s.connect(t, d.Name, d); err != nil {
		t.Errorf("the app cannot connect: %v", err)
	}
}

// TestDumpSnapshot writes to the database while it is being dumped: the dump and its sums
// hold none of those writes, and its restore matches the sums.
func TestDumpSnapshot(t *testing.T) {
	s := newServer(t)
	a, ctx := pgadmin.New(nil), t.Context()
	d := s.app(t, s.admin, "busy", 2000)

	c, err := s.connect(t, d.Name, d)
	if err != nil {
		t.Fatal(err)
	}
	var (
		written atomic.Int64
		stop    = make(chan struct{})
		done    = make(chan error, 1)
	)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			// Each statement commits on its own.
			_, err := c.Exec(ctx, `WITH n AS (INSERT INTO notes (title) VALUES ('concurrent') RETURNING id)
				INSERT INTO ledger.entries (note_id) SELECT id FROM n`)
			if err == nil {
				_, err = c.Exec(ctx, "UPDATE notes SET body = $1 WHERE id = $2", fmt.Sprint("changed ", i), i%2000+1)
			}
			if err != nil {
				done <- err
				return
			}
			written.Add(1)
		}
	}()
	// pg_dump writes once it holds its snapshot: hold it up until more rows are in.
	var buf bytes.Buffer
	w := &hookWriter{w: &buf, first: func() {
		start := written.Load()
		deadline := time.Now().Add(10 * time.Second)
		for written.Load() < start+20 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}}
	sums, err := a.Dump(ctx, tools(t), s.admin, d.Name, w)
	close(stop)
	if err := <-done; err != nil {
		t.Fatalf("writer: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if written.Load() < 20 {
		t.Fatalf("only %d writes during the dump", written.Load())
	}
	if err := berth.CompareSums(sums, checksums(t, s.admin, d.Name)); err == nil {
		t.Fatal("the sums of the dump equal those of the database written meanwhile")
	}
	restored, err := a.RestoreScratch(ctx, tools(t), s.admin, scratch(d), d.Role, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if err := berth.CompareSums(sums, restored); err != nil {
		t.Fatalf("the restore's own sums differ from the dump's: %v", err)
	}
	if err := berth.CompareSums(sums, checksums(t, s.admin, scratch(d))); err != nil {
		t.Fatalf("the restore differs from the dump's sums: %v", err)
	}
}

// hookWriter calls first before its first write.
type hookWriter struct {
	w     *bytes.Buffer
	first func()
	once  sync.Once
}

func (h *hookWriter) Write(p []byte) (int, error) {
	h.once.Do(h.first)
	return h.w.Write(p)
}

// TestDumpFails checks that a failing pg_dump fails Dump, though it wrote, with what it
// said and without the password.
func TestDumpFails(t *testing.T) {
	s := newServer(t)
	d := s.app(t, s.admin, "fails", 1)
	fake := writeScript(t, "pg_dump", `printf 'PGDMP partial output'
echo "pg_dump: error: query failed for $PGUSER with $PGPASSWORD" >&2
exit 1`)
	broken := tools(t)
	broken.Dump = fake
	var buf bytes.Buffer
	_, err := pgadmin.New(nil).Dump(t.Context(), broken, s.admin, d.Name, &buf)
	if err == nil || !strings.Contains(err.Error(), "pg_dump: error: query failed for "+s.db+"_admin with *****") {
		t.Fatalf("Dump: %v, want pg_dump's error, password masked", err)
	}
	if buf.String() != "PGDMP partial output" {
		t.Errorf("w got %q", buf.String())
	}
	if e := holding(err, "pw-"+s.db+"_admin"); e != nil {
		t.Errorf("error %q holds the password", e)
	}

	// A writer that fails fails Dump, saying so.
	_, err = pgadmin.New(nil).Dump(t.Context(), tools(t), s.admin, d.Name, failingWriter{})
	if err == nil || !strings.Contains(err.Error(), "pg_dump: write its output: disk full") {
		t.Errorf("Dump to a failing writer: %v, want the writer's error", err)
	}

	// A server newer than the tools is refused before pg_dump runs.
	old := tools(t)
	old.Version = 12
	if _, err := pgadmin.New(nil).Dump(t.Context(), old, s.admin, d.Name, &buf); err == nil || !strings.Contains(err.Error(), "pg_dump 12 cannot dump PostgreSQL") {
		t.Errorf("Dump with pg_dump 12: %v, want a refusal", err)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// writeScript writes an executable shell script named name and returns its path.
func writeScript(t *testing.T, name, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestFindTools(t *testing.T) {
	tools := tools(t)
	if tools.Version < 13 || filepath.Base(tools.Dump) != "pg_dump" || filepath.Base(tools.Restore) != "pg_restore" {
		t.Errorf("FindTools = %+v, want pg_dump and pg_restore of version 13 or newer", tools)
	}
}
