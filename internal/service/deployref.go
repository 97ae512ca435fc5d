package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// DeployRefRequest asks to deploy an app at a ref of its connected repository to an
// environment.
type DeployRefRequest struct {
	Team, App, Env string
	// Ref is a branch, a tag or a commit sha (full, or at least 7 hex digits) of the app's
	// repository; refs/heads/X and refs/tags/X name only a branch or only a tag.
	Ref string
	// Options are the deploy's; Emergency says why it goes ahead inside a freeze window.
	Options berth.DeployOptions
}

// DeployRef asks for team's app at req.Ref to be deployed to req.Env, as p: whoever may
// deploy the app there (checkDeploy: deployers of the team; admins and allowed deployers
// for a protected environment). It queues a git job (berth.GitDeployRef) in one transaction
// with its audit event (deploy.request; a refusal is audited too) and returns it. The job's
// worker resolves the ref with the forge, reads the manifest at that commit and deploys it
// to req.Env as p, whatever the manifest's git rules say: p chose the environment, and p's
// right to deploy there is checked here. A ref the forge does not know fails the job.
func (s *Service) DeployRef(ctx context.Context, p *authz.Principal, req DeployRefRequest) (berth.GitJob, error) {
	switch {
	case req.Team == "":
		return berth.GitJob{}, invalid("team", "required")
	case req.App == "":
		return berth.GitJob{}, invalid("app", "required")
	case req.Env == "":
		return berth.GitJob{}, invalid("env", "required: the environment to deploy to")
	case req.Options.Refresh:
		return berth.GitJob{}, invalid("refresh", "a deploy of a ref renders the manifest at that commit: there is nothing to refresh")
	}
	if err := berth.CheckRef(req.Ref); err != nil {
		return berth.GitJob{}, err
	}
	env, err := s.st.Environment(ctx, req.Env)
	if err != nil {
		return berth.GitJob{}, storeErr(err)
	}
	c := change{action: "deploy.request", target: berth.AppTarget(req.Team, req.App, req.Env), team: req.Team, app: req.App,
		details: map[string]any{"env": req.Env, "ref": req.Ref}}
	if req.Options.Emergency != "" {
		c.details["emergency"] = req.Options.Emergency
	}
	var j berth.GitJob
	err = s.mutate(ctx, p, &c, func() error { return checkDeploy(p, req.Team, env) }, func(tx *store.Tx) error {
		repo, err := tx.AppRepo(ctx, req.Team, req.App)
		if errors.Is(err, berth.ErrNotFound) {
			if _, err := tx.App(ctx, req.Team, req.App); err != nil {
				return err
			}
			return invalid("app", "%s/%s is connected to no repository, so Berth cannot read it at %s: connect it first "+
				"(berth apps connect %s --repo URL --token-file FILE --team %s)", req.Team, req.App, req.Ref, req.App, req.Team)
		}
		if err != nil {
			return err
		}
		// Frozen now: say so at once rather than fail the job in a moment. The deploy is
		// checked again when it is queued.
		if _, err := tx.CheckFreeze(ctx, berth.Deploy{Team: req.Team, App: req.App, Env: req.Env, Kind: berth.KindDeploy,
			Options: req.Options}); err != nil {
			return err
		}
		delivery, err := requestID()
		if err != nil {
			return err
		}
		j, err = tx.EnqueueGitJob(ctx, req.Team, req.App, repo.Forge, delivery, berth.GitEvent{Kind: berth.GitDeployRef,
			Repo: repo.Repo, Ref: req.Ref, Env: req.Env, RequestedBy: p.Name, Emergency: req.Options.Emergency})
		if err != nil {
			return err
		}
		c.details["repo"], c.details["job"] = repo.Repo, j.ID
		return nil
	})
	if err != nil {
		return berth.GitJob{}, err
	}
	s.notifyGit()
	return j, nil
}

// requestID is the delivery id of a user's request's git job: no forge delivered it, so no
// delivery is taken (hook_deliveries is for replays of forges' deliveries); the id only
// tells the job apart in listings.
func requestID() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "request-" + hex.EncodeToString(b), nil
}
