package api_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// train makes alpha's train name (staging to old, daily at 10:00 in Lisbon) through the
// store, as a team admin would have, and returns it.
func (f *fixture) train(name string) berth.Train {
	f.t.Helper()
	var t berth.Train
	err := f.st.Tx(context.Background(), func(tx *store.Tx) (err error) {
		t, err = tx.CreateTrain(context.Background(), berth.Train{Team: "alpha", Name: name, Schedule: "0 10 * * *", TimeZone: "Europe/Lisbon",
			From: "staging", To: "old", AnnounceBefore: berth.DefaultTrainAnnounce, Delay: berth.DefaultTrainDelay,
			MaxDelays: berth.DefaultTrainMaxDelays, CreatedBy: "ada"})
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return t
}

// trainCall sends a request as caller, wants status and decodes the answer into a T.
func trainCall[T any](f *fixture, caller, method, path string, body any, status int) T {
	f.t.Helper()
	got, data := f.do(caller, method, path, body)
	var out T
	if got != status {
		f.t.Fatalf("%s %s as %s: %d %s, want %d", method, path, caller, got, data, status)
	}
	if err := json.Unmarshal(data, &out); err != nil {
		f.t.Fatalf("%s %s: %v\n%s", method, path, err, data)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// TestTrains: a team admin makes trains (the defaults filled in), lists, shows, changes
// and deletes them; the team's viewers list and show them and another team's may not.
// Show answers the next departure in the train's time zone, the delays left today and
// the runs with their cars and commits, without the authors' emails.
func TestTrains(t *testing.T) {
	f := newFixture(t)
	if status, data := f.do(globalAdmin, "POST", "/api/v1/envs", apiv1.CreateEnvironment{Name: "production", InCluster: true}); status != 201 {
		t.Fatalf("create production: %d %s", status, data)
	}
	const trains = "/api/v1/teams/alpha/trains"
	release := trainCall[apiv1.Train](f, teamAdmin, "POST", trains, apiv1.CreateTrain{Name: "release", Apps: []string{"reports"},
		Schedule: "0 10 * * 1-5", TimeZone: "Europe/Lisbon", From: "staging", To: "production", Channel: "C0TRAINS",
		Announce: "10m", Delay: "45m", MaxDelays: ptr(3)}, 201)
	want := apiv1.Train{ID: release.ID, Team: "alpha", Name: "release", Apps: []string{"reports"}, Schedule: "0 10 * * 1-5",
		TimeZone: "Europe/Lisbon", From: "staging", To: "production", Channel: "C0TRAINS", Announce: "10m", Delay: "45m",
		MaxDelays: 3, CreatedBy: "ada", CreatedAt: release.CreatedAt, UpdatedAt: release.UpdatedAt}
	if diff := cmp.Diff(want, release); diff != "" || release.ID == 0 || release.CreatedAt.IsZero() {
		t.Errorf("created release (-want +got):\n%s", diff)
	}
	nightly := trainCall[apiv1.Train](f, teamAdmin, "POST", trains, apiv1.CreateTrain{Name: "nightly", Schedule: "@daily",
		From: "staging", To: "production"}, 201)
	if nightly.TimeZone != "UTC" || nightly.Announce != "15m" || nightly.Delay != "30m" || nightly.MaxDelays != 2 ||
		nightly.Apps == nil || len(nightly.Apps) != 0 || nightly.FrozenUntil != nil {
		t.Errorf("a train with the defaults: %+v", nightly)
	}
	if status, data := f.do(teamAdmin, "POST", trains, apiv1.CreateTrain{Name: "release", Schedule: "@daily", From: "staging", To: "production"}); status != 409 {
		t.Errorf("create release again: %d %s, want 409", status, data)
	}

	names := func(l apiv1.List[apiv1.Train]) []string {
		out := []string{}
		for _, tr := range l.Items {
			out = append(out, tr.Team+"/"+tr.Name)
		}
		return out
	}
	for _, c := range []struct {
		caller, path string
		want         []string
	}{
		{ownViewer, trains, []string{"alpha/nightly", "alpha/release"}},
		{ownViewer, "/api/v1/trains", []string{"alpha/nightly", "alpha/release"}},
		{deployer, "/api/v1/trains?name=release", []string{"alpha/release"}},
		{otherViewer, "/api/v1/trains", []string{}},
		{otherViewer, "/api/v1/trains?name=release", []string{}},
	} {
		if diff := cmp.Diff(c.want, names(trainCall[apiv1.List[apiv1.Train]](f, c.caller, "GET", c.path, nil, 200))); diff != "" {
			t.Errorf("%s GET %s (-want +got):\n%s", c.caller, c.path, diff)
		}
	}

	// The next departure, before anything is recorded: the schedule's, at 10:00 in Lisbon
	// on a weekday, after the service's now.
	st := trainCall[apiv1.TrainStatus](f, ownViewer, "GET", trains+"/release", nil, 200)
	lisbon, err := time.LoadLocation("Europe/Lisbon")
	if err != nil {
		t.Fatal(err)
	}
	if st.Next == nil || st.Next.ID != 0 || st.Next.State != "scheduled" || !st.Next.Departs.Equal(st.Next.Slot) ||
		!st.Next.Departs.After(f.clock.Now()) || st.Next.Departs.In(lisbon).Format("15:04") != "10:00" ||
		st.Next.Departs.In(lisbon).Weekday() == time.Saturday || st.Next.Departs.In(lisbon).Weekday() == time.Sunday {
		t.Fatalf("release's next departure: %+v", st.Next)
	}
	if diff := cmp.Diff(release, st.Train); diff != "" || st.DelaysLeft != 3 || st.Runs == nil || len(st.Runs) != 0 || st.Next.Cars == nil {
		t.Errorf("release's status: delays left %d, runs %+v, train (-want +got):\n%s", st.DelaysLeft, st.Runs, diff)
	}

	// An announced departure of nightly, with its cars and commits, and an earlier one that
	// stopped: what show answers of them.
	nt, err := f.st.Train(context.Background(), "alpha", "nightly")
	if err != nil {
		t.Fatal(err)
	}
	car := berth.TrainCar{App: "reports", Source: f.ids["deploy"], Revision: 1, Total: 2, State: berth.CarWaiting, Commits: []berth.Commit{
		{SHA: "0123456789abcdef0123456789abcdef01234567", Message: "Add the charts", AuthorName: "Ada Lovelace",
			AuthorEmail: "ada@example.com", AuthorLogin: "ada", URL: "http://127.0.0.1:3000/alpha/reports/commit/0123456"},
		{SHA: "fedcba9876543210fedcba9876543210fedcba98", Message: "Fix the totals", AuthorName: "Dan", AuthorEmail: "dan@example.com"},
	}}
	var announced, stopped berth.TrainRun
	err = f.st.Tx(context.Background(), func(tx *store.Tx) error {
		ctx := context.Background()
		old, err := tx.ScheduleTrainRun(ctx, nt.ID, f.clock.Now().Add(-22*time.Hour).Truncate(time.Hour))
		if err != nil {
			return err
		}
		failed := car
		failed.Commits, failed.Total, failed.Note, failed.State, failed.Deploy, failed.Reason = nil, 0, "no repository", berth.CarFailed, f.ids["deploy"], "rollout timed out"
		if stopped, err = tx.UpdateTrainRun(ctx, old.ID, store.TrainRunUpdate{From: berth.TrainScheduled, State: berth.TrainStopped,
			Reason: "reports failed", Cars: []berth.TrainCar{failed}}); err != nil {
			return err
		}
		next, err := tx.ScheduleTrainRun(ctx, nt.ID, f.clock.Now().Add(2*time.Hour).Truncate(time.Hour))
		if err != nil {
			return err
		}
		announced, err = tx.UpdateTrainRun(ctx, next.ID, store.TrainRunUpdate{From: berth.TrainScheduled, State: berth.TrainAnnounced,
			Cars: []berth.TrainCar{car}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	status, data := f.do(ownViewer, "GET", trains+"/nightly", nil)
	if status != 200 || strings.Contains(string(data), "@example.com") || strings.Contains(strings.ToLower(string(data)), "email") {
		t.Fatalf("nightly's status: %d, or it holds an author's email:\n%s", status, data)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	wantCar := apiv1.TrainCar{App: "reports", Source: f.ids["deploy"], Revision: 1, Total: 2, State: "waiting", Commits: []apiv1.Commit{
		{SHA: "0123456789abcdef0123456789abcdef01234567", Message: "Add the charts", AuthorName: "Ada Lovelace", AuthorLogin: "ada",
			URL: "http://127.0.0.1:3000/alpha/reports/commit/0123456"},
		{SHA: "fedcba9876543210fedcba9876543210fedcba98", Message: "Fix the totals", AuthorName: "Dan"},
	}}
	if st.Next == nil || st.Next.ID != announced.ID || st.Next.State != "announced" {
		t.Fatalf("nightly's next departure: %+v, want run %d", st.Next, announced.ID)
	}
	if diff := cmp.Diff([]apiv1.TrainCar{wantCar}, st.Next.Cars); diff != "" {
		t.Errorf("the cars of nightly's next departure (-want +got):\n%s", diff)
	}
	if len(st.Runs) != 2 || st.Runs[0].ID != announced.ID || st.Runs[1].ID != stopped.ID || st.Runs[1].State != "stopped" ||
		st.Runs[1].Reason != "reports failed" || st.Runs[1].FinishedAt == nil || len(st.Runs[1].Cars) != 1 ||
		st.Runs[1].Cars[0].Deploy != f.ids["deploy"] || st.Runs[1].Cars[0].Note != "no repository" || st.Runs[1].Cars[0].Commits == nil {
		t.Errorf("nightly's runs: %+v", st.Runs)
	}
	if st := trainCall[apiv1.TrainStatus](f, ownViewer, "GET", trains+"/nightly?runs=1", nil, 200); len(st.Runs) != 1 || st.Runs[0].ID != announced.ID {
		t.Errorf("nightly's last run: %+v", st.Runs)
	}

	// Changes: only the fields sent; maxDelays 0 allows none.
	changed := trainCall[apiv1.Train](f, teamAdmin, "PATCH", trains+"/release", apiv1.UpdateTrain{Schedule: ptr("30 9 * * 1-5"),
		Announce: ptr("1h"), Apps: &[]string{}}, 200)
	want.Schedule, want.Announce, want.Apps, want.UpdatedAt = "30 9 * * 1-5", "1h", []string{}, changed.UpdatedAt
	if diff := cmp.Diff(want, changed); diff != "" {
		t.Errorf("changed release (-want +got):\n%s", diff)
	}
	if got := trainCall[apiv1.Train](f, teamAdmin, "PATCH", trains+"/nightly", apiv1.UpdateTrain{MaxDelays: ptr(0)}, 200); got.MaxDelays != 0 {
		t.Errorf("nightly with maxDelays 0: %+v", got)
	}
	status, data = f.do(ownViewer, "POST", trains+"/nightly/delay", nil)
	if status != 409 || !strings.Contains(string(data), "alpha/nightly") {
		t.Errorf("delay a train that may not be: %d %s, want 409", status, data)
	}

	// Deleting a train takes its history.
	if status, data := f.do(deployer, "DELETE", trains+"/nightly", nil); status != 403 {
		t.Errorf("delete as a deployer: %d %s, want 403", status, data)
	}
	if status, data := f.do(teamAdmin, "DELETE", trains+"/nightly", nil); status != 204 {
		t.Fatalf("delete nightly: %d %s", status, data)
	}
	for _, method := range []string{"GET", "DELETE"} {
		if status, data := f.do(teamAdmin, method, trains+"/nightly", nil); status != 404 {
			t.Errorf("%s nightly after its deletion: %d %s, want 404", method, status, data)
		}
	}
	if got := names(trainCall[apiv1.List[apiv1.Train]](f, ownViewer, "GET", trains, nil, 200)); !cmp.Equal(got, []string{"alpha/release"}) {
		t.Errorf("trains after the deletion: %v", got)
	}

	for _, c := range []struct {
		caller, method, path string
		status               int
	}{
		{otherViewer, "GET", trains, 403},
		{otherViewer, "GET", trains + "/release", 403},
		{globalAdmin, "GET", "/api/v1/teams/nope/trains", 404},
		{ownViewer, "GET", trains + "/nope", 404},
		{teamAdmin, "PATCH", trains + "/nope", 404},
		{ownViewer, "POST", trains + "/nope/delay", 404},
	} {
		var b any
		if c.method == "PATCH" {
			b = apiv1.UpdateTrain{Schedule: ptr("@daily")}
		}
		if status, data := f.do(c.caller, c.method, c.path, b); status != c.status {
			t.Errorf("%s %s %s: %d %s, want %d", c.caller, c.method, c.path, status, data, c.status)
		}
	}
}

// TestTrainDelayDepartFreeze: anyone on the team delays the next departure by the
// train's delay, as many times a day as it may be, then is refused saying when it
// leaves; a deployer sends it off now, or freezes the train (until a time or for a
// while, saying why), which stops sending it off until it is unfrozen.
func TestTrainDelayDepartFreeze(t *testing.T) {
	f := newFixture(t)
	tr := f.train("release")
	const path = "/api/v1/teams/alpha/trains/release"
	next := trainCall[apiv1.TrainStatus](f, ownViewer, "GET", path, nil, 200).Next
	if next == nil {
		t.Fatal("release has no next departure")
	}

	for i, left := range []int{1, 0} {
		d := trainCall[apiv1.TrainDelayed](f, ownViewer, "POST", path+"/delay", nil, 200)
		if d.Run.ID == 0 || d.Run.Delays != i+1 || !d.Run.Slot.Equal(next.Slot) || d.DelaysLeft != left ||
			!d.Run.Departs.Equal(next.Slot.Add(time.Duration(i+1)*tr.Delay)) {
			t.Errorf("delay %d: %+v, want departing %s with %d left", i+1, d, next.Slot.Add(time.Duration(i+1)*tr.Delay), left)
		}
	}
	status, data := f.do(deployer, "POST", path+"/delay", nil)
	var e apiv1.Error
	leaves := next.Slot.Add(2 * tr.Delay).In(mustLocation(t, "Europe/Lisbon")).Format("15:04 MST")
	if status != 409 || json.Unmarshal(data, &e) != nil || e.Code != "conflict" ||
		!strings.Contains(e.Message, "train alpha/release was delayed 2 times") || !strings.Contains(e.Message, "it leaves at "+leaves) {
		t.Errorf("a third delay: %d %s, want 409 saying it leaves at %s", status, data, leaves)
	}
	st := trainCall[apiv1.TrainStatus](f, ownViewer, "GET", path, nil, 200)
	if st.DelaysLeft != 0 || st.Next == nil || st.Next.Delays != 2 || len(st.Runs) != 1 {
		t.Errorf("after two delays: %+v", st)
	}

	if status, data := f.do(ownViewer, "POST", path+"/depart", nil); status != 403 {
		t.Errorf("depart as a viewer: %d %s, want 403", status, data)
	}
	run := trainCall[apiv1.TrainRun](f, deployer, "POST", path+"/depart", nil, 202)
	if run.ID != st.Next.ID || run.DepartedBy != "dan" || run.State != "scheduled" || !run.Departs.Before(next.Slot) {
		t.Errorf("sent off: %+v", run)
	}

	// Frozen for a day: it stays in the station, and a departure now is refused.
	frozen := trainCall[apiv1.Train](f, deployer, "POST", path+"/freeze", apiv1.FreezeTrain{For: "24h", Reason: "incident 42"}, 200)
	if frozen.FrozenUntil == nil || frozen.FrozenUntil.Sub(f.clock.Now().Add(24*time.Hour)).Abs() > time.Millisecond || frozen.FrozenReason != "incident 42" {
		t.Errorf("frozen for a day: %+v", frozen)
	}
	status, data = f.do(deployer, "POST", path+"/depart", nil)
	if status != 409 || !strings.Contains(string(data), "is frozen until") || !strings.Contains(string(data), "incident 42") {
		t.Errorf("depart a frozen train: %d %s, want 409", status, data)
	}
	until := f.clock.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	frozen = trainCall[apiv1.Train](f, deployer, "POST", path+"/freeze", apiv1.FreezeTrain{Until: &until, Reason: "year-end"}, 200)
	if frozen.FrozenUntil == nil || !frozen.FrozenUntil.Equal(until) || frozen.FrozenReason != "year-end" {
		t.Errorf("frozen until a time: %+v", frozen)
	}
	if st := trainCall[apiv1.TrainStatus](f, ownViewer, "GET", path, nil, 200); st.Train.FrozenUntil == nil {
		t.Errorf("the status of a frozen train: %+v", st.Train)
	}
	if status, data := f.do(ownViewer, "POST", path+"/unfreeze", nil); status != 403 {
		t.Errorf("unfreeze as a viewer: %d %s, want 403", status, data)
	}
	if got := trainCall[apiv1.Train](f, deployer, "POST", path+"/unfreeze", nil, 200); got.FrozenUntil != nil || got.FrozenReason != "" {
		t.Errorf("unfrozen: %+v", got)
	}
	trainCall[apiv1.TrainRun](f, deployer, "POST", path+"/depart", nil, 202)

	past := f.clock.Now().Add(-time.Hour)
	for _, c := range []struct {
		name  string
		in    apiv1.FreezeTrain
		field string
	}{
		{"neither", apiv1.FreezeTrain{Reason: "x"}, "until"},
		{"both", apiv1.FreezeTrain{Until: &until, For: "1h", Reason: "x"}, "until"},
		{"a bad duration", apiv1.FreezeTrain{For: "a while", Reason: "x"}, "for"},
		{"a negative duration", apiv1.FreezeTrain{For: "-1h", Reason: "x"}, "for"},
		{"the past", apiv1.FreezeTrain{Until: &past, Reason: "x"}, "until"},
		{"no reason", apiv1.FreezeTrain{For: "1h"}, "reason"},
	} {
		status, data := f.do(deployer, "POST", path+"/freeze", c.in)
		var e apiv1.Error
		if status != 400 || json.Unmarshal(data, &e) != nil || e.Field != c.field {
			t.Errorf("freeze with %s: %d %s, want 400 on %s", c.name, status, data, c.field)
		}
	}
}

func mustLocation(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestTrainBadInput: what a train's creation or change cannot take is a 400 naming the
// field as the client sent it, saying what would do.
func TestTrainBadInput(t *testing.T) {
	f := newFixture(t)
	f.train("release")
	good := apiv1.CreateTrain{Name: "nightly", Schedule: "0 10 * * 1-5", TimeZone: "Europe/Lisbon", From: "staging", To: "old"}
	with := func(change func(*apiv1.CreateTrain)) apiv1.CreateTrain { c := good; change(&c); return c }
	for _, c := range []struct {
		name   string
		method string
		path   string
		body   any
		status int
		field  string
		want   string
	}{
		{"a bad cron", "POST", "", with(func(c *apiv1.CreateTrain) { c.Schedule = "0 10 * *" }), 400, "schedule", "five cron fields"},
		{"every", "POST", "", with(func(c *apiv1.CreateTrain) { c.Schedule = "@every 1h" }), 400, "schedule", "times of day"},
		{"a time zone in the cron", "POST", "", with(func(c *apiv1.CreateTrain) { c.Schedule = "CRON_TZ=UTC 0 10 * * *" }), 400, "schedule", "--time-zone"},
		{"no schedule", "POST", "", with(func(c *apiv1.CreateTrain) { c.Schedule = "" }), 400, "schedule", "schedule is required"},
		{"a bad time zone", "POST", "", with(func(c *apiv1.CreateTrain) { c.TimeZone = "Mars/Olympus" }), 400, "timeZone", "IANA time zone"},
		{"Local", "POST", "", with(func(c *apiv1.CreateTrain) { c.TimeZone = "Local" }), 400, "timeZone", "IANA time zone"},
		{"a bad announce", "POST", "", with(func(c *apiv1.CreateTrain) { c.Announce = "soon" }), 400, "announce", `announce "soon" is not a duration`},
		{"a negative delay", "POST", "", with(func(c *apiv1.CreateTrain) { c.Delay = "-5m" }), 400, "delay", "more than 0"},
		{"a delay over a day", "POST", "", with(func(c *apiv1.CreateTrain) { c.Delay = "25h" }), 400, "delay", "24h"},
		{"negative delays", "POST", "", with(func(c *apiv1.CreateTrain) { c.MaxDelays = ptr(-1) }), 400, "maxDelays", "0 (no delays) or more"},
		{"too many delays", "POST", "", with(func(c *apiv1.CreateTrain) { c.MaxDelays = ptr(101) }), 400, "maxDelays", "between 0 and 100"},
		{"no source", "POST", "", with(func(c *apiv1.CreateTrain) { c.From = "" }), 400, "from", "from is required"},
		{"to itself", "POST", "", with(func(c *apiv1.CreateTrain) { c.To = "staging" }), 400, "to", "not staging to itself"},
		{"a bad name", "POST", "", with(func(c *apiv1.CreateTrain) { c.Name = "Night Train" }), 400, "name", ""},
		{"an unknown environment", "POST", "", with(func(c *apiv1.CreateTrain) { c.To = "mars" }), 404, "", "mars"},
		{"an unknown app", "POST", "", with(func(c *apiv1.CreateTrain) { c.Apps = []string{"nope"} }), 404, "", "nope"},
		{"an unknown field", "POST", "", map[string]any{"name": "x", "schedule": "@daily", "from": "staging", "to": "old", "every": "day"}, 400, "every", ""},
		{"a bad time zone, changed", "PATCH", "/release", apiv1.UpdateTrain{TimeZone: ptr("Europe/Nowhere")}, 400, "timeZone", "IANA time zone"},
		{"a bad cron, changed", "PATCH", "/release", apiv1.UpdateTrain{Schedule: ptr("61 * * * *")}, 400, "schedule", "five cron fields"},
		{"an empty delay, changed", "PATCH", "/release", apiv1.UpdateTrain{Delay: ptr("")}, 400, "delay", "leave it out to keep it"},
		{"a bad announce, changed", "PATCH", "/release", apiv1.UpdateTrain{Announce: ptr("15")}, 400, "announce", "not a duration"},
		{"nothing changed", "PATCH", "/release", apiv1.UpdateTrain{}, 400, "train", "nothing to change"},
		{"a bad runs", "GET", "/release?runs=0", nil, 400, "runs", "runs must be 1 to 100"},
	} {
		status, data := f.do(teamAdmin, c.method, "/api/v1/teams/alpha/trains"+c.path, c.body)
		var e apiv1.Error
		if status != c.status || json.Unmarshal(data, &e) != nil || e.Field != c.field || !strings.Contains(e.Message, c.want) {
			t.Errorf("%s: %d %s, want %d on %q saying %q", c.name, status, data, c.status, c.field, c.want)
		}
	}
	if got := trainCall[apiv1.List[apiv1.Train]](f, teamAdmin, "GET", "/api/v1/teams/alpha/trains", nil, 200); len(got.Items) != 1 {
		t.Errorf("refused changes made trains: %+v", got.Items)
	}
	if got := trainCall[apiv1.TrainStatus](f, teamAdmin, "GET", "/api/v1/teams/alpha/trains/release", nil, 200); got.Train.Schedule != "0 10 * * *" ||
		got.Train.TimeZone != "Europe/Lisbon" {
		t.Errorf("refused changes changed release: %+v", got.Train)
	}
}
