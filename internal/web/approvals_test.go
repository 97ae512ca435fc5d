package web

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/service"
)

// TestDeployPageApproves: a promotion into a protected environment shows, on its page, who
// asked for it and — to someone who may decide, and is not the requester — a form with a
// reason and Approve and Reject buttons; approving through it queues the promotion, and the
// page then says who approved it and why. The requester sees no form.
func TestDeployPageApproves(t *testing.T) {
	srv, svc, st := serverWithStore(t)
	ctx := t.Context()
	d := queuedDeploy(t, svc)
	claim(t, st, d).finish(berth.DeploySucceeded, "available")
	admin, err := svc.Authenticate(ctx, adminToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateUser(ctx, admin, berth.User{Name: "dan"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SetMember(ctx, admin, "shop", "dan", "deployer"); err != nil {
		t.Fatal(err)
	}
	_, danToken, err := svc.CreateToken(ctx, admin, "dan", "t", 0)
	if err != nil {
		t.Fatal(err)
	}
	dan, err := svc.Authenticate(ctx, danToken)
	if err != nil {
		t.Fatal(err)
	}
	staging, err := st.Environment(ctx, "staging")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateEnvironment(ctx, admin, berth.Environment{Name: "production", Kubeconfig: staging.Kubeconfig, Protected: true}); err != nil {
		t.Fatal(err)
	}
	p, err := svc.Promote(ctx, dan, service.PromoteRequest{Team: "shop", App: "web", From: "staging", To: "production"})
	if err != nil || p.State != berth.DeployAwaiting {
		t.Fatalf("promote: %+v %v", p, err)
	}
	page := func(session string) string {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/deploys/%d", srv.URL, p.ID), nil)
		req.AddCookie(&http.Cookie{Name: "berth_session", Value: session})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if resp.StatusCode != 200 {
			t.Fatalf("deploy page: %d", resp.StatusCode)
		}
		return string(b)
	}
	if body := page(signIn(t, svc, danToken)); !strings.Contains(body, "Asked for by dan") || strings.Contains(body, `action="/deploys/`) {
		t.Errorf("the requester's view of the promotion: form shown or requester missing")
	}
	session := signIn(t, svc, adminToken)
	body := page(session)
	for _, want := range []string{`awaiting-approval`, "Asked for by dan", fmt.Sprintf(`action="/deploys/%d/decide"`, p.ID), `value="approved"`, `value="rejected"`,
		fmt.Sprintf(`what <a href="/deploys/%d">#%d</a> runs`, d.ID, d.ID)} {
		if !strings.Contains(body, want) {
			t.Errorf("the admin's view lacks %q", want)
		}
	}
	csrf := csrfInput.FindStringSubmatch(body)
	if csrf == nil {
		t.Fatal("no CSRF token in the form")
	}
	resp, _ := postRaw(t, fmt.Sprintf("%s/deploys/%d/decide", srv.URL, p.ID), []*http.Cookie{{Name: "berth_session", Value: session}},
		url.Values{"csrf": {csrf[1]}, "decision": {"approved"}, "reason": {"looks good on staging"}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("approve through the form: %d", resp.StatusCode)
	}
	got, err := st.Deploy(ctx, p.ID)
	if err != nil || got.State != berth.DeployQueued {
		t.Fatalf("after approving: %+v %v", got, err)
	}
	if body := page(session); !strings.Contains(body, "approved by admin") || !strings.Contains(body, "looks good on staging") {
		t.Errorf("the page after approval does not say who approved and why")
	}
}
