package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/manifest"
	"github.com/berth-dev/berth/internal/store"
)

// GitOps writes deploys' objects to their environments' platform repositories (GitOps
// output, docs/gitops.md); cmd/berth wires internal/gitops and internal/forge behind it.
type GitOps interface {
	// Publish commits p's files to p.Dir of the repository, replacing what was there: on
	// p.Branch, made from p.GitOps's branch when it is another. The commit of a change
	// published before (the branch's tip has p.Message's first line) is returned as is;
	// unchanged says the environment's branch held exactly these files already: no commit
	// was made (commit is its tip), and no pull request is needed.
	Publish(ctx context.Context, p Publication) (commit string, unchanged bool, err error)
	// OpenPullRequest opens (or finds, when open already) the pull request of branch into
	// g's branch, and returns its number and page.
	OpenPullRequest(ctx context.Context, g berth.GitOps, token, branch, title, body string) (int, string, error)
}

// Publication is one deploy's objects for its environment's platform repository.
type Publication struct {
	GitOps berth.GitOps
	Token  string
	// Branch is where the commit goes: g's branch, or a pull request's.
	Branch string
	// Dir is the app's directory, TEAM/APP; Files its files by name.
	Dir     string
	Files   map[string][]byte
	Message string
	Author  string
}

// errParked ends a run whose deploy now waits for its pull request's merge.
var errParked = errors.New("awaiting the merge of its pull request")

// publish writes the deploy's objects to its environment's platform repository, when the
// environment has GitOps output: committed to the environment's branch, or, for one that
// goes by pull request, to a branch of the deploy's own with a pull request open, the
// deploy then waiting for its merge. Secrets are there as references only: the objects are
// the stored ones, whose Secrets carry the names and versions of their values, never the
// values (those are filled in memory at the resolve stage, after this).
func (r *run) publish(ctx context.Context) error {
	d := r.d
	g, err := r.e.st.EnvGitOps(ctx, r.env.Name)
	if errors.Is(err, berth.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	r.external = g.ExternalApply
	switch c, err := r.e.st.GitOpsChange(ctx, d.ID); {
	case errors.Is(err, berth.ErrNotFound):
	case err != nil:
		return err
	case c.State == berth.GitOpsMerged || c.State == berth.GitOpsCommitted:
		return nil // published before this attempt: its pull request merged, or a resumed run
	case c.State == berth.GitOpsClosed:
		return failf("its pull request %s was closed without merging: cancelled", c.URL)
	}
	if r.e.o.GitOps == nil {
		return failf("environment %s has GitOps output, which this server cannot write (no publisher configured)", d.Env)
	}
	token, err := r.e.st.GitOpsToken(ctx, r.env.Name)
	if err != nil {
		return failf("GitOps output of %s: %v", d.Env, err)
	}
	files, err := objectFiles(r.content)
	if err != nil {
		return failf("%v", err)
	}
	p := Publication{GitOps: g, Token: token, Branch: g.BranchOr(), Dir: d.Team + "/" + d.App, Files: files,
		Message: fmt.Sprintf("deploy %d: %s/%s revision %d to %s by %s\n\nKind: %s\nObjects: %d\n", d.ID, d.Team, d.App, d.Revision, d.Env,
			d.CreatedBy, d.Kind, len(files)),
		Author: d.CreatedBy}
	// An automatic rollback mends a failed deploy at once: it is committed to the
	// environment's branch, never left waiting for a review.
	byPR := g.PullRequest && d.Kind != berth.KindAutoRollback
	if byPR {
		p.Branch = fmt.Sprintf("berth/%s/deploy-%d", d.Env, d.ID)
	}
	if err := r.checkLease(ctx); err != nil {
		return err
	}
	commit, unchanged, err := r.e.o.GitOps.Publish(ctx, p)
	if err != nil {
		return failf("GitOps output to %s: %v", g.Repo, err)
	}
	change := berth.GitOpsChange{DeployID: d.ID, Env: d.Env, Repo: g.Repo, Branch: p.Branch, Commit: commit, State: berth.GitOpsCommitted}
	if unchanged {
		change.Branch = g.BranchOr()
	}
	if !byPR || unchanged {
		if err := r.e.st.Tx(ctx, func(tx *store.Tx) error {
			if err := tx.CheckLease(ctx, d.ID, r.owner); err != nil {
				return err
			}
			_, err := tx.SaveGitOpsChange(ctx, change)
			return err
		}); err != nil {
			return err
		}
		if unchanged {
			r.event(ctx, "published", fmt.Sprintf("branch %s of %s holds these %d objects already (commit %s): nothing to commit or review",
				change.Branch, g.Repo, len(files), short(commit)))
		} else {
			r.event(ctx, "published", fmt.Sprintf("commit %s to branch %s of %s (%d objects)", short(commit), p.Branch, g.Repo, len(files)))
		}
		return nil
	}
	title := fmt.Sprintf("Deploy %s/%s revision %d to %s (deploy %d)", d.Team, d.App, d.Revision, d.Env, d.ID)
	body := fmt.Sprintf("Berth deploy %d of %s/%s, revision %d, to %s, asked for by %s (%s).\n\n"+
		"Merging this pull request applies it; closing it unmerged cancels the deploy.\n", d.ID, d.Team, d.App, d.Revision, d.Env, d.CreatedBy, d.Kind)
	pr, url, err := r.e.o.GitOps.OpenPullRequest(ctx, g, token, p.Branch, title, body)
	if err != nil {
		return failf("open the pull request of %s into %s of %s: %v", p.Branch, g.BranchOr(), g.Repo, err)
	}
	change.PR, change.URL, change.State = pr, url, berth.GitOpsOpen
	err = r.e.st.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.SaveGitOpsChange(ctx, change); err != nil {
			return err
		}
		if err := tx.ParkDeploy(ctx, d.ID, r.owner); err != nil {
			return err
		}
		_, err := tx.AddDeployEvent(ctx, berth.DeployEvent{DeployID: d.ID, Phase: string(berth.DeployAwaitingMerge),
			Message: fmt.Sprintf("pull request #%d %s into %s of %s: merging it applies this deploy, closing it cancels it", pr, url, g.BranchOr(), g.Repo)})
		return err
	})
	if err != nil {
		return err
	}
	return errParked
}

// objectFiles are the stored objects as the files of the app's directory: one YAML file
// per object, KIND-NAME.yaml in lower case.
func objectFiles(content []byte) (map[string][]byte, error) {
	objs, err := manifest.DecodeStored(content)
	if err != nil {
		return nil, err
	}
	files := make(map[string][]byte, len(objs))
	for _, o := range objs {
		name := strings.ToLower(o.GetKind() + "-" + o.GetName() + ".yaml")
		if _, dup := files[name]; dup {
			return nil, fmt.Errorf("two objects would be written to %s", name)
		}
		data, err := yaml.Marshal(o.Object)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %v", o.GetKind(), o.GetName(), err)
		}
		files[name] = data
	}
	return files, nil
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// PullRequests is what the engine asks a forge about the pull requests of GitOps output.
type PullRequests interface {
	// PullRequestState says whether pull request pr of g's repository is open, merged or
	// closed unmerged.
	PullRequestState(ctx context.Context, g berth.GitOps, token string, pr int) (berth.GitOpsState, error)
}

// WatchPullRequests follows the pull requests of deploys awaiting their merge until ctx
// ends, every poll and whenever NotifyPullRequests wakes it: a merged one queues its deploy
// again (unless a newer deploy of the app ran there since: then it is cancelled,
// superseded); a closed one cancels it. Each is a compare-and-set on the deploy's state,
// so servers watching the same pull requests act once.
func (e *Engine) WatchPullRequests(ctx context.Context, prs PullRequests, poll time.Duration) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		if err := e.CheckPullRequests(ctx, prs); err != nil && ctx.Err() == nil {
			e.log.Warn("GitOps pull requests", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-e.prWake:
		}
	}
}

// NotifyPullRequests has WatchPullRequests look at the open pull requests now rather than
// at its next poll: a platform repository's webhook said one was closed or merged. It
// says when to look, never what is there: the state is the forge's answer. Wakes while a
// look runs make one more look after it, no more.
func (e *Engine) NotifyPullRequests() {
	select {
	case e.prWake <- struct{}{}:
	default:
	}
}

// CheckPullRequests looks once at every open pull request of GitOps output.
func (e *Engine) CheckPullRequests(ctx context.Context, prs PullRequests) error {
	open, err := e.st.OpenGitOpsChanges(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range open {
		g, err := e.st.EnvGitOps(ctx, c.Env)
		if errors.Is(err, berth.ErrNotFound) {
			continue // the environment's GitOps output was turned off: its deploys wait
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		token, err := e.st.GitOpsToken(ctx, c.Env)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !strings.EqualFold(g.Repo, c.Repo) {
			// The environment publishes elsewhere now: pull request #N there is another.
			if err := e.settlePullRequest(ctx, c, berth.GitOpsClosed,
				fmt.Sprintf("environment %s publishes to %s now, not %s where its pull request %s is: cancelled", c.Env, g.Repo, c.Repo, c.URL)); err != nil &&
				!errors.Is(err, berth.ErrConflict) {
				errs = append(errs, err)
			}
			continue
		}
		state, err := prs.PullRequestState(ctx, g, token, c.PR)
		if err != nil {
			errs = append(errs, fmt.Errorf("pull request #%d of %s: %w", c.PR, c.Repo, err))
			continue
		}
		if state == berth.GitOpsOpen {
			continue
		}
		if err := e.settlePullRequest(ctx, c, state, ""); err != nil && !errors.Is(err, berth.ErrConflict) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// settlePullRequest moves a deploy on from its merged or closed pull request.
func (e *Engine) settlePullRequest(ctx context.Context, c berth.GitOpsChange, state berth.GitOpsState, why string) error {
	resumed := false
	err := e.st.Tx(ctx, func(tx *store.Tx) error {
		d, err := tx.Deploy(ctx, c.DeployID)
		if err != nil {
			return err
		}
		c.State = state
		if _, err := tx.SaveGitOpsChange(ctx, c); err != nil {
			return err
		}
		reason, err := settleReason(ctx, tx, c, d, state, why)
		if err != nil {
			return err
		}
		if reason == "" {
			if _, err := tx.ResumeMergedDeploy(ctx, d.ID); err != nil {
				return err
			}
			resumed = true
			_, err := tx.AddDeployEvent(ctx, berth.DeployEvent{DeployID: d.ID, Phase: "merged", Message: fmt.Sprintf("pull request #%d merged: applying", c.PR)})
			return err
		}
		if _, err := tx.CancelParkedDeploy(ctx, d.ID, reason); err != nil {
			return err
		}
		if _, err := tx.AddDeployEvent(ctx, berth.DeployEvent{DeployID: d.ID, Phase: string(berth.DeployFailed), Message: reason}); err != nil {
			return err
		}
		_, err = tx.AppendAudit(ctx, berth.AuditEvent{Actor: "system", Action: "deploy.finish",
			Target: berth.AppTarget(d.Team, d.App, d.Env), Team: d.Team, App: d.App, Outcome: berth.OutcomeFailure,
			Details: map[string]any{"deploy": d.ID, "revision": d.Revision, "env": d.Env, "kind": string(d.Kind), "reason": reason}})
		return err
	})
	if err == nil && resumed {
		e.Notify()
	}
	return err
}

// waitApplied waits, up to timeout, until the environment's GitOps controller applied the
// deploy's Deployment as published: no drift between it and the live one.
func (r *run) waitApplied(ctx context.Context, timeout time.Duration) error {
	var dep []*unstructured.Unstructured
	for _, o := range r.objs {
		if o.GetKind() == "Deployment" {
			dep = append(dep, o)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	var last []string
	for {
		drift, err := r.cluster.Drifted(ctx, r.namespace, dep)
		if err == nil && len(drift) == 0 {
			r.event(ctx, "applied", "the GitOps controller applied the published Deployment")
			return nil
		}
		if err == nil {
			last = drift
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return &failure{kind: failTerminal, reason: fmt.Sprintf("the GitOps controller did not apply the published Deployment within %s (still differs at %s)",
					timeout, strings.Join(last, ", "))}
			}
			return ctx.Err()
		case <-t.C:
		}
	}
}

// settleReason is why a deploy whose pull request is state is cancelled ("" when it goes
// on): why, when given; a closed pull request; or a newer deploy of the app that went to
// the environment since.
func settleReason(ctx context.Context, tx *store.Tx, c berth.GitOpsChange, d berth.Deploy, state berth.GitOpsState, why string) (string, error) {
	switch {
	case why != "":
		return why, nil
	case state == berth.GitOpsClosed:
		return fmt.Sprintf("its pull request %s was closed without merging: cancelled", c.URL), nil
	}
	newer, err := tx.NewerDeploy(ctx, d)
	if err != nil || newer == 0 {
		return "", err
	}
	return fmt.Sprintf("its pull request %s was merged after deploy %d of the app went to %s: superseded, not applied", c.URL, newer, d.Env), nil
}
