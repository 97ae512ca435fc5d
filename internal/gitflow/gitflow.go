// Package gitflow does the work webhooks queue: for each git job, it reads the app's
// manifest at the pushed commit from its forge, finds what the manifest's git rules ask
// (a push to a branch or a tag deploys to an environment), queues that deploy through the
// service, and reports the deploy on the commit as a status: pending while it runs, then
// success or failure linking to the deploy's page.
//
// Jobs are durable (internal/store's git_jobs): claimed under a lease, as deploys are, so a
// server that dies mid-job leaves it to the next claim, and each ends exactly once.
package gitflow

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/manifest"
	"github.com/berth-dev/berth/internal/service"
	"github.com/berth-dev/berth/internal/store"
)

// StatusState is a commit status's state, as forges name them.
type StatusState string

// The states of a commit status.
const (
	StatusPending StatusState = "pending"
	StatusSuccess StatusState = "success"
	StatusFailure StatusState = "failure"
	StatusError   StatusState = "error"
)

// Status is a commit status: Context names it (berth/ENV), TargetURL links to the deploy.
type Status struct {
	State                           StatusState
	Context, Description, TargetURL string
}

// Forge is what a job needs of a forge's API, for one connection.
type Forge interface {
	// ReadFile returns path at ref of repo (OWNER/NAME); a missing file wraps
	// berth.ErrNotFound.
	ReadFile(ctx context.Context, repo, path, ref string) ([]byte, error)
	SetStatus(ctx context.Context, repo, sha string, s Status) error
}

// Forges opens a connection's forge with its token.
type Forges func(r berth.AppRepo, token string) (Forge, error)

// Options tune a Worker.
type Options struct {
	// Workers is how many jobs this process acts on at once (0: 2).
	Workers int
	// Lease is how long a claim lasts (0: 1 minute): a job left by a dead worker is taken
	// again this long after it was claimed.
	Lease time.Duration
	// Poll is how often idle workers look for jobs when not woken (0: 1 second); it is
	// also how soon a deploy's end reaches its commit.
	Poll time.Duration
	// Retry is how long a job waits after a forge did not answer (0: 5 seconds), doubled
	// per attempt up to 5 minutes; MaxAttempts ends it after that many claims (0: 8).
	Retry       time.Duration
	MaxAttempts int
	// PublicURL is where users reach this server (http://host:port), for the links of
	// commit statuses; "" sets statuses without links.
	PublicURL string
}

// Worker acts on git jobs.
type Worker struct {
	st     *store.Store
	svc    *service.Service
	forges Forges
	log    *slog.Logger
	o      Options
	id     string
	wake   chan struct{}
}

// New returns a Worker.
func New(st *store.Store, svc *service.Service, forges Forges, log *slog.Logger, o Options) *Worker {
	if o.Workers <= 0 {
		o.Workers = 2
	}
	if o.Lease <= 0 {
		o.Lease = time.Minute
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Retry <= 0 {
		o.Retry = 5 * time.Second
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 8
	}
	host, _ := os.Hostname()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return &Worker{st: st, svc: svc, forges: forges, log: log, o: o,
		id: fmt.Sprintf("%s-%d-%s/git", host, os.Getpid(), hex.EncodeToString(b)), wake: make(chan struct{}, 1)}
}

// Notify wakes an idle worker: a webhook queued a job.
func (w *Worker) Notify() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run acts on jobs until ctx ends.
func (w *Worker) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for i := range w.o.Workers {
		wg.Go(func() { w.loop(ctx, fmt.Sprintf("%s/%d", w.id, i)) })
	}
	wg.Wait()
}

func (w *Worker) loop(ctx context.Context, owner string) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.wake:
		}
		for ctx.Err() == nil {
			j, ok, err := w.st.ClaimGitJob(ctx, owner, w.o.Lease)
			if err != nil {
				if ctx.Err() == nil {
					w.log.Error("claim git job", "err", err)
				}
				break
			}
			if !ok {
				break
			}
			w.handle(ctx, j, owner)
		}
		t.Reset(w.o.Poll)
	}
}

// outcome is how one claim of a job ends: finished (done or failed), handed on to its
// deploy, or deferred to try again.
type outcome struct {
	state  berth.GitJobState // done or failed; "" when not finished
	reason string
	retry  bool // a forge or the store failed for now: try again later
}

func done(format string, args ...any) outcome {
	return outcome{state: berth.GitJobDone, reason: fmt.Sprintf(format, args...)}
}

func failed(format string, args ...any) outcome {
	return outcome{state: berth.GitJobFailed, reason: fmt.Sprintf(format, args...)}
}

func retry(format string, args ...any) outcome {
	return outcome{retry: true, reason: fmt.Sprintf(format, args...)}
}

// handle does what is left of job j, held by owner, and records how the claim ended.
func (w *Worker) handle(ctx context.Context, j berth.GitJob, owner string) {
	log := w.log.With("git_job", j.ID, "team", j.Team, "app", j.App, "event", j.Event.String())
	var out outcome
	if j.Attempts > w.o.MaxAttempts {
		out = failed("gave up after %d attempts: %s", j.Attempts-1, j.Reason)
	} else if j.State == berth.GitJobDeploying {
		out = w.report(ctx, j)
	} else {
		out = w.act(ctx, j, owner)
	}
	if ctx.Err() != nil {
		return // the lease runs out; the next claim does it again
	}
	err := w.st.Tx(ctx, func(tx *store.Tx) error {
		switch {
		case out.retry:
			return tx.DeferGitJob(ctx, j.ID, owner, out.reason, w.backoff(j.Attempts))
		case out.state != "":
			_, err := tx.FinishGitJob(ctx, j.ID, owner, out.state, out.reason)
			return err
		}
		return nil // act queued a deploy and moved the job on in its transaction
	})
	switch {
	case errors.Is(err, berth.ErrLeaseLost):
		log.Warn("git job lease lost", "err", err)
	case err != nil:
		log.Error("record git job", "err", err)
	case out.retry:
		log.Warn("git job deferred", "reason", out.reason, "attempt", j.Attempts)
	case out.state != "":
		log.Info("git job ended", "state", out.state, "reason", out.reason)
	}
}

func (w *Worker) backoff(attempt int) time.Duration {
	d := w.o.Retry
	for i := 1; i < attempt && d < 5*time.Minute; i++ {
		d *= 2
	}
	return min(d, 5*time.Minute)
}

// connection returns the job's app's connection and its forge.
func (w *Worker) connection(ctx context.Context, j berth.GitJob) (berth.AppRepo, Forge, *outcome) {
	repo, err := w.st.AppRepo(ctx, j.Team, j.App)
	if errors.Is(err, berth.ErrNotFound) {
		o := failed("%s/%s is no longer connected to a repository", j.Team, j.App)
		return repo, nil, &o
	}
	if err != nil {
		o := retry("%v", err)
		return repo, nil, &o
	}
	sec, err := w.st.RepoSecrets(ctx, j.Team, j.App)
	if err != nil {
		o := retry("%v", err)
		return repo, nil, &o
	}
	f, err := w.forges(repo, sec.Token)
	if err != nil {
		o := failed("%s: %v", repo.Repo, err)
		return repo, nil, &o
	}
	return repo, f, nil
}

// act reads the manifest at the job's commit and queues what its rules ask.
func (w *Worker) act(ctx context.Context, j berth.GitJob, owner string) outcome {
	ev := j.Event
	if ev.Kind == berth.GitPullRequest {
		return done("pull request #%d %s: previews are not built yet", ev.PR, ev.Action)
	}
	repo, f, o := w.connection(ctx, j)
	if o != nil {
		return *o
	}
	raw, err := f.ReadFile(ctx, repo.Repo, repo.Path, ev.SHA)
	if errors.Is(err, berth.ErrNotFound) {
		// No manifest at this commit: nothing of Berth's here, and nothing to report.
		return done("%s has no %s at %s", repo.Repo, repo.Path, short(ev.SHA))
	}
	if err != nil {
		return retry("read %s at %s: %v", repo.Path, short(ev.SHA), err)
	}
	m, err := manifest.Parse(repo.Path, raw)
	if err != nil {
		return w.refuse(ctx, f, repo, ev, "", err.Error())
	}
	var env string
	switch ev.Kind {
	case berth.GitPush:
		e, ok := m.Git.BranchEnv(ev.Branch)
		if !ok {
			return done("%s at %s has no git rule for branch %s", repo.Path, short(ev.SHA), ev.Branch)
		}
		env = e
	case berth.GitTag:
		e, _, ok := m.Git.TagRule(ev.Tag)
		if !ok {
			return done("%s at %s has no git rule for tag %s", repo.Path, short(ev.SHA), ev.Tag)
		}
		env = e
	default:
		return done("Berth does not act on %s", ev)
	}
	d, err := w.svc.StartGitDeploy(ctx, service.GitDeployRequest{Job: j.ID, Owner: owner, Team: j.Team, App: j.App, Env: env,
		Manifest: string(raw), Path: repo.Path, Source: berth.GitSource{Forge: j.Forge, Repo: repo.Repo, SHA: ev.SHA, Ref: ev.Ref},
		Args: manifest.GitArgs(ev.SHA, ev.Ref, 0)})
	var inv *berth.InvalidError
	switch {
	case errors.As(err, &inv):
		return w.refuse(ctx, f, repo, ev, env, inv.Reason)
	case errors.Is(err, berth.ErrLeaseLost):
		return outcome{} // another worker holds it now
	case err != nil:
		return retry("queue the deploy: %v", err)
	}
	// The job follows the deploy now; a status that does not get through is set when the
	// deploy ends anyway.
	if err := f.SetStatus(ctx, repo.Repo, ev.SHA, w.status(env, d, StatusPending, fmt.Sprintf("deploying to %s (deploy %d)", env, d.ID))); err != nil {
		w.log.Warn("set pending commit status", "git_job", j.ID, "deploy", d.ID, "err", err)
	}
	return outcome{}
}

// refuse fails a job whose manifest or rules Berth refuses, saying why on the commit.
func (w *Worker) refuse(ctx context.Context, f Forge, repo berth.AppRepo, ev berth.GitEvent, env, why string) outcome {
	ctxName := "berth"
	if env != "" {
		ctxName += "/" + env
	}
	first, _, _ := strings.Cut(why, "\n")
	err := f.SetStatus(ctx, repo.Repo, ev.SHA, Status{State: StatusError, Context: ctxName, Description: first})
	if err != nil {
		w.log.Warn("set error commit status", "repo", repo.Repo, "sha", ev.SHA, "err", err)
	}
	return failed("%s", why)
}

// report sets the commit's status to how the job's deploy ended.
func (w *Worker) report(ctx context.Context, j berth.GitJob) outcome {
	if j.Deploy == 0 {
		return done("its deploy was deleted with its app")
	}
	d, err := w.st.Deploy(ctx, j.Deploy)
	if errors.Is(err, berth.ErrNotFound) {
		return done("its deploy was deleted with its app")
	}
	if err != nil {
		return retry("%v", err)
	}
	if !d.State.Final() {
		return retry("deploy %d has not ended", d.ID) // claimed in a race with its end
	}
	repo, f, o := w.connection(ctx, j)
	if o != nil {
		return *o
	}
	st, verdict := StatusSuccess, "succeeded"
	if d.State == berth.DeployFailed {
		st, verdict = StatusFailure, "failed"
	}
	desc := fmt.Sprintf("%s %s: %s", d.Env, verdict, d.Reason)
	if err := f.SetStatus(ctx, repo.Repo, j.Event.SHA, w.status(d.Env, d, st, desc)); err != nil {
		return retry("set the commit's status: %v", err)
	}
	return done("deploy %d %s", d.ID, verdict)
}

func (w *Worker) status(env string, d berth.Deploy, st StatusState, desc string) Status {
	s := Status{State: st, Context: "berth/" + env, Description: desc}
	if w.o.PublicURL != "" {
		s.TargetURL = fmt.Sprintf("%s/deploys/%d", w.o.PublicURL, d.ID)
	}
	return s
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
