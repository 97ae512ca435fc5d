package cli_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/apiclient/apiclienttest"
	"github.com/berth-dev/berth/internal/cli"
)

const webManifest = `apiVersion: berth.dev/v1
metadata: {name: web, team: shop}
containers:
  web: {image: registry.example.com/web:3}
`

// manifestFile writes webManifest to a berth.yaml of its own and returns its path.
// manifestFile writes webManifest to berth.yaml in a directory of the test, which it makes
// the working directory, and returns the name a user would type: berth.yaml.
func manifestFile(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile(filepath.Join(dir, "berth.yaml"), []byte(webManifest), 0o644); err != nil {
		t.Fatal(err)
	}
	return "berth.yaml"
}

func queued(id int64, app string, rev int64) apiv1.Deploy {
	return apiv1.Deploy{ID: id, Team: "shop", App: app, Env: "staging", Revision: rev, Kind: "deploy", State: "queued", CreatedBy: "alice"}
}

func ended(d apiv1.Deploy, state, reason string) apiv1.Deploy {
	d.State, d.Reason = state, reason
	return d
}

func TestDeployParsesFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want cli.DeployOptions
	}{{
		args: []string{"--env", "staging"},
		want: cli.DeployOptions{Env: "staging", File: "berth.yaml"},
	}, {
		args: []string{"web", "--env", "production", "-f", "deploy/berth.yaml", "--team", "shop", "--set", "version=1.4.2", "--set", "tier=gold",
			"--wait", "--force-conflicts", "--no-auto-rollback", "--timeout", "2m", "--revision", "4"},
		want: cli.DeployOptions{App: "web", Team: "shop", Env: "production", File: "deploy/berth.yaml", FileGiven: true, Revision: 4,
			Set: []string{"version=1.4.2", "tier=gold"}, Wait: true, ForceConflicts: true, NoAutoRollback: true, Timeout: 2 * time.Minute},
	}, {
		args: []string{"web", "--env", "production", "--refresh"},
		want: cli.DeployOptions{App: "web", Env: "production", File: "berth.yaml", Refresh: true},
	}} {
		h := newHarness(t, false) // no request is expected: none may be made
		var got *cli.DeployOptions
		cmd := cli.NewCmdDeploy(h.f, func(o *cli.DeployOptions) error { got = o; return nil })
		cmd.SetArgs(c.args)
		if err := cmd.Execute(); err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if diff := cmp.Diff(c.want, *got, cmpopts.IgnoreFields(cli.DeployOptions{}, "IO", "APIClient")); diff != "" {
			t.Errorf("%v: options (-want +got):\n%s", c.args, diff)
		}
	}
}

// TestDeploySendsTheManifest: the manifest goes in the request as written; without --wait
// the deploy's id is the only output, for scripts.
func TestDeploySendsTheManifest(t *testing.T) {
	h := newHarness(t, false)
	h.api.Expect("POST", "/api/v1/deploys").
		WithBody(apiv1.CreateDeploy{Env: "staging", Manifest: webManifest, ManifestName: "berth.yaml", Set: map[string]string{"version": "1.4.2"}, TimeoutSeconds: 90}).
		Reply(201, queued(7, "web", 3))
	if err := h.run("deploy", "-f", manifestFile(t), "--env", "staging", "--set", "version=1.4.2", "--timeout", "90s"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "7\n", "deploy 7 queued: shop/web revision 3 to staging\n")
}

// TestDeployWait follows the rollout: a progress bar on a terminal, a line per event in a
// pipe; the last line says what is live.
func TestDeployWait(t *testing.T) {
	for _, c := range []struct {
		tty      bool
		progress string
	}{
		{false, "deploy 7: progressing ready 1/2 updated 2 available 1\n" +
			"deploy 7: available ready 2/2 updated 2 available 2 (rollout complete)\n"},
		{true, "\r\033[K[############............] 1/2 ready  progressing" +
			"\r\033[K[########################] 2/2 ready  available\n"},
	} {
		h := newHarness(t, c.tty)
		h.api.Expect("POST", "/api/v1/deploys").WithBody(apiv1.CreateDeploy{Env: "staging", Manifest: webManifest, ManifestName: "berth.yaml"}).Reply(201, queued(7, "web", 3))
		h.api.Expect("GET", "/api/v1/deploys/7/stream").ReplyEvents(
			apiclienttest.Event{Name: "progress", Data: apiv1.DeployEvent{ID: 1, Phase: "progressing", Desired: 2, Updated: 2, Ready: 1, Available: 1}},
			apiclienttest.Event{Name: "progress", Data: apiv1.DeployEvent{ID: 2, Phase: "available", Message: "rollout complete", Desired: 2, Updated: 2, Ready: 2, Available: 2}},
			apiclienttest.Event{Name: "deploy", Data: ended(queued(7, "web", 3), "succeeded", "available")})
		if err := h.run("deploy", "-f", manifestFile(t), "--env", "staging", "--wait"); err != nil {
			t.Fatal(err)
		}
		h.wantOutput(t, "deploy 7 succeeded: shop/web revision 3 is live in staging\n",
			"deploy 7 queued: shop/web revision 3 to staging\n"+c.progress)
	}
}

// TestDeployWaitFollowsTheAutomaticRollback: a failed rollout names the rollback the
// server queued, follows it, and fails with both outcomes; without a rollback (404) it
// fails with the reason alone.
func TestDeployWaitFollowsTheAutomaticRollback(t *testing.T) {
	failed := ended(queued(7, "web", 3), "failed", "pods crash-looping: CrashLoopBackOff")
	rollback := apiv1.Deploy{ID: 8, Team: "shop", App: "web", Env: "staging", Revision: 2, Kind: "auto-rollback", RollbackOf: 7, SourceDeploy: 5, CreatedBy: "system"}

	h := newHarness(t, false)
	h.api.Expect("POST", "/api/v1/deploys").WithBody(apiv1.CreateDeploy{Env: "staging", Manifest: webManifest, ManifestName: "berth.yaml"}).Reply(201, queued(7, "web", 3))
	h.api.Expect("GET", "/api/v1/deploys/7/stream").ReplyEvents(
		apiclienttest.Event{Name: "progress", Data: apiv1.DeployEvent{Phase: "failed", Message: failed.Reason}},
		apiclienttest.Event{Name: "deploy", Data: failed})
	h.api.Expect("GET", "/api/v1/deploys/7/rollback").Reply(200, rollback)
	h.api.Expect("GET", "/api/v1/deploys/8/stream").ReplyEvents(
		apiclienttest.Event{Name: "progress", Data: apiv1.DeployEvent{Phase: "available", Desired: 1, Updated: 1, Ready: 1, Available: 1}},
		apiclienttest.Event{Name: "deploy", Data: ended(rollback, "succeeded", "available")})
	err := h.run("deploy", "-f", manifestFile(t), "--env", "staging", "--wait")
	wantExit(t, err, "deploy 7 failed: pods crash-looping: CrashLoopBackOff; automatic rollback 8 to revision 2 succeeded", false)
	h.wantOutput(t, "", "deploy 7 queued: shop/web revision 3 to staging\n"+
		"deploy 7: failed (pods crash-looping: CrashLoopBackOff)\n"+
		"deploy 7 failed: pods crash-looping: CrashLoopBackOff\nrolling back automatically (deploy 8) ...\n"+
		"deploy 8: available ready 1/1 updated 1 available 1\n")

	h = newHarness(t, false)
	h.api.Expect("POST", "/api/v1/deploys").WithBody(apiv1.CreateDeploy{Env: "staging", Manifest: webManifest, ManifestName: "berth.yaml", NoAutoRollback: true}).Reply(201, queued(7, "web", 3))
	h.api.Expect("GET", "/api/v1/deploys/7/stream").ReplyEvents(apiclienttest.Event{Name: "deploy", Data: failed})
	h.api.Expect("GET", "/api/v1/deploys/7/rollback").ReplyError(404, apiv1.Error{Code: "not_found", Message: "deploy 7 has no automatic rollback: not found"})
	err = h.run("deploy", "-f", manifestFile(t), "--env", "staging", "--wait", "--no-auto-rollback")
	wantExit(t, err, "deploy 7 failed: pods crash-looping: CrashLoopBackOff", false)
	h.wantOutput(t, "", "deploy 7 queued: shop/web revision 3 to staging\n")
}

// TestDeployErrors: the server's refusals reach the user as it worded them, with the
// field they concern, and exit 1; mistakes in the call exit 2 before any request.
func TestDeployErrors(t *testing.T) {
	h := newHarness(t, false)
	h.api.Expect("POST", "/api/v1/deploys").WithBody(apiv1.CreateDeploy{Env: "staging", Manifest: webManifest, ManifestName: "berth.yaml"}).
		ReplyError(400, apiv1.Error{Code: "invalid", Field: "manifest", Message: `config key LOG_LEVEL is not set at any level (${config.LOG_LEVEL} in containers.web.env)`})
	err := h.run("deploy", "-f", manifestFile(t), "--env", "staging")
	wantExit(t, err, `manifest: config key LOG_LEVEL is not set at any level (${config.LOG_LEVEL} in containers.web.env)`, false)
	h.wantOutput(t, "", "")

	// A stored revision, no manifest: the app's team is looked up, then the server has no
	// such revision.
	h = newHarness(t, false)
	h.api.Expect("GET", "/api/v1/apps?name=web").Reply(200, apiv1.List[apiv1.App]{Items: []apiv1.App{{Team: "shop", Name: "web", Revision: 3}}})
	h.api.Expect("POST", "/api/v1/deploys").WithBody(apiv1.CreateDeploy{Team: "shop", App: "web", Env: "staging", Revision: 9}).
		ReplyError(404, apiv1.Error{Code: "not_found", Message: `revision "shop/web/9": not found`})
	err = h.run("deploy", "web", "--env", "staging", "--revision", "9")
	wantExit(t, err, `revision "shop/web/9": not found`, false)
	if !apiclient.IsStatus(err, 404) {
		t.Errorf("error %v is not the server's 404", err)
	}

	h = newHarness(t, false)
	wantExit(t, h.run("deploy", "-f", manifestFile(t)), "--env is required, for example --env staging", true)
	wantExit(t, h.run("deploy", "-f", manifestFile(t), "--env", "staging", "--set", "version"), `--set "version": want NAME=VALUE`, true)
}
