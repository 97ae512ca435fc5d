package service_test

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/seal"
	"github.com/berth-dev/berth/internal/service"
	"github.com/berth-dev/berth/internal/store"
)

// gitOpsToken is the forge token of the tests' GitOps output: no answer, error or audit
// event may hold it.
const gitOpsToken = "gitops-forge-token-9f3e1d"

// sealed is a service like sessions', whose store has a secrets key (GitOps tokens are
// sealed), with environment staging and a signed-in user who is no global admin.
func sealed(t *testing.T) (*service.Service, *store.Store, *authz.Principal, *authz.Principal) {
	t.Helper()
	raw := make([]byte, seal.KeySize)
	rand.Read(raw)
	key, err := seal.NewKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)}
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "berth.db"), store.WithClock(clk.Now), store.WithSecretsKey(key))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := service.New(st, slog.New(slog.DiscardHandler), clk.Now)
	if _, err := svc.Bootstrap(t.Context(), adminToken); err != nil {
		t.Fatal(err)
	}
	admin, err := svc.Authenticate(t.Context(), adminToken)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateEnvironment(t.Context(), admin, berth.Environment{Name: "staging", InCluster: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateUser(t.Context(), admin, berth.User{Name: "dan"}); err != nil {
		t.Fatal(err)
	}
	_, secret, err := svc.CreateToken(t.Context(), admin, "dan", "t", 0)
	if err != nil {
		t.Fatal(err)
	}
	dan, err := svc.Authenticate(t.Context(), secret)
	if err != nil {
		t.Fatal(err)
	}
	return svc, st, admin, dan
}

// TestEnvGitOps: a global admin sets an environment's GitOps output, anyone signed in reads
// it back without the token, the admin turns it off; each change is audited, naming the
// repository, branch and modes, and no event holds the token.
func TestEnvGitOps(t *testing.T) {
	svc, st, admin, dan := sealed(t)
	ctx := t.Context()
	in := berth.GitOps{Env: "staging", Forge: berth.ForgeGitea, URL: "https://git.example.com/platform/deployments", PullRequest: true}
	set, err := svc.SetEnvGitOps(ctx, admin, service.GitOpsRequest{GitOps: in, Token: gitOpsToken})
	if err != nil {
		t.Fatal(err)
	}
	g := set.GitOps
	if len(set.HookSecret) != 64 || set.HookURL != "" {
		t.Errorf("set without a webhook: secret %q, webhook %q", set.HookSecret, set.HookURL)
	}
	if secrets, err := st.GitOpsHookSecrets(ctx, berth.ForgeGitea, "platform/deployments"); err != nil ||
		len(secrets) != 1 || secrets[0] != (store.GitOpsHookSecret{Env: "staging", Secret: set.HookSecret}) {
		t.Errorf("the webhook endpoint's secrets: %+v %v", secrets, err)
	}
	want := berth.GitOps{Env: "staging", Forge: berth.ForgeGitea, URL: in.URL, Repo: "platform/deployments", Branch: "staging",
		PullRequest: true, CreatedBy: "admin"}
	if diff := cmp.Diff(want, g, ignoreUpdated); diff != "" {
		t.Errorf("set (-want +got):\n%s", diff)
	}
	got, err := svc.EnvGitOps(ctx, dan, "staging")
	if diff := cmp.Diff(want, got, ignoreUpdated); err != nil || diff != "" {
		t.Errorf("read by a user: %v (-want +got):\n%s", err, diff)
	}
	if tok, err := st.GitOpsToken(ctx, "staging"); err != nil || tok != gitOpsToken {
		t.Errorf("the engine's token: %q %v", tok, err)
	}

	if _, err := svc.SetEnvGitOps(ctx, dan, service.GitOpsRequest{GitOps: in, Token: gitOpsToken}); !errors.As(err, new(*authz.Denied)) {
		t.Errorf("set by a user: %v, want denied", err)
	}
	if _, err := svc.UnsetEnvGitOps(ctx, dan, "staging"); !errors.As(err, new(*authz.Denied)) {
		t.Errorf("unset by a user: %v, want denied", err)
	}

	gone, err := svc.UnsetEnvGitOps(ctx, admin, "staging")
	if diff := cmp.Diff(want, gone, ignoreUpdated); err != nil || diff != "" {
		t.Errorf("unset: %v (-want +got):\n%s", err, diff)
	}
	if _, err := svc.EnvGitOps(ctx, dan, "staging"); !errors.Is(err, berth.ErrNotFound) || !strings.Contains(err.Error(), "has no GitOps output") {
		t.Errorf("read after unset: %v, want not found", err)
	}
	if _, err := svc.UnsetEnvGitOps(ctx, admin, "staging"); !errors.Is(err, berth.ErrNotFound) {
		t.Errorf("unset again: %v, want not found", err)
	}
	if _, err := svc.EnvGitOps(ctx, dan, "nowhere"); !errors.Is(err, berth.ErrNotFound) || !strings.Contains(err.Error(), "nowhere") {
		t.Errorf("an unknown environment's: %v, want not found", err)
	}

	evs, err := st.ListAudit(ctx, berth.AuditFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range evs {
		data, _ := json.Marshal(e)
		if strings.Contains(string(data), gitOpsToken) {
			t.Errorf("audit event %s holds the token: %s", e.Action, data)
		}
		if strings.HasPrefix(e.Action, "env.gitops") {
			actions = append(actions, e.Action+" "+string(e.Outcome))
		}
		if e.Action == "env.gitops" && e.Outcome == berth.OutcomeSuccess {
			wantDetails := map[string]any{"forge": "gitea", "url": in.URL, "repo": "platform/deployments", "branch": "staging",
				"pullRequest": true, "externalApply": false}
			if diff := cmp.Diff(wantDetails, e.Details); diff != "" {
				t.Errorf("env.gitops details (-want +got):\n%s", diff)
			}
		}
	}
	// Newest first; the unset of nothing wrote nothing.
	if diff := cmp.Diff([]string{"env.gitops.unset success", "env.gitops.unset denied", "env.gitops denied", "env.gitops success"}, actions); diff != "" {
		t.Errorf("audit events (-want +got):\n%s", diff)
	}
}

var ignoreUpdated = cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".UpdatedAt" }, cmp.Ignore())

// TestSetEnvGitOpsInvalid: what is wrong is named by the API body's field, and neither the
// token nor a URL with credentials is quoted or stored.
func TestSetEnvGitOpsInvalid(t *testing.T) {
	svc, st, admin, _ := sealed(t)
	ctx := t.Context()
	ok := berth.GitOps{Env: "staging", Forge: berth.ForgeGitHub, URL: "https://github.com/acme/platform"}
	for _, c := range []struct {
		name  string
		edit  func(g *berth.GitOps)
		token string
		field string
	}{
		{"no forge", func(g *berth.GitOps) { g.Forge = "" }, gitOpsToken, "forge"},
		{"unknown forge", func(g *berth.GitOps) { g.Forge = "gitlab" }, gitOpsToken, "forge"},
		{"no url", func(g *berth.GitOps) { g.URL = "" }, gitOpsToken, "url"},
		{"not a repository", func(g *berth.GitOps) { g.URL = "https://github.com/acme" }, gitOpsToken, "url"},
		{"credentials", func(g *berth.GitOps) { g.URL = "https://x:" + gitOpsToken + "@github.com/acme/platform" }, gitOpsToken, "url"},
		{"a query", func(g *berth.GitOps) { g.URL = "https://github.com/acme/platform?access_token=" + gitOpsToken }, gitOpsToken, "url"},
		{"ssh", func(g *berth.GitOps) { g.URL = "git@github.com:acme/platform.git" }, gitOpsToken, "url"},
		{"long url", func(g *berth.GitOps) { g.URL = "https://github.com/acme/" + strings.Repeat("p", 3000) }, gitOpsToken, "url"},
		{"bad branch", func(g *berth.GitOps) { g.Branch = "release..1" }, gitOpsToken, "branch"},
		{"no token", func(*berth.GitOps) {}, "", "token"},
		{"long token", func(*berth.GitOps) {}, strings.Repeat("t", 5000), "token"},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := ok
			c.edit(&g)
			_, err := svc.SetEnvGitOps(ctx, admin, service.GitOpsRequest{GitOps: g, Token: c.token})
			var bad *berth.InvalidError
			if !errors.As(err, &bad) || bad.Field != c.field {
				t.Fatalf("%v, want invalid %s", err, c.field)
			}
			if strings.Contains(err.Error(), gitOpsToken) {
				t.Errorf("the error quotes the token: %v", err)
			}
		})
	}
	if _, err := svc.SetEnvGitOps(ctx, admin, service.GitOpsRequest{GitOps: berth.GitOps{Env: "nowhere", Forge: ok.Forge, URL: ok.URL},
		Token: gitOpsToken}); !errors.Is(err, berth.ErrNotFound) {
		t.Errorf("an unknown environment: %v, want not found", err)
	}
	if _, err := st.EnvGitOps(ctx, "staging"); !errors.Is(err, berth.ErrNotFound) {
		t.Errorf("a refused call stored %v", err)
	}
	evs, err := st.ListAudit(ctx, berth.AuditFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if strings.HasPrefix(e.Action, "env.gitops") {
			t.Errorf("invalid input wrote audit event %+v", e)
		}
	}
}
