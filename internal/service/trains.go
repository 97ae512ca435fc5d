package service

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// cronParser reads a train's schedule: five fields (minute hour day-of-month month
// day-of-week) or a descriptor (@daily, @hourly, @weekly...). The time zone is the
// train's own field, not a CRON_TZ prefix.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// TrainSchedule returns the function giving t's next departure after a time, checking
// its schedule and time zone.
func TrainSchedule(t berth.Train) (func(after time.Time) time.Time, error) {
	if strings.HasPrefix(strings.TrimSpace(t.Schedule), "CRON_TZ=") || strings.HasPrefix(strings.TrimSpace(t.Schedule), "TZ=") {
		return nil, invalid("schedule", "give the time zone as the train's time zone (--time-zone), not in the schedule")
	}
	if strings.HasPrefix(strings.TrimSpace(t.Schedule), "@every") {
		return nil, invalid("schedule", "%q: a train leaves at times of day: use five cron fields (\"0 10 * * 1-5\") or @daily, @hourly", t.Schedule)
	}
	sched, err := cronParser.Parse(t.Schedule)
	if err != nil {
		return nil, invalid("schedule", "%q: %v (want five cron fields: minute hour day-of-month month day-of-week, such as \"0 10 * * 1-5\")", t.Schedule, err)
	}
	loc, err := trainLocation(t.TimeZone)
	if err != nil {
		return nil, err
	}
	return func(after time.Time) time.Time { return sched.Next(after.In(loc)) }, nil
}

func trainLocation(tz string) (*time.Location, error) {
	if tz == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(tz)
	if err != nil || tz == "Local" {
		return nil, invalid("timeZone", "%q is no IANA time zone (such as Europe/Lisbon, America/New_York, UTC)", tz)
	}
	return loc, nil
}

// TrainDay is the day (YYYY-MM-DD) at is in t's time zone: what its delays count against.
func TrainDay(t berth.Train, at time.Time) string {
	loc, err := trainLocation(t.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	return at.In(loc).Format(time.DateOnly)
}

// checkTrain checks t's schedule and time zone ("" is UTC).
func checkTrain(t *berth.Train) error {
	if t.TimeZone == "" {
		t.TimeZone = "UTC"
	}
	_, err := TrainSchedule(*t)
	return err
}

// trainDefaults fills a new train's zero timings with the defaults; a negative MaxDelays
// is none.
func trainDefaults(t *berth.Train) {
	if t.AnnounceBefore == 0 {
		t.AnnounceBefore = berth.DefaultTrainAnnounce
	}
	if t.Delay == 0 {
		t.Delay = berth.DefaultTrainDelay
	}
	if t.MaxDelays == 0 {
		t.MaxDelays = berth.DefaultTrainMaxDelays
	}
	if t.MaxDelays < 0 {
		t.MaxDelays = 0
	}
}

func trainTarget(team, name string) string { return "train/" + team + "/" + name }

// CreateTrain makes a deployment train for a team (its admins). Zero timings take the
// defaults: announced 15 minutes before, delays of 30 minutes, two a day; a negative
// MaxDelays allows none.
func (s *Service) CreateTrain(ctx context.Context, p *authz.Principal, t berth.Train) (berth.Train, error) {
	trainDefaults(&t)
	if err := checkTrain(&t); err != nil {
		return t, err
	}
	c := change{action: "train.create", target: trainTarget(t.Team, t.Name), team: t.Team,
		details: map[string]any{"schedule": t.Schedule, "timeZone": t.TimeZone, "from": t.From, "to": t.To, "apps": t.Apps}}
	var out berth.Train
	err := s.mutate(ctx, p, &c, allowed(p, authz.ConfigManage, authz.Resource{Team: t.Team}), func(tx *store.Tx) (err error) {
		t.CreatedBy = p.Name
		out, err = tx.CreateTrain(ctx, t)
		return err
	})
	return out, err
}

// TrainChange changes some of a train's settings; nil fields stay as they are.
type TrainChange struct {
	Apps                  *[]string
	Schedule, TimeZone    *string
	From, To, Channel     *string
	AnnounceBefore, Delay *time.Duration
	MaxDelays             *int
}

// UpdateTrain changes team's train name (its team's admins): zero is zero here (MaxDelays
// 0: no delays; a negative one too). A departure already scheduled keeps its time; the
// next ones follow the new schedule.
func (s *Service) UpdateTrain(ctx context.Context, p *authz.Principal, team, name string, ch TrainChange) (berth.Train, error) {
	c := change{action: "train.update", target: trainTarget(team, name), team: team, details: map[string]any{}}
	var out berth.Train
	err := s.mutate(ctx, p, &c, allowed(p, authz.ConfigManage, authz.Resource{Team: team}), func(tx *store.Tx) error {
		t, err := tx.Train(ctx, team, name)
		if err != nil {
			return err
		}
		set := func(field string, dst *string, v *string) {
			if v != nil {
				*dst, c.details[field] = *v, *v
			}
		}
		set("schedule", &t.Schedule, ch.Schedule)
		set("timeZone", &t.TimeZone, ch.TimeZone)
		set("from", &t.From, ch.From)
		set("to", &t.To, ch.To)
		set("channel", &t.Channel, ch.Channel)
		if ch.Apps != nil {
			t.Apps, c.details["apps"] = *ch.Apps, *ch.Apps
		}
		if ch.AnnounceBefore != nil {
			t.AnnounceBefore, c.details["announce"] = *ch.AnnounceBefore, ch.AnnounceBefore.String()
		}
		if ch.Delay != nil {
			t.Delay, c.details["delay"] = *ch.Delay, ch.Delay.String()
		}
		if ch.MaxDelays != nil {
			t.MaxDelays, c.details["maxDelays"] = *ch.MaxDelays, *ch.MaxDelays
		}
		if len(c.details) == 0 {
			return invalid("train", "nothing to change")
		}
		t.MaxDelays = max(t.MaxDelays, 0)
		if err := checkTrain(&t); err != nil {
			return err
		}
		out, err = tx.UpdateTrain(ctx, t)
		return err
	})
	return out, err
}

// DeleteTrain deletes team's train name and its history (its team's admins).
func (s *Service) DeleteTrain(ctx context.Context, p *authz.Principal, team, name string) error {
	c := change{action: "train.delete", target: trainTarget(team, name), team: team}
	return s.mutate(ctx, p, &c, allowed(p, authz.ConfigManage, authz.Resource{Team: team}), func(tx *store.Tx) error {
		_, err := tx.DeleteTrain(ctx, team, name)
		return err
	})
}

// Trains lists the trains of team ("" for every team p may read), by team and name.
func (s *Service) Trains(ctx context.Context, p *authz.Principal, team string) ([]berth.Train, error) {
	if team != "" {
		if err := authz.Check(p, authz.AppRead, authz.Resource{Team: team}); err != nil {
			return nil, err
		}
	}
	ts, err := s.st.Trains(ctx, team)
	if err != nil {
		return nil, storeErr(err)
	}
	return slices.DeleteFunc(ts, func(t berth.Train) bool { return authz.Check(p, authz.AppRead, authz.Resource{Team: t.Team}) != nil }), nil
}

// TrainStatus is a train with its next departure and latest runs.
type TrainStatus struct {
	Train berth.Train
	// Next is the departure coming (nil when the schedule has none), with when it leaves.
	Next *berth.TrainRun
	// Runs are its latest departures, newest first (Next among them once recorded).
	Runs []berth.TrainRun
	// DelaysLeft is how many delays it may still take today.
	DelaysLeft int
}

// Train returns team's train name with its next departure and its last runs (viewers of
// the team).
func (s *Service) Train(ctx context.Context, p *authz.Principal, team, name string, runs int) (TrainStatus, error) {
	if err := authz.Check(p, authz.AppRead, authz.Resource{Team: team}); err != nil {
		return TrainStatus{}, err
	}
	t, err := s.st.Train(ctx, team, name)
	if err != nil {
		return TrainStatus{}, storeErr(err)
	}
	st := TrainStatus{Train: t}
	if runs <= 0 || runs > 100 {
		runs = 20
	}
	if st.Runs, err = s.st.TrainRuns(ctx, t.ID, runs); err != nil {
		return st, storeErr(err)
	}
	open, err := s.st.OpenTrainRuns(ctx, t.ID)
	if err != nil {
		return st, storeErr(err)
	}
	if len(open) > 0 {
		st.Next = &open[0]
	} else if next, err := TrainSchedule(t); err == nil {
		if at := next(s.now()); !at.IsZero() {
			st.Next = &berth.TrainRun{TrainID: t.ID, Slot: at.UTC(), Departs: at.UTC(), State: berth.TrainScheduled}
		}
	}
	day := TrainDay(t, s.now())
	if st.Next != nil {
		day = TrainDay(t, st.Next.Slot)
	}
	n, err := s.st.TrainDelaysOn(ctx, t.ID, day)
	if err != nil {
		return st, storeErr(err)
	}
	st.DelaysLeft = max(0, t.MaxDelays-n)
	return st, nil
}

// upcomingRun returns t's departure not ended yet, recording the schedule's next one when
// none is: the run a delay or an early departure applies to.
func (s *Service) upcomingRun(ctx context.Context, tx *store.Tx, t berth.Train) (berth.TrainRun, error) {
	open, err := tx.OpenTrainRuns(ctx, t.ID)
	if err != nil {
		return berth.TrainRun{}, err
	}
	if len(open) > 0 {
		return open[0], nil
	}
	next, err := TrainSchedule(t)
	if err != nil {
		return berth.TrainRun{}, err
	}
	at := next(s.now())
	if at.IsZero() {
		return berth.TrainRun{}, refused("train %s/%s has no departure coming: its schedule %q never comes round", t.Team, t.Name, t.Schedule)
	}
	return tx.ScheduleTrainRun(ctx, t.ID, at)
}

// DelayTrain postpones team's train name's next departure by its delay (anyone on the
// team): at most its MaxDelays a day; the next is refused, saying so. It returns the
// delayed run and how many delays are left today; the train's channel is told.
func (s *Service) DelayTrain(ctx context.Context, p *authz.Principal, team, name string) (berth.TrainRun, int, error) {
	c := change{action: "train.delay", target: trainTarget(team, name), team: team, details: map[string]any{}}
	var run berth.TrainRun
	left := 0
	err := s.mutate(ctx, p, &c, allowed(p, authz.AppRead, authz.Resource{Team: team}), func(tx *store.Tx) error {
		t, err := tx.Train(ctx, team, name)
		if err != nil {
			return err
		}
		up, err := s.upcomingRun(ctx, tx, t)
		if err != nil {
			return err
		}
		if up.State == berth.TrainDeparting {
			return refused("train %s/%s has left already (run %d): it can no longer be delayed", team, name, up.ID)
		}
		// Delays count against the day of the departure they delay, in the train's time
		// zone: tomorrow's train has tomorrow's budget, however early it is asked.
		day := TrainDay(t, up.Slot)
		n, err := tx.TrainDelaysOn(ctx, t.ID, day)
		if err != nil {
			return err
		}
		if t.MaxDelays == 0 {
			return refused("train %s/%s may not be delayed: it leaves at %s", team, name, up.Departs.In(locationOr(t)).Format("15:04 MST"))
		}
		if n >= t.MaxDelays {
			when := "today"
			if day != TrainDay(t, s.now()) {
				when = "for its departure on " + day
			}
			return refused("train %s/%s was delayed %d times %s, as many times as it may be: it leaves at %s",
				team, name, n, when, up.Departs.In(locationOr(t)).Format("15:04 MST"))
		}
		if run, err = tx.DelayTrainRun(ctx, berth.TrainDelay{TrainID: t.ID, RunID: up.ID, Day: day, By: p.Name, Delay: t.Delay}, t.MaxDelays); err != nil {
			return err
		}
		left = t.MaxDelays - n - 1
		c.details["run"], c.details["departs"], c.details["left"] = run.ID, run.Departs, left
		return nil
	})
	if err == nil {
		s.notifyTrains()
	}
	return run, left, err
}

func locationOr(t berth.Train) *time.Location {
	if loc, err := trainLocation(t.TimeZone); err == nil {
		return loc
	}
	return time.UTC
}

// DepartTrain sends team's train name's next departure off now (deployers of the team);
// its promotions into a protected environment wait for their approvals as any would.
func (s *Service) DepartTrain(ctx context.Context, p *authz.Principal, team, name string) (berth.TrainRun, error) {
	c := change{action: "train.depart", target: trainTarget(team, name), team: team, details: map[string]any{}}
	var run berth.TrainRun
	err := s.mutate(ctx, p, &c, allowed(p, authz.AppDeploy, authz.Resource{Team: team}), func(tx *store.Tx) error {
		t, err := tx.Train(ctx, team, name)
		if err != nil {
			return err
		}
		if t.Held(s.now()) {
			return refused("train %s/%s is frozen until %s (%s): unfreeze it first (berth train unfreeze)", team, name,
				t.HeldUntil.In(locationOr(t)).Format(time.RFC3339), t.HeldReason)
		}
		up, err := s.upcomingRun(ctx, tx, t)
		if err != nil {
			return err
		}
		if up.State == berth.TrainDeparting {
			return refused("train %s/%s is leaving already (run %d)", team, name, up.ID)
		}
		run, err = tx.DepartTrainRunNow(ctx, up.ID, p.Name, s.now())
		c.details["run"] = run.ID
		return err
	})
	if err == nil {
		s.notifyTrains()
	}
	return run, err
}

// FreezeTrain keeps team's train name in the station until until (deployers of the team),
// saying why: its departures in that time end held. Zero until unfreezes it.
func (s *Service) FreezeTrain(ctx context.Context, p *authz.Principal, team, name string, until time.Time, reason string) (berth.Train, error) {
	action := "train.freeze"
	if until.IsZero() {
		action = "train.unfreeze"
	} else {
		if !until.After(s.now()) {
			return berth.Train{}, invalid("until", "%s is not in the future", until.UTC().Format(time.RFC3339))
		}
		if strings.TrimSpace(reason) == "" {
			return berth.Train{}, invalid("reason", "required: say why the train stays in the station")
		}
	}
	c := change{action: action, target: trainTarget(team, name), team: team, details: map[string]any{}}
	if !until.IsZero() {
		c.details["until"], c.details["reason"] = until.UTC(), reason
	}
	var out berth.Train
	err := s.mutate(ctx, p, &c, allowed(p, authz.AppDeploy, authz.Resource{Team: team}), func(tx *store.Tx) error {
		t, err := tx.Train(ctx, team, name)
		if err != nil {
			return err
		}
		why := strings.TrimSpace(reason)
		if until.IsZero() {
			why = ""
		}
		out, err = tx.HoldTrain(ctx, t.Team, t.Name, until, why)
		return err
	})
	return out, err
}

// trainActor is who a train's promotions are by: the train, which a team admin set up.
func trainActor(t berth.Train) *authz.Principal {
	return &authz.Principal{Name: "train:" + t.Team + "/" + t.Name}
}

// PromoteTrainCar queues the promotion of car i of run (departing) of train t: what runs
// in the train's source environment (the car's source deploy), into its target, by the
// train. The car's deploy is recorded in the transaction that queues it, so a departure
// resumed after a crash never queues a car twice: a car that has its deploy already is an
// error matching berth.ErrConflict. A freeze window refuses it (*berth.FrozenError).
func (s *Service) PromoteTrainCar(ctx context.Context, t berth.Train, run berth.TrainRun, i int) (berth.Deploy, error) {
	if i < 0 || i >= len(run.Cars) {
		return berth.Deploy{}, fmt.Errorf("train run %d has no car %d", run.ID, i)
	}
	car := run.Cars[i]
	req := PromoteRequest{Team: t.Team, App: car.App, From: t.From, To: t.To, Source: car.Source}
	req.queued = func(tx *store.Tx, d berth.Deploy) error {
		cur, err := tx.LockTrainRun(ctx, run.ID)
		if err != nil {
			return err
		}
		if cur.State != berth.TrainDeparting || i >= len(cur.Cars) || cur.Cars[i].Deploy != 0 || cur.Cars[i].App != car.App {
			return fmt.Errorf("%w: car %s of train run %d was promoted already (or the run is no longer departing)", berth.ErrConflict, car.App, run.ID)
		}
		cur.Cars[i].Deploy, cur.Cars[i].State = d.ID, berth.CarDeploying
		_, err = tx.UpdateTrainRun(ctx, run.ID, store.TrainRunUpdate{From: berth.TrainDeparting, State: berth.TrainDeparting, Cars: cur.Cars})
		return err
	}
	req.train = run.ID
	return s.promote(ctx, trainActor(t), req, 0)
}

// SetTrainNotifier sets what wakes the train's scheduler when a delay or an early
// departure changed a run.
func (s *Service) SetTrainNotifier(n Notifier) { s.notifyTrain = n }

func (s *Service) notifyTrains() {
	if s.notifyTrain != nil {
		s.notifyTrain.Notify()
	}
}
