package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

const platformURL = "https://git.example.com/platform/deployments"

var platformGitOps = apiv1.GitOps{Env: "production", Forge: "gitea", URL: platformURL, Repo: "platform/deployments", Branch: "production",
	PullRequest: true, CreatedBy: "root", UpdatedAt: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}

// tokenFile writes a token file as people do, with a newline after the token.
func tokenFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "platform.token")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestEnvsSetGitOps: the token is read from the file (or standard input), trimmed, and sent
// in the body only, with the flags; the answer says how deploys will go.
func TestEnvsSetGitOps(t *testing.T) {
	h := newHarness(t, false)
	h.api.Expect("PUT", "/api/v1/envs/production/gitops").
		WithBody(apiv1.SetEnvGitOps{Forge: "gitea", URL: platformURL, PullRequest: true, Token: "platform-token-1"}).Reply(200, platformGitOps)
	if err := h.run("envs", "set-gitops", "production", "--repo", platformURL, "--token-file", tokenFile(t, "  platform-token-1\n"),
		"--pull-request"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "environment production: deploys publish to gitea platform/deployments, branch production: "+
		"a pull request per deploy, applied when merged; Berth applies the objects\n", "")

	h = newHarness(t, false)
	h.in.WriteString("gh-token\n")
	external := apiv1.GitOps{Env: "staging", Forge: "github", URL: "https://github.com/acme/platform", Repo: "acme/platform", Branch: "stage",
		ExternalApply: true, CreatedBy: "root"}
	h.api.Expect("PUT", "/api/v1/envs/staging/gitops").WithBody(apiv1.SetEnvGitOps{Forge: "github", URL: external.URL, Branch: "stage",
		ExternalApply: true, Token: "gh-token"}).Reply(200, external)
	if err := h.run("envs", "set-gitops", "staging", "--forge", "github", "--repo", external.URL, "--branch", "stage",
		"--external-apply", "--token-file", "-", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, `{
  "env": "staging",
  "forge": "github",
  "url": "https://github.com/acme/platform",
  "repo": "acme/platform",
  "branch": "stage",
  "pullRequest": false,
  "externalApply": true,
  "createdBy": "root",
  "updatedAt": "0001-01-01T00:00:00Z"
}
`, "")
}

// TestEnvsSetGitOpsWebhook: --create-webhook asks the server to register the platform
// repository's webhook and says where it sends; without it, the answer's secret is shown
// once with the URL to set by hand.
func TestEnvsSetGitOpsWebhook(t *testing.T) {
	h := newHarness(t, false)
	registered := platformGitOps
	registered.HookSecret, registered.HookURL = "0123abcd", "https://berth.example.com/hooks/gitea"
	h.api.Expect("PUT", "/api/v1/envs/production/gitops").WithBody(apiv1.SetEnvGitOps{Forge: "gitea", URL: platformURL, PullRequest: true,
		Token: "platform-token-1", CreateWebhook: true}).Reply(200, registered)
	if err := h.run("envs", "set-gitops", "production", "--repo", platformURL, "--token-file", tokenFile(t, "platform-token-1\n"),
		"--pull-request", "--create-webhook"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "environment production: deploys publish to gitea platform/deployments, branch production: "+
		"a pull request per deploy, applied when merged; Berth applies the objects\n"+
		"registered the repository's webhook (push and pull request events) to https://berth.example.com/hooks/gitea\n", "")

	h = newHarness(t, false)
	h.api.Expect("PUT", "/api/v1/envs/production/gitops").WithBody(apiv1.SetEnvGitOps{Forge: "gitea", URL: platformURL, PullRequest: true,
		Token: "platform-token-1", HookURL: "http://127.0.0.1:9/hooks/gitea"}).Reply(200, registered)
	if err := h.run("envs", "set-gitops", "production", "--repo", platformURL, "--token-file", tokenFile(t, "platform-token-1"),
		"--pull-request", "--hook-url", "http://127.0.0.1:9/hooks/gitea"); err != nil {
		t.Fatal(err)
	}

	h = newHarness(t, false)
	byHand := platformGitOps
	byHand.HookSecret = "0123abcd"
	h.api.Expect("PUT", "/api/v1/envs/production/gitops").WithBody(apiv1.SetEnvGitOps{Forge: "gitea", URL: platformURL, PullRequest: true,
		Token: "platform-token-1"}).Reply(200, byHand)
	if err := h.run("envs", "set-gitops", "production", "--repo", platformURL, "--token-file", tokenFile(t, "platform-token-1"),
		"--pull-request"); err != nil {
		t.Fatal(err)
	}
	out := h.out.String()
	for _, want := range []string{"set this webhook on the repository", "/hooks/gitea\n", "  secret: 0123abcd\n", "shown this once"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestEnvsSetGitOpsErrors(t *testing.T) {
	big := tokenFile(t, strings.Repeat("t", 5<<10))
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--token-file", "-"}, "--repo is required: the platform repository's URL"},
		{[]string{"--repo", platformURL}, "--token-file is required: a file holding the forge token, or - for standard input"},
		{[]string{"--repo", platformURL, "--token-file", "-"}, "the token from standard input is empty"},
		{[]string{"--repo", platformURL, "--token-file", big}, "the token from " + big + " is over 4 KiB"},
		{[]string{"--repo", platformURL, "--token-file", "-", "-o", "xml"}, `invalid output format "xml": use one of table, json, yaml`},
	} {
		h := newHarness(t, false)
		wantExit(t, h.run(append([]string{"envs", "set-gitops", "production"}, c.args...)...), c.msg, true)
		h.wantOutput(t, "", "")
	}

	// The server's refusal, as it says it, naming the field.
	h := newHarness(t, false)
	h.api.Expect("PUT", "/api/v1/envs/production/gitops").WithBody(apiv1.SetEnvGitOps{Forge: "gitlab", URL: platformURL, Token: "tok"}).
		ReplyError(400, apiv1.Error{Code: "invalid", Field: "forge", Message: `"gitlab" is not a forge: gitea or github`})
	wantExit(t, h.run("envs", "set-gitops", "production", "--forge", "gitlab", "--repo", platformURL, "--token-file", tokenFile(t, "tok")),
		`"gitlab" is not a forge: gitea or github`, false)
}

func TestEnvsGitOps(t *testing.T) {
	h := newHarness(t, false)
	h.api.Expect("GET", "/api/v1/envs/production/gitops").Reply(200, platformGitOps)
	if err := h.run("envs", "gitops", "production"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, `env:        production
repository: gitea platform/deployments (https://git.example.com/platform/deployments)
branch:     production
deploys:    a pull request per deploy, applied when merged
applied by: Berth applies the objects
set by:     root
updated:    2026-03-04T05:06:07Z
`, "")

	h = newHarness(t, false)
	h.api.Expect("GET", "/api/v1/envs/production/gitops").Reply(200, platformGitOps)
	if err := h.run("envs", "gitops", "production", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(h.out.String(), `"pullRequest": true`) || strings.Contains(h.out.String(), "token") {
		t.Errorf("json:\n%s", h.out)
	}

	h = newHarness(t, false)
	none := "environment dev has no GitOps output, its deploys are applied directly (berth envs set-gitops sets one): not found"
	h.api.Expect("GET", "/api/v1/envs/dev/gitops").ReplyError(404, apiv1.Error{Code: "not_found", Message: none})
	wantExit(t, h.run("envs", "gitops", "dev"), none, false)
}

func TestEnvsUnsetGitOps(t *testing.T) {
	h := newHarness(t, false)
	h.api.Expect("DELETE", "/api/v1/envs/production/gitops").Reply(200, platformGitOps)
	if err := h.run("envs", "unset-gitops", "production"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "environment production: GitOps output to gitea platform/deployments turned off; deploys are applied directly again\n", "")
}

// TestHistoryDeployGitOps: a deploy that published to a platform repository says where: its
// pull request and the pull request's state, or its commit.
func TestHistoryDeployGitOps(t *testing.T) {
	for _, c := range []struct {
		name   string
		change apiv1.GitOpsChange
		line   string
	}{{
		name: "pull request",
		change: apiv1.GitOpsChange{Deploy: 11, Env: "staging", Repo: "platform/deployments", Branch: "berth/staging/deploy-11", Commit: "abc123",
			PR: 4, URL: "https://git.example.com/platform/deployments/pulls/4", State: "open"},
		line: "GitOps: pull request #4 https://git.example.com/platform/deployments/pulls/4 (open)\n",
	}, {
		name:   "commit",
		change: apiv1.GitOpsChange{Deploy: 11, Env: "staging", Repo: "platform/deployments", Branch: "staging", Commit: "abc123def456", State: "committed"},
		line:   "GitOps: commit abc123def456 on staging\n",
	}} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, false)
			d := smokeFailed()
			d.Smoke = nil
			h.api.Expect("GET", "/api/v1/deploys/11").Reply(200, d)
			h.api.Expect("GET", "/api/v1/deploys/11/gitops").Reply(200, c.change)
			if err := h.run("history", "web", "--team", "shop", "--deploy", "11"); err != nil {
				t.Fatal(err)
			}
			if out := h.out.String(); !strings.Contains(out, "\n"+c.line+"smoke tests: none ran\n") {
				t.Errorf("output lacks %q:\n%s", c.line, out)
			}
		})
	}
}

// TestEnvsGitOpsHelp: the commands teach with examples.
func TestEnvsGitOpsHelp(t *testing.T) {
	for _, cmd := range []string{"set-gitops", "gitops", "unset-gitops"} {
		h := newHarness(t, false)
		if err := h.run("envs", cmd, "--help"); err != nil {
			t.Fatal(err)
		}
		if out := h.out.String(); !strings.Contains(out, "Examples:\n  berth envs "+cmd+" ") {
			t.Errorf("berth envs %s --help has no examples:\n%s", cmd, out)
		}
	}
}
