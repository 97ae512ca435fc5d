package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

func testMigrations(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	v, err := st.SchemaVersion(ctx)
	must(t, "SchemaVersion", err)
	if v < 1 {
		t.Fatalf("SchemaVersion = %d after Open", v)
	}
	countMigrations := func(st *store.Store) int {
		var n int
		must(t, "count schema_migrations", st.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations").Scan(&n))
		return n
	}
	if n := countMigrations(st); n != v {
		t.Errorf("schema_migrations has %d rows, want one per version up to %d", n, v)
	}
	// Opening a migrated database applies nothing again.
	again := h.open(t, h.dsn)
	v2, err := again.SchemaVersion(ctx)
	must(t, "SchemaVersion after reopen", err)
	if v2 != v || countMigrations(again) != v {
		t.Errorf("reopen: version %d with %d rows, want %d", v2, countMigrations(again), v)
	}
}

// testConcurrentOpen opens one new database from several goroutines at once, as server
// replicas starting together would: all succeed and each migration is applied once.
func testConcurrentOpen(t *testing.T, h *harness) {
	dsn := h.newDSN(t)
	const n = 4
	stores := make([]*store.Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = store.Open(t.Context(), dsn, store.WithClock(h.clock.Now)) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Open %d: %v", i, errs[i])
			continue
		}
		defer stores[i].Close()
	}
	if t.Failed() {
		return
	}
	var rows, versions int
	must(t, "count", stores[0].DB().QueryRowContext(t.Context(),
		"SELECT COUNT(*), COUNT(DISTINCT version) FROM schema_migrations").Scan(&rows, &versions))
	v, err := stores[0].SchemaVersion(t.Context())
	must(t, "SchemaVersion", err)
	if rows != v || versions != v {
		t.Errorf("schema_migrations: %d rows, %d versions; want %d of each", rows, versions, v)
	}
}

// testReopen checks that what one Store committed is there for the next one.
func testReopen(t *testing.T, h *harness) {
	ctx := t.Context()
	dsn := h.newDSN(t)
	st, err := store.Open(ctx, dsn, store.WithClock(h.clock.Now))
	must(t, "Open", err)
	var first berth.AuditEvent
	err = st.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.CreateTeam(ctx, "web"); err != nil {
			return err
		}
		first, err = tx.AppendAudit(ctx, event("ann", "team.create", "team/web", "web", ""))
		return err
	})
	must(t, "Tx", err)
	must(t, "Close", st.Close())

	st = h.open(t, dsn)
	if _, err := st.Team(ctx, "web"); err != nil {
		t.Errorf("team written before reopen: %v", err)
	}
	evs, err := st.ListAudit(ctx, berth.AuditFilter{})
	must(t, "ListAudit", err)
	equal(t, "audit after reopen", evs, []berth.AuditEvent{first})
	second := appendEvents(t, st, event("ann", "team.delete", "team/web", "web", ""))[0]
	if second.ID != 2 || second.PrevHash != first.Hash {
		t.Errorf("chain after reopen: %+v does not follow %+v", second, first)
	}
	_, problems, err := st.VerifyAudit(ctx)
	must(t, "VerifyAudit", err)
	equal(t, "VerifyAudit", problems, []berth.AuditProblem(nil))
}

var errBoom = errors.New("boom")

func testTxRollback(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	err := st.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.CreateTeam(ctx, "web"); err != nil {
			return err
		}
		if _, err := tx.CreateUser(ctx, berth.User{Name: "ann"}); err != nil {
			return err
		}
		if _, err := tx.AppendAudit(ctx, event("ann", "team.create", "team/web", "web", "")); err != nil {
			return err
		}
		return errBoom
	})
	if err != errBoom {
		t.Errorf("Tx returned %v, want fn's error unchanged", err)
	}
	// A store error inside fn rolls back the changes before it.
	err = st.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.CreateTeam(ctx, "data"); err != nil {
			return err
		}
		_, err := tx.CreateTeam(ctx, "data")
		return err
	})
	wantErr(t, "Tx with a conflict", err, berth.ErrConflict)

	for _, name := range []string{"web", "data"} {
		_, err = st.Team(ctx, name)
		wantErr(t, "Team "+name+" after rollback", err, berth.ErrNotFound)
	}
	_, err = st.User(ctx, "ann")
	wantErr(t, "User after rollback", err, berth.ErrNotFound)
	evs, err := st.ListAudit(ctx, berth.AuditFilter{})
	must(t, "ListAudit", err)
	if len(evs) != 0 {
		t.Errorf("audit events after rollback: %+v", evs)
	}
	// The chain head did not move either.
	ev := appendEvents(t, st, event("ann", "team.create", "team/web", "web", ""))[0]
	if ev.ID != 1 || ev.PrevHash != genesis {
		t.Errorf("first event after rollback = %+v", ev)
	}

	// A Tx is dead once its function returned.
	var leaked *store.Tx
	tx(t, st, func(tx *store.Tx) error { leaked = tx; return nil })
	if _, err := leaked.CreateTeam(ctx, "late"); err == nil {
		t.Errorf("CreateTeam on a finished Tx succeeded")
	}
}

func testTxPanic(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	func() {
		defer func() {
			if p := recover(); p != errBoom {
				t.Errorf("recovered %v, want the panic of fn", p)
			}
		}()
		st.Tx(ctx, func(tx *store.Tx) error {
			if _, err := tx.CreateTeam(ctx, "web"); err != nil {
				return err
			}
			panic(errBoom)
		})
	}()
	_, err := st.Team(ctx, "web")
	wantErr(t, "Team after panic", err, berth.ErrNotFound)
	// The store still writes: the panicking transaction released its connection.
	tx(t, st, func(tx *store.Tx) error { _, err := tx.CreateTeam(ctx, "web"); return err })
}

// testTxIsolation: a transaction sees its own changes; others see them after commit.
func testTxIsolation(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	tx(t, st, func(tx *store.Tx) error {
		if _, err := tx.CreateTeam(ctx, "web"); err != nil {
			return err
		}
		if _, err := tx.Team(ctx, "web"); err != nil {
			t.Errorf("Tx does not see its own change: %v", err)
		}
		_, err := st.Team(ctx, "web")
		wantErr(t, "Store read of an uncommitted change", err, berth.ErrNotFound)
		return nil
	})
	if _, err := st.Team(ctx, "web"); err != nil {
		t.Errorf("committed change not visible: %v", err)
	}
}

// testConcurrentWriters runs 32 writers, spread over two stores as two server processes
// would be, each committing teams with their audit events, while readers list and verify:
// nothing fails, and the audit chain is whole and gap-free.
func testConcurrentWriters(t *testing.T, h *harness) {
	const writers, perWriter = 32, 8
	st, ctx := h.store(t), t.Context()
	stores := []*store.Store{st, h.open(t, h.dsn)}

	var writersWG, readersWG sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, writers+4)
	for r := range 4 {
		readersWG.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				s := stores[r%2]
				if _, err := s.ListAudit(ctx, berth.AuditFilter{Limit: 10}); err != nil {
					errs <- fmt.Errorf("reader ListAudit: %w", err)
					return
				}
				// A verification running during appends must see one consistent snapshot.
				_, problems, err := s.VerifyAudit(ctx)
				if err != nil || len(problems) > 0 {
					errs <- fmt.Errorf("VerifyAudit during writes: %v %v", problems, err)
					return
				}
			}
		})
	}
	for w := range writers {
		writersWG.Go(func() {
			s := stores[w%2]
			for i := range perWriter {
				name := fmt.Sprintf("w%d-%d", w, i)
				err := s.Tx(ctx, func(tx *store.Tx) error {
					if _, err := tx.CreateTeam(ctx, name); err != nil {
						return err
					}
					_, err := tx.AppendAudit(ctx, event("ann", "team.create", "team/"+name, name, ""))
					return err
				})
				if err != nil {
					errs <- fmt.Errorf("writer %d: %w", w, err)
					return
				}
			}
		})
	}
	writersWG.Wait()
	close(done)
	readersWG.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	const total = writers * perWriter
	teams, err := st.Teams(ctx)
	must(t, "Teams", err)
	if len(teams) != total {
		t.Errorf("%d teams, want %d", len(teams), total)
	}
	evs, err := st.ListAudit(ctx, berth.AuditFilter{Limit: berth.MaxAuditLimit})
	must(t, "ListAudit", err)
	if len(evs) != total {
		t.Fatalf("%d audit events, want %d", len(evs), total)
	}
	for i, ev := range evs {
		if want := int64(total - i); ev.ID != want {
			t.Fatalf("audit ids are not gap-free: position %d has id %d, want %d", i, ev.ID, want)
		}
		if i+1 < len(evs) && ev.PrevHash != evs[i+1].Hash {
			t.Fatalf("event %d does not link to event %d", ev.ID, evs[i+1].ID)
		}
	}
	_, problems, err := st.VerifyAudit(ctx)
	must(t, "VerifyAudit", err)
	equal(t, "VerifyAudit", problems, []berth.AuditProblem(nil))
}
