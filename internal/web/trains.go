package web

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/service"
)

// trainPageRuns is how many of a train's latest runs its page lists.
const trainPageRuns = 20

// trainsData is a team's deployment trains, each with its next departure.
type trainsData struct {
	Team   string
	Trains []trainView
}

func (d trainsData) PageTitle() string { return "Trains · " + d.Team }

// trainData is one train: its settings, its next departure with what is on it, and its
// history.
type trainData struct {
	trainView
	Runs []runView
}

func (d trainData) PageTitle() string { return "Train " + d.Train.Name + " · " + d.Train.Team }

// trainView is a train as its pages show it: durations as people write them, times in
// its time zone.
type trainView struct {
	Train           berth.Train
	Apps            string
	Announce, Delay string
	Frozen          bool
	FrozenUntil     string
	Next            *runView
	DelaysLeft      int
}

type runView struct {
	Run berth.TrainRun
	// Slot and Departs are in the train's time zone.
	Slot, Departs string
	Cars          []carView
}

type carView struct {
	Car     berth.TrainCar
	Commits []commitView
	// Count is how many commits it carries; More how many of them are not listed.
	Count, More int
}

// commitView is a commit as the pages show it: by its author's name and forge login,
// never their email.
type commitView struct {
	SHA, Short, Message, Author string
	// Link is the commit's page, when its URL is a web page's.
	Link string
}

// trains lists a team's deployment trains with their next departures.
func (h *Handler) trains(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	d := trainsData{Team: r.PathValue("team")}
	ts, err := h.svc.Trains(r.Context(), p, d.Team)
	if err != nil {
		return err
	}
	for _, t := range ts {
		st, err := h.svc.Train(r.Context(), p, t.Team, t.Name, 1)
		if err != nil {
			return err
		}
		d.Trains = append(d.Trains, h.trainView(st))
	}
	h.render(w, r, http.StatusOK, "trains", p, d)
	return nil
}

// train shows one train: its settings, its next departure with the cars and commits on
// it, and its latest runs with links to their deploys.
func (h *Handler) train(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	st, err := h.svc.Train(r.Context(), p, r.PathValue("team"), r.PathValue("name"), trainPageRuns)
	if err != nil {
		return err
	}
	d := trainData{trainView: h.trainView(st)}
	loc := trainLocation(st.Train)
	for _, run := range st.Runs {
		d.Runs = append(d.Runs, newRunView(run, loc))
	}
	h.render(w, r, http.StatusOK, "train", p, d)
	return nil
}

func (h *Handler) trainView(st service.TrainStatus) trainView {
	t, loc := st.Train, trainLocation(st.Train)
	v := trainView{Train: t, Apps: strings.Join(t.Apps, ", "), Announce: apiv1.FormatDuration(t.AnnounceBefore),
		Delay: apiv1.FormatDuration(t.Delay), Frozen: t.Held(h.now()), DelaysLeft: st.DelaysLeft}
	if v.Frozen {
		v.FrozenUntil = localTime(t.HeldUntil, loc)
	}
	if st.Next != nil {
		next := newRunView(*st.Next, loc)
		v.Next = &next
	}
	return v
}

func newRunView(run berth.TrainRun, loc *time.Location) runView {
	v := runView{Run: run, Slot: localTime(run.Slot, loc), Departs: localTime(run.Departs, loc)}
	for _, c := range run.Cars {
		cv := carView{Car: c, Count: max(c.Total, len(c.Commits))}
		cv.More = cv.Count - len(c.Commits)
		for _, cm := range c.Commits {
			short := cm.SHA
			if len(short) > 12 {
				short = short[:12]
			}
			author := cm.AuthorName
			switch {
			case author == "":
				author = cm.AuthorLogin
			case cm.AuthorLogin != "" && cm.AuthorLogin != author:
				author += " (" + cm.AuthorLogin + ")"
			}
			view := commitView{SHA: cm.SHA, Short: short, Message: cm.Message, Author: author}
			// The forge said where the commit is; a URL that is no web page's is not linked.
			if u, err := url.Parse(cm.URL); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
				view.Link = cm.URL
			}
			cv.Commits = append(cv.Commits, view)
		}
		v.Cars = append(v.Cars, cv)
	}
	return v
}

// trainLocation is t's time zone; UTC when this server cannot read it.
func trainLocation(t berth.Train) *time.Location {
	if loc, err := time.LoadLocation(t.TimeZone); err == nil && t.TimeZone != "" {
		return loc
	}
	return time.UTC
}

func localTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(loc).Format("Mon 2006-01-02 15:04 MST")
}
