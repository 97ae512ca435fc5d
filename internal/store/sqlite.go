package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"time"

	"modernc.org/sqlite" // also registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"
)

// SQLite settings, applied to every connection:
//   - journal_mode=WAL: readers never block the writer nor the writer readers.
//   - synchronous=FULL: in WAL mode NORMAL already survives a crash of the process (kill -9)
//     — a committed transaction is in the WAL file, which the OS keeps — but it only syncs
//     the WAL at checkpoints, so a power loss or kernel crash can lose the last commits.
//     FULL syncs the WAL on every commit, which makes "accepted means kept" hold for host
//     crashes too, for one fsync (well under a millisecond on an SSD) per write transaction
//     — cheap at a control plane's write rate.
//   - busy_timeout: another process holding the write lock makes us wait, not fail.
//   - foreign_keys=ON: SQLite leaves them off unless asked, per connection.
//
// Writes go through a pool of exactly one connection whose transactions BEGIN IMMEDIATE
// (_txlock): the write lock is taken when the transaction starts, so a transaction never
// has to upgrade a read lock (which fails with SQLITE_BUSY instead of waiting), and writers
// in this process queue in Go rather than spinning on the busy handler. Reads use a
// separate pool of query_only connections and run concurrently with the writer.
const (
	sqliteCommon = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)"
	sqliteWriter = sqliteCommon + "&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"
	sqliteReader = sqliteCommon + "&_pragma=query_only(1)"
)

func openSQLite(ctx context.Context, path string, o options) (*Store, error) {
	if err := createPrivate(path); err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is already in the message
		}
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	w, err := openWriter(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}

	r, err := sql.Open("sqlite", path+"?"+sqliteReader)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	n := o.maxConns
	if n <= 0 {
		n = max(4, runtime.GOMAXPROCS(0))
	}
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("open sqlite database %s: %w", path, err)
	}
	return newStore(sqliteDialect, w, r, o), nil
}

// openWriter opens the single writer connection and checks it runs in WAL mode. Several
// processes opening a new database at once race to switch it to WAL, which needs an
// exclusive lock; SQLite reports the loser busy at once instead of waiting (it would
// deadlock otherwise), so the open is retried for a while.
func openWriter(ctx context.Context, path string) (*sql.DB, error) {
	deadline := time.Now().Add(15 * time.Second)
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, 500*time.Millisecond) {
		w, err := tryWriter(ctx, path)
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return w, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}

func tryWriter(ctx context.Context, path string) (*sql.DB, error) {
	w, err := sql.Open("sqlite", path+"?"+sqliteWriter)
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		w.Close()
		return nil, err
	}
	if !strings.EqualFold(mode, "wal") {
		w.Close()
		return nil, fmt.Errorf("journal mode is %q, not WAL (is it on a file system without shared memory, such as NFS?)", mode)
	}
	return w, nil
}

func isBusy(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		code := se.Code() & 0xff // the primary result code
		return code == sqlite3.SQLITE_BUSY || code == sqlite3.SQLITE_LOCKED
	}
	return false
}

// createPrivate creates the database file readable only by its owner if it does not exist
// yet; SQLite gives the -wal and -shm files the same permissions.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}
