package apiclient_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
)

// Names reach the server, and come back in its errors, as the user typed them: "../dev",
// not "..%2Fdev" (item 11 of the edges issue).
func TestNamesReachTheServerAsTyped(t *testing.T) {
	mux := http.NewServeMux()
	var got []string
	mux.HandleFunc("DELETE /api/v1/teams/{team}", func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.PathValue("team"))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(apiv1.Error{Code: "not_found", Message: `team "` + r.PathValue("team") + `": not found`})
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c, err := apiclient.New(srv.URL, "berth_x")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"../dev", "a b", "100%", "x?y#z"} {
		err := c.DeleteTeam(t.Context(), name)
		if err == nil || err.Error() != `team "`+name+`": not found` || strings.Contains(err.Error(), "%2F") {
			t.Errorf("DeleteTeam(%q) = %v, want the server's error naming %q", name, err, name)
		}
	}
	if want := []string{"../dev", "a b", "100%", "x?y#z"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("server saw %q, want %q", got, want)
	}
}
