package api

import (
	"net/http"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/service"
)

// gitOpsRoutes: environments' GitOps output, where deploys publish their objects to a
// platform repository, and what each deploy published there.
func (s *Server) gitOpsRoutes() []route {
	const v1 = "/api/v1"
	return []route{
		{method: "PUT", path: v1 + "/envs/{env}/gitops", id: "setEnvironmentGitOps",
			summary: "Publish each deploy's objects (secrets only as references) to a platform repository: committed to the environment's branch, " +
				"or in a pull request per deploy that applies when merged (pullRequest), or applied by the platform's Argo CD or Flux (externalApply); " +
				"the forge token only in the body, never answered; the answer holds the new webhook secret (once), and the webhook's URL when " +
				"Berth registered it on the repository (createWebhook) (global admins)",
			auth: true, global: authz.EnvManage, body: apiv1.SetEnvGitOps{}, response: apiv1.GitOps{}, handle: s.setEnvGitOps},
		{method: "GET", path: v1 + "/envs/{env}/gitops", id: "getEnvironmentGitOps",
			summary: "The environment's GitOps output, without its token (404 when it has none)",
			auth:    true, response: apiv1.GitOps{}, handle: s.getEnvGitOps},
		{method: "DELETE", path: v1 + "/envs/{env}/gitops", id: "unsetEnvironmentGitOps",
			summary: "Turn the environment's GitOps output off; the answer is what it was. Deploys awaiting a merge there wait until it is set again (global admins)",
			auth:    true, global: authz.EnvManage, response: apiv1.GitOps{}, handle: s.unsetEnvGitOps},
		{method: "GET", path: v1 + "/deploys/{id}/gitops", id: "getDeployGitOps",
			summary: "What the deploy wrote to its environment's platform repository: branch, commit, pull request and its state (404 when nothing)",
			auth:    true, response: apiv1.GitOpsChange{}, handle: s.getDeployGitOps},
	}
}

func (s *Server) setEnvGitOps(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var in apiv1.SetEnvGitOps
	if err := decode(w, r, &in); err != nil {
		return err
	}
	set, err := s.svc.SetEnvGitOps(r.Context(), p, service.GitOpsRequest{GitOps: berth.GitOps{Env: r.PathValue("env"), Forge: berth.Forge(in.Forge),
		URL: in.URL, Branch: in.Branch, PullRequest: in.PullRequest, ExternalApply: in.ExternalApply}, Token: in.Token,
		CreateWebhook: in.CreateWebhook, HookURL: in.HookURL})
	if err != nil {
		return err
	}
	out := apiv1.FromGitOps(set.GitOps)
	out.HookSecret, out.HookURL = set.HookSecret, set.HookURL
	return ok(w, http.StatusOK, out)
}

func (s *Server) getEnvGitOps(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	g, err := s.svc.EnvGitOps(r.Context(), p, r.PathValue("env"))
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, apiv1.FromGitOps(g))
}

func (s *Server) unsetEnvGitOps(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	g, err := s.svc.UnsetEnvGitOps(r.Context(), p, r.PathValue("env"))
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, apiv1.FromGitOps(g))
}

func (s *Server) getDeployGitOps(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	id, err := deployID(r)
	if err != nil {
		return err
	}
	c, err := s.svc.DeployGitOps(r.Context(), p, id)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, apiv1.FromGitOpsChange(c))
}
