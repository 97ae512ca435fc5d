package service

import (
	"context"
	"errors"
	"slices"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/store"
)

// Smoker runs an app's smoke tests against what a deploy left running; internal/deploy's
// Engine is one.
type Smoker interface {
	Smoke(ctx context.Context, current berth.Deploy) (berth.SmokeRun, error)
}

// SetSmoker connects what RunSmoke runs smoke tests with.
func (s *Service) SetSmoker(sm Smoker) { s.smoker = sm }

// RunSmoke runs the smoke tests of the revision that runs in env now (its newest finished
// deploy's) against it, without a deploy (deployers: command checks start Jobs in the cluster). The
// run is audited with its outcome.
func (s *Service) RunSmoke(ctx context.Context, p *authz.Principal, team, app, env string) (berth.SmokeRun, error) {
	c := change{action: "app.smoke", target: berth.AppTarget(team, app, env), team: team, app: app, details: map[string]any{"env": env}}
	if err := authz.Check(p, authz.AppDeploy, authz.Resource{Team: team}); err != nil {
		return berth.SmokeRun{}, s.mutate(ctx, p, &c, func() error { return err }, nil)
	}
	if _, err := s.st.App(ctx, team, app); err != nil {
		return berth.SmokeRun{}, storeErr(err)
	}
	if _, err := s.st.Environment(ctx, env); err != nil {
		return berth.SmokeRun{}, storeErr(err)
	}
	cur, err := s.running(ctx, team, app, env)
	if err != nil {
		return berth.SmokeRun{}, err
	}
	if s.smoker == nil {
		return berth.SmokeRun{}, &unavailable{errors.New("this Berth server does not reach clusters: it cannot run smoke tests")}
	}
	run, err := s.smoker.Smoke(ctx, cur)
	if errors.Is(err, deploy.ErrNoSmokeTests) {
		return berth.SmokeRun{}, refused("%v: add smoke: to berth.yaml (docs/manifest.md) and deploy", err)
	}
	if err != nil {
		return berth.SmokeRun{}, err
	}
	c.details["deploy"], c.details["revision"], c.details["passed"], c.details["checks"] = cur.ID, cur.Revision, run.Passed, len(run.Results)
	if err := s.mutate(ctx, p, &c, func() error { return nil }, func(*store.Tx) error { return nil }); err != nil {
		return berth.SmokeRun{}, err
	}
	return run, nil
}

// running is the deploy whose objects run in env now: the newest finished deploy that
// applied its objects (a failed deploy left without a rollback leaves them running; one that
// failed before applying left what ran before).
func (s *Service) running(ctx context.Context, team, app, env string) (berth.Deploy, error) {
	ds, err := s.st.Deploys(ctx, store.DeployFilter{Team: team, App: app, Env: env,
		States: []berth.DeployState{berth.DeploySucceeded, berth.DeployFailed}, Limit: 50})
	if err != nil {
		return berth.Deploy{}, err
	}
	for _, d := range ds {
		if d.ObjectsDigest == "" {
			continue
		}
		if d.State == berth.DeploySucceeded {
			return d, nil
		}
		// A failed deploy runs only if it got as far as applying its objects.
		evs, err := s.st.DeployEvents(ctx, d.ID, 0)
		if err != nil {
			return berth.Deploy{}, err
		}
		if slices.ContainsFunc(evs, func(e berth.DeployEvent) bool { return e.Phase == "applying" }) {
			return d, nil
		}
	}
	return berth.Deploy{}, refused("%s/%s was never deployed to %s: nothing runs there to test", team, app, env)
}
