package service

import (
	"context"
	"errors"
	"slices"

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

// DeleteApp removes an app from Berth (team admins), and first everything Berth applied for
// it in every environment it was deployed to: its objects, and each namespace Berth created
// that is left empty. keepWorkloads leaves what runs on purpose (the audit event says so).
// A deploy of the app still in progress, or a cluster that cannot be cleaned, refuses the
// delete and says what to do; nothing is deleted from Berth then.
func (s *Service) DeleteApp(ctx context.Context, p *authz.Principal, team, name string, keepWorkloads bool) error {
	c := change{action: "app.delete", target: berth.AppTarget(team, name, ""), team: team, app: name,
		details: map[string]any{"keep_workloads": keepWorkloads}}
	if err := authz.Check(p, authz.AppDelete, authz.Resource{Team: team}); err != nil {
		return s.mutate(ctx, p, &c, func() error { return err }, nil)
	}
	placed, err := s.placements(ctx, team, name)
	if err != nil {
		return err
	}
	var removed []string
	if !keepWorkloads {
		for _, pl := range placed {
			if s.remover == nil {
				return refused("%s/%s runs in %s, and this server does not reach clusters: delete it with --keep-workloads to leave what runs",
					team, name, pl.env.Name)
			}
			objs, err := s.remover.RemoveApp(ctx, pl.env, pl.namespace, map[string]string{
				manifest.LabelManagedBy: "berth", manifest.LabelName: name, manifest.LabelEnv: pl.env.Name})
			if err != nil {
				return refused("remove %s/%s from %s (namespace %s): %v; the app is still in Berth: fix the cluster and try again, or delete with --keep-workloads to leave what runs",
					team, name, pl.env.Name, pl.namespace, err)
			}
			s.log.InfoContext(ctx, "removed app from cluster", "team", team, "app", name, "env", pl.env.Name, "deleted", objs)
			removed = append(removed, pl.env.Name)
		}
		c.details["removed_from"] = removed
	} else {
		var left []string
		for _, pl := range placed {
			left = append(left, pl.env.Name)
		}
		c.details["left_running_in"] = left
	}
	return s.mutate(ctx, p, &c, func() error { return nil }, func(tx *store.Tx) error {
		if err := noDeployInProgress(ctx, tx, team, name); err != nil {
			return err
		}
		return tx.DeleteApp(ctx, team, name)
	})
}

// placement is an environment an app was deployed to, and its namespace there.
type placement struct {
	env       berth.Environment
	namespace string
}

// placements lists the environments, still configured, where team's app was ever deployed
// (any outcome: a failed deploy may have applied objects), refusing while a deploy of it
// is queued or running.
func (s *Service) placements(ctx context.Context, team, app string) ([]placement, error) {
	if _, err := s.st.App(ctx, team, app); err != nil {
		return nil, err
	}
	if err := noDeployInProgress(ctx, s.st, team, app); err != nil {
		return nil, err
	}
	envs, err := s.st.Environments(ctx)
	if err != nil {
		return nil, err
	}
	latest, err := s.st.LatestDeploys(ctx, team, false)
	if err != nil {
		return nil, err
	}
	var out []placement
	for _, d := range latest {
		i := slices.IndexFunc(envs, func(e berth.Environment) bool { return e.Name == d.Env })
		if d.App == app && i >= 0 {
			out = append(out, placement{env: envs[i], namespace: envs[i].Namespace(team, app)})
		}
	}
	return out, nil
}

// deployLister is what noDeployInProgress reads: the store, or a transaction.
type deployLister interface {
	Deploys(ctx context.Context, f store.DeployFilter) ([]berth.Deploy, error)
}

func noDeployInProgress(ctx context.Context, q deployLister, team, app string) error {
	busy, err := q.Deploys(ctx, store.DeployFilter{Team: team, App: app, States: []berth.DeployState{berth.DeployQueued, berth.DeployRunning}, Limit: 1})
	if err != nil {
		return err
	}
	if len(busy) > 0 {
		return refused("deploy %d of %s/%s to %s is %s: delete the app when it has finished",
			busy[0].ID, team, app, busy[0].Env, busy[0].State)
	}
	return nil
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
