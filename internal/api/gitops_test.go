package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// fixtureGitOpsToken is the forge token of the GitOps output the tests set: no answer,
// audit event or log line may hold it.
const fixtureGitOpsToken = "fixture-gitops-token-3c9a"

// fixtureGitOpsHookSecret is the webhook secret of the GitOps output the tests set.
const fixtureGitOpsHookSecret = "fixture-gitops-hook-secret-71d2"

const platformRepo = "http://127.0.0.1:3000/platform/deployments"

// withGitOps gives env GitOps output to platformRepo, as a platform admin would.
func (f *fixture) withGitOps(env string) {
	f.t.Helper()
	err := f.st.Tx(context.Background(), func(tx *store.Tx) error {
		_, err := tx.SetEnvGitOps(context.Background(), berth.GitOps{Env: env, Forge: berth.ForgeGitea, URL: platformRepo, CreatedBy: "admin"},
			berth.RepoSecrets{Token: fixtureGitOpsToken, HookSecret: fixtureGitOpsHookSecret})
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

// withGitOpsChange records that the fixture's finished deploy opened pull request 7.
func (f *fixture) withGitOpsChange() berth.GitOpsChange {
	f.t.Helper()
	var c berth.GitOpsChange
	err := f.st.Tx(context.Background(), func(tx *store.Tx) (err error) {
		c, err = tx.SaveGitOpsChange(context.Background(), berth.GitOpsChange{DeployID: f.ids["deploy"], Env: "staging",
			Repo: "platform/deployments", Branch: fmt.Sprintf("berth/staging/deploy-%d", f.ids["deploy"]), Commit: strings.Repeat("ab", 20),
			PR: 7, URL: "http://127.0.0.1:3000/platform/deployments/pulls/7", State: berth.GitOpsOpen})
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// TestEnvGitOps: a global admin sets staging's GitOps output; the answer, anyone's read of
// it, the audit log and the server's logs never hold the token; the webhook secret is in
// the answer of setting it only; the admin turns it off.
func TestEnvGitOps(t *testing.T) {
	f := newFixture(t)
	in := apiv1.SetEnvGitOps{Forge: "gitea", URL: platformRepo, Branch: "env/staging", PullRequest: true, ExternalApply: true,
		Token: fixtureGitOpsToken}
	status, data := f.do(globalAdmin, "PUT", "/api/v1/envs/staging/gitops", in)
	var g apiv1.GitOps
	if status != 200 || json.Unmarshal(data, &g) != nil {
		t.Fatalf("set: %d %s", status, data)
	}
	hookSecret := g.HookSecret
	want := apiv1.GitOps{Env: "staging", Forge: "gitea", URL: platformRepo, Repo: "platform/deployments", Branch: "env/staging",
		PullRequest: true, ExternalApply: true, CreatedBy: "admin", UpdatedAt: g.UpdatedAt, HookSecret: hookSecret}
	if g != want || g.UpdatedAt.IsZero() || len(hookSecret) != 64 {
		t.Errorf("set: %+v, want %+v with a webhook secret", g, want)
	}
	g.HookSecret = ""
	for _, caller := range []string{otherViewer, globalAdmin} {
		status, got := f.do(caller, "GET", "/api/v1/envs/staging/gitops", nil)
		var read apiv1.GitOps
		if status != 200 || json.Unmarshal(got, &read) != nil || read != g {
			t.Errorf("read as %s: %d %s", caller, status, got)
		}
		if strings.Contains(string(got), hookSecret) {
			t.Errorf("read as %s shows the webhook secret: %s", caller, got)
		}
		data = append(data, got...)
	}
	_, audit := f.do(globalAdmin, "GET", "/api/v1/audit?limit=500", nil)
	for what, text := range map[string]string{"answers": string(data), "audit": string(audit), "logs": f.logs.String()} {
		if strings.Contains(text, fixtureGitOpsToken) {
			t.Errorf("the %s hold the token:\n%s", what, text)
		}
	}
	for what, text := range map[string]string{"audit": string(audit), "logs": f.logs.String()} {
		if strings.Contains(text, hookSecret) {
			t.Errorf("the %s hold the webhook secret:\n%s", what, text)
		}
	}
	if strings.Contains(string(data), `"token"`) {
		t.Errorf("an answer has a token field:\n%s", data)
	}
	if !strings.Contains(string(audit), `"env.gitops"`) || !strings.Contains(string(audit), `"platform/deployments"`) {
		t.Errorf("no env.gitops event naming the repository:\n%s", audit)
	}

	status, data = f.do(globalAdmin, "DELETE", "/api/v1/envs/staging/gitops", nil)
	var gone apiv1.GitOps
	if status != 200 || json.Unmarshal(data, &gone) != nil || gone != g {
		t.Errorf("unset: %d %s, want what was set", status, data)
	}
	if status, data := f.do(ownViewer, "GET", "/api/v1/envs/staging/gitops", nil); status != 404 || !strings.Contains(string(data), "has no GitOps output") {
		t.Errorf("read after unset: %d %s, want 404", status, data)
	}
	if status, data := f.do(globalAdmin, "DELETE", "/api/v1/envs/staging/gitops", nil); status != 404 {
		t.Errorf("unset again: %d %s, want 404", status, data)
	}
	for _, path := range []string{"/api/v1/envs/nowhere/gitops"} {
		if status, data := f.do(globalAdmin, "GET", path, nil); status != 404 {
			t.Errorf("GET %s: %d %s, want 404", path, status, data)
		}
		if status, data := f.do(globalAdmin, "PUT", path, in); status != 404 {
			t.Errorf("PUT %s: %d %s, want 404", path, status, data)
		}
	}
}

// TestSetEnvGitOpsRefused: a wrong forge, URL, branch or token is a 400 naming the body's
// field, as is an unknown field; a body over the bound is refused whole; a team admin is
// refused. None of them stores anything, and no answer quotes the token.
func TestSetEnvGitOpsRefused(t *testing.T) {
	f := newFixture(t)
	good := apiv1.SetEnvGitOps{Forge: "github", URL: "https://github.com/acme/platform", Token: fixtureGitOpsToken}
	for _, c := range []struct {
		name   string
		caller string
		body   any
		status int
		field  string
	}{
		{"forge", globalAdmin, edit(good, func(in *apiv1.SetEnvGitOps) { in.Forge = "gitlab" }), 400, "forge"},
		{"no forge", globalAdmin, edit(good, func(in *apiv1.SetEnvGitOps) { in.Forge = "" }), 400, "forge"},
		{"url", globalAdmin, edit(good, func(in *apiv1.SetEnvGitOps) { in.URL = "ftp://github.com/acme/platform" }), 400, "url"},
		{"url with credentials", globalAdmin, edit(good, func(in *apiv1.SetEnvGitOps) {
			in.URL = "https://acme:" + fixtureGitOpsToken + "@github.com/acme/platform"
		}), 400, "url"},
		{"branch", globalAdmin, edit(good, func(in *apiv1.SetEnvGitOps) { in.Branch = "a branch" }), 400, "branch"},
		{"no token", globalAdmin, edit(good, func(in *apiv1.SetEnvGitOps) { in.Token = "" }), 400, "token"},
		{"unknown field", globalAdmin, map[string]any{"forge": "github", "url": good.URL, "token": fixtureGitOpsToken, "secret": "x"}, 400, "secret"},
		{"too large", globalAdmin, edit(good, func(in *apiv1.SetEnvGitOps) { in.Token = strings.Repeat("t", 2<<20) }), 413, ""},
		{"team admin", teamAdmin, good, 403, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := f.auditCount()
			status, data := f.do(c.caller, "PUT", "/api/v1/envs/staging/gitops", c.body)
			var e apiv1.Error
			if status != c.status || json.Unmarshal(data, &e) != nil || e.Field != c.field {
				t.Errorf("%d %s, want %d naming %q", status, data, c.status, c.field)
			}
			if strings.Contains(string(data), fixtureGitOpsToken) {
				t.Errorf("the answer quotes the token: %s", data)
			}
			if want := before + map[bool]int{true: 1}[c.status == 403]; f.auditCount() != want {
				t.Errorf("%d audit events, want %d", f.auditCount()-before, want-before)
			}
		})
	}
	if status, data := f.do(ownViewer, "GET", "/api/v1/envs/staging/gitops", nil); status != 404 {
		t.Errorf("after refused calls: %d %s, want none set", status, data)
	}
	if strings.Contains(f.logs.String(), fixtureGitOpsToken) {
		t.Errorf("the logs hold the token:\n%s", f.logs)
	}
}

func edit(in apiv1.SetEnvGitOps, fn func(*apiv1.SetEnvGitOps)) apiv1.SetEnvGitOps {
	fn(&in)
	return in
}

// TestDeployGitOps: the team's viewers see what a deploy published to the platform
// repository; 404 when it published nothing; others are refused.
func TestDeployGitOps(t *testing.T) {
	f := newFixture(t)
	path := f.expand("/api/v1/deploys/{deploy}/gitops")
	if status, data := f.do(ownViewer, "GET", path, nil); status != 404 || !strings.Contains(string(data), "published nothing") {
		t.Errorf("before publishing: %d %s, want 404", status, data)
	}
	c := f.withGitOpsChange()
	status, data := f.do(ownViewer, "GET", path, nil)
	var got apiv1.GitOpsChange
	want := apiv1.GitOpsChange{Deploy: c.DeployID, Env: "staging", Repo: "platform/deployments", Branch: c.Branch, Commit: c.Commit,
		PR: 7, URL: c.URL, State: "open", UpdatedAt: c.UpdatedAt}
	if status != 200 || json.Unmarshal(data, &got) != nil || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Fatalf("%d %s", status, data)
	}
	got.UpdatedAt = want.UpdatedAt
	if got != want {
		t.Errorf("%+v, want %+v", got, want)
	}
	if status, data := f.do(otherViewer, "GET", path, nil); status != 403 {
		t.Errorf("another team's viewer: %d %s, want 403", status, data)
	}
	for _, p := range []string{"/api/v1/deploys/0/gitops", "/api/v1/deploys/x/gitops"} {
		if status, data := f.do(ownViewer, "GET", p, nil); status != 400 {
			t.Errorf("GET %s: %d %s, want 400", p, status, data)
		}
	}
	if status, data := f.do(ownViewer, "GET", "/api/v1/deploys/99999/gitops", nil); status != 404 {
		t.Errorf("an unknown deploy: %d %s, want 404", status, data)
	}
}
