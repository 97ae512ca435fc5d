package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// testTrains: a train is made once per team and name, naming apps and environments that
// exist; each slot of its schedule gets one run however often it is scheduled; a run moves
// from state to state only from the one it is in (a compare-and-set), and not before it
// is due; delays count per day up to the train's most, and neither a delay nor an early
// departure applies to a run that has left.
func testTrains(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	seed(t, st, []string{"shop"}, []string{"ann"})
	tx(t, st, func(tx *store.Tx) error {
		for _, a := range []string{"web", "api"} {
			if _, err := tx.CreateApp(ctx, "shop", a, "ann"); err != nil {
				return err
			}
		}
		for _, e := range []string{"staging", "production"} {
			if _, err := tx.CreateEnvironment(ctx, berth.Environment{Name: e, InCluster: true}); err != nil {
				return err
			}
		}
		return nil
	})
	good := berth.Train{Team: "shop", Name: "daily", Apps: []string{"web", "api"}, Schedule: "0 10 * * *", TimeZone: "Europe/Lisbon",
		From: "staging", To: "production", AnnounceBefore: 15 * time.Minute, Delay: 30 * time.Minute, MaxDelays: 2, CreatedBy: "ann"}
	create := func(tr berth.Train) (berth.Train, error) {
		var out berth.Train
		err := txErr(t, st, func(tx *store.Tx) (err error) { out, err = tx.CreateTrain(ctx, tr); return err })
		return out, err
	}
	tr, err := create(good)
	must(t, "CreateTrain", err)
	if tr.ID == 0 || tr.Team != "shop" || len(tr.Apps) != 2 || tr.Apps[1] != "api" || tr.Delay != 30*time.Minute || tr.TimeZone != "Europe/Lisbon" {
		t.Fatalf("created %+v", tr)
	}
	_, err = create(good)
	wantErr(t, "the same train twice", err, berth.ErrConflict)
	for what, bad := range map[string]func(*berth.Train){
		"an app that does not exist":         func(b *berth.Train) { b.Apps = []string{"nope"} },
		"an app twice":                       func(b *berth.Train) { b.Apps = []string{"web", "web"} },
		"the same environment at both ends":  func(b *berth.Train) { b.To = "staging" },
		"no schedule":                        func(b *berth.Train) { b.Schedule = "" },
		"a delay of nothing":                 func(b *berth.Train) { b.Delay = 0 },
		"a name that is no name":             func(b *berth.Train) { b.Name = "Daily Train" },
		"an environment that does not exist": func(b *berth.Train) { b.To = "moon" },
	} {
		b := good
		b.Name = "other"
		bad(&b)
		if _, err := create(b); err == nil {
			t.Errorf("%s: created", what)
		}
	}

	slot := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	var run, again berth.TrainRun
	tx(t, st, func(tx *store.Tx) (err error) { run, err = tx.ScheduleTrainRun(ctx, tr.ID, slot); return err })
	tx(t, st, func(tx *store.Tx) (err error) { again, err = tx.ScheduleTrainRun(ctx, tr.ID, slot); return err })
	if run.ID == 0 || again.ID != run.ID || run.State != berth.TrainScheduled || !run.Departs.Equal(slot) {
		t.Fatalf("scheduled %+v then %+v, want one scheduled run at %s", run, again, slot)
	}
	update := func(u store.TrainRunUpdate) (berth.TrainRun, error) {
		var out berth.TrainRun
		err := txErr(t, st, func(tx *store.Tx) (err error) { out, err = tx.UpdateTrainRun(ctx, run.ID, u); return err })
		return out, err
	}
	cars := []berth.TrainCar{{App: "web", Source: 1, Revision: 2, State: berth.CarWaiting,
		Commits: []berth.Commit{{SHA: "abc", Message: "fix", AuthorName: "Filipe"}}, Total: 1}}
	announced, err := update(store.TrainRunUpdate{From: berth.TrainScheduled, State: berth.TrainAnnounced, Cars: cars})
	must(t, "announce", err)
	if announced.State != berth.TrainAnnounced || len(announced.Cars) != 1 || announced.Cars[0].Commits[0].AuthorName != "Filipe" {
		t.Fatalf("announced %+v", announced)
	}
	_, err = update(store.TrainRunUpdate{From: berth.TrainScheduled, State: berth.TrainAnnounced})
	wantErr(t, "announcing twice", err, berth.ErrConflict)
	_, err = update(store.TrainRunUpdate{From: berth.TrainAnnounced, State: berth.TrainDeparting, DueBy: slot.Add(-time.Minute)})
	wantErr(t, "departing before it is due", err, berth.ErrConflict)

	delay := func(by string) (berth.TrainRun, error) {
		var out berth.TrainRun
		err := txErr(t, st, func(tx *store.Tx) (err error) {
			out, err = tx.DelayTrainRun(ctx, berth.TrainDelay{TrainID: tr.ID, RunID: run.ID, Day: "2026-12-07", By: by, Delay: 30 * time.Minute}, 2)
			return err
		})
		return out, err
	}
	_, err = delay("bob")
	must(t, "first delay", err)
	second, err := delay("carol")
	must(t, "second delay", err)
	if !second.Departs.Equal(slot.Add(time.Hour)) || second.Delays != 2 {
		t.Errorf("after two delays: departs %s, delays %d; want %s, 2", second.Departs, second.Delays, slot.Add(time.Hour))
	}
	_, err = delay("dan")
	wantErr(t, "a third delay the same day", err, berth.ErrConflict)
	// Delays asked at once are counted one after the other: of five, as many as the day
	// has left (none here) pass.
	var other berth.TrainRun
	tx(t, st, func(tx *store.Tx) (err error) {
		other, err = tx.ScheduleTrainRun(ctx, tr.ID, slot.Add(24*time.Hour))
		return err
	})
	results := make(chan error, 5)
	for range 5 {
		go func() {
			results <- txErr(t, st, func(tx *store.Tx) error {
				_, err := tx.DelayTrainRun(ctx, berth.TrainDelay{TrainID: tr.ID, RunID: other.ID, Day: "2026-12-08", By: "eve", Delay: time.Minute}, 2)
				return err
			})
		}()
	}
	passed := 0
	for range 5 {
		if err := <-results; err == nil {
			passed++
		} else if !errors.Is(err, berth.ErrConflict) && !errors.Is(err, berth.ErrUnavailable) {
			t.Errorf("a concurrent delay: %v", err)
		}
	}
	if passed != 2 {
		t.Errorf("%d of 5 concurrent delays passed, want the day's 2", passed)
	}
	ds, err := st.UnannouncedTrainDelays(ctx)
	must(t, "UnannouncedTrainDelays", err)
	if len(ds) != 4 || ds[0].By != "bob" || ds[1].By != "carol" {
		t.Fatalf("unannounced delays %+v", ds)
	}
	tx(t, st, func(tx *store.Tx) error { return tx.TrainDelayAnnounced(ctx, ds[0].ID) })
	if ds, _ := st.UnannouncedTrainDelays(ctx); len(ds) != 3 {
		t.Errorf("after announcing one: %+v", ds)
	}

	departing, err := update(store.TrainRunUpdate{From: berth.TrainAnnounced, State: berth.TrainDeparting, DueBy: slot.Add(time.Hour)})
	must(t, "depart", err)
	if departing.State != berth.TrainDeparting {
		t.Fatalf("departing %+v", departing)
	}
	err = txErr(t, st, func(tx *store.Tx) error { _, err := tx.DepartTrainRunNow(ctx, run.ID, "ann", slot); return err })
	wantErr(t, "sending off a train that left", err, berth.ErrConflict)
	open, err := st.OpenTrainRuns(ctx, tr.ID)
	must(t, "OpenTrainRuns", err)
	if len(open) != 2 || open[0].ID != run.ID || open[1].ID != other.ID {
		t.Errorf("open runs %+v", open)
	}
	done, err := update(store.TrainRunUpdate{From: berth.TrainDeparting, State: berth.TrainDeparted, Reason: "1 app promoted"})
	must(t, "arrive", err)
	if done.FinishedAt.IsZero() || done.Reason != "1 app promoted" {
		t.Errorf("arrived %+v", done)
	}
	if open, _ := st.OpenTrainRuns(ctx, tr.ID); len(open) != 1 || open[0].ID != other.ID {
		t.Errorf("open runs after arrival %+v", open)
	}
	err = txErr(t, st, func(tx *store.Tx) error { _, err := tx.DeleteTrain(ctx, "shop", "daily"); return err })
	must(t, "DeleteTrain", err)
	if _, err := st.TrainRun(ctx, run.ID); !errors.Is(err, berth.ErrNotFound) {
		t.Errorf("a deleted train's run: %v", err)
	}
}

// testLeases: one holder at a time; the holder renews; another takes it once it expired
// or was released.
func testLeases(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	acquire := func(holder string) bool {
		t.Helper()
		ok, err := st.AcquireLease(ctx, "trains", holder, 30*time.Second)
		must(t, "AcquireLease", err)
		return ok
	}
	if !acquire("a") || acquire("b") || !acquire("a") {
		t.Fatal("want a to take the lease and renew it, and b refused")
	}
	h.clock.Advance(29 * time.Second)
	if acquire("b") {
		t.Fatal("b took a lease a renewed 29 seconds ago")
	}
	h.clock.Advance(2 * time.Second)
	if !acquire("b") || acquire("a") {
		t.Fatal("want b to take the expired lease, and a refused")
	}
	must(t, "ReleaseLease", st.ReleaseLease(ctx, "trains", "a")) // not a's: nothing happens
	if acquire("a") {
		t.Fatal("a released b's lease")
	}
	must(t, "ReleaseLease", st.ReleaseLease(ctx, "trains", "b"))
	if !acquire("a") {
		t.Fatal("a could not take a released lease")
	}
}
