package backup_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/berth-dev/berth/internal/backup"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/objstore"
	"github.com/berth-dev/berth/internal/pgadmin"
	"github.com/berth-dev/berth/internal/s3test"
	"github.com/berth-dev/berth/internal/seal"
	"github.com/berth-dev/berth/internal/store"
	"github.com/berth-dev/berth/internal/store/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// world is a Berth store with team shop's app notes, whose postgres resource db has a real
// database in production and in sandbox, on a real PostgreSQL; and a backup engine.
type world struct {
	t       testing.TB
	st      *store.Store
	admin   string // the PostgreSQL admin DSN of both environments
	dbs     map[string]pgadmin.Database
	stores  *stores
	key     *seal.Key
	dir     string
	engines sync.WaitGroup
}

// stores opens the named stores of a test: "default" is a directory.
type stores struct {
	mu     sync.Mutex
	byName map[string]backup.Objects
}

func (s *stores) Open(_ context.Context, name string) (backup.Objects, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.byName[name]
	if !ok {
		return nil, fmt.Errorf("store %s: %w", name, berth.ErrNotFound)
	}
	return o, nil
}

const uid = "postgres.default#shop.notes.db"

func newWorld(t testing.TB, opts ...store.Option) *world {
	ctx := t.Context()
	key, err := seal.NewKey([]byte(strings.Repeat("s", seal.KeySize)))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "berth.db"), append(opts, store.WithSecretsKey(key))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	bkey, err := seal.NewKey([]byte(strings.Repeat("b", seal.KeySize)))
	if err != nil {
		t.Fatal(err)
	}
	local, err := objstore.NewDir(filepath.Join(dir, "backups"))
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, st: st, admin: pgtest.NewDatabase(t), dbs: map[string]pgadmin.Database{}, key: bkey.Named("backup"), dir: dir,
		stores: &stores{byName: map[string]backup.Objects{berth.DefaultBackupStore: local}}}
	pgtest.RequirePasswords(t)
	admin := pgadmin.New(nil)
	w.tx(func(tx *store.Tx) error {
		if _, err := tx.CreateTeam(ctx, "shop"); err != nil {
			return err
		}
		if _, err := tx.CreateUser(ctx, berth.User{Name: "ann"}); err != nil {
			return err
		}
		if _, err := tx.CreateApp(ctx, "shop", "notes", "ann"); err != nil {
			return err
		}
		for _, env := range []string{"production", "sandbox"} {
			if _, err := tx.CreateEnvironment(ctx, berth.Environment{Name: env, InCluster: true}); err != nil {
				return err
			}
			if err := tx.SetEnvironmentPostgres(ctx, env, w.admin, "test server"); err != nil {
				return err
			}
		}
		return nil
	})
	// Each environment's database, as the deploy engine's postgres provisioner makes it.
	for _, env := range []string{"production", "sandbox"} {
		name, role := pgadmin.Names("shop", "notes", env+fmt.Sprint(time.Now().UnixNano()%1e6), "db")
		password, err := pgadmin.NewPassword()
		if err != nil {
			t.Fatal(err)
		}
		d := pgadmin.Database{Name: name, Role: role, Password: password}
		if _, err := admin.Ensure(ctx, w.admin, d); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { admin.Drop(context.WithoutCancel(ctx), w.admin, d) })
		w.dbs[env] = d
		w.tx(func(tx *store.Tx) error {
			_, _, err := tx.SaveResource(ctx, berth.Resource{Env: env, Team: "shop", App: "notes", Name: "db", Type: "postgres",
				UID: uid, Provisioner: "builtin/postgres", Outputs: map[string]string{"name": name}},
				berth.ResourceSecrets{State: map[string]any{"database": name, "username": role, "password": password}}, "deploy 1")
			return err
		})
		w.exec(env, "CREATE TABLE notes (id serial PRIMARY KEY, body text NOT NULL, at timestamptz DEFAULT now())")
	}
	return w
}

func (w *world) tx(fn func(tx *store.Tx) error) {
	w.t.Helper()
	if err := w.st.Tx(w.t.Context(), fn); err != nil {
		w.t.Fatal(err)
	}
}

// conn connects to env's database as the app does, with its role.
func (w *world) conn(env string) *pgx.Conn {
	w.t.Helper()
	d := w.dbs[env]
	cfg, err := pgx.ParseConfig(w.admin)
	if err != nil {
		w.t.Fatal(err)
	}
	cfg.Database, cfg.User, cfg.Password = d.Name, d.Role, d.Password
	c, err := pgx.ConnectConfig(w.t.Context(), cfg)
	if err != nil {
		w.t.Fatalf("connect to %s's database: %v", env, err)
	}
	w.t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func (w *world) exec(env, sql string, args ...any) {
	w.t.Helper()
	c := w.conn(env)
	if _, err := c.Exec(w.t.Context(), sql, args...); err != nil {
		w.t.Fatalf("%s: %s: %v", env, sql, err)
	}
	c.Close(w.t.Context())
}

// notes reads env's notes, as the app would show them.
func (w *world) notes(env string) []string {
	w.t.Helper()
	c := w.conn(env)
	defer c.Close(w.t.Context())
	rows, err := c.Query(w.t.Context(), "SELECT body FROM notes ORDER BY id")
	if err != nil {
		w.t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		w.t.Fatal(err)
	}
	return out
}

// engine starts a backup engine on dbs (pgadmin's, unless the test wraps it) until the
// test ends or stop is called.
func (w *world) engine(dbs backup.Databases, lease time.Duration) (e *backup.Engine, stop func()) {
	w.t.Helper()
	if dbs == nil {
		dbs = pgadmin.NewBackups(pgadmin.New(nil))
	}
	e, err := backup.New(w.st, backup.Options{Databases: dbs, Stores: w.stores, Key: w.key, Lease: lease, Poll: 20 * time.Millisecond})
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(w.t.Context()))
	done := make(chan struct{})
	go func() { defer close(done); e.Run(ctx) }()
	stop = func() { cancel(); <-done }
	w.t.Cleanup(stop)
	return e, stop
}

func (w *world) backup(env string) berth.Backup {
	w.t.Helper()
	var b berth.Backup
	w.tx(func(tx *store.Tx) (err error) {
		storeName, err := tx.EnvironmentBackupStore(w.t.Context(), env)
		if err != nil {
			return err
		}
		b, _, err = tx.EnqueueBackup(w.t.Context(), store.NewBackup{Team: "shop", App: "notes", Env: env, Trigger: berth.TriggerManual, Store: storeName, CreatedBy: "ann"})
		return err
	})
	return b
}

func (w *world) restore(n store.NewRestore) berth.Restore {
	w.t.Helper()
	n.Team, n.App, n.CreatedBy = "shop", "notes", "ann"
	var r berth.Restore
	w.tx(func(tx *store.Tx) (err error) { r, _, err = tx.EnqueueRestore(w.t.Context(), n); return err })
	return r
}

// waitBackup polls until backup id ends.
func (w *world) waitBackup(id int64) berth.Backup {
	w.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		b, err := w.st.Backup(w.t.Context(), id)
		if err != nil {
			w.t.Fatal(err)
		}
		if b.State.Final() {
			return b
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("backup %d still %s", id, b.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (w *world) waitRestore(id int64) berth.Restore {
	w.t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		r, err := w.st.Restore(w.t.Context(), id)
		if err != nil {
			w.t.Fatal(err)
		}
		if r.State.Final() {
			return r
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("restore %d still %s at step %q", id, r.State, r.Step)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func equal(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("%s: %q, want %q", what, got, want)
	}
}

// TestBackupRestoreAndDrill: rows → backup → rows deleted → a restore without --force is
// refused, the target untouched → with --force the rows are back; a drill checks the
// backup and leaves nothing; production's backup restored into sandbox gives sandbox
// production's rows and leaves production as it is; every job audited.
func TestBackupRestoreAndDrill(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	w.exec("production", "INSERT INTO notes (body) VALUES ('first'), ('second'), ('third')")
	w.exec("sandbox", "INSERT INTO notes (body) VALUES ('sandbox only')")
	w.engine(nil, 5*time.Second)

	b := w.waitBackup(w.backup("production").ID)
	if b.State != berth.JobSucceeded || len(b.Parts) != 1 || b.KeyID != w.key.ID() || b.Size == 0 {
		t.Fatalf("backup %+v", b)
	}
	p := b.Parts[0]
	if p.Resource != "db" || p.Object != fmt.Sprintf("shop/notes/production/%d/db.dump", b.ID) || len(p.SHA256) != 64 || p.Rows() != 3 {
		t.Fatalf("part %+v", p)
	}
	if len(b.Contents.Resources) != 1 || b.Contents.Resources[0].UID != uid {
		t.Fatalf("contents %+v", b.Contents)
	}
	raw, err := os.ReadFile(filepath.Join(w.dir, "backups", p.Object))
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(raw)) != p.Size || strings.Contains(string(raw), "second") || strings.Contains(string(raw), "PGDMP") {
		t.Fatalf("the stored part is not sealed: %d bytes", len(raw))
	}

	w.exec("production", "DELETE FROM notes")
	// The table is there, empty: no data, so no --force needed.
	r := w.waitRestore(w.restore(store.NewRestore{BackupID: b.ID, Env: "production"}).ID)
	if r.State != berth.JobSucceeded {
		t.Fatalf("restore into an emptied table: %+v", r)
	}
	equal(t, "production after the restore", w.notes("production"), []string{"first", "second", "third"})
	w.exec("production", "INSERT INTO notes (body) VALUES ('fourth')")
	r = w.waitRestore(w.restore(store.NewRestore{BackupID: b.ID, Env: "production"}).ID)
	if r.State != berth.JobFailed || !strings.Contains(r.Reason, "holds data") || !strings.Contains(r.Reason, "--force") {
		t.Fatalf("restore over data without --force: %+v", r)
	}
	equal(t, "production after the refused restore", w.notes("production"), []string{"first", "second", "third", "fourth"})
	r = w.waitRestore(w.restore(store.NewRestore{BackupID: b.ID, Env: "production", Force: true}).ID)
	if r.State != berth.JobSucceeded || r.Duration <= 0 || r.Step != berth.StepSwapping {
		t.Fatalf("forced restore %+v", r)
	}
	equal(t, "production after the forced restore", w.notes("production"), []string{"first", "second", "third"})
	// The app's role still owns what it writes to: its sequence goes on.
	w.exec("production", "INSERT INTO notes (body) VALUES ('after')")

	// Production's backup into sandbox.
	r = w.waitRestore(w.restore(store.NewRestore{BackupID: b.ID, Env: "sandbox", Force: true}).ID)
	if r.State != berth.JobSucceeded {
		t.Fatalf("restore into sandbox %+v", r)
	}
	equal(t, "sandbox", w.notes("sandbox"), []string{"first", "second", "third"})
	equal(t, "production, unchanged", w.notes("production"), []string{"first", "second", "third", "after"})

	// A drill restores into a throwaway database, checks it, drops it.
	d := w.waitRestore(w.restore(store.NewRestore{BackupID: b.ID, Env: "production", Drill: true}).ID)
	if d.State != berth.JobSucceeded || d.Duration <= 0 {
		t.Fatalf("drill %+v", d)
	}
	if left := databases(t, w.admin, "^berth_(restore|drill|replaced)_"); len(left) != 0 {
		t.Errorf("databases left behind: %v", left)
	}
	events, err := w.st.ListAudit(ctx, berth.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range events {
		actions = append(actions, e.Action+":"+string(e.Outcome))
	}
	for _, want := range []string{"backup.finish:success", "restore.finish:failure", "restore.finish:success", "drill.finish:success"} {
		if !strings.Contains(strings.Join(actions, " "), want) {
			t.Errorf("audit has no %s: %v", want, actions)
		}
	}
}

// databases lists the databases whose names match the regular expression pattern on the
// server of dsn, once none are left or after 30 seconds: a restore drops the database it
// replaced just after it ends.
func databases(t testing.TB, dsn, pattern string) []string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		names := databasesNow(t, dsn, pattern)
		if len(names) == 0 || time.Now().After(deadline) {
			return names
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func databasesNow(t testing.TB, dsn, pattern string) []string {
	t.Helper()
	c, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(t.Context())
	rows, err := c.Query(t.Context(), "SELECT datname FROM pg_database WHERE datname ~ $1", pattern)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestDamagedBackup: one byte flipped in a stored part: the restore and the drill fail
// naming the part, and the target is untouched.
func TestDamagedBackup(t *testing.T) {
	w := newWorld(t)
	w.exec("production", "INSERT INTO notes (body) SELECT 'note ' || g FROM generate_series(1, 2000) g")
	w.engine(nil, 5*time.Second)
	b := w.waitBackup(w.backup("production").ID)
	if b.State != berth.JobSucceeded {
		t.Fatalf("backup %+v", b)
	}
	file := filepath.Join(w.dir, "backups", b.Parts[0].Object)
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/2] ^= 0x01
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	w.exec("sandbox", "INSERT INTO notes (body) VALUES ('kept')")
	for _, n := range []store.NewRestore{
		{BackupID: b.ID, Env: "sandbox", Force: true},
		{BackupID: b.ID, Env: "production", Drill: true},
	} {
		r := w.waitRestore(w.restore(n).ID)
		if r.State != berth.JobFailed || !strings.Contains(r.Reason, "part db") || !strings.Contains(r.Reason, b.Parts[0].Object) ||
			!strings.Contains(r.Reason, "damaged") {
			t.Fatalf("%s of a damaged backup: %+v", r.Kind(), r)
		}
	}
	equal(t, "sandbox", w.notes("sandbox"), []string{"kept"})
	if left := databases(t, w.admin, "^berth_(restore|drill|replaced)_"); len(left) != 0 {
		t.Errorf("databases left behind: %v", left)
	}
}

// crashing wraps the real databases and, once armed, cuts the engine's run short (as a
// kill would) at the first call of one method.
type crashing struct {
	backup.Databases
	at     string
	cancel atomic.Pointer[context.CancelFunc]
	hit    atomic.Bool
}

func (c *crashing) crash(method string) {
	if method == c.at && c.hit.CompareAndSwap(false, true) {
		if f := c.cancel.Load(); f != nil {
			(*f)()
		}
	}
}

func (c *crashing) Dump(ctx context.Context, dsn, database string, w io.Writer) ([]berth.TableSum, error) {
	c.crash("Dump")
	return c.Databases.Dump(ctx, dsn, database, w)
}

func (c *crashing) RestoreScratch(ctx context.Context, dsn, scratch, owner string, r io.Reader) ([]berth.TableSum, error) {
	c.crash("RestoreScratch")
	return c.Databases.RestoreScratch(ctx, dsn, scratch, owner, r)
}

func (c *crashing) Swap(ctx context.Context, dsn, target, scratch, previous string) error {
	if c.at == "Swap" && !c.hit.Load() {
		// The renames happen, then the server dies before it records the end.
		if err := c.Databases.Swap(ctx, dsn, target, scratch, previous); err != nil {
			return err
		}
		c.crash("Swap")
		return context.Canceled
	}
	return c.Databases.Swap(ctx, dsn, target, scratch, previous)
}

// TestInterruptedJobsResume: a server that stops mid-backup, mid-restore or after the swap
// leaves its job to the next, which finishes it once: the target ends fully restored.
func TestInterruptedJobsResume(t *testing.T) {
	for _, at := range []string{"Dump", "RestoreScratch", "Swap"} {
		t.Run(at, func(t *testing.T) {
			w := newWorld(t)
			w.exec("production", "INSERT INTO notes (body) VALUES ('a'), ('b')")
			var b berth.Backup
			if at != "Dump" {
				_, stop := w.engine(nil, time.Second)
				b = w.waitBackup(w.backup("production").ID)
				stop()
			}
			c := &crashing{Databases: pgadmin.NewBackups(pgadmin.New(nil)), at: at}
			e, err := backup.New(w.st, backup.Options{Databases: c, Stores: w.stores, Key: w.key, Lease: time.Second, Poll: 20 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			c.cancel.Store(&cancel)
			done := make(chan struct{})
			go func() { defer close(done); e.Run(ctx) }()
			var id int64
			if at == "Dump" {
				id = w.backup("production").ID
			} else {
				w.exec("production", "DELETE FROM notes")
				id = w.restore(store.NewRestore{BackupID: b.ID, Env: "production", Force: true}).ID
			}
			<-done
			if !c.hit.Load() {
				t.Fatalf("the first server never reached %s", at)
			}
			// The next server claims it once the first one's lease ran out.
			w.engine(nil, time.Second)
			if at == "Dump" {
				b := w.waitBackup(id)
				if b.State != berth.JobSucceeded || b.Attempts != 2 || len(b.Parts) != 1 {
					t.Fatalf("resumed backup %+v", b)
				}
				return
			}
			r := w.waitRestore(id)
			if r.State != berth.JobSucceeded || r.Attempts != 2 {
				t.Fatalf("resumed restore %+v", r)
			}
			equal(t, "production", w.notes("production"), []string{"a", "b"})
			if left := databases(t, w.admin, "^berth_(restore|drill|replaced)_"); len(left) != 0 {
				t.Errorf("databases left behind: %v", left)
			}
		})
	}
}

// TestS3AndDirectoryStores: a backup written to an S3 bucket (a real S3 server) restores;
// and the same data sealed for the same backup is stored as the same bytes in S3 and in a
// directory.
func TestS3AndDirectoryStores(t *testing.T) {
	w := newWorld(t)
	srv := s3test.Start(t)
	srv.Bucket(t, "backups")
	s3, err := objstore.NewS3(objstore.S3Config{Endpoint: srv.Endpoint, Bucket: "backups", Prefix: "berth", Region: srv.Region,
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	w.stores.byName["offsite"] = s3
	w.tx(func(tx *store.Tx) error {
		if err := tx.SetBackupStore(t.Context(), berth.BackupStore{Name: "offsite", Kind: berth.BackupStoreS3, Endpoint: srv.Endpoint,
			Bucket: "backups", Prefix: "berth", Region: srv.Region, AccessKey: srv.AccessKey, CreatedBy: "ann"}, srv.SecretKey); err != nil {
			return err
		}
		return tx.SetEnvironmentBackupStore(t.Context(), "production", "offsite")
	})
	w.exec("production", "INSERT INTO notes (body) VALUES ('in the bucket')")
	w.engine(nil, 5*time.Second)
	b := w.waitBackup(w.backup("production").ID)
	if b.State != berth.JobSucceeded || b.Store != "offsite" {
		t.Fatalf("backup %+v", b)
	}
	inBucket, err := os.ReadFile(filepath.Join(srv.Dir, "backups", "berth", b.Parts[0].Object))
	if err != nil {
		t.Fatalf("the part is not in the bucket: %v", err)
	}
	r := w.waitRestore(w.restore(store.NewRestore{BackupID: b.ID, Env: "sandbox"}).ID)
	if r.State != berth.JobSucceeded {
		t.Fatalf("restore from S3 %+v", r)
	}
	equal(t, "sandbox", w.notes("sandbox"), []string{"in the bucket"})

	// The same sealed part, written to a directory, is the same bytes.
	dirPath := t.TempDir()
	dir, err := objstore.NewDir(dirPath)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(mustOpen(t, s3, w.key, b))
	if err != nil {
		t.Fatal(err)
	}
	part, err := backup.WritePart(t.Context(), dir, w.key, b, "db", "postgres", func(out io.Writer) ([]berth.TableSum, error) {
		_, err := out.Write(plain)
		return nil, err
	})
	if err != nil {
		t.Fatal(err)
	}
	inDir, err := os.ReadFile(filepath.Join(dirPath, part.Object))
	if err != nil {
		t.Fatal(err)
	}
	if string(inDir) != string(inBucket) || part.SHA256 != b.Parts[0].SHA256 {
		t.Fatalf("the directory holds other bytes than the bucket for the same data (%d and %d bytes)", len(inDir), len(inBucket))
	}
}

func mustOpen(t *testing.T, o backup.Objects, key *seal.Key, b berth.Backup) io.Reader {
	t.Helper()
	rc, err := backup.ReadPart(t.Context(), o, key, b, b.Parts[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Close() })
	return rc
}

// stuckSwap is a server whose swaps always fail (sessions it may not end, say).
type stuckSwap struct{ backup.Databases }

func (stuckSwap) Swap(context.Context, string, string, string, string) error {
	return errors.New("could not end the sessions of the database: permission denied")
}

// TestSwapGivenUp: a swap that keeps failing is retried, then given up after
// berth.MaxJobAttempts, saying why; the scratch database goes, and the target is as it
// was and open to the app.
func TestSwapGivenUp(t *testing.T) {
	w := newWorld(t)
	w.exec("production", "INSERT INTO notes (body) VALUES ('backed up')")
	_, stop := w.engine(nil, time.Second)
	b := w.waitBackup(w.backup("production").ID)
	stop()
	w.exec("sandbox", "INSERT INTO notes (body) VALUES ('kept')")
	w.engine(stuckSwap{pgadmin.NewBackups(pgadmin.New(nil))}, 300*time.Millisecond)
	r := w.waitRestore(w.restore(store.NewRestore{BackupID: b.ID, Env: "sandbox", Force: true}).ID)
	if r.State != berth.JobFailed || r.Attempts != berth.MaxJobAttempts+1 || !strings.Contains(r.Reason, "gave up after 3 attempts") ||
		!strings.Contains(r.Reason, "swap db: could not end the sessions") {
		t.Fatalf("restore %+v", r)
	}
	equal(t, "sandbox", w.notes("sandbox"), []string{"kept"})
	if left := databases(t, w.admin, "^berth_(restore|drill|replaced)_"); len(left) != 0 {
		t.Errorf("databases left behind: %v", left)
	}
}
