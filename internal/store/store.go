package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-dev/berth/internal/seal"
)

// Store is Berth's database: SQLite or PostgreSQL behind one API. It is safe for concurrent
// use; several processes may share one PostgreSQL database (or one SQLite file).
type Store struct {
	// queries answers reads from the read pool; embedded so that Store and Tx share the
	// same read methods.
	queries

	d   *dialect
	db  *sql.DB // writes; for SQLite a single connection whose transactions BEGIN IMMEDIATE
	rdb *sql.DB // reads; the same pool as db for PostgreSQL
	now func() time.Time
	log *slog.Logger

	touched sync.Map // token id -> time.Time of the last last_used_at write from this process
}

// Option configures [Open].
type Option func(*options)

type options struct {
	now      func() time.Time
	log      *slog.Logger
	maxConns int
	key      *seal.Key
}

// WithClock makes the store take the current time from now, for created_at columns and
// audit events without a time. Tests pass a fake clock.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithLogger makes the store log migrations and background failures to l.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithSecretsKey makes the store seal secret values with k and open those k sealed.
// Without it, config works and secrets can be listed but not set or read.
func WithSecretsKey(k *seal.Key) Option { return func(o *options) { o.key = k } }

// WithMaxConns bounds the connection pool: PostgreSQL connections, or SQLite read
// connections (SQLite always writes through exactly one).
func WithMaxConns(n int) Option { return func(o *options) { o.maxConns = n } }

// Open connects to the database named by dsn and applies pending migrations.
//
// dsn is a SQLite file path, optionally written sqlite://PATH or sqlite:PATH, or a
// PostgreSQL URL postgres://user@host:port/db?sslmode=... (postgresql:// works too).
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	o := options{now: time.Now, log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	kind, target, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	var s *Store
	switch kind {
	case DialectPostgres:
		s, err = openPostgres(ctx, target, o)
	default:
		s, err = openSQLite(ctx, target, o)
	}
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func newStore(d *dialect, db, rdb *sql.DB, o options) *Store {
	keys := &keyHolder{}
	keys.key.Store(o.key)
	return &Store{
		queries: queries{q: rdb, d: d, keys: keys},
		d:       d,
		db:      db,
		rdb:     rdb,
		now:     o.now,
		log:     o.log,
	}
}

// Close closes the store's connections.
func (s *Store) Close() error {
	err := s.db.Close()
	if s.rdb != s.db {
		err = errors.Join(err, s.rdb.Close())
	}
	return err
}

// Dialect reports which database the store uses: [DialectSQLite] or [DialectPostgres].
func (s *Store) Dialect() string { return s.d.name }

// DB returns the handle the store writes through. It exists for tests and diagnostics —
// the conformance suite tampers with the audit log through it; anything done with it
// bypasses validation and the audit log.
func (s *Store) DB() *sql.DB { return s.db }

// Tx is a write transaction: every change the store offers is a method of Tx, and so is
// every read, which then sees the transaction's own changes. A Tx is only valid inside
// the function given to [Store.Tx].
type Tx struct {
	queries
	now func() time.Time
}

// maxTxAttempts bounds how often Tx runs fn when PostgreSQL aborts it for a deadlock or
// serialization failure.
const maxTxAttempts = 3

// Tx runs fn in a write transaction and commits it if fn returns nil; otherwise, or if fn
// panics, it rolls back and nothing fn did is kept. fn returns its error unchanged to the
// caller.
//
// fn may run more than once: PostgreSQL can abort a transaction that deadlocks with
// another, and Tx then retries it, so fn must not have effects outside tx that are unsafe
// to repeat. With SQLite, writes are serialized through one connection: fn must not call
// Store.Tx or Store.TouchToken (they would wait for fn's own connection), and Store's read
// methods inside fn do not see fn's uncommitted changes — use tx's.
func (s *Store) Tx(ctx context.Context, fn func(tx *Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.tryTx(ctx, fn)
		if err == nil || attempt == maxTxAttempts || classify(err) != errRetry || ctx.Err() != nil {
			return err
		}
		s.log.DebugContext(ctx, "retrying aborted transaction", "attempt", attempt, "err", err)
	}
}

func (s *Store) tryTx(ctx context.Context, fn func(tx *Tx) error) error {
	sqlTx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	done := false
	defer func() {
		if !done {
			// fn panicked: roll back, then let the panic continue.
			_ = sqlTx.Rollback()
		}
	}()
	tx := &Tx{queries: queries{q: sqlTx, d: s.d, keys: s.keys}, now: s.now}
	fnErr := fn(tx)
	done = true
	if fnErr != nil {
		if rbErr := sqlTx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			s.log.WarnContext(ctx, "rollback failed", "err", rbErr)
		}
		return fnErr
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	return nil
}

// querier is what queries needs from *sql.DB and *sql.Tx.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// queries runs the store's SQL against a pool or a transaction, rebinding placeholders for
// the dialect. The read methods of Store and Tx are defined on it.
type queries struct {
	q    querier
	d    *dialect
	keys *keyHolder
}

// keyHolder is the secrets key, shared by the store and its transactions; rotation
// replaces it.
type keyHolder struct{ key atomic.Pointer[seal.Key] }

func (h *keyHolder) get() *seal.Key {
	if h == nil {
		return nil
	}
	return h.key.Load()
}

func (q queries) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return q.q.ExecContext(ctx, q.d.rebind(query), args...)
}

func (q queries) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return q.q.QueryContext(ctx, q.d.rebind(query), args...)
}

func (q queries) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return q.q.QueryRowContext(ctx, q.d.rebind(query), args...)
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

// list runs a query and scans every row with scan.
func list[T any](ctx context.Context, q queries, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Times are stored as microseconds since the Unix epoch; zero time.Time is NULL.

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func nullMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

func fromNullMicros(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromMicros(n.Int64)
}

// stamp returns the transaction's current time, at the precision the store keeps.
func (tx *Tx) stamp() time.Time { return tx.now().UTC().Truncate(time.Microsecond) }
