package service

import (
	"context"
	"errors"
	"maps"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// GitDeployRequest is the deploy a git job asks for: a manifest read from a commit of the
// app's repository, deployed to the environment the manifest's git rules name.
type GitDeployRequest struct {
	// Job is the git job, held by the worker Owner.
	Job   int64
	Owner string
	Team  string
	App   string
	Env   string
	// Manifest is the file's content at the commit; Path its path in the repository (for
	// the positions of errors).
	Manifest, Path string
	Source         berth.GitSource
	// Args are the deploy's args: the git.* values of the commit (manifest.GitArgs).
	Args map[string]string
}

// StartGitDeploy stores the manifest as a revision whose source is the commit and queues
// its deploy, in the transaction that moves the job on to following it, with the deploy's
// audit event: a job that dies before it queued nothing, and one that gets here queues one
// deploy. The manifest is checked as a user's is (name, team, a render for the
// environment); a protected environment is not deployed to by a push. Problems with the
// manifest or the rules are *berth.InvalidError: the job fails with them.
func (s *Service) StartGitDeploy(ctx context.Context, req GitDeployRequest) (berth.Deploy, error) {
	p := hookActor(req.Source.Forge)
	if _, err := s.st.Environment(ctx, req.Env); errors.Is(err, berth.ErrNotFound) {
		return berth.Deploy{}, invalid("git", "the git rules of %s name environment %s, which does not exist", req.Path, req.Env)
	} else if err != nil {
		return berth.Deploy{}, storeErr(err)
	}
	if err := checkManifest(req.Team, req.App, req.Manifest); err != nil {
		return berth.Deploy{}, err
	}
	name, err := manifestName(req.Path)
	if err != nil {
		return berth.Deploy{}, err
	}
	c := change{action: "deploy.create", target: berth.AppTarget(req.Team, req.App, req.Env), team: req.Team, app: req.App,
		details: map[string]any{"env": req.Env, "args": argNames(req.Args), "forge": string(req.Source.Forge),
			"repo": req.Source.Repo, "sha": req.Source.SHA, "ref": req.Source.Ref, "job": req.Job}}
	var d berth.Deploy
	err = s.mutate(ctx, p, &c, func() error { return nil }, func(tx *store.Tx) error {
		env, err := tx.Environment(ctx, req.Env)
		if err != nil {
			return err
		}
		if env.Protected {
			return invalid("git", "environment %s is protected: a push does not deploy to it; promote to it from another environment", env.Name)
		}
		r, err := tx.AddGitRevision(ctx, req.Team, req.App, req.Manifest, p.Name, req.Source)
		if err != nil {
			return err
		}
		if err := checkRender(ctx, tx, req.Team, req.App, req.Env, name, req.Manifest, req.Args); err != nil {
			return err
		}
		d, err = tx.EnqueueDeploy(ctx, berth.NewDeploy{Team: req.Team, App: req.App, Env: req.Env, Revision: r.Number,
			Kind: berth.KindDeploy, Args: maps.Clone(req.Args), CreatedBy: p.Name})
		if err != nil {
			return err
		}
		c.details["revision"], c.details["deploy"] = r.Number, d.ID
		return tx.GitJobDeploying(ctx, req.Job, req.Owner, d.ID)
	})
	if err != nil {
		return berth.Deploy{}, err
	}
	s.notifyWorkers()
	return d, nil
}
