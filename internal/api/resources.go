package api

import (
	"net/http"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/service"
)

// resourceRoutes: what provisioners made for the resources apps declare.
func (s *Server) resourceRoutes() []route {
	const v1 = "/api/v1"
	return []route{
		{method: "GET", path: v1 + "/teams/{team}/apps/{app}/resources", id: "listResources",
			summary: "The resources provisioned for an app, orphaned ones too (?env=); secret outputs by name only",
			auth:    true, query: []string{"env"}, response: apiv1.List[apiv1.Resource]{}, handle: s.listResources},
		{method: "DELETE", path: v1 + "/teams/{team}/apps/{app}/envs/{env}/resources/{name}", id: "deleteResource",
			summary: "Delete a resource, dropping a postgres database Berth made (team admins; ?confirm=true, else 400 confirmation_required " +
				"saying what would be dropped; ?force=true for one the app still declares)",
			auth: true, query: []string{"confirm", "force"}, response: apiv1.ResourceDeletion{}, handle: s.deleteResource},
		{method: "POST", path: v1 + "/teams/{team}/apps/{app}/envs/{env}/resources/{name}/rotate", id: "rotateResource",
			summary: "Give a postgres resource a new password: queues the refresh deploy that sets it and rolls the pods (deployers of the app in the environment)",
			auth:    true, status: http.StatusAccepted, response: apiv1.ResourceRotation{}, handle: s.rotateResource},
	}
}

func (s *Server) rotateResource(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	rot, err := s.svc.RotateResource(r.Context(), p, service.ResourceDeleteRequest{Team: r.PathValue("team"), App: r.PathValue("app"),
		Env: r.PathValue("env"), Name: r.PathValue("name")})
	if err != nil {
		return err
	}
	return ok(w, http.StatusAccepted, apiv1.ResourceRotation{Resource: apiv1.FromResource(rot.Resource), Deploy: apiv1.FromDeploy(rot.Deploy)})
}

func (s *Server) listResources(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	rs, err := s.svc.ListResources(r.Context(), p, r.PathValue("team"), r.PathValue("app"), r.URL.Query().Get("env"))
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, list(rs, apiv1.FromResource))
}

func (s *Server) deleteResource(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	confirm, err := boolQuery(r, "confirm")
	if err != nil {
		return err
	}
	force, err := boolQuery(r, "force")
	if err != nil {
		return err
	}
	d, err := s.svc.DeleteResource(r.Context(), p, service.ResourceDeleteRequest{Team: r.PathValue("team"), App: r.PathValue("app"),
		Env: r.PathValue("env"), Name: r.PathValue("name"), Confirm: confirm, Force: force})
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, apiv1.ResourceDeletion{Resource: apiv1.FromResource(d.Resource), Dropped: d.Dropped})
}
