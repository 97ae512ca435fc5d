package cli_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

// Monday 2 March 2026: Lisbon is on WET (UTC+0) until the end of the month.
var trainDay = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func shopRelease() apiv1.Train {
	return apiv1.Train{ID: 1, Team: "shop", Name: "release", Apps: []string{"web", "api"}, Schedule: "0 10 * * 1-5",
		TimeZone: "Europe/Lisbon", From: "staging", To: "production", Announce: "15m", Delay: "30m", MaxDelays: 2,
		CreatedBy: "alice", CreatedAt: trainDay.Add(-72 * time.Hour), UpdatedAt: trainDay.Add(-72 * time.Hour)}
}

func trains(ts ...apiv1.Train) apiv1.List[apiv1.Train] {
	return apiv1.List[apiv1.Train]{Items: append([]apiv1.Train{}, ts...)}
}

// lisbon writes t as the train commands do, in Lisbon.
func lisbon(t *testing.T, at time.Time) string {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Lisbon")
	if err != nil {
		t.Fatal(err)
	}
	return at.In(loc).Format("Mon 2006-01-02 15:04 MST")
}

// TestTrainList: a team's trains or every team's, as a table (apps "all" when the
// train carries every app; frozen ones say until when) or JSON; none says how to make
// one.
func TestTrainList(t *testing.T) {
	nightly := apiv1.Train{ID: 2, Team: "shop", Name: "nightly", Apps: []string{}, Schedule: "@daily", TimeZone: "UTC", From: "staging",
		To: "production", Announce: "15m", Delay: "30m", MaxDelays: 2, FrozenUntil: &freezeEnd, FrozenReason: "holidays"}
	h := newHarness(t, false)
	h.api.Expect("GET", "/api/v1/teams/shop/trains").Reply(200, trains(nightly, shopRelease()))
	if err := h.run("train", "list", "--team", "shop"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, ""+
		"TEAM  NAME     SCHEDULE      TIME ZONE      ROUTE                 APPS     FROZEN\n"+
		"shop  nightly  @daily        UTC            staging → production  all      until 2026-12-27T00:00:00Z\n"+
		"shop  release  0 10 * * 1-5  Europe/Lisbon  staging → production  web,api  -\n", "")

	h = newHarness(t, false)
	h.api.Expect("GET", "/api/v1/trains").Reply(200, trains(shopRelease()))
	if err := h.run("trains", "ls", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	var got []apiv1.Train
	if err := json.Unmarshal(h.out.Bytes(), &got); err != nil {
		t.Fatalf("-o json: %v\n%s", err, h.out)
	}
	if diff := cmp.Diff([]apiv1.Train{shopRelease()}, got); diff != "" {
		t.Errorf("-o json (-want +got):\n%s", diff)
	}

	h = newHarness(t, false)
	h.api.Expect("GET", "/api/v1/teams/shop/trains").Reply(200, trains())
	if err := h.run("train", "list", "--team", "shop"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "", "no trains in team shop yet: berth train create NAME --team shop --schedule CRON --from ENV --to ENV makes one\n")

	h = newHarness(t, false)
	h.api.Expect("GET", "/api/v1/teams/shop/trains").ReplyError(403, apiv1.Error{Code: "forbidden", Message: "bob is not a member of team shop"})
	wantExit(t, h.run("train", "list", "--team", "shop"), "bob is not a member of team shop", false)
}

// TestTrainCreate: the flags become the body, durations as Go durations and only the
// timings given; the answer says what was made and where to see its next departure.
func TestTrainCreate(t *testing.T) {
	h := newHarness(t, false)
	two := 3
	h.api.Expect("POST", "/api/v1/teams/shop/trains").WithBody(apiv1.CreateTrain{Name: "release", Apps: []string{"web", "api"},
		Schedule: "0 10 * * 1-5", TimeZone: "Europe/Lisbon", From: "staging", To: "production", Channel: "C0TRAINS",
		Announce: "20m", Delay: "1h30m", MaxDelays: &two}).Reply(201, shopRelease())
	if err := h.run("train", "create", "release", "--team", "shop", "--schedule", "0 10 * * 1-5", "--time-zone", "Europe/Lisbon",
		"--from", "staging", "--to", "production", "--apps", "web,api", "--channel", "C0TRAINS", "--announce", "20m",
		"--delay", "90m", "--max-delays", "3"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "created train shop/release: 0 10 * * 1-5 in Europe/Lisbon, staging → production, web,api\n",
		"its next departure: berth train show release --team shop\n")

	h = newHarness(t, false)
	every := shopRelease()
	every.Apps, every.TimeZone = []string{}, "UTC"
	h.api.Expect("POST", "/api/v1/teams/shop/trains").WithBody(apiv1.CreateTrain{Name: "release", Schedule: "@daily",
		From: "staging", To: "production"}).Reply(201, every)
	if err := h.run("train", "create", "release", "--team", "shop", "--schedule", "@daily", "--from", "staging", "--to", "production", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	var got apiv1.Train
	if err := json.Unmarshal(h.out.Bytes(), &got); err != nil || !cmp.Equal(got, every) {
		t.Errorf("-o json: %v\n%s", err, h.out)
	}

	// Mistakes the CLI sees, and the server's refusal naming the field.
	base := []string{"train", "create", "release", "--team", "shop", "--schedule", "@daily", "--from", "staging", "--to", "production"}
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"train", "create", "release", "--schedule", "@daily", "--from", "staging", "--to", "production"}, "--team is required: the team whose train it is"},
		{[]string{"train", "create", "release", "--team", "shop", "--from", "staging", "--to", "production"}, `--schedule is required: when it leaves, such as "0 10 * * 1-5" (10:00 on weekdays)`},
		{[]string{"train", "create", "release", "--team", "shop", "--schedule", "@daily", "--from", "staging"}, "--to is required: the environment it promotes to"},
		{append(base, "--announce", "0s"), "--announce must be more than 0, such as 15m"},
		{append(base, "--max-delays", "-1"), "--max-delays must be 0 (never) or more, not -1"},
		{append(base, "--delay", "soon"), `invalid argument "soon" for "--delay" flag: time: invalid duration "soon"`},
		{[]string{"train", "create", "--team", "shop"}, "accepts 1 arg(s), received 0"},
	} {
		h := newHarness(t, false)
		wantExit(t, h.run(c.args...), c.msg, true)
	}
	h = newHarness(t, false)
	h.api.Expect("POST", "/api/v1/teams/shop/trains").WithBody(apiv1.CreateTrain{Name: "release", Schedule: "@daily", TimeZone: "Mars/Olympus",
		From: "staging", To: "production"}).ReplyError(400, apiv1.Error{Code: "invalid", Field: "timeZone",
		Message: `"Mars/Olympus" is no IANA time zone (such as Europe/Lisbon, America/New_York, UTC)`})
	wantExit(t, h.run(append(base, "--time-zone", "Mars/Olympus")...),
		`timeZone: "Mars/Olympus" is no IANA time zone (such as Europe/Lisbon, America/New_York, UTC)`, false)
}

// TestTrainUpdate: only the flags given are sent (--apps "" for every app, --max-delays
// 0 for none); the train's team is looked up by its name; nothing to change, or a name
// two teams use, is a usage error.
func TestTrainUpdate(t *testing.T) {
	h := newHarness(t, false)
	changed := shopRelease()
	changed.Schedule, changed.Apps, changed.MaxDelays = "30 9 * * 1-5", []string{}, 0
	h.api.Expect("GET", "/api/v1/trains?name=release").Reply(200, trains(shopRelease()))
	h.api.Expect("PATCH", "/api/v1/teams/shop/trains/release").WithBody(map[string]any{"schedule": "30 9 * * 1-5", "apps": []string{},
		"maxDelays": 0, "delay": "45m"}).Reply(200, changed)
	if err := h.run("train", "update", "release", "--schedule", "30 9 * * 1-5", "--apps", "", "--max-delays", "0", "--delay", "45m"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "updated train shop/release: 30 9 * * 1-5 in Europe/Lisbon, staging → production, every app of the team\n", "")

	h = newHarness(t, false)
	h.api.Expect("PATCH", "/api/v1/teams/shop/trains/release").WithBody(map[string]any{"timeZone": "UTC"}).Reply(200, shopRelease())
	if err := h.run("train", "update", "release", "--team", "shop", "--time-zone", "UTC"); err != nil {
		t.Fatal(err)
	}

	h = newHarness(t, false)
	wantExit(t, h.run("train", "update", "release"), "nothing to change: give the settings to change, such as --schedule CRON (berth train update --help)", true)

	h = newHarness(t, false)
	other := shopRelease()
	other.Team = "games"
	h.api.Expect("GET", "/api/v1/trains?name=release").Reply(200, trains(other, shopRelease()))
	wantExit(t, h.run("train", "update", "release", "--schedule", "@daily"), `train "release" exists in teams games, shop: pass --team`, true)

	h = newHarness(t, false)
	h.api.Expect("GET", "/api/v1/trains?name=release").Reply(200, trains())
	wantExit(t, h.run("train", "update", "release", "--schedule", "@daily"), `no train "release" that you can see: check the name (berth train list), or pass --team`, false)
}

func TestTrainDelete(t *testing.T) {
	h := newHarness(t, false)
	h.api.Expect("DELETE", "/api/v1/teams/shop/trains/release")
	if err := h.run("train", "delete", "release", "--team", "shop"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "deleted train shop/release and its history\n", "")

	h = newHarness(t, false)
	h.api.Expect("DELETE", "/api/v1/teams/shop/trains/release").ReplyError(403, apiv1.Error{Code: "forbidden", Message: "deleting a train needs a team admin of shop"})
	wantExit(t, h.run("train", "delete", "release", "--team", "shop"), "deleting a train needs a team admin of shop", false)
}

// releaseStatus is release's status: its next departure at next, announced and delayed
// once, web and api on it; its last runs, one departed and one stopped at api.
func releaseStatus(next time.Time) apiv1.TrainStatus {
	web := apiv1.TrainCar{App: "web", Source: 40, Revision: 12, Target: 10, Total: 3, State: "waiting", Commits: []apiv1.Commit{
		{SHA: "0123456789abcdef0123456789abcdef01234567", Message: "Add the cart <button>", AuthorName: "Alice Liddell", AuthorLogin: "alice"},
		{SHA: "fedcba9876543210fedcba9876543210fedcba98", Message: "Fix the totals", AuthorName: "bob", AuthorLogin: "bob"},
	}}
	api := apiv1.TrainCar{App: "api", Source: 41, Revision: 4, Commits: []apiv1.Commit{}, Note: "api is connected to no repository", State: "waiting"}
	run := apiv1.TrainRun{ID: 9, Slot: next.Add(-30 * time.Minute), Departs: next, State: "announced", Delays: 1, Cars: []apiv1.TrainCar{web, api}}
	departedWeb, stoppedAPI := web, api
	departedWeb.Deploy, departedWeb.State, departedWeb.Commits = 45, "succeeded", nil
	stoppedAPI.Deploy, stoppedAPI.State, stoppedAPI.Reason = 46, "failed", "rollout timed out"
	skipped := web
	skipped.State, skipped.Reason = "skipped", ""
	return apiv1.TrainStatus{Train: shopRelease(), Next: &run, DelaysLeft: 1, Runs: []apiv1.TrainRun{
		run,
		{ID: 8, Slot: trainDay, Departs: trainDay, State: "stopped", Reason: "api failed: the line stopped there", Cars: []apiv1.TrainCar{stoppedAPI, skipped}},
		{ID: 7, Slot: trainDay.Add(-72 * time.Hour), Departs: trainDay.Add(-72*time.Hour + 30*time.Minute), State: "departed", Delays: 1,
			Cars: []apiv1.TrainCar{departedWeb}},
		{ID: 6, Slot: trainDay.Add(-96 * time.Hour), Departs: trainDay.Add(-96 * time.Hour), State: "held", Reason: "frozen: incident 42", Cars: []apiv1.TrainCar{}},
	}}
}

// TestTrainShow: the settings, the next departure in the train's time zone and how long
// until then, the delays left, and the last runs with a row per car.
func TestTrainShow(t *testing.T) {
	next := time.Now().Add(2*time.Hour + 5*time.Minute + 30*time.Second).Truncate(time.Second)
	h := newHarness(t, false)
	h.api.Expect("GET", "/api/v1/trains?name=release").Reply(200, trains(shopRelease()))
	h.api.Expect("GET", "/api/v1/teams/shop/trains/release?runs=10").Reply(200, releaseStatus(next))
	if err := h.run("train", "show", "release"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, ""+
		"train:          shop/release\n"+
		"schedule:       0 10 * * 1-5 in Europe/Lisbon\n"+
		"route:          staging → production\n"+
		"apps:           web,api\n"+
		"announces:      15m before it leaves, in the team's chat channel\n"+
		"delays:         30m each, at most 2 a day; 1 delay left today\n"+
		"next departure: "+lisbon(t, next)+", in 2h 5m (announced, delayed once)\n"+
		"\n"+
		"RUN  DEPARTS                   STATE      APP  COMMITS  DEPLOY  CAR        REASON\n"+
		"9    "+lisbon(t, next)+"  announced  web  3        -       waiting    -\n"+
		"                                          api  0        -       waiting    -\n"+
		"8    Mon 2026-03-02 10:00 WET  stopped    api  0        #46     failed     rollout timed out\n"+
		"                                          web  3        -       skipped    -\n"+
		"7    Fri 2026-02-27 10:30 WET  departed   web  3        #45     succeeded  -\n"+
		"6    Thu 2026-02-26 10:00 WET  held       -    -        -       -          frozen: incident 42\n", "")

	h = newHarness(t, false)
	st := releaseStatus(next)
	h.api.Expect("GET", "/api/v1/teams/shop/trains/release?runs=2").Reply(200, st)
	if err := h.run("train", "show", "release", "--team", "shop", "--runs", "2", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	var got apiv1.TrainStatus
	if err := json.Unmarshal(h.out.Bytes(), &got); err != nil {
		t.Fatalf("-o json: %v\n%s", err, h.out)
	}
	if diff := cmp.Diff(st, got); diff != "" {
		t.Errorf("-o json (-want +got):\n%s", diff)
	}

	// A frozen train with nothing recorded yet.
	h = newHarness(t, false)
	frozen := shopRelease()
	frozen.FrozenUntil, frozen.FrozenReason, frozen.Channel = &freezeEnd, "holidays", "C0TRAINS"
	h.api.Expect("GET", "/api/v1/teams/shop/trains/release?runs=10").Reply(200, apiv1.TrainStatus{Train: frozen, DelaysLeft: 2,
		Next: &apiv1.TrainRun{Slot: next, Departs: next, State: "scheduled", Cars: []apiv1.TrainCar{}}, Runs: []apiv1.TrainRun{}})
	if err := h.run("train", "show", "release", "--team", "shop"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"announces:      15m before it leaves, in C0TRAINS\n", "delays:         30m each, at most 2 a day; 2 delays left today\n",
		"frozen:         until Sun 2026-12-27 00:00 WET (holidays)\n", "next departure: " + lisbon(t, next) + ", in 2h 5m\n",
		"\nno runs yet: its departures are listed here once announced, delayed or sent off\n"} {
		if !strings.Contains(h.out.String(), want) {
			t.Errorf("show of a frozen train lacks %q:\n%s", want, h.out)
		}
	}

	h = newHarness(t, false)
	wantExit(t, h.run("train", "show", "release", "--team", "shop", "--runs", "0"), "--runs must be 1 to 100, not 0", true)
	h.api.Expect("GET", "/api/v1/teams/shop/trains/nope?runs=10").ReplyError(404, apiv1.Error{Code: "not_found", Message: `train "shop/nope": not found`})
	wantExit(t, h.run("train", "show", "nope", "--team", "shop"), `train "shop/nope": not found`, false)
}

// TestTrainStatus: when the next departure leaves and what is on it, car by car with
// its commits (author by name and login), or why there are none to show.
func TestTrainStatus(t *testing.T) {
	next := time.Now().Add(2*time.Hour + 5*time.Minute + 30*time.Second).Truncate(time.Second)
	h := newHarness(t, false)
	h.api.Expect("GET", "/api/v1/teams/shop/trains/release?runs=1").Reply(200, releaseStatus(next))
	if err := h.run("train", "status", "release", "--team", "shop"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, ""+
		"shop/release, staging → production: "+lisbon(t, next)+", in 2h 5m (announced, delayed once)\n"+
		"1 delay left today (berth train delay release)\n"+
		"\n"+
		"web  revision 12 (production runs 10), 3 commits · waiting\n"+
		"  0123456789ab  Add the cart <button>  Alice Liddell (alice)\n"+
		"  fedcba987654  Fix the totals         bob\n"+
		"  and 1 more\n"+
		"\n"+
		"api  revision 4 (new in production), 0 commits · waiting\n"+
		"  no commits to show: api is connected to no repository\n", "")

	// Under way: each car says how far it got.
	h = newHarness(t, false)
	st := releaseStatus(next)
	st.Next.State, st.Next.Departs = "departing", time.Now().Add(-5*time.Minute-30*time.Second)
	st.Next.Cars[0].State, st.Next.Cars[0].Deploy = "succeeded", 47
	st.Next.Cars[1].State, st.Next.Cars[1].Deploy = "deploying", 48
	h.api.Expect("GET", "/api/v1/teams/shop/trains/release?runs=1").Reply(200, st)
	if err := h.run("train", "status", "release", "--team", "shop"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"shop/release, staging → production: left " + lisbon(t, st.Next.Departs) + ", 5m ago, departing\n\n",
		"web  revision 12 (production runs 10), 3 commits · succeeded (deploy #47)\n", "api  revision 4 (new in production), 0 commits · deploying (deploy #48)\n"} {
		if !strings.Contains(h.out.String(), want) {
			t.Errorf("status of a departing train lacks %q:\n%s", want, h.out)
		}
	}
	if strings.Contains(h.out.String(), "delay left") {
		t.Errorf("status of a departing train offers a delay:\n%s", h.out)
	}

	// Not announced yet: nothing on it yet.
	h = newHarness(t, false)
	h.api.Expect("GET", "/api/v1/teams/shop/trains/release?runs=1").Reply(200, apiv1.TrainStatus{Train: shopRelease(), DelaysLeft: 2,
		Next: &apiv1.TrainRun{Slot: next, Departs: next, State: "scheduled", Cars: []apiv1.TrainCar{}}, Runs: []apiv1.TrainRun{}})
	if err := h.run("train", "status", "release", "--team", "shop"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, ""+
		"shop/release, staging → production: "+lisbon(t, next)+", in 2h 5m\n"+
		"2 delays left today (berth train delay release)\n"+
		"\n"+
		"nothing on it yet: what is pending in staging is found when it is announced, 15m before it leaves\n", "")
}

// TestTrainDelay: the answer says when it leaves now, in the train's time zone, and the
// delays left; the refusal of one delay too many says when it leaves.
func TestTrainDelay(t *testing.T) {
	departs := time.Now().Add(2*time.Hour + 35*time.Minute + 30*time.Second).Truncate(time.Second)
	delayed := apiv1.TrainDelayed{Run: apiv1.TrainRun{ID: 9, Slot: departs.Add(-30 * time.Minute), Departs: departs, State: "announced",
		Delays: 1, Cars: []apiv1.TrainCar{}}, DelaysLeft: 1}
	h := newHarness(t, false)
	h.api.Expect("GET", "/api/v1/trains?name=release").Reply(200, trains(shopRelease()))
	h.api.Expect("POST", "/api/v1/teams/shop/trains/release/delay").Reply(200, delayed)
	h.api.Expect("GET", "/api/v1/teams/shop/trains").Reply(200, trains(shopRelease()))
	if err := h.run("train", "delay", "release"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "delayed train shop/release: it leaves "+lisbon(t, departs)+", in 2h 35m; 1 delay left today\n", "")

	h = newHarness(t, false)
	h.api.Expect("POST", "/api/v1/teams/shop/trains/release/delay").Reply(200, delayed)
	if err := h.run("train", "delay", "release", "--team", "shop", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	var got apiv1.TrainDelayed
	if err := json.Unmarshal(h.out.Bytes(), &got); err != nil || !cmp.Equal(got, delayed) {
		t.Errorf("-o json: %v\n%s", err, h.out)
	}

	h = newHarness(t, false)
	refusal := "train shop/release was delayed 2 times today (2026-03-02), as many times as it may be: it leaves at 11:00 WET"
	h.api.Expect("POST", "/api/v1/teams/shop/trains/release/delay").ReplyError(409, apiv1.Error{Code: "conflict", Message: refusal})
	wantExit(t, h.run("train", "delay", "release", "--team", "shop"), refusal, false)
}

func TestTrainDepart(t *testing.T) {
	h := newHarness(t, false)
	h.api.Expect("POST", "/api/v1/teams/shop/trains/release/depart").Reply(202, apiv1.TrainRun{ID: 9, Slot: trainDay, Departs: trainDay.Add(-time.Hour),
		State: "scheduled", DepartedBy: "alice", Cars: []apiv1.TrainCar{}})
	if err := h.run("train", "depart", "release", "--team", "shop"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "sent train shop/release off: run 9 leaves now; berth train status release --team shop follows it\n", "")

	h = newHarness(t, false)
	frozen := "train shop/release is frozen until 2026-12-27T00:00:00Z (holidays): unfreeze it first (berth train unfreeze)"
	h.api.Expect("POST", "/api/v1/teams/shop/trains/release/depart").ReplyError(409, apiv1.Error{Code: "conflict", Message: frozen})
	wantExit(t, h.run("train", "depart", "release", "--team", "shop"), frozen, false)
}

// TestTrainFreeze: --for goes as a duration (the server counts from its now), --until as
// a time; the answer says until when and how to end it; mistakes are usage errors.
func TestTrainFreeze(t *testing.T) {
	frozen := shopRelease()
	frozen.FrozenUntil, frozen.FrozenReason = &freezeEnd, "holidays"
	for _, c := range []struct {
		args []string
		body apiv1.FreezeTrain
	}{
		{[]string{"--for", "24h"}, apiv1.FreezeTrain{For: "24h", Reason: "holidays"}},
		{[]string{"--until", "2026-12-27T00:00:00Z"}, apiv1.FreezeTrain{Until: &freezeEnd, Reason: "holidays"}},
	} {
		h := newHarness(t, false)
		h.api.Expect("POST", "/api/v1/teams/shop/trains/release/freeze").WithBody(c.body).Reply(200, frozen)
		if err := h.run(append([]string{"train", "freeze", "release", "--team", "shop", "--reason", "holidays"}, c.args...)...); err != nil {
			t.Fatal(err)
		}
		h.wantOutput(t, "froze train shop/release until Sun 2026-12-27 00:00 WET (holidays): its departures until then end held; "+
			"berth train unfreeze release ends it\n", "")
	}
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--reason", "x"}, "give one of --for DURATION or --until TIME: when the train may leave again"},
		{[]string{"--reason", "x", "--for", "1h", "--until", "2026-12-27T00:00:00Z"}, "give one of --for DURATION or --until TIME: when the train may leave again"},
		{[]string{"--for", "1h"}, "--reason is required: why the train stays in the station, for the team"},
		{[]string{"--for", "-1h", "--reason", "x"}, "--for must be positive, such as 24h"},
		{[]string{"--until", "tomorrow", "--reason", "x"}, `--until "tomorrow" is not an RFC 3339 time, such as 2026-12-24T00:00:00Z`},
	} {
		h := newHarness(t, false)
		wantExit(t, h.run(append([]string{"train", "freeze", "release", "--team", "shop"}, c.args...)...), c.msg, true)
	}
}

func TestTrainUnfreeze(t *testing.T) {
	h := newHarness(t, false)
	h.api.Expect("GET", "/api/v1/trains?name=release").Reply(200, trains(shopRelease()))
	h.api.Expect("POST", "/api/v1/teams/shop/trains/release/unfreeze").Reply(200, shopRelease())
	if err := h.run("train", "unfreeze", "release"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "unfroze train shop/release: it leaves on its schedule again\n", "")
}

// TestTrainHelp: the help teaches what a train is and how to make, check and delay one.
func TestTrainHelp(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"train", "--help"}, []string{"leaves on a schedule", "berth train create release --team shop", "berth train status release", "berth train delay release"}},
		{[]string{"train", "create", "--help"}, []string{`"0 10 * * 1-5"     10:00 on weekdays`, "--time-zone", "--max-delays", "--apps api,worker"}},
		{[]string{"train", "status", "--help"}, []string{"before the train leaves", "commits"}},
		{[]string{"train", "freeze", "--help"}, []string{"--for 24h --reason", "berth train\nunfreeze ends it early"}},
	} {
		h := newHarness(t, false)
		if err := h.run(c.args...); err != nil {
			t.Fatal(err)
		}
		for _, want := range c.want {
			if !strings.Contains(h.out.String(), want) {
				t.Errorf("%v lacks %q:\n%s", c.args, want, h.out)
			}
		}
	}
}
