package backup_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/pgadmin"
	"github.com/berth-dev/berth/internal/store"
)

// BenchmarkBackupRestore backs up and restores a database of about BERTH_BENCH_BACKUP_MB
// megabytes (1024 unless set; pg_database_size is logged) through Berth's jobs, and the
// same database with raw pg_dump -Fc and pg_restore (default flags) into a new database,
// and reports each time and Berth's over the raw one (the target is at most 1.15 each;
// docs/benchmarks.md). Berth's backup also sums every table in the dump's snapshot, seals
// and hashes the dump and writes it to the store; its restore also reads and checks it,
// restores into a scratch database summing each table as it is loaded, compares the sums,
// and swaps, dropping the database it replaces.
func BenchmarkBackupRestore(b *testing.B) {
	mb := 1024
	if v := os.Getenv("BERTH_BENCH_BACKUP_MB"); v != "" {
		var err error
		if mb, err = strconv.Atoi(v); err != nil || mb <= 0 {
			b.Fatalf("BERTH_BENCH_BACKUP_MB=%q: want a number of megabytes", v)
		}
	}
	w := newWorld(b)
	ctx := b.Context()
	tools, err := pgadmin.FindTools(ctx)
	if err != nil {
		b.Fatal(err)
	}
	// Rows of about 200 bytes, in a table with an index on them, like an app's: about 500
	// bytes of database each.
	rows := mb * 1024 * 1024 / 500
	w.exec("production", `INSERT INTO notes (body) SELECT md5(g::text) || repeat(md5((g * 7)::text), 5) FROM generate_series(1, `+strconv.Itoa(rows)+`) g`)
	w.exec("production", "CREATE INDEX notes_body ON notes (body)")
	w.exec("production", "VACUUM ANALYZE notes")
	cfg, err := pgx.ParseConfig(w.admin)
	if err != nil {
		b.Fatal(err)
	}
	size := querySize(b, w.admin, w.dbs["production"].Name)
	b.Logf("database: %d MB, %d rows", size>>20, rows)
	env := append(os.Environ(), "PGHOST="+cfg.Host, "PGPORT="+strconv.Itoa(int(cfg.Port)), "PGUSER="+cfg.User, "PGPASSWORD="+cfg.Password)
	run := func(name string, args ...string) time.Duration {
		b.Helper()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Env = env
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", filepath.Base(name), err, out)
		}
		return time.Since(start)
	}
	w.engine(nil, 30*time.Second)
	file := filepath.Join(b.TempDir(), "raw.dump")
	// Each iteration runs the four one after the other, so that a slower moment of a
	// shared machine weighs on both sides of a ratio; the ratios reported are the medians
	// of the iterations'.
	var rawDump, rawRestore, berthBackup, berthRestore time.Duration
	var backupRatios, restoreRatios []float64
	for i := range b.N {
		d := run(tools.Dump, "-Fc", "-f", file, "-d", w.dbs["production"].Name)
		rawDump += d

		start := time.Now()
		bk := w.waitBackup(w.backup("production").ID)
		berthBackup += time.Since(start)
		backupRatios = append(backupRatios, time.Since(start).Seconds()/d.Seconds())
		if bk.State != berth.JobSucceeded {
			b.Fatalf("backup %+v", bk)
		}

		raw := "bench_raw_" + strconv.Itoa(i)
		run(filepath.Join(filepath.Dir(tools.Dump), "createdb"), raw)
		d = run(tools.Restore, "--no-owner", "--no-privileges", "--exit-on-error", "-d", raw, file)
		rawRestore += d
		run(filepath.Join(filepath.Dir(tools.Dump), "dropdb"), raw)

		start = time.Now()
		r := w.waitRestore(w.restore(store.NewRestore{BackupID: bk.ID, Env: "sandbox", Force: true}).ID)
		berthRestore += time.Since(start)
		restoreRatios = append(restoreRatios, time.Since(start).Seconds()/d.Seconds())
		// The database the restore replaced is dropped just after it ends; not timed, as
		// the raw side's dropdb is not.
		databases(b, w.admin, "^berth_replaced_")
		b.Logf("iteration %d: backup/pg_dump %.3f, restore/pg_restore %.3f", i, backupRatios[i], restoreRatios[i])
		if r.State != berth.JobSucceeded {
			b.Fatalf("restore %+v", r)
		}
	}
	n := float64(b.N)
	b.ReportMetric(rawDump.Seconds()/n, "pg_dump-s")
	b.ReportMetric(berthBackup.Seconds()/n, "backup-s")
	b.ReportMetric(median(backupRatios), "backup/pg_dump")
	b.ReportMetric(rawRestore.Seconds()/n, "pg_restore-s")
	b.ReportMetric(berthRestore.Seconds()/n, "restore-s")
	b.ReportMetric(median(restoreRatios), "restore/pg_restore")
}

func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func querySize(b *testing.B, dsn, db string) int64 {
	c, err := pgx.Connect(b.Context(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(b.Context())
	var n int64
	if err := c.QueryRow(b.Context(), "SELECT pg_database_size($1)", db).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}
