package cli_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient/apiclienttest"
	"github.com/berth-dev/berth/internal/cli"
)

func TestRedeployTeamParsesFlags(t *testing.T) {
	h := newHarness(t, false)
	var got *cli.RedeployTeamOptions
	cmd := cli.NewCmdRedeployTeam(h.f, func(o *cli.RedeployTeamOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--team", "shop", "--env", "staging", "--exclude-app", "legacy", "--exclude-app", "old", "--refresh", "--concurrency", "8"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	want := cli.RedeployTeamOptions{Team: "shop", Env: "staging", Exclude: []string{"legacy", "old"}, Refresh: true, Concurrency: 8}
	if diff := cmp.Diff(want, *got, cmpopts.IgnoreFields(cli.RedeployTeamOptions{}, "IO", "APIClient")); diff != "" {
		t.Errorf("options (-want +got):\n%s", diff)
	}
}

// batchOf is deploys of apps in staging, queued by one team redeploy.
func batchOf(apps ...string) []apiv1.Deploy {
	var ds []apiv1.Deploy
	for i, app := range apps {
		d := queued(int64(31+i), app, int64(2+i))
		d.Kind, d.BatchID = "redeploy", 12
		ds = append(ds, d)
	}
	return ds
}

// TestRedeployTeam follows the batch on the server's one stream (no request per deploy):
// a line as each deploy ends, in the order they end, then the summary in the order they
// were queued; a failure makes the exit code 1.
func TestRedeployTeam(t *testing.T) {
	ds := batchOf("web", "api", "worker")
	web, api, worker := ended(ds[0], "failed", crashReason), ended(ds[1], "succeeded", "available"), ended(ds[2], "succeeded", "available")
	h := newHarness(t, false)
	h.api.Expect("POST", "/api/v1/teams/shop/redeploy").
		WithBody(apiv1.RedeployTeam{Env: "staging", Exclude: []string{"legacy"}, Concurrency: 4}).
		Reply(201, apiv1.List[apiv1.Deploy]{Items: ds})
	h.api.Expect("GET", "/api/v1/batches/12/stream").ReplyEvents(
		apiclienttest.Event{Name: "deploy", Data: api},
		apiclienttest.Event{Name: "deploy", Data: web},
		apiclienttest.Event{Name: "deploy", Data: worker},
		apiclienttest.Event{Name: "batch", Data: apiv1.List[apiv1.Deploy]{Items: []apiv1.Deploy{web, api, worker}}})
	err := h.run("redeploy", "team", "--team", "shop", "--env", "staging", "--exclude-app", "legacy")
	wantExitCode(t, err, 1)
	h.wantOutput(t, "APP     ENV      DEPLOY  REVISION  STATE      REASON\n"+
		"web     staging  31      2         failed     rollout failed: pods crash-looping (CrashLoopBackOff) in we…\n"+
		"api     staging  32      3         succeeded  available\n"+
		"worker  staging  33      4         succeeded  available\n"+
		"2 succeeded, 1 failed\n",
		"queued 3 deploys of team shop\n"+
			"[1/3] shop/api in staging: succeeded\n"+
			"[2/3] shop/web in staging: failed\n"+
			"[3/3] shop/worker in staging: succeeded\n")
}

func TestRedeployTeamSucceeds(t *testing.T) {
	ds := batchOf("web")
	h := newHarness(t, false)
	h.api.Expect("POST", "/api/v1/teams/shop/redeploy").WithBody(apiv1.RedeployTeam{Refresh: true, Concurrency: 2}).
		Reply(201, apiv1.List[apiv1.Deploy]{Items: ds})
	done := ended(ds[0], "succeeded", "available")
	h.api.Expect("GET", "/api/v1/batches/12/stream").ReplyEvents(
		apiclienttest.Event{Name: "deploy", Data: done},
		apiclienttest.Event{Name: "batch", Data: apiv1.List[apiv1.Deploy]{Items: []apiv1.Deploy{done}}})
	if err := h.run("redeploy", "team", "--team", "shop", "--refresh", "--concurrency", "2"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "APP  ENV      DEPLOY  REVISION  STATE      REASON\nweb  staging  31      2         succeeded  available\n1 succeeded, 0 failed\n",
		"queued 1 deploys of team shop\n[1/1] shop/web in staging: succeeded\n")
}

// TestRedeployTeamOfNothing: a redeploy that queued nothing has nothing to follow.
func TestRedeployTeamOfNothing(t *testing.T) {
	h := newHarness(t, false)
	h.api.Expect("POST", "/api/v1/teams/shop/redeploy").WithBody(apiv1.RedeployTeam{Concurrency: 4}).
		Reply(201, apiv1.List[apiv1.Deploy]{Items: []apiv1.Deploy{}})
	if err := h.run("redeploy", "team", "--team", "shop"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "APP  ENV  DEPLOY  REVISION  STATE  REASON\n0 succeeded, 0 failed\n", "queued 0 deploys of team shop\n")
}

func TestRedeployTeamErrors(t *testing.T) {
	for _, c := range []struct {
		name   string
		args   []string
		expect func(*apiclienttest.Server)
		msg    string
		usage  bool
		stderr string
	}{{
		name: "no such team",
		args: []string{"redeploy", "team", "--team", "nope"},
		expect: func(s *apiclienttest.Server) {
			s.Expect("POST", "/api/v1/teams/nope/redeploy").WithBody(apiv1.RedeployTeam{Concurrency: 4}).
				ReplyError(404, apiv1.Error{Code: "not_found", Message: `team "nope": not found`})
		},
		msg: `team "nope": not found`,
	}, {
		name: "a field error from the server",
		args: []string{"redeploy", "team", "--team", "shop", "--exclude-app", "Bad_Name"},
		expect: func(s *apiclienttest.Server) {
			s.Expect("POST", "/api/v1/teams/shop/redeploy").WithBody(apiv1.RedeployTeam{Exclude: []string{"Bad_Name"}, Concurrency: 4}).
				ReplyError(400, apiv1.Error{Code: "invalid", Field: "exclude", Message: `"Bad_Name" is not an app name`})
		},
		msg: `exclude: "Bad_Name" is not an app name`,
	}, {
		name: "a stream that is refused",
		args: []string{"redeploy", "team", "--team", "shop"},
		expect: func(s *apiclienttest.Server) {
			s.Expect("POST", "/api/v1/teams/shop/redeploy").WithBody(apiv1.RedeployTeam{Concurrency: 4}).
				Reply(201, apiv1.List[apiv1.Deploy]{Items: batchOf("web")})
			s.Expect("GET", "/api/v1/batches/12/stream").ReplyError(404, apiv1.Error{Code: "not_found", Message: "batch 12 has no deploys: not found"})
		},
		msg: "batch 12 has no deploys: not found", stderr: "queued 1 deploys of team shop\n",
	}, {
		name: "a stream cut short",
		args: []string{"redeploy", "team", "--team", "shop"},
		expect: func(s *apiclienttest.Server) {
			s.Expect("POST", "/api/v1/teams/shop/redeploy").WithBody(apiv1.RedeployTeam{Concurrency: 4}).
				Reply(201, apiv1.List[apiv1.Deploy]{Items: batchOf("web")})
			s.Expect("GET", "/api/v1/batches/12/stream").ReplyEvents()
		},
		msg: "stream batch 12: the server closed the stream before the batch ended", stderr: "queued 1 deploys of team shop\n",
	}, {
		name:   "no team",
		args:   []string{"redeploy", "team"},
		expect: func(*apiclienttest.Server) {},
		msg:    "--team is required", usage: true,
	}, {
		name:   "too many at once",
		args:   []string{"redeploy", "team", "--team", "shop", "--concurrency", "101"},
		expect: func(*apiclienttest.Server) {},
		msg:    "--concurrency must be 1 to 100", usage: true,
	}} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, false)
			c.expect(h.api)
			wantExit(t, h.run(c.args...), c.msg, c.usage)
			h.wantOutput(t, "", c.stderr)
		})
	}
}
