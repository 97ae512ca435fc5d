package service

import (
	"context"
	"slices"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
)

// ListAppsNamed is ListApps keeping only the apps called name ("" keeps them all): how a
// client learns the team of an app it knows by name without being sent every app.
func (s *Service) ListAppsNamed(ctx context.Context, p *authz.Principal, team, name string) ([]berth.App, error) {
	apps, err := s.ListApps(ctx, p, team)
	if err != nil || name == "" {
		return apps, err
	}
	return slices.DeleteFunc(apps, func(a berth.App) bool { return a.Name != name }), nil
}
