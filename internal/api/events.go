package api

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/service"
)

// listClusterEvents answers the Kubernetes events Berth kept about an app's objects,
// oldest first.
func (s *Server) listClusterEvents(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	q := r.URL.Query()
	cq := service.ClusterEventQuery{Team: r.PathValue("team"), App: r.PathValue("app"), Env: q.Get("env"), Type: q.Get("type")}
	var err error
	if cq.Since, err = sinceQuery(r, time.Now()); err != nil {
		return err
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > berth.MaxClusterEvents {
			return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "limit",
				Message: fmt.Sprintf("limit must be 1 to %d, not %q", berth.MaxClusterEvents, cutValue(v))}
		}
		cq.Limit = n
	}
	evs, err := s.svc.ClusterEvents(r.Context(), p, cq)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, list(evs, apiv1.FromClusterEvent))
}

// deployClusterEvents answers the Kubernetes events about the app's objects that happened
// while a deploy ran.
func (s *Server) deployClusterEvents(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	id, err := deployID(r)
	if err != nil {
		return err
	}
	d, evs, err := s.svc.DeployClusterEvents(r.Context(), p, id)
	if err != nil {
		return err
	}
	out := apiv1.DeployClusterEvents{Deploy: d.ID, Items: []apiv1.ClusterEvent{}}
	if !d.StartedAt.IsZero() {
		out.From = &d.StartedAt
	}
	if !d.FinishedAt.IsZero() {
		out.To = &d.FinishedAt
	}
	for _, ev := range evs {
		out.Items = append(out.Items, apiv1.FromClusterEvent(ev))
	}
	return ok(w, http.StatusOK, out)
}
