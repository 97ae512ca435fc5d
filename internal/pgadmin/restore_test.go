package pgadmin_test

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/pgadmin"
)

// TestSwapResumes does the first steps of a swap by hand, as a Swap that crashed would
// have left them, and checks that Swap, called again, finishes the job.
func TestSwapResumes(t *testing.T) {
	s := newServer(t)
	for _, tc := range []struct {
		name    string
		crashed func(t *testing.T, d pgadmin.Database) // what the crashed Swap did
	}{
		{"before anything", func(*testing.T, pgadmin.Database) {}},
		{"after closing the target", func(t *testing.T, d pgadmin.Database) {
			s.exec(t, "ALTER DATABASE "+d.Name+" WITH ALLOW_CONNECTIONS false")
		}},
		{"after the renames", func(t *testing.T, d pgadmin.Database) {
			s.exec(t, "ALTER DATABASE "+d.Name+" WITH ALLOW_CONNECTIONS false")
			s.exec(t, "BEGIN; ALTER DATABASE "+d.Name+" RENAME TO "+previous(d)+
				"; ALTER DATABASE "+scratch(d)+" RENAME TO "+d.Name+"; COMMIT")
		}},
		{"after the renames, with the grants undone", func(t *testing.T, d pgadmin.Database) {
			s.exec(t, "ALTER DATABASE "+d.Name+" WITH ALLOW_CONNECTIONS false")
			s.exec(t, "BEGIN; ALTER DATABASE "+d.Name+" RENAME TO "+previous(d)+
				"; ALTER DATABASE "+scratch(d)+" RENAME TO "+d.Name+"; GRANT CONNECT ON DATABASE "+d.Name+" TO PUBLIC"+
				"; REVOKE ALL ON DATABASE "+d.Name+" FROM "+d.Role+"; COMMIT")
		}},
		{"after the swap", func(t *testing.T, d pgadmin.Database) {
			if err := pgadmin.New(nil).Swap(t.Context(), s.admin, d.Name, scratch(d), previous(d)); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := s.database(t, "resume")
			s.ensure(t, d)
			s.appExec(t, d, d.Name, "CREATE TABLE marker (v text); INSERT INTO marker VALUES ('old')")
			// A scratch database as RestoreScratch leaves it, the app's to fill.
			s.exec(t, "CREATE DATABASE "+scratch(d)+" OWNER "+d.Role+" TEMPLATE template0")
			s.exec(t, "REVOKE CONNECT ON DATABASE "+scratch(d)+" FROM PUBLIC")
			s.appExec(t, d, scratch(d), "CREATE TABLE marker (v text); INSERT INTO marker VALUES ('new')")

			tc.crashed(t, d)
			if err := pgadmin.New(nil).Swap(t.Context(), s.admin, d.Name, scratch(d), previous(d)); err != nil {
				t.Fatal(err)
			}
			dropReplaced(t, s, d)
			checkSwapped(t, s, d)
			c, err := s.connect(t, d.Name, d)
			if err != nil {
				t.Fatal(err)
			}
			var v string
			if err := c.QueryRow(t.Context(), "SELECT v FROM marker").Scan(&v); err != nil || v != "new" {
				t.Errorf("marker = %q, %v; want new", v, err)
			}
		})
	}
}

// ensure ensures d through the admin that is no superuser, and drops d's scratch and
// previous databases when t ends.
func (s *server) ensure(t *testing.T, d pgadmin.Database) {
	t.Helper()
	for _, name := range []string{scratch(d), previous(d)} {
		t.Cleanup(func() {
			if err := pgadmin.New(nil).DropDatabase(context.Background(), s.super, name); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		})
	}
	if _, err := pgadmin.New(nil).Ensure(t.Context(), s.admin, d); err != nil {
		t.Fatal(err)
	}
}

func TestSwapRefuses(t *testing.T) {
	s := newServer(t)
	a := pgadmin.New(nil)
	d := s.database(t, "refuse")
	for _, tc := range []struct {
		name                      string
		target, scratch, previous string
		want                      string
	}{
		{"missing target", d.Name, scratch(d), previous(d), "database " + d.Name + " does not exist"},
		{"same names", d.Name, d.Name, previous(d), "given twice"},
		{"empty name", d.Name, scratch(d), "", "database name is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := a.Swap(t.Context(), s.admin, tc.target, tc.scratch, tc.previous); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Swap: %v, want an error saying %q", err, tc.want)
			}
		})
	}
	s.ensure(t, d)
	// Neither scratch nor previous: the restored database was lost.
	err := a.Swap(t.Context(), s.admin, d.Name, scratch(d), previous(d))
	if want := "nothing to swap: neither " + scratch(d) + " nor " + previous(d) + " exists"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Swap with neither scratch nor previous there: %v, want an error saying %q", err, want)
	}
	checkSwapped(t, s, d)
	s.exec(t, "CREATE DATABASE "+scratch(d))
	s.exec(t, "CREATE DATABASE "+previous(d))
	if err := a.Swap(t.Context(), s.super, d.Name, scratch(d), previous(d)); err == nil || !strings.Contains(err.Error(), "both exist") {
		t.Errorf("Swap with scratch and previous there: %v, want a refusal", err)
	}
}

// TestSwapReopens makes Swap fail once it has closed the target, and checks that the
// target is open again, not swapped, and that Swap, called again once the cause is gone,
// swaps.
func TestSwapReopens(t *testing.T) {
	s := newServer(t)
	for _, tc := range []struct {
		name string
		// block makes Swap (with ctx, ended by cancel) fail after closing d's database,
		// and returns what undoes it.
		block func(t *testing.T, d pgadmin.Database, ctx context.Context, cancel context.CancelFunc) (unblock func())
	}{
		{"a connection it may not end", func(t *testing.T, d pgadmin.Database, _ context.Context, _ context.CancelFunc) func() {
			// The admin is no superuser: it cannot end a superuser's connection.
			held := s.superConn(t, d.Name)
			return func() { held.Close(context.Background()) }
		}},
		{"ctx ends while it renames", func(t *testing.T, d pgadmin.Database, ctx context.Context, cancel context.CancelFunc) func() {
			// A transaction that updated scratch's row in pg_database holds up the
			// rename of scratch, in the transaction that renamed the target: end ctx
			// once Swap waits for it.
			held, watch := s.superConn(t, s.db), s.superConn(t, s.db)
			if _, err := held.Exec(t.Context(), "BEGIN; ALTER DATABASE "+scratch(d)+" CONNECTION LIMIT -1"); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				for ctx.Err() == nil {
					var waiting bool
					err := watch.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_stat_activity
						WHERE usename = $1 AND wait_event_type = 'Lock')`, s.db+"_admin").Scan(&waiting)
					if err != nil || waiting {
						cancel()
						return
					}
					time.Sleep(50 * time.Millisecond)
				}
			}()
			return func() {
				cancel()
				<-done
				if _, err := held.Exec(context.Background(), "ROLLBACK"); err != nil {
					t.Error(err)
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := pgadmin.New(nil)
			d := s.database(t, "reopen")
			s.ensure(t, d)
			s.exec(t, "CREATE DATABASE "+scratch(d)+" OWNER "+d.Role)

			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			unblock := tc.block(t, d, ctx, cancel)
			err := a.Swap(ctx, s.admin, d.Name, scratch(d), previous(d))
			unblock()
			if err == nil {
				t.Fatal("Swap succeeded")
			}
			t.Log(err)
			if strings.Contains(err.Error(), "open "+d.Name+" again") {
				t.Errorf("Swap did not open the target again: %v", err)
			}
			got := s.value(t, `SELECT string_agg(datname || ' ' || datallowconn, ', ' ORDER BY datname)
				FROM pg_database WHERE datname IN ($1, $2, $3)`, d.Name, scratch(d), previous(d))
			if want := d.Name + " true, " + scratch(d) + " true"; got != want {
				t.Errorf("databases (name, allows connections): %s, want %s", got, want)
			}
			if _, err := s.connect(t, d.Name, d); err != nil {
				t.Errorf("the app cannot connect: %v", err)
			}

			if err := a.Swap(t.Context(), s.admin, d.Name, scratch(d), previous(d)); err != nil {
				t.Fatal(err)
			}
			dropReplaced(t, s, d)
			checkSwapped(t, s, d)
		})
	}
}

// superConn connects to database db as the superuser, until t ends.
func (s *server) superConn(t *testing.T, db string) *pgx.Conn {
	t.Helper()
	u, err := url.Parse(s.super)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + db
	c, err := pgx.Connect(t.Context(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// TestAbandon checks that Abandon drops the scratch database and opens the target that a
// crashed Swap left closed.
func TestAbandon(t *testing.T) {
	s := newServer(t)
	a := pgadmin.New(nil)
	d := s.database(t, "abandon")
	s.ensure(t, d)
	s.exec(t, "CREATE DATABASE "+scratch(d)+" OWNER "+d.Role)
	s.exec(t, "ALTER DATABASE "+d.Name+" WITH ALLOW_CONNECTIONS false")
	if _, err := s.connect(t, d.Name, d); err == nil {
		t.Fatal("connected to a closed database")
	}
	for range 2 {
		if err := a.Abandon(t.Context(), s.admin, d.Name, scratch(d)); err != nil {
			t.Fatal(err)
		}
		checkSwapped(t, s, d)
	}
}

// TestRestoreFails restores a damaged dump, and into a database that exists: both fail
// and leave the app's database as it was.
func TestRestoreFails(t *testing.T) {
	s := newServer(t)
	a, ctx := pgadmin.New(nil), t.Context()
	d := s.app(t, s.admin, "damaged", 2000)
	dumped, sums := dump(t, s.admin, d.Name)

	damaged := bytes.Clone(dumped)
	for i := len(damaged) / 2; i < len(damaged)/2+64; i++ {
		damaged[i] ^= 0xff
	}
	_, err := a.RestoreScratch(ctx, tools(t), s.admin, scratch(d), d.Role, bytes.NewReader(damaged))
	if err == nil || !strings.Contains(err.Error(), "pg_restore: error: ") {
		t.Fatalf("RestoreScratch of a damaged dump: %v, want pg_restore's error", err)
	}
	t.Log(err)
	if got := s.value(t, "SELECT count(*)::text FROM pg_database WHERE datname = $1", scratch(d)); got != "0" {
		t.Errorf("the failed restore left database %s", scratch(d))
	}

	_, err = a.RestoreScratch(ctx, tools(t), s.admin, d.Name, d.Role, bytes.NewReader(dumped))
	if err == nil || !strings.Contains(err.Error(), "database "+d.Name+" exists") {
		t.Fatalf("RestoreScratch into the app's database: %v, want a refusal", err)
	}
	if diff := cmp.Diff(sums, checksums(t, s.admin, d.Name)); diff != "" {
		t.Errorf("the app's database changed (-before +after):\n%s", diff)
	}

	// A reader that fails fails the restore.
	_, err = a.RestoreScratch(ctx, tools(t), s.admin, scratch(d), d.Role, &failingReader{bytes.NewReader(dumped[:len(dumped)/2])})
	if err == nil {
		t.Fatal("RestoreScratch from a failing reader succeeded")
	}
}

type failingReader struct{ r *bytes.Reader }

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err != nil {
		return n, context.DeadlineExceeded
	}
	return n, nil
}

// TestChecksumsDetect changes a restore and checks that its sums tell.
func TestChecksumsDetect(t *testing.T) {
	s := newServer(t)
	a, ctx := pgadmin.New(nil), t.Context()
	d := s.app(t, s.admin, "detect", 20)
	dumped, sums := dump(t, s.admin, d.Name)
	if _, err := a.RestoreScratch(ctx, tools(t), s.admin, scratch(d), d.Role, bytes.NewReader(dumped)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ change, want string }{
		{"UPDATE notes SET done = NOT done WHERE id = 7", "table public.notes has other rows: checksum "},
		{"UPDATE notes SET done = NOT done WHERE id = 7", ""}, // back as it was
		{"UPDATE ledger.entries SET uid = NULL WHERE no = 3", "table ledger.entries has other rows"},
		{"DELETE FROM ledger.entries WHERE no = 4", "table ledger.entries has 19 rows, want 20"},
		{"CREATE TABLE ledger.aaa (a int)", "table ledger.aaa is extra"},
		{"DROP TABLE ledger.aaa, ledger.entries", "table ledger.entries is missing"},
	} {
		s.appExec(t, d, scratch(d), tc.change)
		err := berth.CompareSums(sums, checksums(t, s.admin, scratch(d)))
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("after %s: CompareSums = %v, want %q", tc.change, err, tc.want)
		}
	}
}

// TestChecksumForms checks which tables are summed by their records and which by their
// text, and that the sums of both kinds match those of the database's restore.
func TestChecksumForms(t *testing.T) {
	s := newServer(t)
	// Records are hashed on PostgreSQL 14 and newer; before, every table is summed by its
	// text.
	v, _ := strconv.Atoi(s.value(t, "SELECT current_setting('server_version_num')"))
	records := v >= 140000
	a, ctx := pgadmin.New(nil), t.Context()
	d := s.database(t, "forms")
	s.ensure(t, d)
	tables := []struct{ name, columns, values, want string }{
		{"plain", "a int, b text[], c posint, d posint[], e int4range, f int4multirange, g pair, h pair[], n name",
			`1, '{x,NULL}', 2, '{3,4}', '[1,5)', '{[1,2),[4,6)}', '(1,x)', ARRAY['(2,y)'::pair], 'nm'`, "record"},
		{"no_hash", "p point, j json", `'(1,2)', '{}'`, "text"},
		{"enum", "m mood", "'calm'", "text"},
		{"enum_domain", "m good_mood", "'glad'", "text"},
		{"enum_array", "m mood[]", "'{sad,glad}'", "text"},
		{"enum_domain_array", "m good_mood[]", "'{glad}'", "text"},
		{"enum_range", "m mood_range", "'[sad,glad)'", "text"},
		{"enum_multirange", "m mood_multirange", "'{[sad,calm)}'", "text"},
		{"enum_composite", "m mood_pair", "'(1,sad)'", "text"},
		{"regclass", "c regclass", "'plain'", "text"},
		{"regtype", "t regtype", "'mood'", "text"},
		{"oid", "o oid", "42", "text"},
		{"xid_tid", "x xid, i tid", "'7', '(0,1)'", "text"},
		{"int2vector", "v int2vector", "'1 2'", "text"},
		{"aclitem", "a aclitem", fmt.Sprintf("'%s=r/%[1]s'", d.Role), "text"},
	}
	sql := `CREATE DOMAIN posint AS int CHECK (VALUE > 0);
		CREATE TYPE pair AS (a int, b text);
		CREATE TYPE mood AS ENUM ('sad', 'calm', 'glad');
		CREATE DOMAIN good_mood AS mood CHECK (VALUE <> 'sad');
		CREATE TYPE mood_range AS RANGE (subtype = mood);
		CREATE TYPE mood_pair AS (a int, m mood);`
	for _, tc := range tables {
		sql += fmt.Sprintf("\nCREATE TABLE %[1]s (%[2]s); INSERT INTO %[1]s VALUES (%[3]s);", tc.name, tc.columns, tc.values)
	}
	s.appExec(t, d, d.Name, sql)

	dumped, sums := dump(t, s.admin, d.Name)
	got, want := map[string]string{}, map[string]string{}
	for _, sum := range sums {
		got[sum.Table], _, _ = strings.Cut(sum.Checksum, ":")
	}
	for _, tc := range tables {
		want[tc.name] = tc.want
		if !records {
			want[tc.name] = "text"
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("each table's checksum is of its (-want +got):\n%s", diff)
	}
	restored, err := a.RestoreScratch(ctx, tools(t), s.admin, scratch(d), d.Role, bytes.NewReader(dumped))
	if err != nil {
		t.Fatal(err)
	}
	if err := berth.CompareSums(sums, restored); err != nil {
		t.Errorf("the restore differs: %v", err)
	}
}

func TestCompareSums(t *testing.T) {
	sum := func(schema, table string, rows int64, checksum string) pgadmin.TableSum {
		return pgadmin.TableSum{Schema: schema, Table: table, Rows: rows, Checksum: checksum}
	}
	want := []pgadmin.TableSum{sum("public", "a", 1, "10"), sum("public", "b", 2, "20"), sum("z", "a", 0, "0")}
	for _, tc := range []struct {
		name string
		got  []pgadmin.TableSum
		want string
	}{
		{"equal", want, ""},
		{"equal, in another order", []pgadmin.TableSum{want[2], want[0], want[1]}, ""},
		{"missing", want[1:], "table public.a is missing"},
		{"missing last", want[:2], "table z.a is missing"},
		{"extra", append(want[:2:2], sum("public", "c", 0, "0"), want[2]), "table public.c is extra"},
		{"rows", []pgadmin.TableSum{want[0], sum("public", "b", 3, "20"), want[2]}, "table public.b has 3 rows, want 2"},
		{"checksum", []pgadmin.TableSum{want[0], want[1], sum("z", "a", 0, "1")}, "table z.a has other rows: checksum 1, want 0"},
		{"none", nil, "table public.a is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := berth.CompareSums(want, tc.got)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || err.Error() != tc.want) {
				t.Errorf("CompareSums = %v, want %q", err, tc.want)
			}
		})
	}
	if err := berth.CompareSums(nil, nil); err != nil {
		t.Errorf("CompareSums(nil, nil) = %v", err)
	}
}

func TestHasData(t *testing.T) {
	s := newServer(t)
	d := s.database(t, "data")
	s.ensure(t, d)
	for _, tc := range []struct {
		sql  string
		want bool
	}{
		{"", false},
		{"CREATE SCHEMA s; CREATE TABLE s.empty (a int); CREATE TABLE t (a int)", false},
		{"INSERT INTO s.empty VALUES (NULL)", true},
		{"DELETE FROM s.empty; INSERT INTO t VALUES (1)", true},
		{"TRUNCATE t", false},
	} {
		if tc.sql != "" {
			s.appExec(t, d, d.Name, tc.sql)
		}
		for _, admin := range s.admins() {
			if got, err := pgadmin.New(nil).HasData(t.Context(), admin.dsn, d.Name); err != nil || got != tc.want {
				t.Errorf("after %q, HasData as %s = %v, %v; want %v", tc.sql, admin.name, got, err, tc.want)
			}
		}
	}
}

func TestDropDatabase(t *testing.T) {
	s := newServer(t)
	a := pgadmin.New(nil)
	d := s.database(t, "drill")
	s.ensure(t, d)
	s.exec(t, "CREATE DATABASE "+scratch(d)+" OWNER "+d.Role)
	held, err := s.connect(t, scratch(d), d)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := a.DropDatabase(t.Context(), s.admin, scratch(d)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := held.Exec(t.Context(), "SELECT 1"); err == nil {
		t.Error("a connection to the dropped database still works")
	}
	if got := s.value(t, "SELECT count(*)::text FROM pg_database WHERE datname = $1", scratch(d)); got != "0" {
		t.Errorf("database %s is still there", scratch(d))
	}
}
