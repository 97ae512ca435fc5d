package service

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/manifest"
	"github.com/berth-dev/berth/internal/seal"
	"github.com/berth-dev/berth/internal/store"
)

// Central config and secrets ("settings") live at four levels: global, team, app, and app
// in one environment. Reading names (and config values) needs a team viewer of the team,
// or any signed-in user for the global level; changing them needs a team admin, or a
// global admin for the global level. Secret values go in and never come out: listings and
// audit events carry names, levels and versions only.

// SettingsChange is one call's change to the config or the secrets of one scope.
type SettingsChange struct {
	Kind  berth.SettingKind
	Scope berth.Scope
	Set   map[string]string
	Unset []string
	// Redeploy queues a refreshing redeploy of each deployed app the change affects.
	Redeploy bool
}

// SettingsUpdate is what a SettingsChange left: the scope's settings and the redeploys.
type SettingsUpdate struct {
	Settings []berth.Setting
	Deploys  []berth.Deploy
}

func readSettingsAllowed(p *authz.Principal, scope berth.Scope) error {
	if scope.Team == "" {
		if p == nil {
			return &authz.Denied{Action: authz.AppRead, Reason: "not signed in"}
		}
		return nil
	}
	return authz.Check(p, authz.AppRead, authz.Resource{Team: scope.Team})
}

func manageSettingsAllowed(p *authz.Principal, scope berth.Scope) func() error {
	if scope.Team == "" {
		return allowed(p, authz.ConfigManageGlobal, authz.Resource{})
	}
	return allowed(p, authz.ConfigManage, authz.Resource{Team: scope.Team})
}

// settingsTarget names a scope's settings in audit events: config/global,
// secrets/app/shop/web/env/staging, ...
func settingsTarget(kind berth.SettingKind, scope berth.Scope) string {
	prefix := "config/"
	if kind == berth.SettingSecret {
		prefix = "secrets/"
	}
	switch scope.Level() {
	case berth.LevelAppEnv, berth.LevelApp:
		return prefix + berth.AppTarget(scope.Team, scope.App, scope.Env)
	case berth.LevelTeam:
		return prefix + "team/" + scope.Team
	}
	return prefix + "global"
}

// ListSettings returns the config values, or the secrets (without values), set at exactly
// scope.
func (s *Service) ListSettings(ctx context.Context, p *authz.Principal, kind berth.SettingKind, scope berth.Scope) ([]berth.Setting, error) {
	if err := readSettingsAllowed(p, scope); err != nil {
		return nil, err
	}
	ss, err := s.st.Settings(ctx, kind, scope)
	return ss, storeErr(err)
}

// ResolveSettings returns the config values and secrets (without values) that a deploy of
// team's app to env would get: for each key, the setting of the most specific level.
func (s *Service) ResolveSettings(ctx context.Context, p *authz.Principal, team, app, env string) ([]berth.Setting, error) {
	if err := authz.Check(p, authz.AppRead, authz.Resource{Team: team}); err != nil {
		return nil, err
	}
	if _, err := s.st.App(ctx, team, app); err != nil {
		return nil, storeErr(err)
	}
	e, err := s.st.Environment(ctx, env)
	if err != nil {
		return nil, storeErr(err)
	}
	set, err := deploy.LoadSettings(ctx, s.st, team, app, e.Section())
	if err != nil {
		return nil, storeErr(err)
	}
	var out []berth.Setting
	for _, kind := range []berth.SettingKind{berth.SettingConfig, berth.SettingSecret} {
		all := set.All(kind)
		for _, k := range slices.Sorted(maps.Keys(all)) {
			out = append(out, all[k])
		}
	}
	return out, nil
}

// UpdateSettings sets and unsets keys of one scope in one transaction with one audit
// event, which names the keys and their new versions, never values. With Redeploy it also
// queues, in the same transaction, a redeploy with fresh config of every app the change
// affects: each app and environment whose current deploy reads a changed key that no more
// specific level overrides.
func (s *Service) UpdateSettings(ctx context.Context, p *authz.Principal, ch SettingsChange) (SettingsUpdate, error) {
	if ch.Kind != berth.SettingConfig && ch.Kind != berth.SettingSecret {
		return SettingsUpdate{}, invalid("kind", "%q is not config or secret", ch.Kind)
	}
	if len(ch.Set) == 0 && len(ch.Unset) == 0 {
		return SettingsUpdate{}, invalid("set", "nothing to change: give keys to set or to unset")
	}
	for _, k := range ch.Unset {
		if _, ok := ch.Set[k]; ok {
			return SettingsUpdate{}, invalid("unset", "%s is both set and unset", k)
		}
	}
	scope := ch.Scope
	action := "config.update"
	if ch.Kind == berth.SettingSecret {
		action = "secrets.update"
	}
	versions := map[string]int64{}
	c := change{action: action, target: settingsTarget(ch.Kind, scope), team: scope.Team, app: scope.App,
		details: map[string]any{"level": string(scope.Level()), "set": versions, "unset": sortedUnique(ch.Unset)}}
	if scope.Env != "" {
		c.details["env"] = scope.Env
	}
	var out SettingsUpdate
	err := s.mutate(ctx, p, &c, manageSettingsAllowed(p, scope), func(tx *store.Tx) error {
		if scope.Env != "" {
			// A pull request's preview reads its preview environment's settings: its own
			// would be read by nothing.
			if e, err := tx.Environment(ctx, scope.Env); err == nil && e.PreviewBase != "" {
				return invalid("env", "%s is a pull request's preview, which takes the settings of its preview environment: set them there (--env %s)",
					e.Name, e.PreviewBase)
			}
		}
		changed := sortedUnique(ch.Unset)
		for _, k := range slices.Sorted(maps.Keys(ch.Set)) {
			set, err := tx.SetSetting(ctx, ch.Kind, scope, k, ch.Set[k], p.Name)
			if err != nil {
				return err
			}
			versions[k] = set.Version
			changed = append(changed, k)
		}
		for _, k := range sortedUnique(ch.Unset) {
			if _, err := tx.UnsetSetting(ctx, ch.Kind, scope, k, p.Name); err != nil {
				return err
			}
		}
		var err error
		if out.Settings, err = tx.Settings(ctx, ch.Kind, scope); err != nil {
			return err
		}
		if ch.Redeploy {
			if out.Deploys, err = s.redeployAffected(ctx, tx, p, ch.Kind, scope, changed); err != nil {
				return err
			}
			c.details["redeploys"] = len(out.Deploys)
		}
		return nil
	})
	if err == nil && len(out.Deploys) > 0 {
		s.notifyWorkers()
	}
	return out, err
}

func sortedUnique(keys []string) []string {
	out := slices.Clone(keys)
	slices.Sort(out)
	return slices.Compact(out)
}

// redeployAffected queues a refreshing redeploy of each app and environment, within scope,
// whose last successful deploy reads one of keys of kind and gets it from scope's level
// (no more specific level sets it).
func (s *Service) redeployAffected(ctx context.Context, tx *store.Tx, p *authz.Principal, kind berth.SettingKind, scope berth.Scope, keys []string) ([]berth.Deploy, error) {
	envs, err := tx.Environments(ctx)
	if err != nil {
		return nil, err
	}
	current, err := running(ctx, tx, scope, envs)
	if err != nil {
		return nil, err
	}
	if scope.App != "" && len(current) == 0 {
		if _, err := tx.App(ctx, scope.Team, scope.App); err != nil {
			return nil, err
		}
	}
	var out []berth.Deploy
	for _, cur := range current {
		rev, err := tx.Revision(ctx, cur.Team, cur.App, cur.Revision)
		if err != nil {
			return nil, err
		}
		section := envs[slices.IndexFunc(envs, func(e berth.Environment) bool { return e.Name == cur.Env })].Section()
		usage, err := deploy.SettingsUsage(rev.Manifest, section, cur.Args)
		if err != nil {
			continue // a revision that no longer renders reads nothing we could refresh
		}
		settings, err := deploy.LoadSettings(ctx, tx, cur.Team, cur.App, section)
		if err != nil {
			return nil, err
		}
		if !affects(usage, settings, kind, scope.Level(), keys) {
			continue
		}
		// Team admins and global admins are deployers everywhere, protected environments
		// included; the check keeps that true should roles change.
		env := envs[slices.IndexFunc(envs, func(e berth.Environment) bool { return e.Name == cur.Env })]
		if err := checkDeploy(p, cur.Team, env); err != nil {
			return nil, err
		}
		d, err := tx.EnqueueDeploy(ctx, berth.Redo(cur, berth.KindRedeploy, p.Name, berth.DeployOptions{Refresh: true}))
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// affects reports whether changing keys of kind at level changes what a deploy with usage
// gets: it reads a key, and the key's winner (after the change) is not at a more specific
// level. A key unset everywhere counts too: the redeploy then fails and says so.
func affects(usage deploy.Usage, settings *deploy.Settings, kind berth.SettingKind, level berth.Level, keys []string) bool {
	for _, k := range keys {
		if !usage.Uses(kind, k) {
			continue
		}
		if win, ok := settings.Get(kind, k); !ok || !win.Level().MoreSpecific(level) {
			return true
		}
	}
	return false
}

// checkRender renders a revision for env with the settings the deploy would get, so that
// unknown args, a missing config or secret key and the like are refused when the deploy is
// asked for, not when it runs.
// name is the manifest's file name in errors.
func checkRender(ctx context.Context, tx *store.Tx, team, app, env, name, text string, set map[string]string) error {
	m, err := manifest.Parse(name, []byte(text))
	if err != nil {
		return manifestInvalid(err)
	}
	opts := renderOptions(env, set)
	if e, err := tx.Environment(ctx, env); err == nil && e.PreviewBase != "" {
		opts.Section = e.PreviewBase // a pull request's preview: its preview environment's
	}
	settings, err := deploy.LoadSettings(ctx, tx, team, app, opts.SectionEnv())
	if err != nil {
		return err
	}
	if _, err := deploy.Render(m, opts, settings, nil); err != nil {
		return renderErr(err)
	}
	return nil
}

// RotateSecretsKey re-encrypts every stored secret under next, in one transaction with its
// audit event, and then seals and opens with next. The store's current key must open every
// value; a value sealed with neither key fails the rotation, which then changes nothing.
func (s *Service) RotateSecretsKey(ctx context.Context, next *seal.Key) (int, error) {
	from := s.st.SecretsKeyID()
	var n int
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		var err error
		if n, err = tx.RotateSecretsKey(ctx, next); err != nil {
			return err
		}
		_, err = tx.AppendAudit(ctx, berth.AuditEvent{Actor: "system", Action: "secrets.rotate-key", Target: "secrets",
			Outcome: berth.OutcomeSuccess, Details: map[string]any{"from": from, "to": next.ID(), "values": n}})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("rotate secrets key: %w", storeErr(err))
	}
	s.st.UseSecretsKey(next)
	return n, nil
}
