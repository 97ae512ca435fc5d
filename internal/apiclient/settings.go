package apiclient

import (
	"context"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

// Scope names a level of config and secrets: global (all empty), a team, a team's app, or
// a team's app in one environment.
type Scope struct{ Team, App, Env string }

func (s Scope) path() string {
	p := "/api/v1"
	if s.Team != "" {
		p += "/teams/" + esc(s.Team)
	}
	if s.App != "" {
		p += "/apps/" + esc(s.App)
	}
	if s.Env != "" {
		p += "/envs/" + esc(s.Env)
	}
	return p
}

// Config lists the config values set at scope.
func (c *Client) Config(ctx context.Context, scope Scope) ([]apiv1.ConfigValue, error) {
	var out apiv1.List[apiv1.ConfigValue]
	return out.Items, c.do(ctx, "GET", scope.path()+"/config", nil, nil, &out)
}

// UpdateConfig sets and unsets config values at scope.
func (c *Client) UpdateConfig(ctx context.Context, scope Scope, in apiv1.UpdateSettings) (apiv1.ConfigUpdated, error) {
	var out apiv1.ConfigUpdated
	return out, c.do(ctx, "PATCH", scope.path()+"/config", nil, in, &out)
}

// Secrets lists the secrets (names and versions) set at scope.
func (c *Client) Secrets(ctx context.Context, scope Scope) ([]apiv1.Secret, error) {
	var out apiv1.List[apiv1.Secret]
	return out.Items, c.do(ctx, "GET", scope.path()+"/secrets", nil, nil, &out)
}

// UpdateSecrets sets and unsets secrets at scope.
func (c *Client) UpdateSecrets(ctx context.Context, scope Scope, in apiv1.UpdateSettings) (apiv1.SecretsUpdated, error) {
	var out apiv1.SecretsUpdated
	return out, c.do(ctx, "PATCH", scope.path()+"/secrets", nil, in, &out)
}

// ResolvedSettings returns what a deploy of team's app to env gets, key by key.
func (c *Client) ResolvedSettings(ctx context.Context, team, app, env string) (apiv1.ResolvedSettings, error) {
	var out apiv1.ResolvedSettings
	return out, c.do(ctx, "GET", Scope{Team: team, App: app, Env: env}.path()+"/resolved", nil, nil, &out)
}
