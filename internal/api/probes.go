package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/service"
)

// Synthetic probes (docs/probes.md): the environments' probe runs and settings, and the
// route a run's agent reports to with the run's token instead of a user's.

func (s *Server) listProbeStatuses(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	sts, err := s.svc.ProbeStatuses(r.Context(), p)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, list(sts, apiv1.FromProbeStatus))
}

func (s *Server) listProbeRuns(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > berth.MaxProbeRunsKept {
			return invalidField("limit", "limit must be 1 to %d, not %q", berth.MaxProbeRunsKept, v)
		}
		limit = n
	}
	rs, err := s.svc.ProbeRuns(r.Context(), p, r.URL.Query().Get("env"), limit)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, list(rs, apiv1.FromProbeRun))
}

func (s *Server) getProbeRun(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	id, err := probeRunID(r)
	if err != nil {
		return err
	}
	run, err := s.svc.ProbeRun(r.Context(), p, id)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, apiv1.FromProbeRun(run))
}

// runProbe queues a run (201), or answers the run already queued or running there (200):
// two people asking at once share one run.
func (s *Server) runProbe(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	run, queued, err := s.svc.RunProbe(r.Context(), p, r.PathValue("env"))
	if err != nil {
		return err
	}
	status := http.StatusOK
	if queued {
		status = http.StatusCreated
	}
	return ok(w, status, apiv1.FromProbeRun(run))
}

func (s *Server) getProbeSettings(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	v, err := s.svc.ProbeSettings(r.Context(), p, r.PathValue("env"))
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, apiv1.FromProbeSettings(v.ProbeSettings, v.HasS3SecretKey, v.HasQueueToken))
}

func (s *Server) setProbeSettings(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var in apiv1.SetProbeSettings
	if err := decode(w, r, &in); err != nil {
		return err
	}
	ps := berth.ProbeSettings{Env: r.PathValue("env"), S3Endpoint: in.S3Endpoint, S3Secure: in.S3Secure, S3Bucket: in.S3Bucket,
		S3Region: in.S3Region, S3AccessKey: in.S3AccessKey, QueueURL: in.QueueURL}
	switch {
	case in.S3SecretKey != "" && in.S3Endpoint == "":
		return invalidField("s3SecretKey", "an S3 secret key goes with an s3Endpoint")
	case in.QueueToken != "" && in.QueueURL == "":
		return invalidField("queueToken", "a queue token goes with a queueURL")
	}
	if in.Interval != "" && in.Interval != "0" {
		d, err := time.ParseDuration(in.Interval)
		if err != nil {
			return invalidField("interval", "interval must be a duration such as 10m (0 runs the probe on demand only), not %q", in.Interval)
		}
		ps.Interval = d
	}
	for step, v := range in.Thresholds {
		d, err := time.ParseDuration(v)
		if err != nil {
			return invalidField("thresholds", "%s: %q is not a duration such as 3s", step, v)
		}
		if ps.Thresholds == nil {
			ps.Thresholds = map[string]time.Duration{}
		}
		ps.Thresholds[step] = d
	}
	v, err := s.svc.SetProbeSettings(r.Context(), p, ps, service.ProbeSecrets{S3SecretKey: in.S3SecretKey, QueueToken: in.QueueToken})
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return ok(w, http.StatusOK, apiv1.FromProbeSettings(v.ProbeSettings, v.HasS3SecretKey, v.HasQueueToken))
}

// maxProbeReport bounds an agent's report: a handful of steps, their errors and details
// cut to a line each.
const maxProbeReport = 64 << 10

// errProbeReportRefused is the one answer to a report with a wrong token, for a run that
// is not running, or a second time: the token is all the caller has, so it learns nothing
// more.
var errProbeReportRefused = &Error{Status: http.StatusUnauthorized, Code: "unauthenticated",
	Message: "report refused: no running probe run takes a report with this token"}

// reportProbe takes the report of a run's agent. No user token: the run's own token, made
// for the run's pod and good for one report, is the credential (service.ReportProbe checks
// it).
func (s *Server) reportProbe(w http.ResponseWriter, r *http.Request, _ *authz.Principal) error {
	// Nobody is authenticated yet: the body comes in 10 seconds or not at all, and small.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(hookReadTimeout))
	id, err := probeRunID(r)
	if err != nil {
		return err
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxProbeReport)
	var in apiv1.ProbeReport
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.Run != id {
		return invalidField("run", "the report is of run %d, not of run %d it was sent to", in.Run, id)
	}
	err = s.svc.ReportProbe(r.Context(), id, in.Env, bearer(r), apiv1.ToProbeSteps(in.Steps))
	if service.IsProbeReportRefused(err) {
		// Anyone can send one: logged at debug level, so that a flood fills no log.
		s.log.DebugContext(r.Context(), "probe report refused", "run", id, "request_id", requestID(r.Context()))
		return errProbeReportRefused
	}
	if err != nil {
		return err
	}
	return ok(w, http.StatusNoContent, nil)
}

// probeRunID reads the {run} of a probe run's route.
func probeRunID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("run"), 10, 64)
	if err != nil || id <= 0 {
		return 0, invalidField("run", "probe run id must be a positive number, not %q", r.PathValue("run"))
	}
	return id, nil
}
