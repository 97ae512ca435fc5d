package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// frozen freezes env for the next hours, as a platform admin would, and returns the window.
// The store stamps deploys with the wall clock and the service's clock is two hours on: the
// window covers both.
func (f *fixture) frozen(env string) berth.FreezeWindow {
	f.t.Helper()
	var w berth.FreezeWindow
	err := f.st.Tx(context.Background(), func(tx *store.Tx) (err error) {
		w, err = tx.AddFreezeWindow(context.Background(), berth.FreezeWindow{Env: env, Start: time.Now().Add(-time.Minute),
			End: f.clock.Now().Add(time.Hour), Reason: "year-end close", CreatedBy: "admin"})
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return w
}

// freezes lists the freeze windows of env ("" for all) as a team viewer.
func (f *fixture) freezes(env string) []apiv1.FreezeWindow {
	f.t.Helper()
	path := "/api/v1/freezes"
	if env != "" {
		path += "?env=" + env
	}
	status, data := f.do(ownViewer, "GET", path, nil)
	var ws apiv1.List[apiv1.FreezeWindow]
	if status != 200 || json.Unmarshal(data, &ws) != nil {
		f.t.Fatalf("GET %s: %d %s", path, status, data)
	}
	return ws.Items
}

// TestFreezeWindows: a global admin freezes production; a deploy or a promotion there is
// refused (409, saying until when and how to go ahead) but an emergency's, which says why;
// anyone lists the window; the admin ends it. Others may not freeze, and a window must end
// after it starts.
func TestFreezeWindows(t *testing.T) {
	f := newFixture(t)
	if status, data := f.do(globalAdmin, "POST", "/api/v1/envs", apiv1.CreateEnvironment{Name: "production", InCluster: true}); status != 201 {
		t.Fatalf("create production: %d %s", status, data)
	}
	start, end := time.Now().Add(-time.Minute).UTC().Truncate(time.Second), f.clock.Now().Add(time.Hour).UTC().Truncate(time.Second)
	freeze := apiv1.FreezeEnvironment{Start: &start, End: end, Reason: "Black Friday"}
	status, data := f.do(globalAdmin, "POST", "/api/v1/envs/production/freezes", freeze)
	var w apiv1.FreezeWindow
	if status != 201 || json.Unmarshal(data, &w) != nil || w.ID == 0 || w.Env != "production" || !w.Start.Equal(start) ||
		!w.End.Equal(end) || w.Reason != "Black Friday" || w.CreatedBy != "admin" {
		t.Fatalf("freeze production: %d %s", status, data)
	}

	deploy := apiv1.CreateDeploy{Team: "alpha", App: "reports", Env: "production"}
	status, data = f.do(deployer, "POST", "/api/v1/deploys", deploy)
	if want := fmt.Sprintf("environment production is frozen until %s (Black Friday, window %d)", end.Format(time.RFC3339), w.ID); status != 409 ||
		!strings.Contains(string(data), want) || !strings.Contains(string(data), "--emergency") {
		t.Errorf("deploy into the freeze: %d %s, want 409 saying %q", status, data, want)
	}
	promote := apiv1.Promote{From: "staging", To: "production"}
	if status, data := f.do(deployer, "POST", "/api/v1/teams/alpha/apps/reports/promotions", promote); status != 409 || !strings.Contains(string(data), "frozen until") {
		t.Errorf("promotion into the freeze: %d %s, want 409", status, data)
	}
	before := f.auditCount()
	deploy.Emergency = "checkout down"
	status, data = f.do(deployer, "POST", "/api/v1/deploys", deploy)
	var d apiv1.Deploy
	if status != 201 || json.Unmarshal(data, &d) != nil || d.Env != "production" || d.State != "queued" {
		t.Fatalf("emergency deploy: %d %s", status, data)
	}
	if n := f.auditCount() - before; n < 2 {
		t.Errorf("emergency deploy wrote %d audit events, want the deploy's and its emergency's", n)
	}
	promote.Emergency = "checkout down"
	if status, data := f.do(deployer, "POST", "/api/v1/teams/alpha/apps/reports/promotions", promote); status != 201 {
		t.Errorf("emergency promotion: %d %s", status, data)
	}
	if status, data := f.do(deployer, "POST", "/api/v1/deploys", apiv1.CreateDeploy{Team: "alpha", App: "reports", Env: "staging"}); status != 201 {
		t.Errorf("deploy to staging, not frozen: %d %s", status, data)
	}

	for _, env := range []string{"", "production"} {
		if ws := f.freezes(env); len(ws) != 1 || ws[0] != w {
			t.Errorf("windows of %q: %+v, want window %d", env, ws, w.ID)
		}
	}
	if ws := f.freezes("staging"); len(ws) != 0 {
		t.Errorf("staging's windows: %+v, want none", ws)
	}
	if status, data := f.do(ownViewer, "GET", "/api/v1/freezes?env=nowhere", nil); status != 404 {
		t.Errorf("an unknown environment's windows: %d %s, want 404", status, data)
	}

	for _, c := range []struct {
		name, caller string
		path         string
		in           apiv1.FreezeEnvironment
		status       int
		field        string
	}{
		{"team admin", teamAdmin, "/api/v1/envs/production/freezes", freeze, 403, ""},
		{"end before start", globalAdmin, "/api/v1/envs/production/freezes", apiv1.FreezeEnvironment{Start: &end, End: start, Reason: "backwards"}, 400, "end"},
		{"no end", globalAdmin, "/api/v1/envs/production/freezes", apiv1.FreezeEnvironment{Reason: "forever"}, 400, "window"},
		{"unknown environment", globalAdmin, "/api/v1/envs/nowhere/freezes", freeze, 404, ""},
	} {
		status, data := f.do(c.caller, "POST", c.path, c.in)
		var e apiv1.Error
		if status != c.status || json.Unmarshal(data, &e) != nil || e.Field != c.field {
			t.Errorf("%s: %d %s, want %d (field %q)", c.name, status, data, c.status, c.field)
		}
	}

	if status, data := f.do(teamAdmin, "DELETE", fmt.Sprintf("/api/v1/freezes/%d", w.ID), nil); status != 403 {
		t.Errorf("unfreeze as a team admin: %d %s, want 403", status, data)
	}
	status, data = f.do(globalAdmin, "DELETE", fmt.Sprintf("/api/v1/freezes/%d", w.ID), nil)
	var gone apiv1.FreezeWindow
	if status != 200 || json.Unmarshal(data, &gone) != nil || gone != w {
		t.Fatalf("unfreeze: %d %s, want window %d", status, data, w.ID)
	}
	if status, data := f.do(globalAdmin, "DELETE", fmt.Sprintf("/api/v1/freezes/%d", w.ID), nil); status != 404 {
		t.Errorf("unfreeze again: %d %s, want 404", status, data)
	}
	if ws := f.freezes(""); len(ws) != 0 {
		t.Errorf("windows after the unfreeze: %+v, want none", ws)
	}
	deploy.Emergency = ""
	if status, data := f.do(deployer, "POST", "/api/v1/deploys", deploy); status != 201 {
		t.Errorf("deploy after the unfreeze: %d %s", status, data)
	}
}
