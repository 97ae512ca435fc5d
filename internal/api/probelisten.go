package api

import (
	"net/http"
	"strings"
)

// ProbeReportsOnly passes to h only the reports of probe runs (POST
// /api/v1/probes/runs/RUN/report) and answers everything else 404: what the address probe
// pods reach serves (berth server --probe-listen), so that the API and the dashboard stay
// on the address users reach.
func ProbeReportsOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, "/api/v1/probes/runs/")
		run, tail, _ := strings.Cut(rest, "/")
		if !ok || tail != "report" || run == "" || strings.Trim(run, "0123456789") != "" || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}
