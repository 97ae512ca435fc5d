package service

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// Synthetic probes (docs/probes.md). The use cases queue runs that internal/probes carries
// out on the environments' clusters, take the reports of their agents, and show the runs.

// SetProbeNotifier makes queued runs and received reports wake n (the probe runner).
func (s *Service) SetProbeNotifier(n Notifier) { s.notifyProbes = n }

func (s *Service) wakeProbes() {
	if s.notifyProbes != nil {
		s.notifyProbes.Notify()
	}
}

// ProbeSecrets are the secrets of an environment's probe settings, as given.
type ProbeSecrets = store.ProbeSecrets

// ProbeSettingsView is an environment's probe settings as shown: which secrets are set,
// never their values.
type ProbeSettingsView struct {
	berth.ProbeSettings
	HasS3SecretKey bool
	HasQueueToken  bool
}

// SetProbeSettings replaces env's probe settings and secrets (global admins).
func (s *Service) SetProbeSettings(ctx context.Context, p *authz.Principal, ps berth.ProbeSettings, sec ProbeSecrets) (ProbeSettingsView, error) {
	c := change{action: "env.set-probe", target: "env/" + ps.Env, details: map[string]any{
		"s3Endpoint": ps.S3Endpoint, "s3Bucket": ps.S3Bucket, "queueURL": ps.QueueURL, "interval": ps.Interval.String(),
		"s3SecretKey": sec.S3SecretKey != "", "queueToken": sec.QueueToken != ""}}
	if p != nil {
		ps.UpdatedBy = p.Name
	}
	if err := ps.Validate(); err != nil {
		return ProbeSettingsView{}, err
	}
	var out ProbeSettingsView
	err := s.mutate(ctx, p, &c, allowed(p, authz.EnvManage, authz.Resource{}), func(tx *store.Tx) error {
		if err := tx.SetProbeSettings(ctx, ps, sec); err != nil {
			return err
		}
		got, gotSec, err := tx.ProbeSettings(ctx, ps.Env)
		out = probeSettingsView(got, gotSec)
		return err
	})
	if err == nil {
		s.wakeProbes() // the scheduler reads the new interval
	}
	return out, err
}

func probeSettingsView(ps berth.ProbeSettings, sec ProbeSecrets) ProbeSettingsView {
	return ProbeSettingsView{ProbeSettings: ps, HasS3SecretKey: sec.S3SecretKey != "", HasQueueToken: sec.QueueToken != ""}
}

// ProbeSettings returns env's probe settings, without the secrets' values.
func (s *Service) ProbeSettings(ctx context.Context, p *authz.Principal, env string) (ProbeSettingsView, error) {
	if err := authz.Check(p, authz.ProbeRead, authz.Resource{}); err != nil {
		return ProbeSettingsView{}, err
	}
	ps, sec, err := s.st.ProbeSettings(ctx, env)
	if err != nil {
		return ProbeSettingsView{}, storeErr(err)
	}
	return probeSettingsView(ps, sec), nil
}

// RunProbe queues a run of env's probe now; while one is queued or running, that one is
// returned, with false.
func (s *Service) RunProbe(ctx context.Context, p *authz.Principal, env string) (berth.ProbeRun, bool, error) {
	c := change{action: "probe.run", target: "env/" + env, details: map[string]any{}}
	var out berth.ProbeRun
	var queued bool
	enqueue := func(tx *store.Tx) (err error) {
		out, queued, err = tx.EnqueueProbeRun(ctx, store.NewProbeRun{Env: env, Trigger: berth.TriggerManual, CreatedBy: p.Name})
		if err != nil {
			return err
		}
		c.details["run"], c.details["queued"] = out.ID, queued
		return nil
	}
	err := s.mutate(ctx, p, &c, allowed(p, authz.ProbeRun, authz.Resource{}), enqueue)
	if errors.Is(err, berth.ErrConflict) {
		// Another server queued one between this one's look and its insert: join it.
		err = s.mutate(ctx, p, &c, allowed(p, authz.ProbeRun, authz.Resource{}), enqueue)
	}
	if err == nil && queued {
		s.wakeProbes()
	}
	return out, queued, err
}

// ProbeRun returns one run.
func (s *Service) ProbeRun(ctx context.Context, p *authz.Principal, id int64) (berth.ProbeRun, error) {
	if err := authz.Check(p, authz.ProbeRead, authz.Resource{}); err != nil {
		return berth.ProbeRun{}, err
	}
	r, err := s.st.ProbeRun(ctx, id)
	return r, storeErr(err)
}

// ProbeRuns lists env's runs ("" for every environment's), newest first, at most limit.
func (s *Service) ProbeRuns(ctx context.Context, p *authz.Principal, env string, limit int) ([]berth.ProbeRun, error) {
	if err := authz.Check(p, authz.ProbeRead, authz.Resource{}); err != nil {
		return nil, err
	}
	if env != "" {
		if _, err := s.st.Environment(ctx, env); err != nil {
			return nil, storeErr(err)
		}
	}
	rs, err := s.st.ProbeRuns(ctx, store.ProbeRunFilter{Env: env, Limit: limit})
	return rs, storeErr(err)
}

// ProbeStatuses returns each probed environment's latest run, run in flight and alarm.
func (s *Service) ProbeStatuses(ctx context.Context, p *authz.Principal) ([]berth.ProbeStatus, error) {
	if err := authz.Check(p, authz.ProbeRead, authz.Resource{}); err != nil {
		return nil, err
	}
	st, err := s.st.ProbeStatuses(ctx)
	return st, storeErr(err)
}

// MaxProbeReportSteps bounds a report: an agent runs a handful of steps.
const MaxProbeReportSteps = 32

// ErrProbeReportRefused says a report came for no running run, with a wrong token, or a
// second time; the API answers it with 401 and one message for all three.
var ErrProbeReportRefused = store.ErrProbeReportRefused

// ReportProbe takes the report of run's agent in env, authenticated by the token the run
// was started with. The token is checked with a read first, so that a refused report
// writes nothing; the steps are checked (names the agent runs, each once, in order; no
// negative durations) before anything is stored.
func (s *Service) ReportProbe(ctx context.Context, run int64, env, token string, steps []berth.ProbeStep) error {
	refused := fmt.Errorf("probe run %d: %w", run, ErrProbeReportRefused)
	if token == "" {
		return refused
	}
	sum := sha256.Sum256([]byte(token))
	got := hex.EncodeToString(sum[:])
	want, ok, err := s.st.ProbeReportToken(ctx, run)
	if err != nil {
		return storeErr(err)
	}
	if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
		return refused
	}
	if err := checkProbeReport(steps); err != nil {
		return err
	}
	r, err := s.st.ProbeRun(ctx, run)
	if err != nil {
		return storeErr(err)
	}
	if env != r.Env {
		return invalid("env", "%q is not the run's environment", truncateText(env, 64))
	}
	err = s.st.Tx(ctx, func(tx *store.Tx) error {
		return tx.SaveProbeReport(ctx, run, got, steps)
	})
	if err != nil {
		return storeErr(err)
	}
	s.wakeProbes()
	return nil
}

// checkProbeReport checks an agent's steps.
func checkProbeReport(steps []berth.ProbeStep) error {
	if len(steps) == 0 {
		return invalid("steps", "a report holds at least one step")
	}
	if len(steps) > MaxProbeReportSteps {
		return invalid("steps", "%d steps: at most %d", len(steps), MaxProbeReportSteps)
	}
	last := 0 // the index in berth.ProbeSteps of the previous step
	for i, st := range steps {
		idx := -1
		for j, name := range berth.ProbeSteps {
			if name == st.Name {
				idx = j
			}
		}
		field := fmt.Sprintf("steps[%d]", i)
		switch {
		case idx <= 0: // unknown, or the server's own scheduled step
			return invalid(field+".name", "%q is not a step the agent runs", truncateText(st.Name, 40))
		case idx <= last:
			return invalid(field+".name", "%q comes out of order or twice", st.Name)
		case st.Duration < 0 || st.Duration > time.Hour:
			return invalid(field+".durationNs", "%d is not a step's duration", st.Duration)
		case st.OK && st.Error != "":
			return invalid(field+".error", "a step that passed has no error")
		case !st.OK && st.Error == "":
			return invalid(field+".error", "a failed step says why")
		case st.Slow:
			return invalid(field+".slow", "the server judges which steps are slow")
		}
		last = idx
	}
	return nil
}

// truncateText cuts s to at most n bytes for a message.
func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// IsProbeReportRefused reports whether err refuses a probe's report.
func IsProbeReportRefused(err error) bool { return errors.Is(err, ErrProbeReportRefused) }
