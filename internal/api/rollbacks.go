package api

import (
	"net/http"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/authz"
)

// getDeployRollback answers the automatic rollback of a failed deploy, so that a client
// that watched the deploy fail can follow the rollback without searching the history.
func (s *Server) getDeployRollback(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	id, err := deployID(r)
	if err != nil {
		return err
	}
	d, err := s.svc.AutoRollback(r.Context(), p, id)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, apiv1.FromDeploy(d))
}
