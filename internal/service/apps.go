package service

import (
	"context"
	"errors"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/manifest"
	"github.com/berth-dev/berth/internal/store"
)

// ListApps returns team's apps, or, with team "", the apps of every team the caller can see.
func (s *Service) ListApps(ctx context.Context, p *authz.Principal, team string) ([]berth.App, error) {
	if team != "" {
		if err := authz.Check(p, authz.AppRead, authz.Resource{Team: team}); err != nil {
			return nil, err
		}
		if _, err := s.st.Team(ctx, team); err != nil {
			return nil, storeErr(err)
		}
	}
	apps, err := s.st.Apps(ctx, team)
	if err != nil {
		return nil, storeErr(err)
	}
	var visible []berth.App
	for _, a := range apps {
		if authz.Check(p, authz.AppRead, authz.Resource{Team: a.Team}) == nil {
			visible = append(visible, a)
		}
	}
	return visible, nil
}

// GetApp returns one app.
func (s *Service) GetApp(ctx context.Context, p *authz.Principal, team, name string) (berth.App, error) {
	if err := authz.Check(p, authz.AppRead, authz.Resource{Team: team}); err != nil {
		return berth.App{}, err
	}
	a, err := s.st.App(ctx, team, name)
	return a, storeErr(err)
}

// CreateApp registers an app in team, with manifest as its first revision when given.
func (s *Service) CreateApp(ctx context.Context, p *authz.Principal, team, name, manifestText string) (berth.App, error) {
	if manifestText != "" {
		if err := checkManifest(team, name, manifestText); err != nil {
			return berth.App{}, err
		}
	}
	var a berth.App
	c := change{action: "app.create", target: berth.AppTarget(team, name, ""), team: team, app: name}
	err := s.mutate(ctx, p, &c, allowed(p, authz.AppCreate, authz.Resource{Team: team}), func(tx *store.Tx) (err error) {
		if a, err = tx.CreateApp(ctx, team, name, p.Name); err != nil {
			return err
		}
		if manifestText != "" {
			if _, err := tx.AddRevision(ctx, team, name, manifestText, p.Name); err != nil {
				return err
			}
			a.LatestRevision = 1
		}
		return nil
	})
	return a, err
}

// DeleteApp removes an app and its revisions from Berth (team admins).
func (s *Service) DeleteApp(ctx context.Context, p *authz.Principal, team, name string) error {
	c := change{action: "app.delete", target: berth.AppTarget(team, name, ""), team: team, app: name}
	return s.mutate(ctx, p, &c, allowed(p, authz.AppDelete, authz.Resource{Team: team}),
		func(tx *store.Tx) error { return tx.DeleteApp(ctx, team, name) })
}

// AddRevision stores a new manifest revision of an app (deployers).
func (s *Service) AddRevision(ctx context.Context, p *authz.Principal, team, app, manifestText string) (berth.Revision, error) {
	if err := checkManifest(team, app, manifestText); err != nil {
		return berth.Revision{}, err
	}
	var r berth.Revision
	c := change{action: "revision.create", target: berth.AppTarget(team, app, ""), team: team, app: app}
	err := s.mutate(ctx, p, &c, allowed(p, authz.AppCreate, authz.Resource{Team: team}), func(tx *store.Tx) (err error) {
		r, err = tx.AddRevision(ctx, team, app, manifestText, p.Name)
		if err == nil {
			c.details = map[string]any{"revision": r.Number, "digest": r.Digest}
		}
		return err
	})
	return r, err
}

// ListRevisions returns an app's manifest revisions.
func (s *Service) ListRevisions(ctx context.Context, p *authz.Principal, team, app string) ([]berth.Revision, error) {
	if err := authz.Check(p, authz.AppRead, authz.Resource{Team: team}); err != nil {
		return nil, err
	}
	rs, err := s.st.Revisions(ctx, team, app)
	return rs, storeErr(err)
}

// checkManifest parses a manifest sent for team's app: it must be valid and name that app.
func checkManifest(team, app, text string) error {
	m, err := manifest.Parse("berth.yaml", []byte(text))
	if err != nil {
		var errs *manifest.Errors
		if errors.As(err, &errs) && len(errs.List) > 0 {
			return invalid("manifest", "%s", errs.Error())
		}
		return invalid("manifest", "%v", err)
	}
	if m.Metadata.Name != app {
		return invalid("manifest", "metadata.name is %q, but the app is %q", m.Metadata.Name, app)
	}
	if m.Metadata.Team != "" && m.Metadata.Team != team {
		return invalid("manifest", "metadata.team is %q, but the app belongs to team %q", m.Metadata.Team, team)
	}
	return nil
}
