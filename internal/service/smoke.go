package service

import (
	"context"
	"errors"

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

// RunSmoke runs the smoke tests of an app's current revision in env against what runs
// there now, without a deploy (deployers: command checks start Jobs in the cluster). The
// run is audited with its outcome.
func (s *Service) RunSmoke(ctx context.Context, p *authz.Principal, team, app, env string) (berth.SmokeRun, error) {
	c := change{action: "app.smoke", target: berth.AppTarget(team, app, env), team: team, app: app, details: map[string]any{"env": env}}
	if err := authz.Check(p, authz.AppDeploy, authz.Resource{Team: team}); err != nil {
		return berth.SmokeRun{}, s.mutate(ctx, p, &c, func() error { return err }, nil)
	}
	a, err := s.st.App(ctx, team, app)
	if err != nil {
		return berth.SmokeRun{}, storeErr(err)
	}
	if _, err := s.st.Environment(ctx, env); err != nil {
		return berth.SmokeRun{}, storeErr(err)
	}
	cur, err := s.st.LastSucceeded(ctx, a.ID, env, 0)
	if errors.Is(err, berth.ErrNotFound) {
		return berth.SmokeRun{}, refused("%s/%s has no successful deploy in %s: nothing runs there to test", team, app, env)
	}
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
