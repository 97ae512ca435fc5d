package api

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/service"
)

// trainRoutes: deployment trains, which promote what runs in one environment to another
// on a schedule, and what their teams do with them before they leave.
func (s *Server) trainRoutes() []route {
	const v1 = "/api/v1"
	const one = v1 + "/teams/{team}/trains/{name}"
	return []route{
		{method: "GET", path: v1 + "/trains", id: "listAllTrains",
			summary: "Deployment trains of every team the caller can see, by team and name (?name= only those called name)",
			auth:    true, query: []string{"name"}, response: apiv1.List[apiv1.Train]{}, handle: s.listAllTrains},
		{method: "GET", path: v1 + "/teams/{team}/trains", id: "listTrains", summary: "A team's deployment trains, by name",
			auth: true, response: apiv1.List[apiv1.Train]{}, handle: s.listTrains},
		{method: "POST", path: v1 + "/teams/{team}/trains", id: "createTrain",
			summary: "Create a deployment train: on a cron schedule in a time zone it promotes what runs in one environment to another, " +
				"app after app, announcing what is on it in chat first (team admins; durations such as 15m)",
			auth: true, body: apiv1.CreateTrain{}, response: apiv1.Train{}, status: 201, handle: s.createTrain},
		{method: "GET", path: one, id: "getTrain",
			summary: "A train with its next (or current) departure and the cars on it with their commits, the delays it has left today " +
				"and its latest runs, newest first (?runs=N, 1 to 100, default 20)",
			auth: true, query: []string{"runs"}, response: apiv1.TrainStatus{}, handle: s.getTrain},
		{method: "PATCH", path: one, id: "updateTrain",
			summary: "Change a train's settings: the fields present change, the others stay (team admins); a departure already recorded keeps its time",
			auth:    true, body: apiv1.UpdateTrain{}, response: apiv1.Train{}, handle: s.updateTrain},
		{method: "DELETE", path: one, id: "deleteTrain", summary: "Delete a train and its history (team admins)",
			auth: true, status: 204, handle: s.deleteTrain},
		{method: "POST", path: one + "/delay", id: "delayTrain",
			summary: "Postpone a train's next departure by its delay (anyone on the team): at most maxDelays times a day in its time zone, " +
				"then refused (409) saying when it leaves",
			auth: true, response: apiv1.TrainDelayed{}, handle: s.delayTrain},
		{method: "POST", path: one + "/depart", id: "departTrain",
			summary: "Send a train's next departure off now (deployers): the scheduler promotes its cars, app after app; " +
				"promotions into a protected environment wait for approval as any would",
			auth: true, response: apiv1.TrainRun{}, status: 202, handle: s.departTrain},
		{method: "POST", path: one + "/freeze", id: "freezeTrain",
			summary: "Keep a train in the station until a time (until, RFC 3339) or for a while (for, such as 24h), saying why: " +
				"its departures until then end held (deployers)",
			auth: true, body: apiv1.FreezeTrain{}, response: apiv1.Train{}, handle: s.freezeTrain},
		{method: "POST", path: one + "/unfreeze", id: "unfreezeTrain", summary: "End a train's freeze at once (deployers)",
			auth: true, response: apiv1.Train{}, handle: s.unfreezeTrain},
	}
}

func (s *Server) listAllTrains(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	ts, err := s.svc.Trains(r.Context(), p, "")
	if err != nil {
		return err
	}
	if name := r.URL.Query().Get("name"); name != "" {
		named := ts[:0]
		for _, t := range ts {
			if t.Name == name {
				named = append(named, t)
			}
		}
		ts = named
	}
	return ok(w, http.StatusOK, list(ts, s.fromTrain))
}

func (s *Server) listTrains(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	ts, err := s.svc.Trains(r.Context(), p, r.PathValue("team"))
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, list(ts, s.fromTrain))
}

func (s *Server) createTrain(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var in apiv1.CreateTrain
	if err := decode(w, r, &in); err != nil {
		return err
	}
	for _, f := range []struct{ field, value, example string }{
		{"schedule", in.Schedule, `five cron fields, such as "0 10 * * 1-5", or @daily`},
		{"from", in.From, "the environment it promotes from, such as staging"},
		{"to", in.To, "the environment it promotes to, such as production"},
	} {
		if f.value == "" {
			return invalidField(f.field, "%s is required: %s", f.field, f.example)
		}
	}
	t := berth.Train{Team: r.PathValue("team"), Name: in.Name, Apps: in.Apps, Schedule: in.Schedule, TimeZone: in.TimeZone,
		From: in.From, To: in.To, Channel: in.Channel}
	var err error
	if t.AnnounceBefore, err = trainDuration("announce", in.Announce); err != nil {
		return err
	}
	if t.Delay, err = trainDuration("delay", in.Delay); err != nil {
		return err
	}
	if t.MaxDelays, err = maxDelays(in.MaxDelays); err != nil {
		return err
	}
	out, err := s.svc.CreateTrain(r.Context(), p, t)
	if err != nil {
		return err
	}
	return ok(w, http.StatusCreated, s.fromTrain(out))
}

func (s *Server) getTrain(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	runs := 20
	if v := r.URL.Query().Get("runs"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return invalidField("runs", "runs must be 1 to 100")
		}
		runs = n
	}
	st, err := s.svc.Train(r.Context(), p, r.PathValue("team"), r.PathValue("name"), runs)
	if err != nil {
		return err
	}
	out := apiv1.TrainStatus{Train: s.fromTrain(st.Train), DelaysLeft: st.DelaysLeft, Runs: make([]apiv1.TrainRun, 0, len(st.Runs))}
	if st.Next != nil {
		next := apiv1.FromTrainRun(*st.Next)
		out.Next = &next
	}
	for _, run := range st.Runs {
		out.Runs = append(out.Runs, apiv1.FromTrainRun(run))
	}
	return ok(w, http.StatusOK, out)
}

func (s *Server) updateTrain(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var in apiv1.UpdateTrain
	if err := decode(w, r, &in); err != nil {
		return err
	}
	ch := service.TrainChange{Apps: in.Apps, Schedule: in.Schedule, TimeZone: in.TimeZone, From: in.From, To: in.To, Channel: in.Channel}
	for _, d := range []struct {
		field string
		in    *string
		out   **time.Duration
	}{{"announce", in.Announce, &ch.AnnounceBefore}, {"delay", in.Delay, &ch.Delay}} {
		if d.in == nil {
			continue
		}
		if *d.in == "" {
			return invalidField(d.field, "%s must be a duration such as 15m (leave it out to keep it)", d.field)
		}
		v, err := trainDuration(d.field, *d.in)
		if err != nil {
			return err
		}
		*d.out = &v
	}
	if in.MaxDelays != nil {
		n, err := maxDelays(in.MaxDelays)
		if err != nil {
			return err
		}
		ch.MaxDelays = &n
	}
	out, err := s.svc.UpdateTrain(r.Context(), p, r.PathValue("team"), r.PathValue("name"), ch)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, s.fromTrain(out))
}

func (s *Server) deleteTrain(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	if err := s.svc.DeleteTrain(r.Context(), p, r.PathValue("team"), r.PathValue("name")); err != nil {
		return err
	}
	return ok(w, http.StatusNoContent, nil)
}

func (s *Server) delayTrain(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	run, left, err := s.svc.DelayTrain(r.Context(), p, r.PathValue("team"), r.PathValue("name"))
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, apiv1.TrainDelayed{Run: apiv1.FromTrainRun(run), DelaysLeft: left})
}

func (s *Server) departTrain(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	run, err := s.svc.DepartTrain(r.Context(), p, r.PathValue("team"), r.PathValue("name"))
	if err != nil {
		return err
	}
	return ok(w, http.StatusAccepted, apiv1.FromTrainRun(run))
}

func (s *Server) freezeTrain(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var in apiv1.FreezeTrain
	if err := decode(w, r, &in); err != nil {
		return err
	}
	var until time.Time
	switch {
	case (in.Until == nil) == (in.For == ""):
		return invalidField("until", "give one of until (an RFC 3339 time) or for (a duration such as 24h): when the freeze ends")
	case in.Until != nil:
		until = *in.Until
	default:
		d, err := trainDuration("for", in.For)
		if err != nil {
			return err
		}
		until = s.svc.Now().Add(d)
	}
	out, err := s.svc.FreezeTrain(r.Context(), p, r.PathValue("team"), r.PathValue("name"), until, in.Reason)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, s.fromTrain(out))
}

func (s *Server) unfreezeTrain(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	out, err := s.svc.FreezeTrain(r.Context(), p, r.PathValue("team"), r.PathValue("name"), time.Time{}, "")
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, s.fromTrain(out))
}

func (s *Server) fromTrain(t berth.Train) apiv1.Train { return apiv1.FromTrain(t, s.svc.Now()) }

// trainDuration reads a train's duration field; "" is 0, which the service reads as the
// default.
func trainDuration(field, v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, invalidField(field, "%s %q is not a duration, such as 15m or 1h30m", field, v)
	}
	if d <= 0 {
		return 0, invalidField(field, "%s must be more than 0, such as 15m, not %s", field, v)
	}
	return d, nil
}

// maxDelays reads maxDelays for the service, whose 0 is the default and a negative number
// none: absent is the default, 0 none.
func maxDelays(n *int) (int, error) {
	switch {
	case n == nil:
		return 0, nil
	case *n < 0:
		return 0, invalidField("maxDelays", "maxDelays must be 0 (no delays) or more, not %d", *n)
	case *n == 0:
		return -1, nil
	}
	return *n, nil
}

func invalidField(field, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: field, Message: fmt.Sprintf(format, args...)}
}
