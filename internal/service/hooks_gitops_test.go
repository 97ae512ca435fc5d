package service_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/forge"
	"github.com/berth-dev/berth/internal/service"
)

// platformURL is the platform repository of the tests' GitOps output.
const platformURL = "https://git.example.com/platform/deployments"

// hookCall is one webhook the service asked the forge to register.
type hookCall struct {
	Forge                                 berth.Forge
	RepoURL, Token, Repo, HookURL, Secret string
}

// fakeHooks records the webhooks registered, failing with err when set.
type fakeHooks struct {
	calls []hookCall
	err   error
}

func (h *fakeHooks) CreateHook(_ context.Context, f berth.Forge, repoURL, token, repo, hookURL, secret string) error {
	h.calls = append(h.calls, hookCall{f, repoURL, token, repo, hookURL, secret})
	return h.err
}

// countNotifier counts its wakes.
type countNotifier struct {
	mu sync.Mutex
	n  int
}

func (c *countNotifier) Notify() {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
}

func (c *countNotifier) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// giteaPull is a Gitea pull_request delivery's body for pull request pr of repo.
func giteaPull(repo, action string, pr int, merged bool) []byte {
	return fmt.Appendf(nil, `{"action": %q, "number": %d, "pull_request": {"number": %d, "merged": %t,
"head": {"ref": "berth/production/deploy-%d", "sha": "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b", "repo": {"full_name": %q}},
"base": {"ref": "production"}}, "repository": {"full_name": %q}, "sender": {"login": "reviewer"}}`, action, pr, pr, merged, pr, repo, repo)
}

// giteaDelivery is a Gitea delivery's headers: event, id, and body signed with secret.
func giteaDelivery(event, id string, body []byte, secret string) http.Header {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	h := http.Header{}
	h.Set("X-Gitea-Event", event)
	h.Set("X-Gitea-Delivery", id)
	h.Set("X-Gitea-Signature", hex.EncodeToString(mac.Sum(nil)))
	return h
}

// TestSetEnvGitOpsWebhook: --create-webhook registers the platform repository's webhook
// with the token, to the server's public URL (or the URL given), signed with the secret
// Berth made, and audits where it sends; a forge that refuses it changes nothing.
func TestSetEnvGitOpsWebhook(t *testing.T) {
	svc, st, admin, _ := sealed(t)
	ctx := t.Context()
	hooks := &fakeHooks{}
	in := berth.GitOps{Env: "staging", Forge: berth.ForgeGitea, URL: platformURL, PullRequest: true}
	if _, err := svc.SetEnvGitOps(ctx, admin, service.GitOpsRequest{GitOps: in, Token: gitOpsToken, CreateWebhook: true}); !errors.Is(err, berth.ErrUnavailable) {
		t.Fatalf("create a webhook on a server that cannot: %v, want unavailable", err)
	}
	svc.SetHooks(hooks, "https://berth.example.com")
	set, err := svc.SetEnvGitOps(ctx, admin, service.GitOpsRequest{GitOps: in, Token: gitOpsToken, CreateWebhook: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []hookCall{{berth.ForgeGitea, platformURL, gitOpsToken, "platform/deployments", "https://berth.example.com/hooks/gitea", set.HookSecret}}
	if diff := cmp.Diff(want, hooks.calls); diff != "" || set.HookURL != "https://berth.example.com/hooks/gitea" || len(set.HookSecret) != 64 {
		t.Errorf("the webhook registered (-want +got):\n%s\nanswer: %+v", diff, set)
	}
	secrets, err := st.GitOpsHookSecrets(ctx, berth.ForgeGitea, "platform/deployments")
	if err != nil || len(secrets) != 1 || secrets[0].Secret != set.HookSecret {
		t.Errorf("the stored webhook secret: %+v %v", secrets, err)
	}

	other, err := svc.SetEnvGitOps(ctx, admin, service.GitOpsRequest{GitOps: in, Token: gitOpsToken, HookURL: "http://127.0.0.1:8080/hooks/gitea"})
	if err != nil || other.HookURL != "http://127.0.0.1:8080/hooks/gitea" || len(hooks.calls) != 2 || hooks.calls[1].HookURL != other.HookURL ||
		other.HookSecret == set.HookSecret {
		t.Errorf("a webhook to a URL given: %+v %v, calls %+v", other, err, hooks.calls)
	}

	hooks.err = &forge.APIError{Forge: berth.ForgeGitea, Call: "POST /repos/platform/deployments/hooks", Status: 403, Message: "forbidden " + gitOpsToken}
	_, err = svc.SetEnvGitOps(ctx, admin, service.GitOpsRequest{GitOps: in, Token: gitOpsToken, CreateWebhook: true})
	var bad *berth.InvalidError
	if !errors.As(err, &bad) || bad.Field != "createWebhook" || !strings.Contains(err.Error(), "HTTP 403") || strings.Contains(err.Error(), gitOpsToken) {
		t.Errorf("a webhook the forge refused: %v", err)
	}
	if secrets, _ := st.GitOpsHookSecrets(ctx, berth.ForgeGitea, "platform/deployments"); len(secrets) != 1 || secrets[0].Secret != other.HookSecret {
		t.Errorf("a refused webhook changed the stored secret: %+v", secrets)
	}
	for _, bad := range []string{"ftp://berth.example.com/hooks/gitea", "http://user:pw@berth.example.com/hooks/gitea", "berth.example.com"} {
		_, err := svc.SetEnvGitOps(ctx, admin, service.GitOpsRequest{GitOps: in, Token: gitOpsToken, HookURL: bad})
		var inv *berth.InvalidError
		if !errors.As(err, &inv) || inv.Field != "hookUrl" {
			t.Errorf("hook URL %q: %v, want invalid hookUrl", bad, err)
		}
	}

	evs, err := st.ListAudit(ctx, berth.AuditFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		if e.Action == "env.gitops" {
			got = append(got, fmt.Sprintf("%s %v", e.Outcome, e.Details["hookUrl"]))
		}
		if strings.Contains(fmt.Sprint(e.Details), set.HookSecret) || strings.Contains(fmt.Sprint(e.Details), gitOpsToken) {
			t.Errorf("audit event %s holds the webhook secret or the token", e.Action)
		}
	}
	if diff := cmp.Diff([]string{"failure <nil>", "success http://127.0.0.1:8080/hooks/gitea", "success https://berth.example.com/hooks/gitea"}, got); diff != "" {
		t.Errorf("env.gitops events (-want +got):\n%s", diff)
	}
}

// TestGitOpsWebhookDeliveries: a closed pull request of a platform repository, signed with
// the webhook secret of an environment publishing there, is taken once, audited for that
// environment, and wakes the watcher of pull requests once; a bad signature is refused
// (401) and a replay too (409), neither waking it; other events of the repository are
// answered and nothing done; a repository that is an app's too gets each path by its own
// secret.
func TestGitOpsWebhookDeliveries(t *testing.T) {
	svc, st, admin, _ := sealed(t)
	ctx := t.Context()
	prs, jobs := &countNotifier{}, &countNotifier{}
	svc.SetGitOpsNotifier(prs)
	svc.SetGitNotifier(jobs)
	if _, err := svc.CreateEnvironment(ctx, admin, berth.Environment{Name: "production", InCluster: true}); err != nil {
		t.Fatal(err)
	}
	prod, err := svc.SetEnvGitOps(ctx, admin, service.GitOpsRequest{GitOps: berth.GitOps{Env: "production", Forge: berth.ForgeGitea, URL: platformURL,
		PullRequest: true}, Token: gitOpsToken})
	if err != nil {
		t.Fatal(err)
	}
	staging, err := svc.SetEnvGitOps(ctx, admin, service.GitOpsRequest{GitOps: berth.GitOps{Env: "staging", Forge: berth.ForgeGitea, URL: platformURL},
		Token: gitOpsToken})
	if err != nil {
		t.Fatal(err)
	}
	receive := func(event, id string, body []byte, secret string) (service.HookReceipt, error) {
		return svc.ReceiveHook(ctx, berth.ForgeGitea, giteaDelivery(event, id, body, secret), strings.NewReader(string(body)))
	}

	// Merged: a closed pull request, whatever the body says of it.
	merged := giteaPull("platform/deployments", "closed", 7, true)
	rc, err := receive("pull_request", "d-1", merged, prod.HookSecret)
	if err != nil || !slices.Equal(rc.Envs, []string{"production"}) || len(rc.Jobs) != 0 || rc.Ignored != "" || rc.Event.PR != 7 {
		t.Fatalf("a merged pull request of production's platform repository: %+v %v", rc, err)
	}
	if prs.count() != 1 || jobs.count() != 0 {
		t.Errorf("after the merge: the pull request watcher woken %d times, the git workers %d; want 1 and 0", prs.count(), jobs.count())
	}

	// Refused: a replay (same id, or the same body under another id), a bad signature.
	for _, c := range []struct {
		name, id string
		body     []byte
		secret   string
		want     error
	}{
		{"replay", "d-1", merged, prod.HookSecret, berth.ErrConflict},
		{"same body, new id", "d-2", merged, prod.HookSecret, berth.ErrConflict},
		{"bad signature", "d-3", giteaPull("platform/deployments", "closed", 8, false), "not-the-secret", berth.ErrUnauthenticated},
		{"a token for a signature", "d-4", giteaPull("platform/deployments", "closed", 8, false), gitOpsToken, berth.ErrUnauthenticated},
	} {
		if rc, err := receive("pull_request", c.id, c.body, c.secret); !errors.Is(err, c.want) || len(rc.Envs) != 0 {
			t.Errorf("%s: %+v %v, want %v", c.name, rc, err, c.want)
		}
	}
	if prs.count() != 1 {
		t.Errorf("refused deliveries woke the pull request watcher: %d wakes", prs.count())
	}

	// Ignored: what else a platform repository sends.
	for _, c := range []struct {
		name, event string
		body        []byte
	}{
		{"opened", "pull_request", giteaPull("platform/deployments", "opened", 9, false)},
		{"synchronized", "pull_request", giteaPull("platform/deployments", "synchronized", 9, false)},
		{"push", "push", []byte(`{"ref": "refs/heads/production", "after": "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b",
"repository": {"full_name": "platform/deployments"}}`)},
		{"issue comment", "issue_comment", []byte(`{"action": "created", "repository": {"full_name": "platform/deployments"}}`)},
	} {
		rc, err := receive(c.event, "ignored-"+c.name, c.body, prod.HookSecret)
		if err != nil || rc.Ignored == "" || len(rc.Envs) != 0 || len(rc.Jobs) != 0 {
			t.Errorf("%s: %+v %v, want ignored", c.name, rc, err)
		}
	}
	if prs.count() != 1 {
		t.Errorf("ignored events woke the pull request watcher: %d wakes", prs.count())
	}

	// Closed unmerged, signed by staging's webhook (another hook on the same repository).
	if rc, err := receive("pull_request", "d-5", giteaPull("Platform/Deployments", "closed", 10, false), staging.HookSecret); err != nil ||
		!slices.Equal(rc.Envs, []string{"staging"}) {
		t.Errorf("a closed pull request signed by staging's webhook: %+v %v", rc, err)
	}
	if prs.count() != 2 {
		t.Errorf("%d wakes after two closed pull requests, want 2", prs.count())
	}

	// The repository is an app's too: each secret takes its own path.
	if _, err := svc.CreateTeam(ctx, admin, "platform"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateApp(ctx, admin, "platform", "tools", ""); err != nil {
		t.Fatal(err)
	}
	conn, err := svc.ConnectRepo(ctx, admin, service.ConnectRequest{Team: "platform", App: "tools", Forge: berth.ForgeGitea, URL: platformURL,
		Token: "app-token"})
	if err != nil {
		t.Fatal(err)
	}
	rc, err = receive("pull_request", "d-6", giteaPull("platform/deployments", "closed", 11, true), conn.HookSecret)
	if err != nil || len(rc.Jobs) != 1 || len(rc.Envs) != 0 || prs.count() != 2 || jobs.count() != 1 {
		t.Errorf("a closed pull request signed by the app's webhook: %+v %v; wakes %d, %d", rc, err, prs.count(), jobs.count())
	}
	rc, err = receive("pull_request", "d-7", giteaPull("platform/deployments", "closed", 12, true), prod.HookSecret)
	if err != nil || len(rc.Jobs) != 0 || !slices.Equal(rc.Envs, []string{"production"}) || prs.count() != 3 || jobs.count() != 1 {
		t.Errorf("a closed pull request signed by production's webhook: %+v %v; wakes %d, %d", rc, err, prs.count(), jobs.count())
	}

	// The audit log: each taken delivery for its environment, each refusal denied.
	evs, err := st.ListAudit(ctx, berth.AuditFilter{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		if e.Action != "hook.receive" {
			continue
		}
		got = append(got, fmt.Sprintf("%s %s %v %v", e.Outcome, e.Target, e.Details["delivery"], e.Details["refused"]))
		if e.Target == "env/production" && e.Details["delivery"] == "d-1" {
			wantDetails := map[string]any{"delivery": "d-1", "event": "pull_request", "action": "closed", "repo": "platform/deployments", "pr": float64(7)}
			if diff := cmp.Diff(wantDetails, e.Details); diff != "" {
				t.Errorf("the audited merge (-want +got):\n%s", diff)
			}
		}
		for _, secret := range []string{prod.HookSecret, staging.HookSecret, gitOpsToken} {
			if strings.Contains(fmt.Sprint(e.Details), secret) {
				t.Errorf("audit event %s holds a secret", e.Target)
			}
		}
	}
	slices.Reverse(got) // oldest first
	want := []string{
		"success env/production d-1 <nil>",
		"denied hook:gitea:platform/deployments d-1 replayed delivery",
		"denied hook:gitea:platform/deployments d-2 replayed delivery",
		"denied hook:gitea:platform/deployments d-3 signature",
		"denied hook:gitea:platform/deployments d-4 signature",
		"success env/staging d-5 <nil>",
		"success app/platform/tools d-6 <nil>",
		"success env/production d-7 <nil>",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("hook.receive events (-want +got):\n%s", diff)
	}
}
