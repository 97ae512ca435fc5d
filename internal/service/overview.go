package service

import (
	"context"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
)

// AppSummary is one app with, per environment it was deployed to, its current (last
// successful) and latest deploy.
type AppSummary struct {
	App  berth.App
	Envs []EnvSummary
}

// EnvSummary is an app in one environment, from the store only (no cluster reads).
type EnvSummary struct {
	Env string
	// Current is the last successful deploy (nil before the first); Latest the newest.
	Current, Latest *berth.Deploy
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
	current := make(map[key]*berth.Deploy, len(good))
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
