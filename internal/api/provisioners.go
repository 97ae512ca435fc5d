package api

import (
	"net/http"
	"strconv"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/provision"
)

// provisionerRoutes: an environment's platform provisioner file, versioned.
func (s *Server) provisionerRoutes() []route {
	const v1 = "/api/v1"
	return []route{
		{method: "GET", path: v1 + "/envs/{env}/provisioners", id: "getProvisioners",
			summary: "The environment's provisioner file (the newest, or ?version=N) and what it provisions",
			auth:    true, query: []string{"version"}, response: apiv1.ProvisionerFile{}, handle: s.getProvisioners},
		{method: "PUT", path: v1 + "/envs/{env}/provisioners", id: "setProvisioners",
			summary: "Check a provisioner file and store it as the environment's next version (global admins)",
			auth:    true, global: authz.EnvManage, body: apiv1.SetProvisioners{}, response: apiv1.ProvisionerFile{}, handle: s.setProvisioners},
		{method: "GET", path: v1 + "/envs/{env}/provisioners/history", id: "listProvisionerVersions",
			summary: "The versions of the environment's provisioner file, newest first",
			auth:    true, response: apiv1.List[apiv1.ProvisionerFile]{}, handle: s.listProvisionerVersions},
	}
}

func (s *Server) getProvisioners(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var version int64
	if v := r.URL.Query().Get("version"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return berth.Invalid("version", "must be a version number (1, 2, ...), not %q", v)
		}
		version = n
	}
	f, parsed, err := s.svc.Provisioners(r.Context(), p, r.PathValue("env"), version)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, provisionerFile(f, parsed))
}

func (s *Server) setProvisioners(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var in apiv1.SetProvisioners
	if err := decode(w, r, &in); err != nil {
		return err
	}
	f, parsed, err := s.svc.SetProvisioners(r.Context(), p, r.PathValue("env"), in.Name, []byte(in.Content))
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, provisionerFile(f, parsed))
}

func (s *Server) listProvisionerVersions(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	fs, err := s.svc.ProvisionerHistory(r.Context(), p, r.PathValue("env"))
	if err != nil {
		return err
	}
	items := make([]apiv1.ProvisionerFile, 0, len(fs))
	for _, f := range fs {
		items = append(items, provisionerFile(f, nil))
	}
	return ok(w, http.StatusOK, apiv1.List[apiv1.ProvisionerFile]{Items: items})
}

func provisionerFile(f berth.ProvisionerFile, parsed *provision.File) apiv1.ProvisionerFile {
	out := apiv1.ProvisionerFile{Env: f.Env, Version: f.Version, CreatedBy: f.CreatedBy, CreatedAt: f.CreatedAt, Content: f.Content}
	if parsed != nil {
		for _, p := range parsed.Provisioners {
			out.Types = append(out.Types, apiv1.Provisioner{Type: p.Type, Class: p.Class, ID: p.ID, Description: p.Description,
				SupportedParams: p.SupportedParams, ExpectedOutputs: p.ExpectedOutputs, Secrets: p.Secrets})
		}
	}
	return out
}
