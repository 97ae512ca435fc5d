package service

import (
	"context"
	"time"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/store"
)

// checkDeploy is the one authorization decision for deploying (and rolling back,
// redeploying) a team's app into env.
func checkDeploy(p *authz.Principal, team string, env store.Environment) error {
	return authz.Check(p, authz.AppDeploy, authz.Resource{Team: team, Protected: env.Protected,
		AllowedDeployer: p != nil && env.AllowsDeployer(p.Name)})
}

// MayDeploy reports (nil, or a *authz.Denied saying why not) whether p may deploy or roll
// back team's apps in the environment envName: what entry points ask before offering the
// action. The use cases ask the same question again when called.
func (s *Service) MayDeploy(ctx context.Context, p *authz.Principal, team, envName string) error {
	env, err := s.st.Environment(ctx, envName)
	if err != nil {
		return storeErr(err)
	}
	return checkDeploy(p, team, env)
}

// AppSummary is one app with, per environment it was deployed to, its current (last
// successful) and latest deploy.
type AppSummary struct {
	App  store.App
	Envs []EnvSummary
}

// EnvSummary is an app in one environment, from the store only (no cluster reads).
type EnvSummary struct {
	Env string
	// Current is the last successful deploy (nil before the first); Latest the newest.
	Current, Latest *store.Deploy
}

// Overview lists the apps of team (or, with team "", of every team p can see), each with
// its environments' current revision and last deploy: the dashboard's front page.
func (s *Service) Overview(ctx context.Context, p *authz.Principal, team string) ([]AppSummary, error) {
	apps, err := s.ListApps(ctx, p, team)
	if err != nil {
		return nil, err
	}
	latest, err := s.st.LatestDeploys(ctx, team, false)
	if err != nil {
		return nil, storeErr(err)
	}
	good, err := s.st.LatestDeploys(ctx, team, true)
	if err != nil {
		return nil, storeErr(err)
	}
	type key struct {
		app int64
		env string
	}
	current := make(map[key]*store.Deploy, len(good))
	for i := range good {
		current[key{good[i].AppID, good[i].Env}] = &good[i]
	}
	envs := make(map[int64][]EnvSummary)
	for i := range latest {
		d := &latest[i]
		envs[d.AppID] = append(envs[d.AppID], EnvSummary{Env: d.Env, Latest: d, Current: current[key{d.AppID, d.Env}]})
	}
	out := make([]AppSummary, len(apps))
	for i, a := range apps {
		out[i] = AppSummary{App: a, Envs: envs[a.ID]}
	}
	return out, nil
}

// FollowDeploy calls fn with each of a deploy's progress events, as they are written, until
// the deploy reaches a final state or ctx ends, and returns the deploy as last read. It
// polls the store, so it follows a deploy whichever server runs it.
func (s *Service) FollowDeploy(ctx context.Context, p *authz.Principal, id int64, fn func(store.DeployEvent) error) (store.Deploy, error) {
	var after int64
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		d, evs, err := s.DeployEvents(ctx, p, id, after)
		if err != nil {
			return d, err
		}
		for _, ev := range evs {
			if err := fn(ev); err != nil {
				return d, err
			}
			after = ev.ID
		}
		// Events written in the same transaction as the final state are already read.
		if d.State.Final() {
			return d, nil
		}
		select {
		case <-ctx.Done():
			return d, ctx.Err()
		case <-tick.C:
		}
	}
}
