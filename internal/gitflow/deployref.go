package gitflow

import (
	"context"
	"errors"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/manifest"
	"github.com/berth-dev/berth/internal/service"
)

// deployRef does a user's deploy of a ref (service.DeployRef; `deploy APP@REF to ENV` in
// chat): the forge resolves the ref to its commit, and the manifest at that commit is
// deployed to the environment the user asked for, as that user. No git rule is read: the
// user chose the environment, and their right to deploy there was checked when they asked.
// The commit gets its statuses as a push's does.
func (w *Worker) deployRef(ctx context.Context, j berth.GitJob, owner string, repo berth.AppRepo, f Forge) outcome {
	ev := j.Event
	sha, ref, err := f.ResolveRef(ctx, repo.Repo, ev.Ref)
	switch {
	case errors.Is(err, berth.ErrNotFound):
		return failed("%s is no branch, tag or commit of %s: nothing deployed", ev.Ref, repo.Repo)
	case errors.Is(err, berth.ErrInvalid):
		return failed("%v: nothing deployed", err)
	case err != nil:
		return retry("resolve %s in %s: %v", ev.Ref, repo.Repo, err)
	}
	ev.SHA = sha
	raw, refusal, o := readManifest(ctx, f, repo, sha)
	switch {
	case o != nil:
		return *o
	case refusal != "":
		return w.refuse(ctx, f, repo, ev, ev.Env, refusal)
	}
	// Pending before the deploy is queued, as for a push.
	if err := f.SetStatus(ctx, repo.Repo, sha, Status{State: StatusPending, Context: "berth/" + ev.Env,
		Description: "deploying to " + ev.Env, TargetURL: w.appURL(j)}); err != nil {
		w.log.Warn("set pending commit status", "git_job", j.ID, "err", err)
	}
	_, err = w.svc.StartGitDeploy(ctx, service.GitDeployRequest{Job: j.ID, Owner: owner, Team: j.Team, App: j.App, Env: ev.Env,
		Manifest: string(raw), Path: repo.Path, Source: berth.GitSource{Forge: j.Forge, Repo: repo.Repo, SHA: sha, Ref: ref},
		Args: manifest.GitArgs(sha, ref, 0), RequestedBy: ev.RequestedBy, Options: berth.DeployOptions{Emergency: ev.Emergency}})
	return w.started(ctx, f, repo, ev, ev.Env, err)
}
