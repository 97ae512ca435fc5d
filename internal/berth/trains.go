package berth

import "time"

// Train is a team's deployment train: on a schedule (cron in a time zone) it promotes what
// runs in From to To, app after app, announcing itself in a chat channel AnnounceBefore
// its departure with what is on it.
type Train struct {
	ID   int64
	Team string
	Name string
	// Apps are the apps it carries, in departure order; empty: every app of the team, by
	// name.
	Apps []string
	// Schedule is a cron expression (five fields, or @daily, @hourly...) read in TimeZone
	// (an IANA name: Europe/Lisbon; UTC when "").
	Schedule string
	TimeZone string
	From, To string
	// Channel is where it announces itself; "" is the team's chat channel.
	Channel string
	// AnnounceBefore is how long before departure it announces itself (15 minutes
	// unless set); Delay is how much one delay postpones it (30 minutes), at most
	// MaxDelays times a day (2) in its time zone.
	AnnounceBefore time.Duration
	Delay          time.Duration
	MaxDelays      int
	// HeldUntil, when after now, stops its departures (`berth train freeze`), saying why.
	HeldUntil  time.Time
	HeldReason string
	CreatedBy  string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Defaults of a train's timing.
const (
	DefaultTrainAnnounce  = 15 * time.Minute
	DefaultTrainDelay     = 30 * time.Minute
	DefaultTrainMaxDelays = 2
)

// Held reports whether t departs nothing at now.
func (t Train) Held(now time.Time) bool { return t.HeldUntil.After(now) }

// TrainRunState is where one departure of a train is.
type TrainRunState string

// The states of a train's run: scheduled (waiting for its announcement), announced
// (waiting for its departure), departing (promoting app after app), then one end: departed
// (every car promoted), stopped (a car's deploy failed: the line stopped there), held (a
// freeze window or the train's own freeze kept it in the station), or empty (nothing was
// pending).
const (
	TrainScheduled TrainRunState = "scheduled"
	TrainAnnounced TrainRunState = "announced"
	TrainDeparting TrainRunState = "departing"
	TrainDeparted  TrainRunState = "departed"
	TrainStopped   TrainRunState = "stopped"
	TrainHeld      TrainRunState = "held"
	TrainEmpty     TrainRunState = "empty"
)

// Final reports whether s is an end state.
func (s TrainRunState) Final() bool {
	switch s {
	case TrainDeparted, TrainStopped, TrainHeld, TrainEmpty:
		return true
	}
	return false
}

// TrainRun is one departure of a train: its slot in the schedule, when it leaves after
// delays, and its cars.
type TrainRun struct {
	ID      int64
	TrainID int64
	// Slot is the departure the schedule gave; Departs is when it leaves, after delays
	// (or now, when someone sent it off early).
	Slot, Departs time.Time
	State         TrainRunState
	// Reason says why it ended the way it did (the car that failed, the freeze).
	Reason string
	// Cars are the apps with something pending, in departure order, as announced (or
	// as found at departure, when it left without an announcement).
	Cars []TrainCar
	// Delays is how many times this departure was delayed.
	Delays int
	// DepartedBy is who sent it off early; "" when the schedule did.
	DepartedBy string
	// Announcement is the chat message (channel and id) that announced it, edited as it
	// goes.
	Channel, Message                 string
	CreatedAt, UpdatedAt, FinishedAt time.Time
}

// TrainCarState is where one app of a departure is.
type TrainCarState string

// The states of a car: waiting for its turn, deploying (its promotion is queued or runs),
// then succeeded or failed; skipped when the line stopped before it or it had nothing
// left to promote at its turn.
const (
	CarWaiting   TrainCarState = "waiting"
	CarDeploying TrainCarState = "deploying"
	CarSucceeded TrainCarState = "succeeded"
	CarFailed    TrainCarState = "failed"
	CarSkipped   TrainCarState = "skipped"
)

// TrainCar is one app on a departure: the revisions it moves (what runs in the source,
// what ran in the target), the commits between them and the promotion that carries it.
type TrainCar struct {
	App string `json:"app"`
	// Source is the successful deploy in the train's source environment it promotes;
	// Revision its revision; Target the revision running in the target (0: none).
	Source   int64 `json:"source"`
	Revision int64 `json:"revision"`
	Target   int64 `json:"target,omitempty"`
	// Commits are what the source runs that the target does not, oldest first, when the
	// app is connected to a repository (at most MaxCompareCommits; Total counts them all).
	Commits []Commit `json:"commits,omitempty"`
	Total   int      `json:"total,omitempty"`
	// Note says why there are no commits to show (no repository, the forge did not
	// answer).
	Note   string        `json:"note,omitempty"`
	Deploy int64         `json:"deploy,omitempty"`
	State  TrainCarState `json:"state"`
	Reason string        `json:"reason,omitempty"`
}

// TrainDelay is one delay of a train's departure.
type TrainDelay struct {
	ID      int64
	TrainID int64
	RunID   int64
	// Day is the day (YYYY-MM-DD in the train's time zone) it counts against.
	Day       string
	By        string
	Delay     time.Duration
	CreatedAt time.Time
}
