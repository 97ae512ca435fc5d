package apiv1

import (
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/berth"
)

// Train is a team's deployment train: on its schedule (cron, read in its time zone) it
// promotes what runs in From to To, app after app, announcing itself in a chat channel
// Announce before it leaves. Durations are Go duration strings ("15m", "1h30m").
type Train struct {
	ID   int64  `json:"id"`
	Team string `json:"team"`
	Name string `json:"name"`
	// Apps are the apps it carries, in departure order; empty: every app of the team.
	Apps     []string `json:"apps"`
	Schedule string   `json:"schedule"`
	TimeZone string   `json:"timeZone"`
	From     string   `json:"from"`
	To       string   `json:"to"`
	// Channel is where it announces itself; empty: the team's chat channel.
	Channel   string `json:"channel,omitempty"`
	Announce  string `json:"announce"`
	Delay     string `json:"delay"`
	MaxDelays int    `json:"maxDelays"`
	// FrozenUntil, when set, is when the freeze that keeps the train in the station ends,
	// FrozenReason why; set only while it lasts.
	FrozenUntil  *time.Time `json:"frozenUntil,omitempty"`
	FrozenReason string     `json:"frozenReason,omitempty"`
	CreatedBy    string     `json:"createdBy"`
	CreatedAt    time.Time  `json:"createdAt"`
	UpdatedAt    time.Time  `json:"updatedAt"`
}

// CreateTrain is the body of POST /teams/{team}/trains. Empty timings take the defaults:
// announced 15m before it leaves, delays of 30m, at most 2 a day (maxDelays 0: none).
type CreateTrain struct {
	Name string `json:"name"`
	// Apps are the apps it carries, in departure order; empty: every app of the team.
	Apps []string `json:"apps,omitempty"`
	// Schedule is five cron fields (minute hour day-of-month month day-of-week, such as
	// "0 10 * * 1-5") or @daily, @hourly..., read in TimeZone (an IANA name; UTC when
	// empty).
	Schedule  string `json:"schedule"`
	TimeZone  string `json:"timeZone,omitempty"`
	From      string `json:"from"`
	To        string `json:"to"`
	Channel   string `json:"channel,omitempty"`
	Announce  string `json:"announce,omitempty"`
	Delay     string `json:"delay,omitempty"`
	MaxDelays *int   `json:"maxDelays,omitempty"`
}

// UpdateTrain is the body of PATCH /teams/{team}/trains/{name}: the fields present
// change, the absent ones stay. Apps [] carries every app of the team.
type UpdateTrain struct {
	Apps      *[]string `json:"apps,omitempty"`
	Schedule  *string   `json:"schedule,omitempty"`
	TimeZone  *string   `json:"timeZone,omitempty"`
	From      *string   `json:"from,omitempty"`
	To        *string   `json:"to,omitempty"`
	Channel   *string   `json:"channel,omitempty"`
	Announce  *string   `json:"announce,omitempty"`
	Delay     *string   `json:"delay,omitempty"`
	MaxDelays *int      `json:"maxDelays,omitempty"`
}

// FreezeTrain is the body of POST /teams/{team}/trains/{name}/freeze: the train stays
// in the station until Until, or For (a duration) from now, saying why.
type FreezeTrain struct {
	Until  *time.Time `json:"until,omitempty"`
	For    string     `json:"for,omitempty"`
	Reason string     `json:"reason"`
}

// TrainRun is one departure of a train.
type TrainRun struct {
	// ID is 0 for the schedule's next departure while it is not recorded yet (it is when
	// it is announced, delayed or sent off).
	ID int64 `json:"id"`
	// Slot is the departure the schedule gave; Departs when it leaves, after delays (or
	// when someone sent it off early).
	Slot    time.Time `json:"slot"`
	Departs time.Time `json:"departs"`
	// State is scheduled, announced, departing, or how it ended: departed, stopped (a
	// car's deploy failed), held (a freeze kept it in the station) or empty.
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
	// Cars are the apps it carries, in departure order, as announced (none before).
	Cars       []TrainCar `json:"cars"`
	Delays     int        `json:"delays"`
	DepartedBy string     `json:"departedBy,omitempty"`
	FinishedAt *time.Time `json:"finishedAt,omitempty"`
}

// TrainCar is one app on a departure: the deploy in the train's source environment it
// promotes, the commits that brings to the target and the promotion's deploy.
type TrainCar struct {
	App string `json:"app"`
	// Source is the successful deploy in From it promotes, Revision its manifest
	// revision; Target the revision running in To (0: none).
	Source   int64 `json:"source"`
	Revision int64 `json:"revision"`
	Target   int64 `json:"target,omitempty"`
	// Commits are what the source runs that the target does not, oldest first (at most
	// 250; Total counts them all).
	Commits []Commit `json:"commits"`
	Total   int      `json:"total"`
	// Note says why there are no commits to show (no repository, the forge did not
	// answer).
	Note string `json:"note,omitempty"`
	// Deploy is the promotion's deploy, once queued.
	Deploy int64 `json:"deploy,omitempty"`
	// State is waiting, deploying, succeeded, failed or skipped.
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
}

// Commit is one commit of an app's repository. The author's email stays on the server.
type Commit struct {
	SHA     string `json:"sha"`
	Message string `json:"message"`
	// AuthorName is the name in the commit; AuthorLogin the forge user it belongs to,
	// when the forge knows.
	AuthorName  string `json:"authorName,omitempty"`
	AuthorLogin string `json:"authorLogin,omitempty"`
	URL         string `json:"url,omitempty"`
}

// TrainStatus is a train with its next (or current) departure and its latest runs.
type TrainStatus struct {
	Train Train `json:"train"`
	// Next is the departure coming or under way; absent when the schedule has none.
	Next *TrainRun `json:"next,omitempty"`
	// DelaysLeft is how many more times it may be delayed today, in its time zone.
	DelaysLeft int `json:"delaysLeft"`
	// Runs are its latest departures, newest first.
	Runs []TrainRun `json:"runs"`
}

// TrainDelayed is the answer to POST /teams/{team}/trains/{name}/delay.
type TrainDelayed struct {
	Run        TrainRun `json:"run"`
	DelaysLeft int      `json:"delaysLeft"`
}

// FromTrain is the wire form of a train; its freeze shows only while it lasts at now.
func FromTrain(t berth.Train, now time.Time) Train {
	out := Train{ID: t.ID, Team: t.Team, Name: t.Name, Apps: t.Apps, Schedule: t.Schedule, TimeZone: t.TimeZone,
		From: t.From, To: t.To, Channel: t.Channel, Announce: FormatDuration(t.AnnounceBefore), Delay: FormatDuration(t.Delay),
		MaxDelays: t.MaxDelays, CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
	if out.Apps == nil {
		out.Apps = []string{}
	}
	if t.Held(now) {
		until := t.HeldUntil
		out.FrozenUntil, out.FrozenReason = &until, t.HeldReason
	}
	return out
}

// FromTrainRun is the wire form of a train's run; commits lose their authors' emails.
func FromTrainRun(r berth.TrainRun) TrainRun {
	out := TrainRun{ID: r.ID, Slot: r.Slot, Departs: r.Departs, State: string(r.State), Reason: r.Reason,
		Cars: make([]TrainCar, 0, len(r.Cars)), Delays: r.Delays, DepartedBy: r.DepartedBy}
	if !r.FinishedAt.IsZero() {
		at := r.FinishedAt
		out.FinishedAt = &at
	}
	for _, c := range r.Cars {
		car := TrainCar{App: c.App, Source: c.Source, Revision: c.Revision, Target: c.Target, Commits: make([]Commit, 0, len(c.Commits)),
			Total: max(c.Total, len(c.Commits)), Note: c.Note, Deploy: c.Deploy, State: string(c.State), Reason: c.Reason}
		for _, cm := range c.Commits {
			car.Commits = append(car.Commits, Commit{SHA: cm.SHA, Message: cm.Message, AuthorName: cm.AuthorName,
				AuthorLogin: cm.AuthorLogin, URL: cm.URL})
		}
		out.Cars = append(out.Cars, car)
	}
	return out
}

// FormatDuration writes d as a Go duration without zero units: 15m, 1h30m, 2h.
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
