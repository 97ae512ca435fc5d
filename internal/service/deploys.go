package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/manifest"
	"github.com/berth-dev/berth/internal/store"
)

// DeployRequest asks for a deploy of an app into an environment: a new manifest (stored as
// the next revision, registering the app on its first deploy), or a stored revision.
type DeployRequest struct {
	Team, App, Env string
	Manifest       string
	ManifestName   string // the file it came from, for errors; "" is berth.yaml
	Revision       int64  // 0: the latest, when no manifest is given
	Set            map[string]string
	Options        berth.DeployOptions
}

// Notifier is told when deploys are queued, so an idle worker starts at once.
type Notifier interface{ Notify() }

// SetNotifier connects the deploy engine; without one, workers find deploys by polling.
func (s *Service) SetNotifier(n Notifier) { s.notify = n }

func (s *Service) notifyWorkers() {
	if s.notify != nil {
		s.notify.Notify()
	}
}

// SetGitNotifier connects the git job workers; without one, they find jobs by polling.
func (s *Service) SetGitNotifier(n Notifier) { s.notifyGitJobs = n }

func (s *Service) notifyGit() {
	if s.notifyGitJobs != nil {
		s.notifyGitJobs.Notify()
	}
}

// CreateDeploy queues a deploy, in the same transaction as its audit event. The manifest
// is checked — parsed and rendered for the environment with the request's args and the
// config and secrets the app would get — before anything is stored, so a bad deploy is
// refused with the manifest's own errors, and a missing config or secret key by name.
//
// With Options.Refresh, the app's last successful deploy in the environment (its revision
// and args) is deployed again, rendered with current config and secrets.
func (s *Service) CreateDeploy(ctx context.Context, p *authz.Principal, req DeployRequest) (berth.Deploy, error) {
	if req.Options.Refresh && (req.Manifest != "" || req.Revision != 0 || len(req.Set) > 0) {
		return berth.Deploy{}, invalid("refresh", "a refresh deploys what runs again with current config and secrets: send no manifest, revision or args")
	}
	name, err := manifestName(req.ManifestName)
	if err != nil {
		return berth.Deploy{}, err
	}
	var m *manifest.Manifest
	if req.Manifest != "" {
		if m, err = manifest.Parse(name, []byte(req.Manifest)); err != nil {
			return berth.Deploy{}, manifestInvalid(err)
		}
		if req.App == "" {
			req.App = m.Metadata.Name
		}
		if req.Team == "" {
			req.Team = m.Metadata.Team
		}
		if err := checkManifest(req.Team, req.App, req.Manifest); err != nil {
			return berth.Deploy{}, err
		}
	}
	if req.Team == "" {
		return berth.Deploy{}, invalid("team", "required: name the team, or set metadata.team in the manifest")
	}
	if req.App == "" {
		return berth.Deploy{}, invalid("app", "required")
	}
	if req.Env == "" {
		return berth.Deploy{}, invalid("env", "required")
	}
	env, err := s.st.Environment(ctx, req.Env)
	if err != nil {
		return berth.Deploy{}, storeErr(err)
	}
	c := change{action: "deploy.create", target: berth.AppTarget(req.Team, req.App, req.Env), team: req.Team, app: req.App,
		details: map[string]any{"env": req.Env, "args": argNames(req.Set)}}
	var d berth.Deploy
	err = s.mutate(ctx, p, &c, func() error { return checkDeploy(p, req.Team, env) }, func(tx *store.Tx) error {
		app, err := tx.App(ctx, req.Team, req.App)
		if errors.Is(err, berth.ErrNotFound) && m != nil {
			if err := authz.Check(p, authz.AppCreate, authz.Resource{Team: req.Team}); err != nil {
				return err
			}
			app, err = tx.CreateApp(ctx, req.Team, req.App, p.Name)
		}
		if err != nil {
			return err
		}
		rev := req.Revision
		switch {
		case m != nil:
			latest, err := tx.LatestRevision(ctx, req.Team, req.App)
			if err == nil && latest.Manifest == req.Manifest {
				rev = latest.Number // the same manifest again: no new revision
			} else {
				r, err := tx.AddRevision(ctx, req.Team, req.App, req.Manifest, p.Name)
				if err != nil {
					return err
				}
				rev = r.Number
			}
		case rev == 0:
			if app.LatestRevision == 0 {
				return invalid("manifest", "app %s/%s has no manifest yet: send one", req.Team, req.App)
			}
			rev = app.LatestRevision
		}
		nd := berth.NewDeploy{Team: req.Team, App: req.App, Env: req.Env, Revision: rev,
			Kind: berth.KindDeploy, Args: req.Set, Options: req.Options, CreatedBy: p.Name}
		if req.Options.Refresh {
			if nd, err = refreshDeploy(ctx, tx, app, req.Env, p.Name, req.Options); err != nil {
				return err
			}
		}
		r, err := tx.Revision(ctx, req.Team, req.App, nd.Revision)
		if err != nil {
			return err
		}
		if err := checkRender(ctx, tx, req.Team, req.App, req.Env, name, r.Manifest, nd.Args); err != nil {
			return err
		}
		d, err = tx.EnqueueDeploy(ctx, nd)
		c.details["revision"], c.details["deploy"] = nd.Revision, d.ID
		if req.Options.Refresh {
			c.details["refresh"] = true
		}
		return err
	})
	if err == nil {
		s.notifyWorkers()
	}
	return d, err
}

// refreshDeploy is the deploy that renders app's last successful deploy in env anew, with
// current config, secrets and resources.
func refreshDeploy(ctx context.Context, tx *store.Tx, app berth.App, env, by string, o berth.DeployOptions) (berth.NewDeploy, error) {
	cur, err := tx.LastSucceeded(ctx, app.ID, env, 0)
	if errors.Is(err, berth.ErrNotFound) {
		return berth.NewDeploy{}, invalid("refresh", "%s/%s has no successful deploy in %s to refresh: deploy it first", app.Team, app.Name, env)
	}
	if err != nil {
		return berth.NewDeploy{}, err
	}
	o.Refresh = true
	return berth.Redo(cur, berth.KindRedeploy, by, o), nil
}

// argNames lists --set names for the audit log; values may be sensitive and stay out.
func argNames(set map[string]string) []string {
	names := make([]string, 0, len(set))
	for k := range set {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

func manifestInvalid(err error) error {
	var errs *manifest.Errors
	if errors.As(err, &errs) {
		return invalid("manifest", "%s", errs.Error())
	}
	return invalid("manifest", "%v", err)
}

// manifestName checks the name a client gives its manifest file, for the positions of
// errors: a path as the user typed it, printable and short.
func manifestName(name string) (string, error) {
	if name == "" {
		return "berth.yaml", nil
	}
	if len(name) > 255 || !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl) {
		return "", invalid("manifestName", "must be a file name of at most 255 printable characters")
	}
	return name, nil
}

func renderOptions(env string, set map[string]string) manifest.RenderOptions {
	return manifest.RenderOptions{Env: env, Set: set}
}

func renderErr(err error) error {
	if errors.Is(err, manifest.ErrInvalidOption) {
		return invalid("set", "%v", err)
	}
	return manifestInvalid(err)
}

// GetDeploy returns one deploy.
func (s *Service) GetDeploy(ctx context.Context, p *authz.Principal, id int64) (berth.Deploy, error) {
	d, err := s.st.Deploy(ctx, id)
	if err != nil {
		return berth.Deploy{}, storeErr(err)
	}
	if err := authz.Check(p, authz.AppRead, authz.Resource{Team: d.Team}); err != nil {
		return berth.Deploy{}, err
	}
	return d, nil
}

// DeployEvents returns a deploy's progress events after the given event id.
func (s *Service) DeployEvents(ctx context.Context, p *authz.Principal, id, after int64) (berth.Deploy, []berth.DeployEvent, error) {
	d, err := s.GetDeploy(ctx, p, id)
	if err != nil {
		return d, nil, err
	}
	evs, err := s.st.DeployEvents(ctx, id, after)
	return d, evs, storeErr(err)
}

// FollowDeploy calls fn with each of a deploy's progress events after the event id after,
// as they are written, until the deploy reaches a final state or ctx ends, and returns the
// deploy as last read. It polls the store, so it follows a deploy whichever server runs it.
func (s *Service) FollowDeploy(ctx context.Context, p *authz.Principal, id, after int64, fn func(berth.DeployEvent) error) (berth.Deploy, error) {
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

// DeployObjects returns the exact objects a deploy applied (JSON array).
func (s *Service) DeployObjects(ctx context.Context, p *authz.Principal, id int64) ([]byte, error) {
	d, err := s.GetDeploy(ctx, p, id)
	if err != nil {
		return nil, err
	}
	if d.ObjectsDigest == "" {
		return nil, fmt.Errorf("deploy %d has not rendered its objects yet: %w", id, berth.ErrNotFound)
	}
	objs, err := s.st.Objects(ctx, d.ObjectsDigest)
	return objs, storeErr(err)
}

// PreviousDeploy returns what ran before d: the last successful deploy of d's app in d's
// environment before d, or berth.ErrNotFound.
func (s *Service) PreviousDeploy(ctx context.Context, p *authz.Principal, d berth.Deploy) (berth.Deploy, error) {
	if err := authz.Check(p, authz.AppRead, authz.Resource{Team: d.Team}); err != nil {
		return berth.Deploy{}, err
	}
	prev, err := s.st.LastSucceeded(ctx, d.AppID, d.Env, d.ID)
	return prev, storeErr(err)
}

// History returns an app's deploys, newest first, in one environment or all.
func (s *Service) History(ctx context.Context, p *authz.Principal, team, app, env string, limit int) ([]berth.Deploy, error) {
	if err := authz.Check(p, authz.AppRead, authz.Resource{Team: team}); err != nil {
		return nil, err
	}
	if _, err := s.st.App(ctx, team, app); err != nil {
		return nil, storeErr(err)
	}
	ds, err := s.st.Deploys(ctx, store.DeployFilter{Team: team, App: app, Env: env, Limit: limit})
	return ds, storeErr(err)
}

// checkDeploy is the one authorization decision for deploying (and rolling back,
// redeploying) a team's app into env.
func checkDeploy(p *authz.Principal, team string, env berth.Environment) error {
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

// Rollback queues a deploy that re-applies exactly the objects of an earlier successful
// deploy: of revision to, or (to == 0) the one before the current.
func (s *Service) Rollback(ctx context.Context, p *authz.Principal, team, app, envName string, to int64) (berth.Deploy, error) {
	return s.RollbackWith(ctx, p, team, app, envName, to, "")
}

// RollbackWith is Rollback inside a freeze window of the environment, saying why
// (emergency; "" for none).
func (s *Service) RollbackWith(ctx context.Context, p *authz.Principal, team, app, envName string, to int64, emergency string) (berth.Deploy, error) {
	env, err := s.st.Environment(ctx, envName)
	if err != nil {
		return berth.Deploy{}, storeErr(err)
	}
	c := change{action: "deploy.rollback", target: berth.AppTarget(team, app, envName), team: team, app: app,
		details: map[string]any{"env": envName}}
	var d berth.Deploy
	err = s.mutate(ctx, p, &c, func() error { return checkDeploy(p, team, env) }, func(tx *store.Tx) error {
		src, err := rollbackSource(ctx, tx, team, app, envName, to)
		if err != nil {
			return err
		}
		d, err = tx.EnqueueDeploy(ctx, berth.Redo(src, berth.KindRollback, p.Name, berth.DeployOptions{Emergency: emergency}))
		c.details["revision"], c.details["deploy"], c.details["source"] = src.Revision, d.ID, src.ID
		return err
	})
	if err == nil {
		s.notifyWorkers()
	}
	return d, err
}

// RedeployRequest asks to redeploy every app of a team.
type RedeployRequest struct {
	Team        string
	Env         string // "" means every environment the app runs in
	Exclude     []string
	Refresh     bool
	Concurrency int
	// Emergency says why the redeploys go ahead inside freeze windows ("": they do not).
	Emergency string
}

// RedeployTeam queues, in one transaction, a redeploy of each app of the team (but the
// excluded) in each environment where it has a successful deploy: the same objects again,
// or with Refresh its current revision rendered anew. At most Concurrency run at once.
func (s *Service) RedeployTeam(ctx context.Context, p *authz.Principal, req RedeployRequest) ([]berth.Deploy, error) {
	if req.Concurrency <= 0 {
		req.Concurrency = 4
	}
	envs, err := s.st.Environments(ctx)
	if err != nil {
		return nil, err
	}
	if req.Env != "" && !slices.ContainsFunc(envs, func(e berth.Environment) bool { return e.Name == req.Env }) {
		return nil, fmt.Errorf("environment %s: %w", req.Env, berth.ErrNotFound)
	}
	c := change{action: "deploy.redeploy-team", target: "team/" + req.Team, team: req.Team,
		details: map[string]any{"env": req.Env, "exclude": req.Exclude, "refresh": req.Refresh}}
	var out []berth.Deploy
	err = s.mutate(ctx, p, &c, func() error {
		for _, e := range envs {
			if req.Env != "" && e.Name != req.Env {
				continue
			}
			if err := checkDeploy(p, req.Team, e); err != nil {
				return err
			}
		}
		return nil
	}, func(tx *store.Tx) error {
		if _, err := tx.Team(ctx, req.Team); err != nil {
			return err
		}
		current, err := running(ctx, tx, berth.Scope{Team: req.Team, Env: req.Env}, envs)
		if err != nil {
			return err
		}
		batch, err := tx.CreateBatch(ctx, req.Team, req.Concurrency, p.Name)
		if err != nil {
			return err
		}
		for _, cur := range current {
			if slices.Contains(req.Exclude, cur.App) {
				continue
			}
			nd := berth.Redo(cur, berth.KindRedeploy, p.Name, berth.DeployOptions{Refresh: req.Refresh, Emergency: req.Emergency})
			nd.BatchID = batch
			d, err := tx.EnqueueDeploy(ctx, nd)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		c.details["deploys"] = len(out)
		c.details["batch"] = batch
		return nil
	})
	if err == nil {
		s.notifyWorkers()
	}
	return out, err
}

// running returns what runs within scope: the last successful deploy of each app (of
// scope's team, or every team; only scope's app when it names one) in each environment
// that still exists (only scope's when it names one), by team, app and environment.
// Scope's fields are filters here, not a settings level.
func running(ctx context.Context, tx *store.Tx, scope berth.Scope, envs []berth.Environment) ([]berth.Deploy, error) {
	latest, err := tx.LatestDeploys(ctx, scope.Team, true)
	if err != nil {
		return nil, err
	}
	out := latest[:0]
	for _, d := range latest {
		i := slices.IndexFunc(envs, func(e berth.Environment) bool { return e.Name == d.Env })
		// A pull request's preview takes its preview environment's settings: a change to
		// them reaches it. A closed preview is gone: nothing redeploys into it.
		if i < 0 || (scope.App != "" && d.App != scope.App) || (scope.Env != "" && envs[i].Section() != scope.Env) {
			continue
		}
		if envs[i].PreviewBase != "" {
			pv, err := tx.PreviewOfEnv(ctx, d.Env)
			if err != nil && !errors.Is(err, berth.ErrNotFound) {
				return nil, err
			}
			if err == nil && pv.State != berth.PreviewActive {
				continue
			}
		}
		out = append(out, d)
	}
	return out, nil
}
