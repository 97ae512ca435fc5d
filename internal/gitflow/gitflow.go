// Package gitflow does the work webhooks (and users' deploys of a ref) queue: for each git
// job, it reads the app's manifest at the pushed commit from its forge, finds what the
// manifest's git rules ask (a push to a branch or a tag deploys to an environment), queues
// that deploy through the service, and reports the deploy on the commit as a status:
// pending while it runs, then success or failure linking to the deploy's page.
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
	"runtime/debug"
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
	// BranchHead returns the commit branch points at now; a missing branch wraps
	// berth.ErrNotFound.
	BranchHead(ctx context.Context, repo, branch string) (string, error)
	// ResolveRef returns the commit a branch, a tag or a (possibly abbreviated) commit sha
	// names, and its full ref (refs/heads/X, refs/tags/X; "" for a sha); a ref that is
	// none of these wraps berth.ErrNotFound.
	ResolveRef(ctx context.Context, repo, ref string) (sha, fullRef string, err error)
	// UpsertComment writes body as pull request pr's comment id (0: a new one; one
	// deleted since is made again) and returns the comment's id.
	UpsertComment(ctx context.Context, repo string, pr int, id int64, body string) (int64, error)
}

// Forges opens a connection's forge with its token.
type Forges func(r berth.AppRepo, token string) (Forge, error)

// Options tune a Worker.
type Options struct {
	// Workers is how many jobs this process acts on at once (0: 2).
	Workers int
	// Lease is how long a claim lasts (0: 30 seconds): a job left by a dead worker is taken
	// again this long after it was claimed. A claim outlived by its work is safe: the
	// transaction that queues a deploy checks the lease, so only one worker queues it.
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
	// Keep is how long webhook deliveries and ended jobs are kept (0: 90 days), pruned
	// hourly.
	Keep time.Duration
	// PreviewTTL closes previews not deployed for that long (0: 7 days), checked every
	// minute.
	PreviewTTL time.Duration
	// IngressPort is the port the environments' ingress answers on, for the preview URLs
	// of pull requests' comments (0: the scheme's default).
	IngressPort int
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
		o.Lease = 30 * time.Second
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
	if o.Keep <= 0 {
		o.Keep = 90 * 24 * time.Hour
	}
	if o.PreviewTTL <= 0 {
		o.PreviewTTL = 7 * 24 * time.Hour
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

// Run acts on jobs until ctx ends, and prunes old deliveries and jobs every hour.
func (w *Worker) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for i := range w.o.Workers {
		wg.Go(func() { w.loop(ctx, fmt.Sprintf("%s/%d", w.id, i)) })
	}
	wg.Go(func() { w.prune(ctx) })
	wg.Go(func() { w.expireLoop(ctx) })
	wg.Wait()
}

func (w *Worker) prune(ctx context.Context) {
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		deliveries, jobs, err := w.st.PruneGitHistory(ctx, time.Now().Add(-w.o.Keep))
		switch {
		case err != nil && ctx.Err() == nil:
			w.log.Error("prune webhook deliveries and git jobs", "err", err)
		case deliveries+jobs > 0:
			w.log.Info("pruned webhook deliveries and git jobs", "deliveries", deliveries, "jobs", jobs, "older_than", w.o.Keep)
		}
		t.Reset(time.Hour)
	}
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
	defer func() {
		if v := recover(); v != nil {
			// The lease runs out and the job is tried again, until MaxAttempts ends it.
			log.Error("git job panicked", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		}
	}()
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
	return w.connectionOf(ctx, j.Team, j.App, j.Forge, j.Event.Repo)
}

// connectionOf returns team's app's connection and its forge, checking that it is still
// the connection to forge's repository repo (when forge is not "").
func (w *Worker) connectionOf(ctx context.Context, team, app string, forge berth.Forge, repoName string) (berth.AppRepo, Forge, *outcome) {
	repo, err := w.st.AppRepo(ctx, team, app)
	if errors.Is(err, berth.ErrNotFound) {
		o := failed("%s/%s is no longer connected to a repository", team, app)
		return repo, nil, &o
	}
	if err != nil {
		o := retry("%v", err)
		return repo, nil, &o
	}
	sec, err := w.st.RepoSecrets(ctx, team, app)
	if err != nil {
		o := retry("%v", err)
		return repo, nil, &o
	}
	if forge != "" && (repo.Forge != forge || !strings.EqualFold(repo.Repo, repoName)) {
		o := failed("%s/%s was connected to %s %s since the delivery, from %s %s", team, app, repo.Forge, repo.Repo, forge, repoName)
		return repo, nil, &o
	}
	f, err := w.forges(repo, sec.Token)
	if err != nil {
		o := failed("%s: %v", repo.Repo, err)
		return repo, nil, &o
	}
	return repo, f, nil
}

// act reads the manifest at the job's commit and queues what the app's git rules ask.
//
// The rules are those of the manifest on the repository's default branch, never the
// pushed commit's own: whoever may push a branch or a tag must not be able to write the
// rule that deploys it. The manifest deployed is the commit's.
func (w *Worker) act(ctx context.Context, j berth.GitJob, owner string) outcome {
	ev := j.Event
	repo, f, o := w.connection(ctx, j)
	if o != nil {
		return *o
	}
	switch {
	case ev.Kind == berth.GitPullRequest && ev.Action == "closed":
		// Whatever the rules say now: a preview made under earlier ones goes too.
		return w.closePreviews(ctx, j, repo, f)
	case ev.Kind == berth.GitDeployRef:
		// A user chose the environment: no rule is read.
		return w.deployRef(ctx, j, owner, repo, f)
	}
	rules, o := w.rules(ctx, f, repo)
	if o != nil {
		return *o
	}
	var env string
	switch ev.Kind {
	case berth.GitPullRequest:
		return w.preview(ctx, j, owner, repo, f, rules)
	case berth.GitPush:
		e, ok := rules.BranchEnv(ev.Branch)
		if !ok {
			return done("%s on %s has no git rule for branch %s", repo.Path, repo.Branch, ev.Branch)
		}
		env = e
		// Forges do not promise to deliver in order: a push whose branch has moved on
		// since is left to the later push's job, never deployed over it.
		switch head, err := f.BranchHead(ctx, repo.Repo, ev.Branch); {
		case errors.Is(err, berth.ErrNotFound):
			return done("branch %s no longer exists", ev.Branch)
		case err != nil:
			return retry("where does %s point now: %v", ev.Branch, err)
		case head != ev.SHA:
			return done("superseded: %s points at %s now, whose push deploys it", ev.Branch, short(head))
		}
	case berth.GitTag:
		e, _, ok := rules.TagRule(ev.Tag)
		if !ok {
			return done("%s on %s has no git rule for tag %s", repo.Path, repo.Branch, ev.Tag)
		}
		env = e
	default:
		return done("Berth does not act on %s", ev)
	}
	raw, refusal, o := readManifest(ctx, f, repo, ev.SHA)
	switch {
	case o != nil:
		return *o
	case refusal != "":
		return w.refuse(ctx, f, repo, ev, env, refusal)
	}
	// Pending before the deploy is queued: sent after, it could land after the deploy's
	// own end was reported.
	if err := f.SetStatus(ctx, repo.Repo, ev.SHA, Status{State: StatusPending, Context: "berth/" + env,
		Description: "deploying to " + env, TargetURL: w.appURL(j)}); err != nil {
		w.log.Warn("set pending commit status", "git_job", j.ID, "err", err)
	}
	_, err := w.svc.StartGitDeploy(ctx, service.GitDeployRequest{Job: j.ID, Owner: owner, Team: j.Team, App: j.App, Env: env,
		Manifest: string(raw), Path: repo.Path, Source: berth.GitSource{Forge: j.Forge, Repo: repo.Repo, SHA: ev.SHA, Ref: ev.Ref},
		Args: manifest.GitArgs(ev.SHA, ev.Ref, 0)})
	return w.started(ctx, f, repo, ev, env, err)
}

// started is how a job that asked StartGitDeploy for its deploy goes on: following the
// deploy, or failed with the service's refusal (on the commit too), or tried again.
func (w *Worker) started(ctx context.Context, f Forge, repo berth.AppRepo, ev berth.GitEvent, env string, err error) outcome {
	var inv *berth.InvalidError
	var frozen *berth.FrozenError
	switch {
	case errors.As(err, &inv):
		return w.refuse(ctx, f, repo, ev, env, inv.Reason)
	case errors.As(err, &frozen):
		return w.refuse(ctx, f, repo, ev, env, frozen.Error())
	case errors.Is(err, berth.ErrLeaseLost):
		return outcome{} // another worker holds it now
	case err != nil:
		return retry("queue the deploy: %v", err)
	}
	return outcome{} // the job follows the deploy now
}

// readManifest reads the connection's manifest at commit sha and checks it parses: the
// manifest, or why Berth refuses it (missing or invalid), or the outcome when the forge
// did not answer.
func readManifest(ctx context.Context, f Forge, repo berth.AppRepo, sha string) ([]byte, string, *outcome) {
	raw, err := f.ReadFile(ctx, repo.Repo, repo.Path, sha)
	if errors.Is(err, berth.ErrNotFound) {
		return nil, fmt.Sprintf("%s is not in %s at %s", repo.Path, repo.Repo, short(sha)), nil
	}
	if err != nil {
		o := retry("read %s at %s: %v", repo.Path, short(sha), err)
		return nil, "", &o
	}
	if _, err := manifest.Parse(repo.Path, raw); err != nil {
		return nil, err.Error(), nil
	}
	return raw, "", nil
}

// rules returns the git rules of the manifest on the connection's default branch.
func (w *Worker) rules(ctx context.Context, f Forge, repo berth.AppRepo) (*manifest.GitRules, *outcome) {
	raw, err := f.ReadFile(ctx, repo.Repo, repo.Path, repo.Branch)
	if errors.Is(err, berth.ErrNotFound) {
		o := done("%s is not in %s on %s (or the connection's token cannot read it): no git rules", repo.Path, repo.Repo, repo.Branch)
		return nil, &o
	}
	if err != nil {
		o := retry("read %s on %s: %v", repo.Path, repo.Branch, err)
		return nil, &o
	}
	m, err := manifest.Parse(repo.Path, raw)
	if err != nil {
		o := failed("%s on %s, where the git rules are read: %v", repo.Path, repo.Branch, err)
		return nil, &o
	}
	return m.Git, nil
}

func (w *Worker) appURL(j berth.GitJob) string {
	if w.o.PublicURL == "" {
		return ""
	}
	return fmt.Sprintf("%s/apps/%s/%s", w.o.PublicURL, j.Team, j.App)
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
	sha := j.Event.SHA
	if sha == "" { // a user's deploy of a ref: the commit is the revision's
		r, err := w.st.Revision(ctx, j.Team, j.App, d.Revision)
		if err != nil {
			return retry("%v", err)
		}
		if r.Source == nil {
			return done("deploy %d %s", d.ID, d.State)
		}
		sha = r.Source.SHA
	}
	// The description is public on a public repository: the deploy's reason, which may
	// quote an app's answers, stays behind the link.
	st, verdict := StatusSuccess, "succeeded"
	if d.State == berth.DeployFailed {
		st, verdict = StatusFailure, "failed"
	}
	desc := fmt.Sprintf("%s %s (deploy %d)", d.Env, verdict, d.ID)
	if err := f.SetStatus(ctx, repo.Repo, sha, w.status(d.Env, d, st, desc)); err != nil {
		return retry("set the commit's status: %v", err)
	}
	if j.Event.Kind == berth.GitPullRequest {
		return w.reportPreview(ctx, j, d, repo, f, verdict)
	}
	if d.State != berth.DeploySucceeded || j.Event.Kind != berth.GitTag {
		return done("deploy %d %s", d.ID, verdict)
	}
	return w.promote(ctx, j, d, repo, f)
}

// promote queues the promotion a tag's rule asks for once its deploy succeeded.
func (w *Worker) promote(ctx context.Context, j berth.GitJob, d berth.Deploy, repo berth.AppRepo, f Forge) outcome {
	rules, o := w.rules(ctx, f, repo)
	if o != nil {
		return *o
	}
	_, to, ok := rules.TagRule(j.Event.Tag)
	if !ok || to == "" {
		return done("deploy %d succeeded", d.ID)
	}
	// A worker that died after promoting, before ending the job, promoted already.
	recent, err := w.st.Deploys(ctx, store.DeployFilter{Team: j.Team, App: j.App, Env: to, Limit: 50})
	if err != nil {
		return retry("%v", err)
	}
	for _, p := range recent {
		if p.PromotedFrom == d.ID && p.Kind == berth.KindPromotion {
			return done("deploy %d succeeded; promotion %d to %s queued", d.ID, p.ID, to)
		}
	}
	p, err := w.svc.PromoteFromGit(ctx, j.Forge, j.ID, service.PromoteRequest{Team: j.Team, App: j.App, From: d.Env, To: to, Source: d.ID})
	var inv *berth.InvalidError
	var frozen *berth.FrozenError
	switch {
	case errors.As(err, &inv):
		return failed("deploy %d succeeded; the promotion to %s was refused: %s", d.ID, to, inv.Reason)
	case errors.As(err, &frozen):
		return failed("deploy %d succeeded; the promotion to %s was refused: %v", d.ID, to, frozen)
	case errors.Is(err, berth.ErrNotFound):
		return failed("deploy %d succeeded; the promotion to %s was refused: %v", d.ID, to, err)
	case err != nil:
		return retry("promote to %s: %v", to, err)
	case p.State == berth.DeployAwaiting:
		return done("deploy %d succeeded; promotion %d to %s awaits approval", d.ID, p.ID, to)
	}
	return done("deploy %d succeeded; promotion %d to %s queued", d.ID, p.ID, to)
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
