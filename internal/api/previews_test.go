package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// TestListPreviews: a team's viewers list its active previews, newest first, one app's with
// ?app=, the closed ones too with ?all=true, without the forge's comment id; environments
// say which preview environment a pull request's was made from. Another team's viewer is
// refused, an unknown app or team is not found, and a bad limit or all says which.
func TestListPreviews(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if status, data := f.do(globalAdmin, "POST", "/api/v1/envs", apiv1.CreateEnvironment{Name: "preview", InCluster: true, PreviewOf: "staging"}); status != 201 {
		t.Fatalf("create the preview environment: %d %s", status, data)
	}
	if status, data := f.do(globalAdmin, "POST", "/api/v1/teams/alpha/apps", apiv1.CreateApp{Name: "billing"}); status != 201 {
		t.Fatalf("create billing: %d %s", status, data)
	}
	base, err := f.st.Environment(ctx, "preview")
	if err != nil {
		t.Fatal(err)
	}
	open := func(app string, pr int, branch string) berth.Preview {
		t.Helper()
		var p berth.Preview
		err := f.st.Tx(ctx, func(tx *store.Tx) error {
			var err error
			p, _, err = tx.OpenPreview(ctx, berth.Preview{Team: "alpha", App: app, PR: pr, Branch: branch, SHA: fmt.Sprintf("%040d", pr),
				URL: fmt.Sprintf("http://127.0.0.1:3000/alpha/%s/pulls/%d", app, pr)}, base)
			if err == nil {
				err = tx.SetPreviewComment(ctx, p.ID, 987654321)
			}
			return err
		})
		if err != nil {
			t.Fatalf("open the preview of %s#%d: %v", app, pr, err)
		}
		return p
	}
	open("reports", 7, "feature/charts")
	closed := open("reports", 8, "fix/typo")
	open("billing", 3, "invoices")
	if err := f.st.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.BeginClosePreview(ctx, closed.ID, time.Time{}); err != nil {
			return err
		}
		_, err := tx.ClosePreview(ctx, closed.ID, "merged")
		return err
	}); err != nil {
		t.Fatal(err)
	}

	type row struct {
		App, Env, Branch, State, Reason string
		PR                              int
	}
	list := func(caller, query string) []row {
		t.Helper()
		status, data := f.do(caller, "GET", "/api/v1/teams/alpha/previews"+query, nil)
		var l apiv1.List[apiv1.Preview]
		if status != 200 || json.Unmarshal(data, &l) != nil {
			t.Fatalf("list%s: %d %s", query, status, data)
		}
		if strings.Contains(string(data), "987654321") || strings.Contains(strings.ToLower(string(data)), "comment") {
			t.Errorf("list%s holds the comment id: %s", query, data)
		}
		out := []row{}
		for _, p := range l.Items {
			if p.Team != "alpha" || p.Base != "preview" || p.URL != fmt.Sprintf("http://127.0.0.1:3000/alpha/%s/pulls/%d", p.App, p.PR) ||
				p.SHA != fmt.Sprintf("%040d", p.PR) || p.CreatedAt.IsZero() || p.UpdatedAt.IsZero() {
				t.Errorf("list%s: preview %+v", query, p)
			}
			out = append(out, row{App: p.App, Env: p.Env, Branch: p.Branch, State: p.State, Reason: p.Reason, PR: p.PR})
		}
		return out
	}
	reports7 := row{App: "reports", Env: "preview-alpha-reports-pr7", Branch: "feature/charts", State: "active", PR: 7}
	reports8 := row{App: "reports", Env: "preview-alpha-reports-pr8", Branch: "fix/typo", State: "closed", Reason: "merged", PR: 8}
	billing3 := row{App: "billing", Env: "preview-alpha-billing-pr3", Branch: "invoices", State: "active", PR: 3}
	for _, c := range []struct {
		caller, query string
		want          []row
	}{
		{ownViewer, "", []row{billing3, reports7}},
		{ownViewer, "?app=reports", []row{reports7}},
		{ownViewer, "?all=true", []row{reports8, billing3, reports7}},
		{deployer, "?app=reports&all=true", []row{reports8, reports7}},
		{ownViewer, "?all=true&limit=1", []row{reports8}},
		{globalAdmin, "?all=false", []row{billing3, reports7}},
	} {
		if diff := cmp.Diff(c.want, list(c.caller, c.query)); diff != "" {
			t.Errorf("%s lists%s (-want +got):\n%s", c.caller, c.query, diff)
		}
	}
	if got := list(globalAdmin, "?app=billing&all=true"); len(got) != 1 {
		t.Errorf("billing's previews: %+v", got)
	}

	status, data := f.do(ownViewer, "GET", "/api/v1/envs/preview-alpha-reports-pr7", nil)
	var env apiv1.Environment
	if status != 200 || json.Unmarshal(data, &env) != nil || env.PreviewBase != "preview" || env.PreviewOf != "" {
		t.Errorf("the environment of reports#7: %d %s", status, data)
	}

	for _, c := range []struct {
		caller, path string
		status       int
		code, want   string
	}{
		{otherViewer, "/api/v1/teams/alpha/previews", 403, "forbidden", ""},
		{ownViewer, "/api/v1/teams/alpha/previews?app=nope", 404, "not_found", `app "alpha/nope": not found`},
		{globalAdmin, "/api/v1/teams/nope/previews", 404, "not_found", "nope"},
		{ownViewer, "/api/v1/teams/alpha/previews?limit=0", 400, "invalid", "limit must be 1 to 1000"},
		{ownViewer, "/api/v1/teams/alpha/previews?limit=many", 400, "invalid", "limit must be 1 to 1000"},
		{ownViewer, "/api/v1/teams/alpha/previews?all=yes", 400, "invalid", "all must be true or false"},
	} {
		status, data := f.do(c.caller, "GET", c.path, nil)
		var e apiv1.Error
		if status != c.status || json.Unmarshal(data, &e) != nil || e.Code != c.code || !strings.Contains(e.Message, c.want) {
			t.Errorf("%s GET %s: %d %s, want %d %s saying %q", c.caller, c.path, status, data, c.status, c.code, c.want)
		}
	}
}
