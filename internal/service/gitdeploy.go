package service

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/store"
)

// GitDeployRequest is the deploy a git job asks for: a manifest read from a commit of the
// app's repository, deployed to the environment the manifest's git rules name, or to the one
// a user asked for (RequestedBy).
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
	// Preview, when set, makes this a pull request's preview: Env is then the preview
	// environment it is made from, and the deploy goes to the environment made for it.
	Preview *PreviewRequest
	// RequestedBy, when set, is the Berth user who asked for this deploy (DeployRef), whose
	// right to deploy to Env was checked then: the deploy and its audit event are theirs,
	// not the webhook's, and a protected Env is no refusal.
	RequestedBy string
	// Options are the deploy's (a user's request's emergency reason).
	Options berth.DeployOptions
}

// PreviewRequest is the pull request a preview deploy is for.
type PreviewRequest struct {
	PR int
	// URL is the pull request's page; Branch its head branch.
	URL, Branch string
	// Fork: the head is in another repository, so the preview gets no secrets.
	Fork bool
}

// StartGitDeploy stores the manifest as a revision whose source is the commit and queues
// its deploy, in the transaction that moves the job on to following it, with the deploy's
// audit event: a job that dies before it queued nothing, and one that gets here queues one
// deploy. The manifest is checked as a user's is (name, team, a render for the
// environment); a protected environment is not deployed to by a push (it is by a user's
// request, RequestedBy, whose right DeployRef checked). A preview's
// environment is made (or brought up to date) from the preview environment in the same
// transaction, and a fork's manifest that reads secrets is refused. Problems with the
// manifest or the rules are *berth.InvalidError: the job fails with them.
func (s *Service) StartGitDeploy(ctx context.Context, req GitDeployRequest) (berth.Deploy, error) {
	p := hookActor(req.Source.Forge)
	if req.RequestedBy != "" {
		if req.Preview != nil {
			return berth.Deploy{}, invalid("git", "a pull request's preview is deployed by its pushes, not at a user's request")
		}
		p = &authz.Principal{Name: req.RequestedBy}
	}
	if _, err := s.st.Environment(ctx, req.Env); errors.Is(err, berth.ErrNotFound) {
		if req.RequestedBy != "" {
			return berth.Deploy{}, invalid("env", "environment %s, which %s asked for, no longer exists", req.Env, req.RequestedBy)
		}
		return berth.Deploy{}, invalid("git", "the git rules of %s name environment %s, which does not exist", req.Path, req.Env)
	} else if err != nil {
		return berth.Deploy{}, storeErr(err)
	}
	if err := checkManifest(req.Team, req.App, req.Manifest); err != nil {
		return berth.Deploy{}, err
	}
	if req.Preview != nil && req.Preview.Fork {
		if err := noSecrets(req.Path, req.Manifest, req.Env, req.Args); err != nil {
			return berth.Deploy{}, err
		}
	}
	name, err := manifestName(req.Path)
	if err != nil {
		return berth.Deploy{}, err
	}
	c := change{action: "deploy.create", target: berth.AppTarget(req.Team, req.App, req.Env), team: req.Team, app: req.App,
		details: map[string]any{"env": req.Env, "args": argNames(req.Args), "forge": string(req.Source.Forge),
			"repo": req.Source.Repo, "sha": req.Source.SHA, "ref": req.Source.Ref, "job": req.Job}}
	if req.Options.Emergency != "" {
		c.details["emergency"] = req.Options.Emergency
	}
	var d berth.Deploy
	err = s.mutate(ctx, p, &c, func() error { return nil }, func(tx *store.Tx) error {
		env, err := tx.Environment(ctx, req.Env)
		if err != nil {
			return err
		}
		if env.Protected && req.RequestedBy == "" {
			return invalid("git", "environment %s is protected: a push does not deploy to it; promote to it from another environment", env.Name)
		}
		if req.Preview != nil {
			pv, penv, err := tx.OpenPreview(ctx, berth.Preview{Team: req.Team, App: req.App, PR: req.Preview.PR, URL: req.Preview.URL,
				Branch: req.Preview.Branch, SHA: req.Source.SHA, Fork: req.Preview.Fork}, env)
			if err != nil {
				return err
			}
			req.Env, c.target = penv.Name, berth.AppTarget(req.Team, req.App, penv.Name)
			c.details["env"], c.details["preview"], c.details["pr"] = penv.Name, pv.ID, pv.PR
		}
		r, err := tx.AddGitRevision(ctx, req.Team, req.App, req.Manifest, p.Name, req.Source)
		if err != nil {
			return err
		}
		if err := checkRender(ctx, tx, req.Team, req.App, req.Env, name, req.Manifest, req.Args); err != nil {
			return err
		}
		d, err = tx.EnqueueDeploy(ctx, berth.NewDeploy{Team: req.Team, App: req.App, Env: req.Env, Revision: r.Number,
			Kind: berth.KindDeploy, Args: maps.Clone(req.Args), Options: req.Options, CreatedBy: p.Name})
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

// noSecrets refuses a manifest that reads secrets in env: a pull request from a fork runs
// code nobody with access to the repository reviewed, so its preview gets none.
func noSecrets(path, text, env string, args map[string]string) error {
	u, err := deploy.SettingsUsage(text, env, args)
	if err != nil {
		return invalid("git", "this pull request comes from a fork, whose preview gets no secrets, and which settings %s reads "+
			"cannot be told: %v", path, err)
	}
	if u.All[berth.SettingSecret] {
		return invalid("git", "this pull request comes from a fork, whose preview gets no secrets, and %s reads every secret (envFrom): "+
			"a preview of a fork's pull request runs without them", path)
	}
	if keys := slices.Sorted(maps.Keys(u.Keys[berth.SettingSecret])); len(keys) > 0 {
		return invalid("git", "this pull request comes from a fork, whose preview gets no secrets, and %s reads ${secrets.%s}: "+
			"a preview of a fork's pull request runs without them", path, strings.Join(keys, "}, ${secrets."))
	}
	return nil
}
