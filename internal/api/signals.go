package api

import (
	"net/http"
	"time"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
)

// getSignals answers an app's golden signals in an environment over ?since= (default 1h),
// read from the server's Prometheus.
func (s *Server) getSignals(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var since time.Duration
	if v := r.URL.Query().Get("since"); v != "" {
		var err error
		if since, err = berth.ParseSignalsSince(v); err != nil {
			return err
		}
	}
	sig, err := s.svc.AppSignals(r.Context(), p, r.PathValue("team"), r.PathValue("app"), r.PathValue("env"), since)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, apiv1.FromSignals(sig))
}
