package api

import (
	"net/http"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/authz"
)

// runSmoke runs an app's smoke tests against what runs in an environment now, and answers
// when they are done (each check bounded by its timeout, all by the manifest's budget).
func (s *Server) runSmoke(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var in apiv1.RunSmoke
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.Env == "" {
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "env", Message: "env is required: the environment whose running app to test"}
	}
	run, err := s.svc.RunSmoke(r.Context(), p, r.PathValue("team"), r.PathValue("app"), in.Env)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, apiv1.FromSmokeRun(&run))
}
