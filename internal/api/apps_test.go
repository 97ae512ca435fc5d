package api_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/store"
)

// TestListAppsByName: ?name= keeps only the apps of that name, among those the caller may
// see, so a client learns an app's team without being sent every app.
func TestListAppsByName(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	err := f.st.Tx(ctx, func(tx *store.Tx) error {
		for _, a := range [][2]string{{"beta", "reports"}, {"beta", "billing"}, {"alpha", "billing"}} {
			if _, err := tx.CreateApp(ctx, a[0], a[1], "admin"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		caller, path string
		want         string
	}{
		{globalAdmin, "/api/v1/apps?name=reports", "alpha/reports beta/reports"},
		{ownViewer, "/api/v1/apps?name=reports", "alpha/reports"},
		{otherViewer, "/api/v1/apps?name=reports", "beta/reports"},
		{otherViewer, "/api/v1/apps?name=nope", ""},
		{globalAdmin, "/api/v1/apps", "alpha/billing alpha/reports beta/billing beta/reports"},
		{ownViewer, "/api/v1/teams/alpha/apps?name=billing", "alpha/billing"},
	} {
		status, data := f.do(c.caller, "GET", c.path, nil)
		var l apiv1.List[apiv1.App]
		if status != 200 || json.Unmarshal(data, &l) != nil || l.Items == nil {
			t.Errorf("GET %s as %s: %d %s", c.path, c.caller, status, data)
			continue
		}
		var got []string
		for _, a := range l.Items {
			got = append(got, a.Team+"/"+a.Name)
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("GET %s as %s: %v, want %s", c.path, c.caller, got, c.want)
		}
	}
	// Another team's apps stay refused, name or not.
	status, data := f.do(otherViewer, "GET", "/api/v1/teams/alpha/apps?name=reports", nil)
	if status != 403 || !strings.Contains(string(data), "bob is not a member of team alpha") {
		t.Errorf("alpha's apps as bob: %d %s, want 403", status, data)
	}
}
