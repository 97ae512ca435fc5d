// Package backup runs backups, restores and drills of apps' data (docs/backups.md), and
// the schedules that make them: durable jobs claimed under a lease from the store, like
// deploys, each ending in exactly one final state.
//
// A backup dumps each postgres resource of an app in an environment (Databases, wired to
// internal/pgadmin), seals the dump as a stream under the backup key and writes it to the
// environment's backup store (Stores, wired to internal/objstore), recording its size,
// SHA-256 and each table's row count and checksum. A restore reads a part back (checking
// the SHA-256 and the seal as it goes), restores it into a scratch database, compares the
// counts and checksums with the backup's, and only then swaps the scratch database in for
// the target; a drill does the same into a throwaway database that it drops. Nothing is
// swapped before every part is checked, and the swap of each part is one transaction: a
// target is either untouched or fully restored.
package backup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/seal"
	"github.com/berth-dev/berth/internal/store"
)

// Databases is what backups need of PostgreSQL servers (internal/pgadmin). dsn is an
// environment's admin DSN; errors never hold a password.
type Databases interface {
	// Dump writes database in pg_dump's custom format to w and returns its tables' sums,
	// taken in the dump's snapshot.
	Dump(ctx context.Context, dsn, database string, w io.Writer) ([]berth.TableSum, error)
	// RestoreScratch makes database scratch owned by owner ("" the admin) from a dump, and
	// returns the sums of its tables as restored.
	RestoreScratch(ctx context.Context, dsn, scratch, owner string, r io.Reader) ([]berth.TableSum, error)
	// Swap makes scratch the target, keeping the old one as previous until dropped; it is
	// idempotent and finishes a swap interrupted at any point.
	Swap(ctx context.Context, dsn, target, scratch, previous string) error
	// Abandon drops scratch and lets connections into target again.
	Abandon(ctx context.Context, dsn, target, scratch string) error
	// DropDatabase drops a throwaway database; a missing one is no error.
	DropDatabase(ctx context.Context, dsn, name string) error
	// HasData reports whether any table of database holds a row.
	HasData(ctx context.Context, dsn, database string) (bool, error)
}

// Objects is a backup store: objects by name (internal/objstore).
type Objects interface {
	Put(ctx context.Context, name string, r io.Reader) (int64, error)
	Open(ctx context.Context, name string) (io.ReadCloser, error)
	Delete(ctx context.Context, name string) error
	String() string
}

// Stores opens backup stores by name (berth.DefaultBackupStore: the server's directory).
type Stores interface {
	Open(ctx context.Context, name string) (Objects, error)
}

// Observer hears every job's end: metrics and chat announcements.
type Observer interface {
	BackupDone(ctx context.Context, b berth.Backup)
	RestoreDone(ctx context.Context, r berth.Restore)
}

// Options configure an Engine.
type Options struct {
	Databases Databases
	Stores    Stores
	// Key seals backups; without it backups fail, saying how to configure one.
	Key *seal.Key
	// Lease is how long a claim lasts without renewal; renewed every Lease/3.
	Lease time.Duration
	// Poll is how often the engine looks for queued jobs when not woken.
	Poll     time.Duration
	Observer Observer
	Logger   *slog.Logger
	// Now is the clock of durations (time.Now when nil).
	Now func() time.Time
}

// Engine runs backups, restores and drills.
type Engine struct {
	st   *store.Store
	o    Options
	log  *slog.Logger
	id   string
	wake chan struct{}
}

// New returns an Engine named after the host and process, so leases say who holds them.
func New(st *store.Store, o Options) (*Engine, error) {
	if o.Databases == nil || o.Stores == nil {
		return nil, errors.New("backup engine: no databases or stores")
	}
	if o.Lease <= 0 {
		o.Lease = 30 * time.Second
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	host, _ := os.Hostname()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return &Engine{st: st, o: o, log: o.Logger, wake: make(chan struct{}, 1),
		id: fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))}, nil
}

// KeyID names the backup key ("" when none is configured).
func (e *Engine) KeyID() string {
	if e.o.Key == nil {
		return ""
	}
	return e.o.Key.ID()
}

// Notify wakes the engine: a job was queued.
func (e *Engine) Notify() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Run runs jobs until ctx ends: one backup and one restore or drill at a time, each with
// its own worker, so that a long backup does not hold up a restore. A job in flight when
// ctx ends keeps its lease; whoever claims it next resumes it.
func (e *Engine) Run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { e.loop(ctx, e.id+"/backup", e.claimBackup) })
	wg.Go(func() { e.loop(ctx, e.id+"/restore", e.claimRestore) })
	wg.Wait()
}

// claim takes the next job of one kind and runs it; false when there was none.
type claim func(ctx context.Context, owner string) (bool, error)

func (e *Engine) loop(ctx context.Context, owner string, next claim) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-e.wake:
		}
		for ctx.Err() == nil {
			ok, err := next(ctx, owner)
			if err != nil {
				if ctx.Err() == nil {
					e.log.Error("claim backup job", "err", err)
				}
				break
			}
			if !ok {
				break
			}
			e.Notify() // the other worker may have work unblocked by this one
		}
		t.Reset(e.o.Poll)
	}
}

// leased runs work under a lease renewed every Lease/3; losing it cancels work.
func (e *Engine) leased(ctx context.Context, renew func(ctx context.Context) error, work func(ctx context.Context)) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		t := time.NewTicker(e.o.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := renew(ctx); err != nil {
					if ctx.Err() == nil {
						cancel(err)
					}
					return
				}
			}
		}
	}()
	work(ctx)
}

// errRetry marks a failure that must not end the job: it stays with its lease until that
// runs out, and whoever claims it next resumes it (up to berth.MaxJobAttempts).
var errRetry = errors.New("to be resumed")

// interrupted says whether a job's run was cut short (shutdown, lost lease, errRetry)
// rather than ended: then it is not ours to finish.
func interrupted(ctx context.Context, err error) bool {
	return ctx.Err() != nil || errors.Is(err, berth.ErrLeaseLost) || errors.Is(err, errRetry)
}

// tooMany is the reason a job claimed more than berth.MaxJobAttempts times fails with.
func tooMany(attempts int) string {
	return fmt.Sprintf("gave up after %d attempts: the servers running it kept stopping", attempts-1)
}

// outcome is the audit outcome of a job's end.
func outcome(s berth.JobState) berth.Outcome {
	if s == berth.JobSucceeded {
		return berth.OutcomeSuccess
	}
	return berth.OutcomeFailure
}
