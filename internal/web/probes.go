package web

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
)

// probesData is the probes page: each probed environment's latest run, step by step, its
// run in flight, and when it last passed (docs/probes.md).
type probesData struct {
	Envs []probeEnv
	// Notice says which run the user's form queued or joined.
	Notice string
}

func (probesData) PageTitle() string { return "Probes" }

// probeEnv is one environment's probe at a glance.
type probeEnv struct {
	berth.ProbeStatus
	// Problem names the latest run's first failing or slow step ("" when healthy).
	Problem string
	Steps   []probeStepRow
}

// probeStepRow is a step as the page shows it: its time readable to the microsecond.
type probeStepRow struct {
	berth.ProbeStep
	Took string
}

func (h *Handler) probes(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	statuses, err := h.svc.ProbeStatuses(r.Context(), p)
	if err != nil {
		return err
	}
	d := probesData{}
	for _, s := range statuses {
		e := probeEnv{ProbeStatus: s}
		for _, st := range s.Latest.Steps {
			e.Steps = append(e.Steps, probeStepRow{ProbeStep: st, Took: stepTime(st.Duration)})
			if e.Problem == "" {
				e.Problem = st.Problem()
			}
		}
		if e.Problem == "" && s.Latest.State == berth.JobFailed {
			e.Problem = s.Latest.Reason
		}
		d.Envs = append(d.Envs, e)
	}
	if id, err := strconv.ParseInt(r.URL.Query().Get("run"), 10, 64); err == nil && id > 0 {
		d.Notice = fmt.Sprintf("Probe run #%d is on its way; this page shows it when it ends.", id)
	}
	h.render(w, r, http.StatusOK, "probes", p, d)
	return nil
}

// runProbe queues a run of an environment's probe (or joins the one in flight).
func (h *Handler) runProbe(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	run, _, err := h.svc.RunProbe(r.Context(), p, r.PathValue("env"))
	if err != nil {
		return err
	}
	http.Redirect(w, r, fmt.Sprintf("/probes?run=%d", run.ID), http.StatusSeeOther)
	return nil
}

// stepTime says how long a step took, to the microsecond under a millisecond.
func stepTime(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(100 * time.Microsecond).String()
	default:
		return d.Round(10 * time.Millisecond).String()
	}
}
