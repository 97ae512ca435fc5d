// Package probes runs Berth's synthetic probes (docs/probes.md) on the server's side: it
// queues each environment's scheduled runs, and carries every run out — the probe pod
// started on the environment's cluster with what its agent needs (internal/probe is the
// agent), the time from the pod's creation to its running measured as the first step, the
// agent's report waited for, the run finished with each step judged against its threshold
// — then exports the results as metrics and announces, in the platform's chat channel, a
// probe that starts failing and its recovery, once each.
package probes

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/probe"
	"github.com/berth-dev/berth/internal/store"
)

// Cluster runs probe pods on environments' clusters (internal/kube).
type Cluster interface {
	// StartProbe creates the run's pod (and what it needs) and returns once it exists, with
	// the moment just before it asked for the pod (zero when it cannot tell).
	StartProbe(ctx context.Context, env berth.Environment, pod berth.ProbePod) (time.Time, error)
	// ProbePod says how the run's pod is doing.
	ProbePod(ctx context.Context, env berth.Environment, run int64) (berth.ProbePodStatus, error)
	// StopProbe deletes the run's pod and what came with it.
	StopProbe(ctx context.Context, env berth.Environment, run int64) error
}

// Databases makes the probe's database on an environment's PostgreSQL server.
type Databases interface {
	// ProbeDatabase makes (or finds) env's probe database and its login role on the server
	// dsn names, sets the role's password, and returns the database's postgres:// URL.
	// Errors never hold a password.
	ProbeDatabase(ctx context.Context, dsn, env, password string) (string, error)
	NewPassword() (string, error)
}

// Chat is where probes are announced: the platform's channel.
type Chat interface {
	Post(ctx context.Context, channel, text string) (string, error)
}

// Options configure a Runner.
type Options struct {
	// Image is the probe image (the berth binary; `berth probe agent` is its command); ""
	// fails every run, saying how to set it.
	Image string
	// ServerURL is where probe pods reach this server to report.
	ServerURL string
	// Chat and Channel: where a failing probe and its recovery are announced; none when
	// either is empty.
	Chat    Chat
	Channel string
	// Metrics hears every finished run; nil for none.
	Metrics *Metrics
	// Lease is how long a claimed run is held without renewal (a minute when 0).
	Lease time.Duration
	// Poll is how often a run's pod and report are looked at (250ms when 0).
	Poll time.Duration
	// StartTimeout bounds the pod's way to running (2 minutes when 0); ReportTimeout the
	// agent's report after that (2 minutes when 0).
	StartTimeout  time.Duration
	ReportTimeout time.Duration
	// Tick is how often the scheduler looks for due runs (15 s when 0).
	Tick   time.Duration
	Now    func() time.Time
	Logger *slog.Logger
}

// Runner schedules and carries out probe runs.
type Runner struct {
	st      *store.Store
	cluster Cluster
	dbs     Databases
	o       Options
	wake    chan struct{}
	id      string
	log     *slog.Logger
}

// New returns a Runner; Run starts it.
func New(st *store.Store, cluster Cluster, dbs Databases, o Options) *Runner {
	if o.Lease <= 0 {
		o.Lease = time.Minute
	}
	if o.Poll <= 0 {
		o.Poll = 250 * time.Millisecond
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 2 * time.Minute
	}
	if o.ReportTimeout <= 0 {
		o.ReportTimeout = 2 * time.Minute
	}
	if o.Tick <= 0 {
		o.Tick = 15 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	host, _ := os.Hostname()
	return &Runner{st: st, cluster: cluster, dbs: dbs, o: o, wake: make(chan struct{}, 1), log: o.Logger,
		id: fmt.Sprintf("%s-%d-%p/probes", host, os.Getpid(), st)}
}

// Notify wakes the runner: a run was queued, or a report came in.
func (r *Runner) Notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run schedules and carries out runs until ctx ends. Runs of different environments go on
// side by side; a run in flight when ctx ends keeps its lease, and whoever claims it next
// starts it over.
func (r *Runner) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	reports := newWaiters()
	t := time.NewTimer(0)
	defer t.Stop()
	next := time.Time{} // when the scheduler looks next
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.wake:
			reports.wakeAll()
		}
		if now := r.o.Now(); !now.Before(next) {
			r.schedule(ctx, now)
			next = now.Add(r.o.Tick)
		}
		for ctx.Err() == nil {
			run, ok, err := r.st.ClaimProbeRun(ctx, r.id, r.o.Lease)
			if err != nil {
				if ctx.Err() == nil {
					r.log.Error("claim probe run", "err", err)
				}
				break
			}
			if !ok {
				break
			}
			wg.Go(func() { r.carry(ctx, run, reports) })
		}
		t.Reset(min(r.o.Tick, time.Second))
	}
}

// schedule queues each scheduled environment's run of the current slot, once per slot:
// the store keeps one run per slot, so a second server or a restart never queues twice.
// While an environment's run is in flight (asked for by hand, say) nothing is queued; the
// slot's run is queued at the first tick after it ends.
func (r *Runner) schedule(ctx context.Context, now time.Time) {
	due, err := r.st.ScheduledProbes(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("probe schedule", "err", err)
		}
		return
	}
	for _, ps := range due {
		slot := now.UTC().Truncate(ps.Interval)
		err := r.st.Tx(ctx, func(tx *store.Tx) error {
			_, _, err := tx.EnqueueProbeRun(ctx, store.NewProbeRun{Env: ps.Env, Trigger: berth.TriggerSchedule, Slot: slot, CreatedBy: "schedule"})
			return err
		})
		if err != nil && !errors.Is(err, berth.ErrConflict) && ctx.Err() == nil {
			r.log.Warn("queue scheduled probe run", "env", ps.Env, "err", err)
		}
	}
}

// carry carries run out under its lease, then finishes it, exports and announces it.
func (r *Runner) carry(ctx context.Context, run berth.ProbeRun, reports *waiters) {
	log := r.log.With("run", run.ID, "env", run.Env)
	if run.Attempts > berth.MaxJobAttempts {
		// The last attempt's pod and Secret (its secrets) go too.
		if env, err := r.st.Environment(ctx, run.Env); err == nil {
			r.stopPod(ctx, env, run.ID, log)
		}
		r.finish(ctx, run, berth.JobFailed, fmt.Sprintf("gave up after %d attempts: the servers running it kept stopping", run.Attempts-1), nil, log)
		return
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		t := time.NewTicker(r.o.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				// Only a lost lease stops the run: a failed renewal (the database busy a
				// moment) is tried again at the next tick, well within the lease.
				err := r.st.RenewProbeLease(ctx, run.ID, r.id, r.o.Lease)
				switch {
				case errors.Is(err, berth.ErrLeaseLost):
					cancel(err)
					return
				case err != nil && ctx.Err() == nil:
					log.Warn("renew the probe run's lease", "err", err)
				}
			}
		}
	}()
	log.Info("probe run started", "attempt", run.Attempts)
	steps, reason, failed := r.probe(ctx, run, reports, log)
	if ctx.Err() != nil {
		// Shutdown or a lost lease: whoever claims the run next starts it over.
		log.Info("probe run interrupted", "cause", context.Cause(ctx))
		return
	}
	// A run whose every step passed succeeded, even with slow steps: its reason names them.
	state := berth.JobSucceeded
	if failed {
		state = berth.JobFailed
	}
	r.finish(ctx, run, state, reason, steps, log)
}

// finish ends the run in the store, then exports and announces it.
func (r *Runner) finish(ctx context.Context, run berth.ProbeRun, state berth.JobState, reason string, steps []berth.ProbeStep, log *slog.Logger) {
	var done berth.ProbeRun
	err := r.st.Tx(ctx, func(tx *store.Tx) (err error) {
		done, err = tx.FinishProbeRun(ctx, run.ID, r.id, state, reason, steps)
		return err
	})
	if err != nil {
		if ctx.Err() == nil {
			log.Error("finish probe run", "err", err)
		}
		return
	}
	log.Info("probe run finished", "state", done.State, "reason", done.Reason)
	if r.o.Metrics != nil {
		r.o.Metrics.observe(done)
	}
	r.announce(ctx, done, log)
}

// agentSteps are the steps the agent runs, in order.
var agentSteps = berth.ProbeSteps[1:]

// probe runs the probe pod for run and returns the run's steps, judged; what went wrong
// ("" when every step passed in time); and whether the run failed (a step failed or never
// ran), as opposed to passing with slow steps.
func (r *Runner) probe(ctx context.Context, run berth.ProbeRun, reports *waiters, log *slog.Logger) ([]berth.ProbeStep, string, bool) {
	env, err := r.st.Environment(ctx, run.Env)
	if err != nil {
		return nil, fmt.Sprintf("environment %s: %v", run.Env, err), true
	}
	settings, secrets, err := r.st.ProbeSettings(ctx, run.Env)
	if err != nil {
		return nil, fmt.Sprintf("read the probe settings of %s: %v", run.Env, err), true
	}
	if r.o.Image == "" {
		return nil, "this server has no probe image: start it with --probe-image (make run pushes berth's own binary as one)", true
	}
	if r.o.ServerURL == "" {
		return nil, "this server has no URL probe pods report to: start it with --probe-url", true
	}
	pod, notes, err := r.podFor(ctx, run, env, settings, secrets)
	if err != nil {
		return nil, err.Error(), true
	}
	// The pod goes when the run ends, or is cut short by a stopping server, but not when
	// the run was lost to another server: its objects, of the same name, are that one's now.
	// (A pod an earlier attempt left is replaced by StartProbe.)
	defer func() {
		if !errors.Is(context.Cause(ctx), berth.ErrLeaseLost) {
			r.stopPod(ctx, env, run.ID, log)
		}
	}()

	started := r.o.Now()
	createdAt, err := r.cluster.StartProbe(ctx, env, pod)
	if err != nil {
		step := berth.ProbeStep{Name: berth.ProbeStepScheduled, Started: started.UTC(), Duration: r.o.Now().Sub(started),
			Error: "start the probe pod: " + err.Error()}
		return judge([]berth.ProbeStep{step}, settings)
	}
	// The step counts from the pod's creation, not from the removal of an earlier attempt's.
	if !createdAt.IsZero() {
		started = createdAt
	}
	scheduled, ended := r.awaitRunning(ctx, env, run.ID, started)
	if !scheduled.OK {
		return judge([]berth.ProbeStep{scheduled}, settings)
	}
	steps, why := r.awaitReport(ctx, env, run.ID, ended, reports)
	if why != "" {
		all, _, _ := judge([]berth.ProbeStep{scheduled}, settings)
		return all, why, true
	}
	for i, s := range steps {
		// The agent says only "not configured"; the server knows why.
		if note, ok := notes[s.Name]; ok && !s.OK {
			steps[i].Error = note
		}
	}
	all, reason, failed := judge(append([]berth.ProbeStep{scheduled}, steps...), settings)
	if got := len(all) - 1; got != len(agentSteps) {
		reason = strings.TrimPrefix(reason+fmt.Sprintf("; the agent reported %d of its %d steps", got, len(agentSteps)), "; ")
		failed = true
	}
	return all, reason, failed
}

// podFor is the run's pod: the agent's settings and secrets, and, per step the environment
// is not set up for, why (the agent would only say "not configured").
func (r *Runner) podFor(ctx context.Context, run berth.ProbeRun, env berth.Environment, ps berth.ProbeSettings, sec store.ProbeSecrets) (berth.ProbePod, map[string]string, error) {
	token, hash, err := newToken()
	if err != nil {
		return berth.ProbePod{}, nil, err
	}
	if err := r.st.Tx(ctx, func(tx *store.Tx) error { return tx.SetProbeToken(ctx, run.ID, r.id, hash) }); err != nil {
		return berth.ProbePod{}, nil, fmt.Errorf("record the run's token: %w", err)
	}
	service := berth.ProbeName(run.ID) + "." + berth.ProbeNamespace + ".svc"
	pod := berth.ProbePod{Run: run.ID, Image: r.o.Image, Deadline: r.o.StartTimeout + r.o.ReportTimeout,
		Env: map[string]string{
			probe.EnvServer:  r.o.ServerURL,
			probe.EnvRun:     strconv.FormatInt(run.ID, 10),
			probe.EnvEnv:     run.Env,
			probe.EnvDNSName: service,
			probe.EnvHTTPURL: "http://" + service + ":" + strconv.Itoa(berth.ProbePort) + "/",
		},
		Secrets: map[string]string{probe.EnvToken: token},
	}
	notes := map[string]string{}
	dsn, err := r.st.EnvironmentPostgres(ctx, env.Name)
	switch {
	case err != nil:
		return berth.ProbePod{}, nil, fmt.Errorf("read the PostgreSQL server of %s: %w", env.Name, err)
	case dsn == "":
		notes[berth.ProbeStepDatabase] = fmt.Sprintf("environment %s has no PostgreSQL server to make the probe's database on (berth envs set-postgres %s)", env.Name, env.Name)
	default:
		url, err := r.probeDatabase(ctx, dsn, env.Name)
		if err != nil {
			notes[berth.ProbeStepDatabase] = "make the probe's database: " + err.Error()
		} else {
			pod.Secrets[probe.EnvDatabaseURL] = url
		}
	}
	if ps.S3Endpoint == "" {
		notes[berth.ProbeStepObjectStore] = fmt.Sprintf("environment %s has no S3 endpoint for the probe (berth envs set-probe %s --s3-endpoint ...)", env.Name, env.Name)
	} else {
		scheme := "http://"
		if ps.S3Secure {
			scheme = "https://"
		}
		pod.Env[probe.EnvS3Endpoint], pod.Env[probe.EnvS3Bucket], pod.Env[probe.EnvS3AccessKey] = scheme+ps.S3Endpoint, ps.S3Bucket, ps.S3AccessKey
		if ps.S3Region != "" {
			pod.Env[probe.EnvS3Region] = ps.S3Region
		}
		pod.Secrets[probe.EnvS3SecretKey] = sec.S3SecretKey
	}
	if ps.QueueURL == "" {
		notes[berth.ProbeStepQueue] = fmt.Sprintf("environment %s has no queue for the probe (berth envs set-probe %s --queue-url nats://...)", env.Name, env.Name)
	} else {
		pod.Env[probe.EnvQueueURL] = ps.QueueURL
		if sec.QueueToken != "" {
			pod.Secrets[probe.EnvQueueToken] = sec.QueueToken
		}
	}
	return pod, notes, nil
}

// stopPod removes run's pod and what came with it, giving a stopping server a moment.
func (r *Runner) stopPod(ctx context.Context, env berth.Environment, run int64, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := r.cluster.StopProbe(ctx, env, run); err != nil {
		log.Warn("remove the probe pod", "err", err)
	}
}

// probeDatabase makes the environment's probe database, with a new password each run.
func (r *Runner) probeDatabase(ctx context.Context, dsn, env string) (string, error) {
	if r.dbs == nil {
		return "", errors.New("this server has no PostgreSQL admin")
	}
	pw, err := r.dbs.NewPassword()
	if err != nil {
		return "", err
	}
	return r.dbs.ProbeDatabase(ctx, dsn, env, pw)
}

// newToken returns a new report token and its SHA-256 in hex, as the store keeps it.
func newToken() (token, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("new probe token: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(token))
	return token, hex.EncodeToString(sum[:]), nil
}

// awaitRunning watches the run's pod until its agent runs, and measures the scheduled
// step: from the create call to the first look that saw it running, by this server's
// clock (the API server's times are whole seconds). ended says the pod had already stopped.
func (r *Runner) awaitRunning(ctx context.Context, env berth.Environment, run int64, started time.Time) (step berth.ProbeStep, ended bool) {
	step = berth.ProbeStep{Name: berth.ProbeStepScheduled, Started: started.UTC()}
	deadline := started.Add(r.o.StartTimeout)
	t := time.NewTicker(r.o.Poll)
	defer t.Stop()
	var last berth.ProbePodStatus
	for {
		st, err := r.cluster.ProbePod(ctx, env, run)
		now := r.o.Now()
		step.Duration = now.Sub(started)
		switch {
		case err != nil && ctx.Err() == nil && now.After(deadline):
			step.Error = "watch the probe pod: " + err.Error()
			return step, false
		case err != nil:
		case !st.Running.IsZero():
			step.OK = true
			step.Detail = "pod probe-" + strconv.FormatInt(run, 10) + " running"
			return step, st.Ended
		case st.Ended:
			step.Error = "the probe pod stopped before it ran: " + st.Message
			return step, true
		default:
			last = st
		}
		if now.After(deadline) {
			step.Error = fmt.Sprintf("the probe pod did not run within %s", r.o.StartTimeout)
			if last.Waiting != "" {
				step.Error += ": " + last.Waiting
			}
			return step, false
		}
		select {
		case <-ctx.Done():
			return step, false
		case <-t.C:
		}
	}
}

// reportGrace is how long a report may lag behind the end of the pod that sent it.
const reportGrace = 10 * time.Second

// awaitReport waits for the agent's report. Without one, it says why: the pod ended
// without it (with the end of its log), or none came in time.
func (r *Runner) awaitReport(ctx context.Context, env berth.Environment, run int64, ended bool, reports *waiters) ([]berth.ProbeStep, string) {
	deadline := r.o.Now().Add(r.o.ReportTimeout)
	var endedAt time.Time
	if ended {
		endedAt = r.o.Now()
	}
	wake, stop := reports.add()
	defer stop()
	t := time.NewTicker(r.o.Poll)
	defer t.Stop()
	var pod berth.ProbePodStatus
	var readErr error // why the last look at the report failed, if it did
	for {
		steps, ok, err := r.st.ProbeReport(ctx, run)
		if err == nil && ok {
			return steps, ""
		}
		readErr = err
		now := r.o.Now()
		if endedAt.IsZero() {
			if st, err := r.cluster.ProbePod(ctx, env, run); err == nil {
				pod = st
				if st.Ended {
					endedAt = now
				}
			}
		}
		switch {
		case !endedAt.IsZero() && now.Sub(endedAt) > reportGrace:
			return nil, "the probe pod ended without a report: " + pod.Message
		case now.After(deadline):
			why := fmt.Sprintf("no report from the probe pod within %s", r.o.ReportTimeout)
			if pod.Message != "" {
				why += ": " + pod.Message
			}
			if readErr != nil {
				why += fmt.Sprintf(" (the last look at it failed: %v)", readErr)
			}
			return nil, why
		}
		select {
		case <-ctx.Done():
			return nil, "interrupted"
		case <-wake:
		case <-t.C:
		}
	}
}

// judge marks the steps that passed slower than their thresholds, says what went wrong
// ("" when every step passed in time), and whether a step failed.
func judge(steps []berth.ProbeStep, ps berth.ProbeSettings) ([]berth.ProbeStep, string, bool) {
	var problems []string
	failed := false
	for i, s := range steps {
		if s.OK && s.Duration > ps.Threshold(s.Name) {
			steps[i].Slow = true
			steps[i].Detail = strings.TrimPrefix(steps[i].Detail+fmt.Sprintf("; slower than its threshold of %s", ps.Threshold(s.Name)), "; ")
		}
		failed = failed || !s.OK
		if p := steps[i].Problem(); p != "" {
			problems = append(problems, p)
		}
	}
	return steps, strings.Join(problems, "; "), failed
}

// waiters wakes the runs waiting for reports when one comes in.
type waiters struct {
	mu sync.Mutex
	ch map[chan struct{}]bool
}

func newWaiters() *waiters { return &waiters{ch: map[chan struct{}]bool{}} }

func (w *waiters) add() (<-chan struct{}, func()) {
	c := make(chan struct{}, 1)
	w.mu.Lock()
	w.ch[c] = true
	w.mu.Unlock()
	return c, func() {
		w.mu.Lock()
		delete(w.ch, c)
		w.mu.Unlock()
	}
}

func (w *waiters) wakeAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for c := range w.ch {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}
