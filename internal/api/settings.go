package api

import (
	"net/http"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/service"
)

// settingsRoutes serve central config and secrets at their four levels. Each level has a
// list (GET) and a change (PATCH: keys to set and to unset, at once) for config and for
// secrets; secret values are accepted and never returned.
func (s *Server) settingsRoutes() []route {
	const v1 = "/api/v1"
	levels := []struct{ prefix, id, what string }{
		{"", "Global", "global"},
		{"/teams/{team}", "Team", "a team's"},
		{"/teams/{team}/apps/{app}", "App", "an app's"},
		{"/teams/{team}/apps/{app}/envs/{env}", "AppEnv", "an app's, in one environment,"},
	}
	var out []route
	for _, l := range levels {
		who := "team admins"
		if l.id == "Global" {
			who = "global admins"
		}
		out = append(out,
			route{method: "GET", path: v1 + l.prefix + "/config", id: "list" + l.id + "Config",
				summary: "Config values set at " + l.what + " level",
				auth:    true, response: apiv1.List[apiv1.ConfigValue]{}, handle: s.listConfig},
			route{method: "PATCH", path: v1 + l.prefix + "/config", id: "update" + l.id + "Config",
				summary: "Set and unset " + l.what + " config values, optionally redeploying the apps it affects (" + who + ")",
				auth:    true, body: apiv1.UpdateSettings{}, response: apiv1.ConfigUpdated{}, handle: s.updateConfig},
			route{method: "GET", path: v1 + l.prefix + "/secrets", id: "list" + l.id + "Secrets",
				summary: "Secrets set at " + l.what + " level: names and versions, never values",
				auth:    true, response: apiv1.List[apiv1.Secret]{}, handle: s.listSecrets},
			route{method: "PATCH", path: v1 + l.prefix + "/secrets", id: "update" + l.id + "Secrets",
				summary: "Set and unset " + l.what + " secrets, optionally redeploying the apps it affects (" + who + ")",
				auth:    true, body: apiv1.UpdateSettings{}, response: apiv1.SecretsUpdated{}, handle: s.updateSecrets},
		)
	}
	return append(out, route{method: "GET", path: v1 + "/teams/{team}/apps/{app}/envs/{env}/resolved", id: "resolveSettings",
		summary: "The config values and secrets (without values) a deploy of the app to the environment gets, with their levels",
		auth:    true, response: apiv1.ResolvedSettings{}, handle: s.resolveSettings})
}

func scopeOf(r *http.Request) berth.Scope {
	return berth.Scope{Team: r.PathValue("team"), App: r.PathValue("app"), Env: r.PathValue("env")}
}

func (s *Server) listConfig(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	ss, err := s.svc.ListSettings(r.Context(), p, berth.SettingConfig, scopeOf(r))
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, list(ss, apiv1.FromConfig))
}

func (s *Server) listSecrets(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	ss, err := s.svc.ListSettings(r.Context(), p, berth.SettingSecret, scopeOf(r))
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, list(ss, apiv1.FromSecret))
}

func (s *Server) updateSettings(w http.ResponseWriter, r *http.Request, p *authz.Principal, kind berth.SettingKind) (service.SettingsUpdate, error) {
	var in apiv1.UpdateSettings
	if err := decode(w, r, &in); err != nil {
		return service.SettingsUpdate{}, err
	}
	return s.svc.UpdateSettings(r.Context(), p, service.SettingsChange{Kind: kind, Scope: scopeOf(r),
		Set: in.Set, Unset: in.Unset, Redeploy: in.Redeploy})
}

func (s *Server) updateConfig(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	u, err := s.updateSettings(w, r, p, berth.SettingConfig)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, apiv1.ConfigUpdated{Items: list(u.Settings, apiv1.FromConfig).Items, Deploys: list(u.Deploys, apiv1.FromDeploy).Items})
}

func (s *Server) updateSecrets(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	u, err := s.updateSettings(w, r, p, berth.SettingSecret)
	if err != nil {
		return err
	}
	// The values just sent are not echoed, and this response must not be cached.
	w.Header().Set("Cache-Control", "no-store")
	return ok(w, http.StatusOK, apiv1.SecretsUpdated{Items: list(u.Settings, apiv1.FromSecret).Items, Deploys: list(u.Deploys, apiv1.FromDeploy).Items})
}

func (s *Server) resolveSettings(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	sc := scopeOf(r)
	ss, err := s.svc.ResolveSettings(r.Context(), p, sc.Team, sc.App, sc.Env)
	if err != nil {
		return err
	}
	out := apiv1.ResolvedSettings{Team: sc.Team, App: sc.App, Env: sc.Env, Config: []apiv1.ConfigValue{}, Secrets: []apiv1.Secret{}}
	for _, st := range ss {
		if st.Kind == berth.SettingSecret {
			out.Secrets = append(out.Secrets, apiv1.FromSecret(st))
		} else {
			out.Config = append(out.Config, apiv1.FromConfig(st))
		}
	}
	return ok(w, http.StatusOK, out)
}
