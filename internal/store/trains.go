package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/berth-dev/berth/internal/berth"
)

const (
	trainColumns = `tr.id, t.name, tr.name, tr.apps, tr.schedule, tr.time_zone, tr.source_env, tr.target_env, tr.channel,
		tr.announce_before, tr.delay_step, tr.max_delays, tr.held_until, tr.held_reason, tr.created_by, tr.created_at, tr.updated_at`
	trainFrom = " FROM trains tr JOIN teams t ON t.id = tr.team_id"

	trainRunColumns = `id, train_id, slot, departs_at, state, reason, cars, delays, departed_by, channel, message,
		created_at, updated_at, finished_at`
)

// maxTrainApps bounds the apps a train names.
const maxTrainApps = 100

func scanTrain(sc scanner) (berth.Train, error) {
	var t berth.Train
	var apps string
	var announce, delay, held, created, updated int64
	err := sc.Scan(&t.ID, &t.Team, &t.Name, &apps, &t.Schedule, &t.TimeZone, &t.From, &t.To, &t.Channel,
		&announce, &delay, &t.MaxDelays, &held, &t.HeldReason, &t.CreatedBy, &created, &updated)
	if err != nil {
		return t, err
	}
	if err := json.Unmarshal([]byte(apps), &t.Apps); err != nil {
		return t, fmt.Errorf("train %d: apps: %w", t.ID, err)
	}
	t.AnnounceBefore, t.Delay = time.Duration(announce)*time.Second, time.Duration(delay)*time.Second
	if held != 0 {
		t.HeldUntil = fromMicros(held)
	}
	t.CreatedAt, t.UpdatedAt = fromMicros(created), fromMicros(updated)
	return t, nil
}

// checkTrain checks what the store can of a train; the service checks its schedule and
// time zone.
func (tx *Tx) checkTrain(ctx context.Context, t berth.Train) (apps string, err error) {
	if err := berth.ValidateName("name", t.Name); err != nil {
		return "", err
	}
	if len(t.Apps) > maxTrainApps {
		return "", invalid("apps", "a train carries at most %d apps", maxTrainApps)
	}
	seen := map[string]bool{}
	for _, a := range t.Apps {
		if seen[a] {
			return "", invalid("apps", "%s is named twice", a)
		}
		seen[a] = true
		if _, err := tx.App(ctx, t.Team, a); err != nil {
			return "", fmt.Errorf("apps: %w", err)
		}
	}
	for _, env := range []string{t.From, t.To} {
		if _, err := tx.Environment(ctx, env); err != nil {
			return "", err
		}
	}
	switch {
	case t.From == t.To:
		return "", invalid("to", "a train promotes from one environment to another, not %s to itself", t.From)
	case t.AnnounceBefore < 0 || t.AnnounceBefore > 24*time.Hour:
		return "", invalid("announce", "between 0 and 24h")
	case t.Delay <= 0 || t.Delay > 24*time.Hour:
		return "", invalid("delay", "between 1s and 24h")
	case t.MaxDelays < 0 || t.MaxDelays > 100:
		return "", invalid("maxDelays", "between 0 and 100")
	case len(t.Channel) > 200:
		return "", invalid("channel", "is longer than 200 bytes")
	}
	switch {
	case t.Schedule == "":
		return "", invalid("schedule", "required: a cron expression, such as \"0 10 * * 1-5\"")
	case len(t.Schedule) > 200:
		return "", invalid("schedule", "is longer than 200 bytes")
	case len(t.TimeZone) > 100:
		return "", invalid("timeZone", "is longer than 100 bytes")
	}
	if t.HeldReason != "" {
		if err := validateProse("reason", t.HeldReason, 500); err != nil {
			return "", err
		}
	}
	b, err := json.Marshal(t.Apps)
	if t.Apps == nil {
		b = []byte("[]")
	}
	return string(b), err
}

// CreateTrain makes team's train t.
func (tx *Tx) CreateTrain(ctx context.Context, t berth.Train) (berth.Train, error) {
	if _, err := tx.Team(ctx, t.Team); err != nil {
		return t, err
	}
	apps, err := tx.checkTrain(ctx, t)
	if err != nil {
		return t, fmt.Errorf("train %s: %w", t.Name, err)
	}
	now := micros(tx.stamp())
	var id int64
	err = tx.queryRow(ctx, `INSERT INTO trains (team_id, name, apps, schedule, time_zone, source_env, target_env, channel,
		announce_before, delay_step, max_delays, held_until, held_reason, created_by, created_at, updated_at)
		SELECT id, CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT),
			CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS INTEGER), CAST(? AS BIGINT), CAST(? AS TEXT),
			CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS BIGINT) FROM teams WHERE name = ? RETURNING id`,
		t.Name, apps, t.Schedule, t.TimeZone, t.From, t.To, t.Channel, int64(t.AnnounceBefore/time.Second),
		int64(t.Delay/time.Second), t.MaxDelays, heldMicros(t.HeldUntil), t.HeldReason, t.CreatedBy, now, now, t.Team).Scan(&id)
	if classify(err) == errUnique {
		return t, fmt.Errorf("train %s/%s: %w: it exists", t.Team, t.Name, berth.ErrConflict)
	}
	if err != nil {
		return t, fmt.Errorf("create train %s/%s: %w", t.Team, t.Name, dbErr(err))
	}
	return tx.trainByID(ctx, id)
}

func heldMicros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return micros(t)
}

// UpdateTrain writes t (found by team and name) as it is now: apps, schedule, time zone,
// environments, channel, timing and hold.
func (tx *Tx) UpdateTrain(ctx context.Context, t berth.Train) (berth.Train, error) {
	cur, err := tx.Train(ctx, t.Team, t.Name)
	if err != nil {
		return t, err
	}
	apps, err := tx.checkTrain(ctx, t)
	if err != nil {
		return t, fmt.Errorf("train %s: %w", t.Name, err)
	}
	if _, err := tx.exec(ctx, `UPDATE trains SET apps = ?, schedule = ?, time_zone = ?, source_env = ?, target_env = ?,
		channel = ?, announce_before = ?, delay_step = ?, max_delays = ?, held_until = ?, held_reason = ?, updated_at = ?
		WHERE id = ?`, apps, t.Schedule, t.TimeZone, t.From, t.To, t.Channel, int64(t.AnnounceBefore/time.Second),
		int64(t.Delay/time.Second), t.MaxDelays, heldMicros(t.HeldUntil), t.HeldReason, micros(tx.stamp()), cur.ID); err != nil {
		return t, fmt.Errorf("update train %s/%s: %w", t.Team, t.Name, dbErr(err))
	}
	return tx.trainByID(ctx, cur.ID)
}

// HoldTrain keeps team's train name in the station until until (zero: releases it),
// saying why; unlike UpdateTrain it checks nothing else, so a train whose app was deleted
// since can still be held.
func (tx *Tx) HoldTrain(ctx context.Context, team, name string, until time.Time, reason string) (berth.Train, error) {
	t, err := tx.Train(ctx, team, name)
	if err != nil {
		return t, err
	}
	if reason != "" {
		if err := validateProse("reason", reason, 500); err != nil {
			return t, err
		}
	}
	if _, err := tx.exec(ctx, "UPDATE trains SET held_until = ?, held_reason = ?, updated_at = ? WHERE id = ?",
		heldMicros(until), reason, micros(tx.stamp()), t.ID); err != nil {
		return t, fmt.Errorf("hold train %s/%s: %w", team, name, dbErr(err))
	}
	return tx.trainByID(ctx, t.ID)
}

// DeleteTrain deletes team's train name, its runs and delays.
func (tx *Tx) DeleteTrain(ctx context.Context, team, name string) (berth.Train, error) {
	t, err := tx.Train(ctx, team, name)
	if err != nil {
		return t, err
	}
	if _, err := tx.exec(ctx, "DELETE FROM trains WHERE id = ?", t.ID); err != nil {
		return t, fmt.Errorf("delete train %s/%s: %w", team, name, dbErr(err))
	}
	return t, nil
}

// Train returns team's train name.
func (q queries) Train(ctx context.Context, team, name string) (berth.Train, error) {
	t, err := scanTrain(q.queryRow(ctx, "SELECT "+trainColumns+trainFrom+" WHERE t.name = ? AND tr.name = ?", team, name))
	if errors.Is(err, sql.ErrNoRows) {
		if _, err := q.Team(ctx, team); err != nil {
			return t, err
		}
		return t, notFound("train", team+"/"+name)
	}
	if err != nil {
		return t, fmt.Errorf("get train %s/%s: %w", team, name, dbErr(err))
	}
	return t, nil
}

func (q queries) trainByID(ctx context.Context, id int64) (berth.Train, error) {
	t, err := scanTrain(q.queryRow(ctx, "SELECT "+trainColumns+trainFrom+" WHERE tr.id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return t, notFound("train", fmt.Sprint(id))
	}
	if err != nil {
		return t, fmt.Errorf("get train %d: %w", id, dbErr(err))
	}
	return t, nil
}

// TrainByID returns the train with id.
func (q queries) TrainByID(ctx context.Context, id int64) (berth.Train, error) {
	return q.trainByID(ctx, id)
}

// Trains returns the trains of team ("" for every team), by team and name.
func (q queries) Trains(ctx context.Context, team string) ([]berth.Train, error) {
	if team != "" {
		if _, err := q.Team(ctx, team); err != nil {
			return nil, err
		}
	}
	ts, err := list(ctx, q, scanTrain, "SELECT "+trainColumns+trainFrom+" WHERE (? = '' OR t.name = ?) ORDER BY t.name, tr.name", team, team)
	if err != nil {
		return nil, fmt.Errorf("list trains: %w", dbErr(err))
	}
	return ts, nil
}

func scanTrainRun(sc scanner) (berth.TrainRun, error) {
	var r berth.TrainRun
	var cars string
	var slot, departs, created, updated int64
	var finished sql.NullInt64
	err := sc.Scan(&r.ID, &r.TrainID, &slot, &departs, &r.State, &r.Reason, &cars, &r.Delays, &r.DepartedBy,
		&r.Channel, &r.Message, &created, &updated, &finished)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal([]byte(cars), &r.Cars); err != nil {
		return r, fmt.Errorf("train run %d: cars: %w", r.ID, err)
	}
	r.Slot, r.Departs, r.CreatedAt, r.UpdatedAt = fromMicros(slot), fromMicros(departs), fromMicros(created), fromMicros(updated)
	r.FinishedAt = fromNullMicros(finished)
	return r, nil
}

// ScheduleTrainRun records train's departure at slot, once: the run of that slot, made
// now (scheduled, leaving at slot) or as it already is.
func (tx *Tx) ScheduleTrainRun(ctx context.Context, train int64, slot time.Time) (berth.TrainRun, error) {
	now := micros(tx.stamp())
	if _, err := tx.exec(ctx, `INSERT INTO train_runs (train_id, slot, departs_at, state, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (train_id, slot) DO NOTHING`,
		train, micros(slot), micros(slot), berth.TrainScheduled, now, now); err != nil {
		return berth.TrainRun{}, fmt.Errorf("schedule train %d at %s: %w", train, slot.UTC().Format(time.RFC3339), dbErr(err))
	}
	r, err := scanTrainRun(tx.queryRow(ctx, "SELECT "+trainRunColumns+" FROM train_runs WHERE train_id = ? AND slot = ?", train, micros(slot)))
	if err != nil {
		return r, fmt.Errorf("train %d's run at %s: %w", train, slot.UTC().Format(time.RFC3339), dbErr(err))
	}
	return r, nil
}

// TrainRun returns run id.
func (q queries) TrainRun(ctx context.Context, id int64) (berth.TrainRun, error) {
	r, err := scanTrainRun(q.queryRow(ctx, "SELECT "+trainRunColumns+" FROM train_runs WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, notFound("train run", fmt.Sprint(id))
	}
	if err != nil {
		return r, fmt.Errorf("get train run %d: %w", id, dbErr(err))
	}
	return r, nil
}

// LockTrainRun returns run id, locked until the transaction ends (PostgreSQL: FOR UPDATE;
// SQLite's write transactions are serial): what a change of its cars reads first, so two
// servers never both queue one car.
func (tx *Tx) LockTrainRun(ctx context.Context, id int64) (berth.TrainRun, error) {
	r, err := scanTrainRun(tx.queryRow(ctx, "SELECT "+trainRunColumns+" FROM train_runs WHERE id = ?"+tx.d.forUpdate, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, notFound("train run", fmt.Sprint(id))
	}
	if err != nil {
		return r, fmt.Errorf("lock train run %d: %w", id, dbErr(err))
	}
	return r, nil
}

// TrainRuns returns train's runs, newest slot first, at most limit.
func (q queries) TrainRuns(ctx context.Context, train int64, limit int) ([]berth.TrainRun, error) {
	rs, err := list(ctx, q, scanTrainRun, "SELECT "+trainRunColumns+" FROM train_runs WHERE train_id = ? ORDER BY slot DESC, id DESC LIMIT ?", train, limit)
	if err != nil {
		return nil, fmt.Errorf("list runs of train %d: %w", train, dbErr(err))
	}
	return rs, nil
}

// OpenTrainRuns returns train's runs not ended yet (0: every train's), by departure.
func (q queries) OpenTrainRuns(ctx context.Context, train int64) ([]berth.TrainRun, error) {
	rs, err := list(ctx, q, scanTrainRun, "SELECT "+trainRunColumns+` FROM train_runs
		WHERE (? = 0 OR train_id = ?) AND state IN (?, ?, ?) ORDER BY departs_at, id`,
		train, train, berth.TrainScheduled, berth.TrainAnnounced, berth.TrainDeparting)
	if err != nil {
		return nil, fmt.Errorf("list open train runs: %w", dbErr(err))
	}
	return rs, nil
}

// TrainRunUpdate is a change of a run's state: from From (it must still be in it) to
// State, with Cars (nil: unchanged) and Reason.
type TrainRunUpdate struct {
	From, State berth.TrainRunState
	Reason      string
	Cars        []berth.TrainCar
	// DueBy, when set, requires the run to be due then (departs at or before it): a
	// departure delayed since it was read does not leave.
	DueBy time.Time
}

// UpdateTrainRun moves run id from u.From to u.State (the same for a change of cars or
// reason only), and returns it; a run no longer in u.From (or not due by u.DueBy) is a
// berth.ErrConflict, and nothing changes.
func (tx *Tx) UpdateTrainRun(ctx context.Context, id int64, u TrainRunUpdate) (berth.TrainRun, error) {
	set, args := "state = ?, updated_at = ?", []any{u.State, micros(tx.stamp())}
	if u.Reason != "" {
		set, args = set+", reason = ?", append(args, clipReason(u.Reason))
	}
	if u.Cars != nil {
		b, err := json.Marshal(u.Cars)
		if err != nil {
			return berth.TrainRun{}, err
		}
		set, args = set+", cars = ?", append(args, string(b))
	}
	if u.State.Final() {
		set, args = set+", finished_at = ?", append(args, micros(tx.stamp()))
	}
	where, wargs := "id = ? AND state = ?", []any{id, u.From}
	if !u.DueBy.IsZero() {
		where, wargs = where+" AND departs_at <= ?", append(wargs, micros(u.DueBy))
	}
	res, err := tx.exec(ctx, "UPDATE train_runs SET "+set+" WHERE "+where, append(args, wargs...)...)
	if err != nil {
		return berth.TrainRun{}, fmt.Errorf("update train run %d: %w", id, dbErr(err))
	}
	if err := mustAffect(res, fmt.Errorf("train run %d is no longer %s (or not due): %w", id, u.From, berth.ErrConflict)); err != nil {
		return berth.TrainRun{}, err
	}
	return tx.TrainRun(ctx, id)
}

// SetTrainRunMessage records the chat message that announced run id.
func (tx *Tx) SetTrainRunMessage(ctx context.Context, id int64, channel, message string) error {
	if len(channel) > 200 || len(message) > 200 {
		return invalid("message", "too long")
	}
	_, err := tx.exec(ctx, "UPDATE train_runs SET channel = ?, message = ? WHERE id = ?", channel, message, id)
	if err != nil {
		return fmt.Errorf("train run %d: %w", id, dbErr(err))
	}
	return nil
}

// TrainDelaysOn counts train's delays on day (YYYY-MM-DD in its time zone).
func (q queries) TrainDelaysOn(ctx context.Context, train int64, day string) (int, error) {
	var n int
	if err := q.queryRow(ctx, "SELECT COUNT(*) FROM train_delays WHERE train_id = ? AND day = ?", train, day).Scan(&n); err != nil {
		return 0, fmt.Errorf("count delays of train %d: %w", train, dbErr(err))
	}
	return n, nil
}

// DelayTrainRun postpones run (not departing yet) of its train by d.Delay, counted
// against d.Day; at most max delays a day, the next is refused (berth.ErrConflict).
func (tx *Tx) DelayTrainRun(ctx context.Context, d berth.TrainDelay, max int) (berth.TrainRun, error) {
	// The train's row first, locked till the end: two delays asked at once are counted
	// one after the other.
	if _, err := tx.exec(ctx, "UPDATE trains SET updated_at = updated_at WHERE id = ?", d.TrainID); err != nil {
		return berth.TrainRun{}, fmt.Errorf("delay train %d: %w", d.TrainID, dbErr(err))
	}
	n, err := tx.TrainDelaysOn(ctx, d.TrainID, d.Day)
	if err != nil {
		return berth.TrainRun{}, err
	}
	if n >= max {
		return berth.TrainRun{}, fmt.Errorf("%w: the train was delayed %d times on %s, as many as it may be a day", berth.ErrConflict, n, d.Day)
	}
	res, err := tx.exec(ctx, `UPDATE train_runs SET departs_at = departs_at + ?, delays = delays + 1, updated_at = ?
		WHERE id = ? AND train_id = ? AND state IN (?, ?)`, d.Delay.Microseconds(), micros(tx.stamp()), d.RunID, d.TrainID,
		berth.TrainScheduled, berth.TrainAnnounced)
	if err != nil {
		return berth.TrainRun{}, fmt.Errorf("delay train run %d: %w", d.RunID, dbErr(err))
	}
	if err := mustAffect(res, fmt.Errorf("%w: the train has left already", berth.ErrConflict)); err != nil {
		return berth.TrainRun{}, err
	}
	if _, err := tx.exec(ctx, `INSERT INTO train_delays (train_id, run_id, day, asked_by, delay, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		d.TrainID, d.RunID, d.Day, d.By, int64(d.Delay/time.Second), micros(tx.stamp())); err != nil {
		return berth.TrainRun{}, fmt.Errorf("record delay of train %d: %w", d.TrainID, dbErr(err))
	}
	return tx.TrainRun(ctx, d.RunID)
}

// DepartTrainRunNow makes run (not departing yet) leave at at (now), sent off by by.
func (tx *Tx) DepartTrainRunNow(ctx context.Context, run int64, by string, at time.Time) (berth.TrainRun, error) {
	now := micros(at)
	res, err := tx.exec(ctx, `UPDATE train_runs SET departs_at = ?, departed_by = ?, updated_at = ? WHERE id = ? AND state IN (?, ?)`,
		now, by, now, run, berth.TrainScheduled, berth.TrainAnnounced)
	if err != nil {
		return berth.TrainRun{}, fmt.Errorf("depart train run %d: %w", run, dbErr(err))
	}
	if err := mustAffect(res, fmt.Errorf("%w: the train has left already", berth.ErrConflict)); err != nil {
		return berth.TrainRun{}, err
	}
	return tx.TrainRun(ctx, run)
}

// AcquireLease takes lease name for holder until ttl from now, or renews holder's: true
// when holder has it now, false when another holder's has not expired.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	var held bool
	err := s.Tx(ctx, func(tx *Tx) error {
		now := tx.stamp()
		res, err := tx.exec(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
			WHERE leases.holder = excluded.holder OR leases.expires_at < ?`, name, holder, micros(now.Add(ttl)), micros(now))
		if err != nil {
			return fmt.Errorf("lease %s: %w", name, dbErr(err))
		}
		n, err := res.RowsAffected()
		held = n > 0
		return err
	})
	return held, err
}

// ReleaseLease gives up holder's lease name, if it holds it.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	return s.Tx(ctx, func(tx *Tx) error {
		_, err := tx.exec(ctx, "DELETE FROM leases WHERE name = ? AND holder = ?", name, holder)
		return dbErr(err)
	})
}

// clipReason bounds a run's reason to 2000 bytes, at a rune boundary.
func clipReason(s string) string {
	if len(s) <= 2000 {
		return s
	}
	s = s[:2000]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

func scanTrainDelay(sc scanner) (berth.TrainDelay, error) {
	var d berth.TrainDelay
	var delay, created int64
	err := sc.Scan(&d.ID, &d.TrainID, &d.RunID, &d.Day, &d.By, &delay, &created)
	d.Delay, d.CreatedAt = time.Duration(delay)*time.Second, fromMicros(created)
	return d, err
}

// UnannouncedTrainDelays returns the delays not announced yet, oldest first.
func (q queries) UnannouncedTrainDelays(ctx context.Context) ([]berth.TrainDelay, error) {
	ds, err := list(ctx, q, scanTrainDelay, `SELECT id, train_id, run_id, day, asked_by, delay, created_at
		FROM train_delays WHERE announced = ? ORDER BY id LIMIT 100`, false)
	if err != nil {
		return nil, fmt.Errorf("list train delays: %w", dbErr(err))
	}
	return ds, nil
}

// TrainDelayAnnounced marks delay id announced.
func (tx *Tx) TrainDelayAnnounced(ctx context.Context, id int64) error {
	_, err := tx.exec(ctx, "UPDATE train_delays SET announced = ? WHERE id = ?", true, id)
	return dbErr(err)
}

// TrainDelaysUpTo counts the delays of train on day, and of run, up to delay id included:
// how many a delay's announcement says were taken by then.
func (q queries) TrainDelaysUpTo(ctx context.Context, train, run int64, day string, id int64) (onDay, ofRun int, err error) {
	err = q.queryRow(ctx, `SELECT
		COALESCE(SUM(CASE WHEN day = ? THEN 1 ELSE 0 END), 0), COALESCE(SUM(CASE WHEN run_id = ? THEN 1 ELSE 0 END), 0)
		FROM train_delays WHERE train_id = ? AND id <= ?`, day, run, train, id).Scan(&onDay, &ofRun)
	if err != nil {
		return 0, 0, fmt.Errorf("count delays of train %d: %w", train, dbErr(err))
	}
	return onDay, ofRun, nil
}
