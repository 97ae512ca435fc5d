package gitflow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/manifest"
	"github.com/berth-dev/berth/internal/service"
	"github.com/berth-dev/berth/internal/store"
)

// Previews
//
// A pull request opened, pushed to or reopened deploys a preview of the app at its head
// into the environment Berth makes for it from the preview environment the rules on the
// default branch name (service.StartGitDeploy with a Preview). Berth keeps one comment on
// the pull request, written when the deploy is queued and rewritten when it ends: its
// state, its URLs, where its service resources found the apps they call, and for a fork,
// that it runs without secrets. Closing the pull request, or no push for PreviewTTL,
// tears the preview down (service.ClosePreview) and says so in the comment.

// previewActor is who closes an expired preview, in the audit log.
const previewActor = "system:preview-ttl"

// preview queues the preview deploy of a pull request opened, pushed to or reopened.
func (w *Worker) preview(ctx context.Context, j berth.GitJob, owner string, repo berth.AppRepo, f Forge, rules *manifest.GitRules) outcome {
	ev := j.Event
	base, ok := rules.PreviewEnv()
	if !ok {
		return done("%s on %s has no git rule for previews", repo.Path, repo.Branch)
	}
	if ev.Head == "" || ev.SHA == "" {
		return failed("pull request #%d: the delivery names no head branch and commit", ev.PR)
	}
	envName := berth.PreviewEnvName(base, j.Team, j.App, ev.PR)
	if !ev.Fork {
		// As for pushes: a delivery whose branch has moved on since is left to the later
		// push's. A fork's branch is in another repository, which this token may not read.
		switch head, err := f.BranchHead(ctx, repo.Repo, ev.Head); {
		case errors.Is(err, berth.ErrNotFound):
			return done("pull request #%d: branch %s no longer exists", ev.PR, ev.Head)
		case err != nil:
			return retry("where does %s point now: %v", ev.Head, err)
		case head != ev.SHA:
			return done("superseded: %s points at %s now, whose push deploys the preview", ev.Head, short(head))
		}
	}
	raw, refusal, o := readManifest(ctx, f, repo, ev.SHA)
	switch {
	case o != nil:
		return *o
	case refusal != "":
		return w.refusePreview(ctx, j, repo, f, base, refusal)
	}
	if err := f.SetStatus(ctx, repo.Repo, ev.SHA, Status{State: StatusPending, Context: "berth/" + envName,
		Description: "deploying the preview", TargetURL: w.appURL(j)}); err != nil {
		w.log.Warn("set pending commit status", "git_job", j.ID, "err", err)
	}
	d, err := w.svc.StartGitDeploy(ctx, service.GitDeployRequest{Job: j.ID, Owner: owner, Team: j.Team, App: j.App, Env: base,
		Manifest: string(raw), Path: repo.Path, Source: berth.GitSource{Forge: j.Forge, Repo: repo.Repo, SHA: ev.SHA, Ref: "refs/heads/" + ev.Head},
		Args:    manifest.GitArgs(ev.SHA, "refs/heads/"+ev.Head, ev.PR),
		Preview: &service.PreviewRequest{PR: ev.PR, URL: pullURL(repo, ev.PR), Branch: ev.Head, Fork: ev.Fork}})
	var inv *berth.InvalidError
	var frozen *berth.FrozenError
	switch {
	case errors.As(err, &inv):
		return w.refusePreview(ctx, j, repo, f, base, inv.Reason)
	case errors.As(err, &frozen):
		return w.refusePreview(ctx, j, repo, f, base, frozen.Error())
	case errors.Is(err, berth.ErrLeaseLost):
		return outcome{}
	case err != nil:
		return retry("queue the preview's deploy: %v", err)
	}
	// The comment says it is on its way; a forge that does not take it now gets the
	// final one when the deploy ends.
	pv, err := w.st.Preview(ctx, j.Team, j.App, base, ev.PR)
	if now, derr := w.st.Deploy(ctx, d.ID); err == nil && derr == nil && !now.State.Final() {
		// Not once it ended: the report's comment may be written already.
		w.comment(ctx, f, repo, pv, w.previewBody(ctx, pv, &d, fmt.Sprintf("deploying %s (deploy %s)", short(ev.SHA), w.deployLink(d.ID))))
	}
	return outcome{}
}

// refusePreview fails a preview job whose manifest Berth refuses, saying why on the
// commit and, for a pull request's readers, in its comment.
func (w *Worker) refusePreview(ctx context.Context, j berth.GitJob, repo berth.AppRepo, f Forge, base, why string) outcome {
	envName := berth.PreviewEnvName(base, j.Team, j.App, j.Event.PR)
	o := w.refuse(ctx, f, repo, j.Event, envName, why)
	pv, err := w.st.Preview(ctx, j.Team, j.App, base, j.Event.PR)
	if err != nil {
		pv = berth.Preview{Team: j.Team, App: j.App, Base: base, PR: j.Event.PR, Env: envName, SHA: j.Event.SHA, Fork: j.Event.Fork}
	}
	first, _, _ := strings.Cut(why, "\n")
	w.comment(ctx, f, repo, pv, w.previewBody(ctx, pv, nil, fmt.Sprintf("not deployed: Berth refused %s at %s: %s", repo.Path, short(j.Event.SHA), first)))
	return o
}

// reportPreview rewrites the pull request's comment when the preview's deploy ended.
func (w *Worker) reportPreview(ctx context.Context, j berth.GitJob, d berth.Deploy, repo berth.AppRepo, f Forge, verdict string) outcome {
	pv, err := w.st.PreviewOfEnv(ctx, d.Env)
	if errors.Is(err, berth.ErrNotFound) {
		return done("deploy %d %s", d.ID, verdict)
	}
	if err != nil {
		return retry("%v", err)
	}
	if pv.State != berth.PreviewActive || pv.SHA != j.Event.SHA {
		// Closed since, or pushed to again: that job's comment is the one to show.
		return done("deploy %d %s; the preview has moved on (%s at %s)", d.ID, verdict, pv.State, short(pv.SHA))
	}
	line := fmt.Sprintf("%s at %s (deploy %s)", verdict, short(d.Args["git.sha"]), w.deployLink(d.ID))
	if !w.comment(ctx, f, repo, pv, w.previewBody(ctx, pv, &d, line)) {
		return retry("write the pull request's comment")
	}
	return done("preview deploy %d %s", d.ID, verdict)
}

// closePreviews tears down the previews of a closed (or merged) pull request.
func (w *Worker) closePreviews(ctx context.Context, j berth.GitJob, repo berth.AppRepo, f Forge) outcome {
	ev := j.Event
	ps, err := w.st.Previews(ctx, store.PreviewFilter{Team: j.Team, App: j.App,
		States: []berth.PreviewState{berth.PreviewActive, berth.PreviewClosing}, Limit: 1000})
	if err != nil {
		return retry("%v", err)
	}
	reason := "the pull request was closed"
	if ev.Merged {
		reason = "the pull request was merged"
	}
	var closed []string
	for _, pv := range ps {
		if pv.PR != ev.PR {
			continue
		}
		if o := w.teardown(ctx, "webhook:"+string(j.Forge), pv, reason, time.Time{}, repo, f); o != nil {
			return *o
		}
		closed = append(closed, pv.Env)
	}
	if len(closed) == 0 {
		return done("pull request #%d %s: no active preview", ev.PR, ev.Action)
	}
	return done("pull request #%d closed: removed the preview %s", ev.PR, strings.Join(closed, ", "))
}

// teardown closes one preview and says so in its comment; nil when it is closed.
func (w *Worker) teardown(ctx context.Context, actor string, pv berth.Preview, reason string, notAfter time.Time,
	repo berth.AppRepo, f Forge) *outcome {
	out, err := w.svc.ClosePreview(ctx, actor, pv.Team, pv.App, pv.Base, pv.PR, reason, notAfter)
	if err != nil {
		o := retry("close the preview %s: %v", pv.Env, err)
		return &o
	}
	if f != nil {
		line := "closed: " + reason + "; the preview was removed"
		if len(out.Dropped) > 0 {
			line += " (dropped " + strings.Join(out.Dropped, ", ") + ")"
		}
		w.comment(ctx, f, repo, out.Preview, w.previewBody(ctx, out.Preview, nil, line))
	}
	return nil
}

// expireLoop closes, every minute, the active previews not deployed for PreviewTTL.
func (w *Worker) expireLoop(ctx context.Context) {
	t := time.NewTimer(w.o.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		w.expire(ctx)
		t.Reset(time.Minute)
	}
}

// expire closes the previews not deployed for PreviewTTL; it returns how many it closed.
func (w *Worker) expire(ctx context.Context) int {
	cutoff := time.Now().Add(-w.o.PreviewTTL)
	stale, err := w.st.Previews(ctx, store.PreviewFilter{States: []berth.PreviewState{berth.PreviewActive, berth.PreviewClosing},
		UpdatedBefore: cutoff, Limit: 100})
	if err != nil {
		if ctx.Err() == nil {
			w.log.Error("list stale previews", "err", err)
		}
		return 0
	}
	n := 0
	for _, pv := range stale {
		reason := fmt.Sprintf("expired: no push for %s", w.o.PreviewTTL)
		repo, f, o := w.connectionOf(ctx, pv.Team, pv.App, "", "")
		if o != nil || pullURL(repo, pv.PR) != pv.URL {
			f = nil // still closed; no comment to write, or none on the repository connected since
		}
		if o := w.teardown(ctx, previewActor, pv, reason, cutoff, repo, f); o != nil {
			w.log.Warn("expire preview", "env", pv.Env, "err", o.reason) // pushed to since, or deploying: not stale
			continue
		}
		w.log.Info("preview expired", "env", pv.Env, "team", pv.Team, "app", pv.App, "pr", pv.PR)
		n++
	}
	return n
}

// comment writes body as the preview's comment on its pull request and records its id;
// it reports whether the forge took it.
func (w *Worker) comment(ctx context.Context, f Forge, repo berth.AppRepo, pv berth.Preview, body string) bool {
	id, err := f.UpsertComment(ctx, repo.Repo, pv.PR, pv.CommentID, body)
	if err != nil {
		w.log.Warn("write the pull request's comment", "repo", repo.Repo, "pr", pv.PR, "err", err)
		return false
	}
	if id != pv.CommentID && pv.ID != 0 {
		if err := w.st.Tx(ctx, func(tx *store.Tx) error { return tx.SetPreviewComment(ctx, pv.ID, id) }); err != nil {
			w.log.Warn("record the pull request's comment", "preview", pv.ID, "err", err)
		}
	}
	return true
}

// previewBody is the comment Berth keeps on a pull request: the preview's state line, its
// URLs, and where its service resources found the apps they call (d's, when it ran).
func (w *Worker) previewBody(ctx context.Context, pv berth.Preview, d *berth.Deploy, state string) string {
	var b strings.Builder
	// The marker lets the forge client find this comment again should its id be lost.
	fmt.Fprintf(&b, "<!-- berth:preview %s/%s %s -->\n", pv.Team, pv.App, pv.Base)
	fmt.Fprintf(&b, "**Berth preview** of `%s/%s` in `%s`: %s\n", pv.Team, pv.App, pv.Env, state)
	if pv.State == berth.PreviewActive && d != nil && d.State == berth.DeploySucceeded {
		if urls := w.previewURLs(ctx, *d); len(urls) > 0 {
			b.WriteString("\n")
			for _, u := range urls {
				fmt.Fprintf(&b, "- %s\n", u)
			}
		}
	}
	if pv.State == berth.PreviewActive {
		if deps := w.previewDeps(ctx, pv); len(deps) > 0 {
			b.WriteString("\nDependencies:\n")
			for _, l := range deps {
				fmt.Fprintf(&b, "- %s\n", l)
			}
		}
	}
	if pv.Fork {
		b.WriteString("\nThis pull request comes from a fork: its preview runs without secrets.\n")
	}
	if w.o.PublicURL != "" {
		fmt.Fprintf(&b, "\n[History of %s](%s/apps/%s/%s)\n", pv.Env, w.o.PublicURL, pv.Team, pv.App)
	}
	return b.String()
}

// previewURLs returns the URLs the deploy's Ingress objects answer on.
func (w *Worker) previewURLs(ctx context.Context, d berth.Deploy) []string {
	if d.ObjectsDigest == "" {
		return nil
	}
	content, err := w.st.Objects(ctx, d.ObjectsDigest)
	if err != nil {
		return nil
	}
	objs, err := manifest.DecodeStored(content)
	if err != nil {
		return nil
	}
	var urls []string
	for _, o := range objs {
		if o.GetKind() != "Ingress" {
			continue
		}
		rules, _, _ := unstructured.NestedSlice(o.Object, "spec", "rules")
		for _, r := range rules {
			m, _ := r.(map[string]any)
			host, _ := m["host"].(string)
			if host == "" {
				continue
			}
			u := "http://" + host
			if w.o.IngressPort != 0 && w.o.IngressPort != 80 {
				u += fmt.Sprintf(":%d", w.o.IngressPort)
			}
			urls = append(urls, u+"/")
		}
	}
	slices.Sort(urls)
	return slices.Compact(urls)
}

// previewDeps says where the preview's service resources found the apps they call.
func (w *Worker) previewDeps(ctx context.Context, pv berth.Preview) []string {
	rs, err := w.st.Resources(ctx, berth.ResourceFilter{Team: pv.Team, App: pv.App, Env: pv.Env})
	if err != nil {
		return nil
	}
	var out []string
	for _, r := range rs {
		if r.Type != "service" || r.Status != berth.ResourceActive {
			continue
		}
		where := r.Outputs["env"]
		switch e, err := w.st.Environment(ctx, where); {
		case err == nil && e.PreviewBase != "":
			if p, err := w.st.PreviewOfEnv(ctx, e.Name); err == nil {
				where = fmt.Sprintf("the preview of pull request #%d of `%s` (branch `%s`, `%s`)", p.PR, p.App, p.Branch, e.Name)
			}
		case where != "":
			where = fmt.Sprintf("`%s` in `%s`: no preview of it for this branch", r.Outputs["name"], where)
		}
		out = append(out, fmt.Sprintf("`%s` → %s (`%s`)", r.Name, where, r.Outputs["host"]))
	}
	return out
}

func (w *Worker) deployLink(id int64) string {
	if w.o.PublicURL == "" {
		return fmt.Sprint(id)
	}
	return fmt.Sprintf("[%d](%s/deploys/%d)", id, w.o.PublicURL, id)
}

// pullURL is the page of the connection's pull request pr.
func pullURL(repo berth.AppRepo, pr int) string {
	u := strings.TrimSuffix(strings.TrimSuffix(repo.URL, "/"), ".git")
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return ""
	}
	if repo.Forge == berth.ForgeGitHub {
		return fmt.Sprintf("%s/pull/%d", u, pr)
	}
	return fmt.Sprintf("%s/pulls/%d", u, pr)
}
