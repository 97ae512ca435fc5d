package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

// TestConnectRepo: team admins connect an app to its repository; the webhook secret is in
// that answer only, the token in none, nor in the audit log; bad input says where.
func TestConnectRepo(t *testing.T) {
	f := newFixture(t)
	const token = "gitea-token-for-connect-0042"
	status, data := f.do(teamAdmin, "PUT", "/api/v1/teams/alpha/apps/reports/repo", apiv1.ConnectRepo{
		Forge: "gitea", URL: "http://127.0.0.1:3000/alpha/reports.git", Path: "deploy/berth.yaml", Branch: "trunk", Token: token})
	if status != 200 {
		t.Fatalf("connect: %d %s", status, data)
	}
	var conn apiv1.Connection
	if err := json.Unmarshal(data, &conn); err != nil {
		t.Fatal(err)
	}
	if len(conn.HookSecret) != 64 || conn.Repo.Repo != "alpha/reports" || conn.Repo.Path != "deploy/berth.yaml" ||
		conn.Repo.Branch != "trunk" || conn.Repo.HookPath != "/hooks/gitea" || strings.Contains(string(data), token) {
		t.Errorf("connection %s", data)
	}
	status, data = f.do(ownViewer, "GET", "/api/v1/teams/alpha/apps/reports/repo", nil)
	if status != 200 || strings.Contains(string(data), conn.HookSecret) || strings.Contains(string(data), token) || !strings.Contains(string(data), `"repo": "alpha/reports"`) {
		t.Errorf("get: %d %s", status, data)
	}
	_, audit := f.do(globalAdmin, "GET", "/api/v1/audit?limit=1000", nil)
	if strings.Contains(string(audit), token) || strings.Contains(string(audit), conn.HookSecret) || !strings.Contains(string(audit), "app.connect") {
		t.Error("the audit log holds the token or the webhook secret, or no app.connect")
	}
	for _, c := range []struct {
		who    string
		in     apiv1.ConnectRepo
		status int
		want   string
	}{
		{teamAdmin, apiv1.ConnectRepo{Forge: "gitlab", URL: "http://h/a/b", Token: "t"}, 400, `"field": "forge"`},
		{teamAdmin, apiv1.ConnectRepo{Forge: "gitea", URL: "http://user:pw@h/a/b", Token: "t"}, 400, "must not hold credentials"},
		{teamAdmin, apiv1.ConnectRepo{Forge: "gitea", URL: "ftp://user:pw@h/a/b", Token: "t"}, 400, "must not hold credentials"},
		{teamAdmin, apiv1.ConnectRepo{Forge: "gitea", URL: "http://user:pw@h/a b%zz", Token: "t"}, 400, "not a URL"},
		{teamAdmin, apiv1.ConnectRepo{Forge: "gitea", URL: "http://h/a/b", Path: "../x", Token: "t"}, 400, `"field": "path"`},
		{teamAdmin, apiv1.ConnectRepo{Forge: "gitea", URL: "http://h/a/b"}, 400, `"field": "token"`},
		{deployer, apiv1.ConnectRepo{Forge: "gitea", URL: "http://h/a/b", Token: "t"}, 403, ""},

		{teamAdmin, apiv1.ConnectRepo{Forge: "gitea", URL: "http://h/a/b", Token: "t", CreateWebhook: true}, 503, "cannot register webhooks"},
	} {
		status, data := f.do(c.who, "PUT", "/api/v1/teams/alpha/apps/reports/repo", c.in)
		if status != c.status || !strings.Contains(string(data), c.want) {
			t.Errorf("%+v: %d %s, want %d %q", c.in, status, data, c.status, c.want)
		}
		if strings.Contains(string(data), "pw@") {
			t.Errorf("an error quotes the URL's credentials: %s", data)
		}
	}
	if status, _ := f.do(teamAdmin, "DELETE", "/api/v1/teams/alpha/apps/reports/repo", nil); status != 204 {
		t.Fatalf("disconnect: %d", status)
	}
	if status, _ := f.do(ownViewer, "GET", "/api/v1/teams/alpha/apps/reports/repo", nil); status != 404 {
		t.Errorf("after disconnect: %d", status)
	}
}
