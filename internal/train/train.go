// Package train runs the deployment trains (docs/trains.md): for each train, on its
// schedule, it announces the departure AnnounceBefore it leaves with what is on it (per
// app, the commits its source environment runs that its target does not, their authors
// pinged), tells the channel of each delay, and at departure promotes app after app,
// stopping the line at the first failed deploy.
//
// Every step is a compare-and-set of the run's state in the store, and each car's
// promotion is recorded in the transaction that queues it: a server that dies mid-departure
// leaves the run for the next tick, which resumes it without promoting anything twice.
// One server at a time schedules (a lease in the store), however many share it.
package train

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/service"
	"github.com/berth-dev/berth/internal/store"
)

// Forge is what the scheduler needs of a forge: the commits head has that base has not.
type Forge interface {
	Compare(ctx context.Context, repo, base, head string) (berth.Comparison, error)
}

// Forges opens a connection's forge with its token.
type Forges func(r berth.AppRepo, token string) (Forge, error)

// Chat is where trains announce themselves.
type Chat interface {
	// Post posts text in channel and returns the message's id there.
	Post(ctx context.Context, channel, text string) (string, error)
	// Update replaces message id of channel with text.
	Update(ctx context.Context, channel, id, text string) error
	// UserByEmail returns the chat user whose email is email (for pinging a commit's
	// author), or an error when there is none.
	UserByEmail(ctx context.Context, email string) (string, error)
	// Mention is how the chat pings user in a message.
	Mention(user string) string
	// Provider names the chat (slack), as chat links do.
	Provider() string
}

// Options tune a Scheduler.
type Options struct {
	// Poll is how often it looks at the trains when not woken (0: 5 seconds).
	Poll time.Duration
	// Lease is how long one server's turn at scheduling lasts unless renewed (0: 30
	// seconds): another takes over this long after the holder stopped.
	Lease time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// PublicURL is where users reach the server, for links to a train's page.
	PublicURL string
}

// LeaseName is the lease the scheduling server holds.
const LeaseName = "train-scheduler"

// Scheduler runs the trains.
type Scheduler struct {
	st     *store.Store
	svc    *service.Service
	forges Forges
	chat   Chat // nil: no chat; trains run silently
	log    *slog.Logger
	o      Options
	id     string
	wake   chan struct{}

	mu     sync.Mutex
	board  map[int64]string   // the text each run's announcement shows, as last written
	pinged map[int64][]string // the mentions of each run's authors, looked up once
}

// New returns a Scheduler; chat may be nil.
func New(st *store.Store, svc *service.Service, forges Forges, chat Chat, log *slog.Logger, o Options) *Scheduler {
	if o.Poll <= 0 {
		o.Poll = 5 * time.Second
	}
	if o.Lease <= 0 {
		o.Lease = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	host, _ := os.Hostname()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return &Scheduler{st: st, svc: svc, forges: forges, chat: chat, log: log, o: o,
		id:   fmt.Sprintf("%s-%d-%s/train", host, os.Getpid(), hex.EncodeToString(b)),
		wake: make(chan struct{}, 1), board: map[int64]string{}, pinged: map[int64][]string{}}
}

// ID is the scheduler's name as a lease holder.
func (s *Scheduler) ID() string { return s.id }

// Notify wakes the scheduler: a departure was delayed or sent off.
func (s *Scheduler) Notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run ticks until ctx ends, then gives up its lease.
func (s *Scheduler) Run(ctx context.Context) {
	t := time.NewTicker(s.o.Poll)
	defer t.Stop()
	defer func() {
		if err := s.st.ReleaseLease(context.WithoutCancel(ctx), LeaseName, s.id); err != nil {
			s.log.Warn("train scheduler: release lease", "err", err)
		}
	}()
	for {
		if _, err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("train scheduler", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.wake:
		}
	}
}

// Tick does what is due now, if this server holds the lease (taking or renewing it);
// it reports whether it did.
func (s *Scheduler) Tick(ctx context.Context) (leader bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	held, err := s.st.AcquireLease(ctx, LeaseName, s.id, s.o.Lease)
	if err != nil || !held {
		return false, err
	}
	trains, err := s.st.Trains(ctx, "")
	if err != nil {
		return true, err
	}
	var errs []error
	for _, t := range trains {
		// A step can take a while (the forge's compare per app): the lease is renewed
		// before each, and a server that lost it stops at once.
		if held, err := s.st.AcquireLease(ctx, LeaseName, s.id, s.o.Lease); err != nil || !held {
			return held, errors.Join(append(errs, err)...)
		}
		if err := s.step(ctx, t); err != nil {
			errs = append(errs, fmt.Errorf("train %s/%s: %w", t.Team, t.Name, err))
		}
	}
	if err := s.announceDelays(ctx); err != nil {
		errs = append(errs, err)
	}
	return true, errors.Join(errs...)
}

// step moves t's open departure on as far as it can now.
func (s *Scheduler) step(ctx context.Context, t berth.Train) error {
	now := s.o.Now()
	open, err := s.st.OpenTrainRuns(ctx, t.ID)
	if err != nil {
		return err
	}
	var run berth.TrainRun
	if len(open) > 0 {
		run = open[0]
	} else {
		next, err := service.TrainSchedule(t)
		if err != nil {
			return err
		}
		at := next(now)
		if at.IsZero() {
			return nil
		}
		if err := s.st.Tx(ctx, func(tx *store.Tx) (err error) {
			run, err = tx.ScheduleTrainRun(ctx, t.ID, at)
			return err
		}); err != nil {
			return err
		}
	}
	for range 3 + len(run.Cars) { // each pass moves the run one state on, or waits
		next, moved, err := s.advance(ctx, t, run, now)
		if err != nil || !moved {
			return err
		}
		run = next
		if run.State.Final() {
			return nil
		}
	}
	return nil
}

// advance moves run one step on, if due; moved says whether it did.
func (s *Scheduler) advance(ctx context.Context, t berth.Train, run berth.TrainRun, now time.Time) (berth.TrainRun, bool, error) {
	switch run.State {
	case berth.TrainScheduled:
		if now.Before(run.Departs.Add(-t.AnnounceBefore)) {
			return run, false, nil
		}
		return s.announce(ctx, t, run, now)
	case berth.TrainAnnounced:
		if run.Message == "" && len(run.Cars) > 0 {
			s.postAnnouncement(ctx, t, &run, now) // the post a crash or the chat lost
		}
		if now.Before(run.Departs) {
			s.refreshBoard(ctx, t, run, now)
			return run, false, nil
		}
		return s.depart(ctx, t, run, now)
	case berth.TrainDeparting:
		return s.drive(ctx, t, run)
	}
	return run, false, nil
}

// announce finds what is pending and tells the channel (nothing, when nothing is).
func (s *Scheduler) announce(ctx context.Context, t berth.Train, run berth.TrainRun, now time.Time) (berth.TrainRun, bool, error) {
	cars, err := s.pending(ctx, t)
	if err != nil {
		return run, false, err
	}
	if cars == nil {
		cars = []berth.TrainCar{}
	}
	var out berth.TrainRun
	err = s.st.Tx(ctx, func(tx *store.Tx) (err error) {
		out, err = tx.UpdateTrainRun(ctx, run.ID, store.TrainRunUpdate{From: berth.TrainScheduled, State: berth.TrainAnnounced, Cars: cars})
		return err
	})
	if errors.Is(err, berth.ErrConflict) { // delayed or sent off meanwhile: look again
		return run, false, nil
	}
	if err != nil {
		return run, false, err
	}
	if len(cars) > 0 {
		s.postAnnouncement(ctx, t, &out, now)
	}
	return out, true, nil
}

// depart sends the run off: held by the train's freeze or a freeze window of its target,
// empty when nothing is pending now, else departing with the cars pending now.
func (s *Scheduler) depart(ctx context.Context, t berth.Train, run berth.TrainRun, now time.Time) (berth.TrainRun, bool, error) {
	end := func(state berth.TrainRunState, reason string, cars []berth.TrainCar) (berth.TrainRun, bool, error) {
		var out berth.TrainRun
		err := s.st.Tx(ctx, func(tx *store.Tx) (err error) {
			out, err = tx.UpdateTrainRun(ctx, run.ID, store.TrainRunUpdate{From: run.State, State: state, Reason: reason, Cars: cars, DueBy: now})
			return err
		})
		if errors.Is(err, berth.ErrConflict) {
			return run, false, nil
		}
		return out, err == nil, err
	}
	if late := now.Sub(run.Departs); late > missedAfter(t) {
		// No server ran the train at its time: it does not leave hours late, unannounced.
		reason := fmt.Sprintf("missed: it was due at %s and no server ran it until %s", clock(t, run.Departs), clock(t, now))
		out, moved, err := end(berth.TrainHeld, reason, nil)
		if moved {
			s.say(ctx, t, out, fmt.Sprintf(":warning: The %s train %s. The next one leaves on schedule.", trainName(t), reason))
		}
		return out, moved, err
	}
	if t.Held(now) {
		reason := fmt.Sprintf("the train is frozen until %s: %s", t.HeldUntil.UTC().Format(time.RFC3339), t.HeldReason)
		out, moved, err := end(berth.TrainHeld, reason, nil)
		if moved {
			s.say(ctx, t, out, fmt.Sprintf(":octagonal_sign: The %s train stays in the station: %s", trainName(t), reason))
		}
		return out, moved, err
	}
	windows, err := s.st.FreezeWindows(ctx, t.To, now)
	if err != nil {
		return run, false, err
	}
	for _, w := range windows {
		if !w.Start.After(now) {
			reason := fmt.Sprintf("%s is frozen until %s (%s, window %d)", t.To, w.End.UTC().Format(time.RFC3339), w.Reason, w.ID)
			out, moved, err := end(berth.TrainHeld, reason, nil)
			if moved {
				s.say(ctx, t, out, fmt.Sprintf(":snowflake: The %s train stays in the station: %s. Nothing was promoted.", trainName(t), reason))
			}
			return out, moved, err
		}
	}
	cars, err := s.pending(ctx, t)
	if err != nil {
		return run, false, err
	}
	if len(cars) == 0 {
		return end(berth.TrainEmpty, "nothing was pending", []berth.TrainCar{})
	}
	out, moved, err := end(berth.TrainDeparting, "", cars)
	if moved {
		if out.Message == "" {
			s.postAnnouncement(ctx, t, &out, now)
		}
		by := ""
		if out.DepartedBy != "" {
			by = ", sent off early by " + out.DepartedBy
		}
		s.say(ctx, t, out, fmt.Sprintf(":steam_locomotive: The %s train departs%s: %s, in this order.", trainName(t), by, carList(cars)))
	}
	return out, moved, err
}

// drive promotes the run's cars in order: the next waiting one is queued once the one
// before succeeded; a failed one stops the line.
func (s *Scheduler) drive(ctx context.Context, t berth.Train, run berth.TrainRun) (berth.TrainRun, bool, error) {
	for i, car := range run.Cars {
		switch car.State {
		case berth.CarSucceeded, berth.CarSkipped:
			continue
		case berth.CarWaiting:
			d, err := s.svc.PromoteTrainCar(ctx, t, run, i)
			if err != nil {
				var frozen *berth.FrozenError
				if errors.Is(err, berth.ErrConflict) && !errors.As(err, &frozen) {
					// Queued by a tick before (this server's or another's): read again.
					out, rerr := s.st.TrainRun(ctx, run.ID)
					if rerr != nil {
						return run, false, rerr
					}
					if out.State != berth.TrainDeparting || out.Cars[i].Deploy != 0 {
						return out, true, nil
					}
					return s.stop(ctx, t, run, i, fmt.Sprintf("could not promote %s: %v", car.App, err))
				}
				if errors.Is(err, berth.ErrUnavailable) || errors.Is(err, context.Canceled) {
					return run, false, err
				}
				return s.stop(ctx, t, run, i, fmt.Sprintf("could not promote %s: %v", car.App, err))
			}
			s.log.Info("train promotes", "train", trainName(t), "app", car.App, "deploy", d.ID)
			out, err := s.st.TrainRun(ctx, run.ID)
			if err == nil {
				s.refreshBoard(ctx, t, out, s.o.Now())
			}
			return out, false, err // it waits for the deploy
		case berth.CarDeploying:
			d, err := s.st.Deploy(ctx, car.Deploy)
			if errors.Is(err, berth.ErrNotFound) {
				return s.stop(ctx, t, run, i, fmt.Sprintf("deploy %d of %s no longer exists (the app was deleted?)", car.Deploy, car.App))
			}
			if err != nil {
				return run, false, err
			}
			switch d.State {
			case berth.DeploySucceeded:
				out, err := s.changeCars(ctx, run.ID, func(cur *berth.TrainRun) (berth.TrainRunState, string, error) {
					if i >= len(cur.Cars) || cur.Cars[i].Deploy != d.ID {
						return "", "", fmt.Errorf("%w: car %s changed since it was read", berth.ErrConflict, car.App)
					}
					cur.Cars[i].State = berth.CarSucceeded
					return berth.TrainDeparting, "", nil
				})
				if errors.Is(err, berth.ErrConflict) {
					return run, false, nil // another server moved it on: read again next tick
				}
				if err == nil {
					s.refreshBoard(ctx, t, out, s.o.Now())
				}
				return out, err == nil, err
			case berth.DeployFailed:
				return s.stop(ctx, t, run, i, fmt.Sprintf("deploy %d of %s failed: %s", d.ID, car.App, d.Reason))
			}
			return run, false, nil // still deploying, or awaiting its approval
		case berth.CarFailed:
			return s.stop(ctx, t, run, i, car.Reason)
		}
	}
	var out berth.TrainRun
	err := s.st.Tx(ctx, func(tx *store.Tx) (err error) {
		out, err = tx.UpdateTrainRun(ctx, run.ID, store.TrainRunUpdate{From: berth.TrainDeparting, State: berth.TrainDeparted,
			Reason: fmt.Sprintf("%d apps promoted to %s", len(run.Cars), t.To)})
		return err
	})
	if err != nil {
		return run, false, err
	}
	s.refreshBoard(ctx, t, out, s.o.Now())
	s.say(ctx, t, out, fmt.Sprintf(":white_check_mark: The %s train arrived: %s now run in %s what %s runs.", trainName(t), carList(run.Cars), t.To, t.From))
	return out, true, nil
}

// stop stops the line at car i: it failed, the cars after it are skipped, and the
// channel hears it loudly.
func (s *Scheduler) stop(ctx context.Context, t berth.Train, run berth.TrainRun, i int, reason string) (berth.TrainRun, bool, error) {
	var waiting []string
	out, err := s.changeCars(ctx, run.ID, func(cur *berth.TrainRun) (berth.TrainRunState, string, error) {
		if i >= len(cur.Cars) || cur.Cars[i].App != run.Cars[i].App {
			return "", "", fmt.Errorf("%w: the cars of run %d changed since they were read", berth.ErrConflict, run.ID)
		}
		cur.Cars[i].State, cur.Cars[i].Reason = berth.CarFailed, reason
		waiting = nil
		for j := i + 1; j < len(cur.Cars); j++ {
			cur.Cars[j].State, cur.Cars[j].Reason = berth.CarSkipped, "the line stopped at "+cur.Cars[i].App
			waiting = append(waiting, cur.Cars[j].App)
		}
		return berth.TrainStopped, "stopped at " + cur.Cars[i].App + ": " + reason, nil
	})
	if errors.Is(err, berth.ErrConflict) {
		return run, false, nil // another server moved it on: read again next tick
	}
	if err != nil {
		return run, false, err
	}
	run = out
	s.refreshBoard(ctx, t, out, s.o.Now())
	msg := fmt.Sprintf(":rotating_light: *The %s train STOPPED at %s*: %s.", trainName(t), run.Cars[i].App, reason)
	if run.Cars[i].Deploy != 0 {
		msg += " Berth rolls it back automatically where it can (see its deploy message)."
	}
	if len(waiting) > 0 {
		msg += fmt.Sprintf(" Not promoted, waiting for the next train: %s.", strings.Join(waiting, ", "))
	}
	s.say(ctx, t, out, msg)
	return out, true, nil
}

// changeCars changes a departing run as it is now, locked: fn edits its cars and says
// the state (and reason) it moves to. A run no longer departing is a berth.ErrConflict.
func (s *Scheduler) changeCars(ctx context.Context, id int64, fn func(cur *berth.TrainRun) (berth.TrainRunState, string, error)) (berth.TrainRun, error) {
	var out berth.TrainRun
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		cur, err := tx.LockTrainRun(ctx, id)
		if err != nil {
			return err
		}
		if cur.State != berth.TrainDeparting {
			return fmt.Errorf("%w: run %d is %s", berth.ErrConflict, id, cur.State)
		}
		state, reason, err := fn(&cur)
		if err != nil {
			return err
		}
		out, err = tx.UpdateTrainRun(ctx, id, store.TrainRunUpdate{From: berth.TrainDeparting, State: state, Reason: reason, Cars: cur.Cars})
		return err
	})
	return out, err
}

func trainName(t berth.Train) string { return t.Team + "/" + t.Name }

// missedAfter is how late a departure may still leave (a server restarting): its
// announcement time, at least 15 minutes.
func missedAfter(t berth.Train) time.Duration { return max(t.AnnounceBefore, 15*time.Minute) }

func carList(cars []berth.TrainCar) string {
	names := make([]string, len(cars))
	for i, c := range cars {
		names[i] = c.App
	}
	return strings.Join(names, ", ")
}
