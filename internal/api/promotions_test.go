package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

// awaiting makes the protected environment vault (allowed deployer: carol) and a promotion
// of alpha/reports from staging to it, asked for by dan, the team's deployer: a deploy
// awaiting approval. It returns it.
func (f *fixture) awaiting() apiv1.Deploy {
	f.t.Helper()
	if status, data := f.do(globalAdmin, "POST", "/api/v1/envs", apiv1.CreateEnvironment{Name: "vault", InCluster: true,
		Protected: true, AllowedDeployers: []string{"carol"}}); status != 201 {
		f.t.Fatalf("create vault: %d %s", status, data)
	}
	status, data := f.do(deployer, "POST", "/api/v1/teams/alpha/apps/reports/promotions", apiv1.Promote{From: "staging", To: "vault"})
	var d apiv1.Deploy
	if status != 201 || json.Unmarshal(data, &d) != nil {
		f.t.Fatalf("promote to vault: %d %s", status, data)
	}
	return d
}

// TestPromotionsAndApprovals: a promotion deploys what runs in the source (its revision
// and args), linked to its source deploy; into a protected environment it awaits approval
// by someone other than its requester, with a reason, audited; approving queues it,
// rejecting fails it; a decision is taken once.
func TestPromotionsAndApprovals(t *testing.T) {
	f := newFixture(t)
	status, data := f.do(deployer, "POST", "/api/v1/teams/alpha/apps/reports/promotions", apiv1.Promote{From: "staging", To: "old"})
	var p apiv1.Deploy
	if status != 201 || json.Unmarshal(data, &p) != nil || p.Kind != "promotion" || p.State != "queued" ||
		p.PromotedFrom != f.ids["deploy"] || p.Revision != 1 || p.Env != "old" {
		t.Fatalf("promotion to an unprotected environment: %d %s", status, data)
	}
	for _, c := range []struct {
		in   apiv1.Promote
		want string
	}{
		{apiv1.Promote{From: "old", To: "staging"}, "no successful deploy in old"},
		{apiv1.Promote{From: "staging", To: "staging"}, "to itself"},
		{apiv1.Promote{From: "staging", To: "nowhere"}, "nowhere"},
		{apiv1.Promote{From: "staging"}, "name the environment"},
	} {
		if status, data := f.do(deployer, "POST", "/api/v1/teams/alpha/apps/reports/promotions", c.in); status/100 != 4 || !strings.Contains(string(data), c.want) {
			t.Errorf("promote %+v: %d %s, want a refusal mentioning %q", c.in, status, data, c.want)
		}
	}

	d := f.awaiting()
	if d.State != "awaiting-approval" {
		t.Fatalf("promotion to a protected environment: %+v", d)
	}
	status, data = f.do(ownViewer, "GET", "/api/v1/approvals?team=alpha", nil)
	var list apiv1.List[apiv1.Approval]
	if status != 200 || json.Unmarshal(data, &list) != nil || len(list.Items) != 1 || list.Items[0].RequestedBy != "dan" || list.Items[0].Deploy.ID != d.ID {
		t.Fatalf("approvals: %d %s", status, data)
	}
	if status, data := f.do(otherViewer, "GET", "/api/v1/approvals", nil); status != 200 || strings.Contains(string(data), "reports") {
		t.Errorf("another team's viewer sees alpha's approvals: %d %s", status, data)
	}
	approve := func(who, reason string) (int, []byte) {
		return f.do(who, "POST", fmt.Sprintf("/api/v1/deploys/%d/approve", d.ID), apiv1.Decision{Reason: reason})
	}
	if status, data := approve(deployer, "my own"); status != http.StatusForbidden {
		t.Errorf("a deployer approving (the requester, not allowed in vault): %d %s", status, data)
	}
	if status, data := approve(teamAdmin, " "); status != 400 || !strings.Contains(string(data), "reason") {
		t.Errorf("approving without a reason: %d %s", status, data)
	}
	status, data = approve(teamAdmin, "release 1.2 signed off")
	var approved apiv1.Deploy
	if status != 200 || json.Unmarshal(data, &approved) != nil || approved.State != "queued" {
		t.Fatalf("approve: %d %s", status, data)
	}
	if status, data := approve(globalAdmin, "again"); status != http.StatusConflict || !strings.Contains(string(data), "not awaiting approval") {
		t.Errorf("a second decision: %d %s", status, data)
	}
	_, audit := f.do(globalAdmin, "GET", "/api/v1/audit?limit=1000", nil)
	if !strings.Contains(string(audit), `"action": "deploy.approve"`) || !strings.Contains(string(audit), "release 1.2 signed off") {
		t.Errorf("the approval is not audited with its reason")
	}

	// A rejection fails the promotion with the reason.
	status, data = f.do(deployer, "POST", "/api/v1/teams/alpha/apps/reports/promotions", apiv1.Promote{From: "staging", To: "vault"})
	if status != 201 || json.Unmarshal(data, &d) != nil {
		t.Fatalf("second promotion: %d %s", status, data)
	}
	status, data = f.do(teamAdmin, "POST", fmt.Sprintf("/api/v1/deploys/%d/reject", d.ID), apiv1.Decision{Reason: "not this week"})
	var rejected apiv1.Deploy
	if status != 200 || json.Unmarshal(data, &rejected) != nil || rejected.State != "failed" || rejected.Reason != "rejected by ada: not this week" {
		t.Fatalf("reject: %d %s", status, data)
	}
}
