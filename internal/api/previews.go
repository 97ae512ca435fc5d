package api

import (
	"net/http"
	"strconv"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/authz"
)

// previewRoutes: pull requests' previews, as the git flow opened and closed them.
func (s *Server) previewRoutes() []route {
	const v1 = "/api/v1"
	return []route{
		{method: "GET", path: v1 + "/teams/{team}/previews", id: "listPreviews",
			summary: "A team's pull-request previews, newest first: active ones, or all with ?all=true (?app= one app's; ?limit=)",
			auth:    true, query: []string{"app", "all", "limit"}, response: apiv1.List[apiv1.Preview]{}, handle: s.listPreviews},
	}
}

func (s *Server) listPreviews(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	q := r.URL.Query()
	limit := 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "limit", Message: "limit must be 1 to 1000"}
		}
		limit = n
	}
	all, err := boolQuery(r, "all")
	if err != nil {
		return err
	}
	ps, err := s.svc.Previews(r.Context(), p, r.PathValue("team"), q.Get("app"), all, limit)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, list(ps, apiv1.FromPreview))
}
