package cli_test

import (
	"testing"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient/apiclienttest"
	"github.com/berth-dev/berth/internal/cli"
)

// apps is the answer to GET /apps?name=...: one app per team given.
func apps(name string, teams ...string) apiv1.List[apiv1.App] {
	l := apiv1.List[apiv1.App]{Items: []apiv1.App{}}
	for _, t := range teams {
		l.Items = append(l.Items, apiv1.App{Team: t, Name: name, Revision: 3})
	}
	return l
}

func rollbackDeploy() apiv1.Deploy {
	return apiv1.Deploy{ID: 9, Team: "shop", App: "web", Env: "staging", Revision: 2, Kind: "rollback", State: "queued", SourceDeploy: 5, CreatedBy: "alice"}
}

func TestRollbackParsesFlags(t *testing.T) {
	h := newHarness(t, false)
	var got *cli.RollbackOptions
	cmd := cli.NewCmdRollback(h.f, func(o *cli.RollbackOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"web", "--env", "production", "--team", "shop", "--to", "41", "--wait"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.App != "web" || got.Env != "production" || got.Team != "shop" || got.To != 41 || !got.Wait {
		t.Errorf("options %+v", got)
	}
}

// TestRollback: the server finds the app's team and picks what to return to; the CLI
// sends only the environment and prints the rollback's id.
func TestRollback(t *testing.T) {
	h := newHarness(t, false)
	h.api.Expect("GET", "/api/v1/apps?name=web").Reply(200, apps("web", "shop"))
	h.api.Expect("POST", "/api/v1/teams/shop/apps/web/rollback").WithBody(apiv1.Rollback{Env: "staging"}).Reply(201, rollbackDeploy())
	if err := h.run("rollback", "web", "--env", "staging"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "9\n", "rollback 9 queued: shop/web back to revision 2 (deploy 5's objects) in staging\n")
}

// TestRollbackWait: with --team nothing is looked up; --to goes to the server; --wait
// follows the rollback like a deploy.
func TestRollbackWait(t *testing.T) {
	h := newHarness(t, false)
	h.api.Expect("POST", "/api/v1/teams/shop/apps/web/rollback").WithBody(apiv1.Rollback{Env: "staging", To: 2}).Reply(201, rollbackDeploy())
	h.api.Expect("GET", "/api/v1/deploys/9/stream").ReplyEvents(
		apiclienttest.Event{Name: "progress", Data: apiv1.DeployEvent{Phase: "available", Desired: 1, Updated: 1, Ready: 1, Available: 1}},
		apiclienttest.Event{Name: "deploy", Data: ended(rollbackDeploy(), "succeeded", "available")})
	if err := h.run("rollback", "web", "--team", "shop", "--env", "staging", "--to", "2", "--wait"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "deploy 9 succeeded: shop/web revision 2 is live in staging\n",
		"rollback 9 queued: shop/web back to revision 2 (deploy 5's objects) in staging\ndeploy 9: available ready 1/1 updated 1 available 1\n")
}

func TestRollbackErrors(t *testing.T) {
	for _, c := range []struct {
		name   string
		args   []string
		expect func(*apiclienttest.Server)
		msg    string
		usage  bool
	}{{
		name: "nothing to return to",
		args: []string{"rollback", "web", "--env", "staging"},
		expect: func(s *apiclienttest.Server) {
			s.Expect("GET", "/api/v1/apps?name=web").Reply(200, apps("web", "shop"))
			s.Expect("POST", "/api/v1/teams/shop/apps/web/rollback").WithBody(apiv1.Rollback{Env: "staging"}).
				ReplyError(400, apiv1.Error{Code: "invalid", Field: "to", Message: "shop/web has no earlier successful deploy in staging to roll back to"})
		},
		msg: "shop/web has no earlier successful deploy in staging to roll back to",
	}, {
		name: "a revision never deployed",
		args: []string{"rollback", "web", "--team", "shop", "--env", "staging", "--to", "7"},
		expect: func(s *apiclienttest.Server) {
			s.Expect("POST", "/api/v1/teams/shop/apps/web/rollback").WithBody(apiv1.Rollback{Env: "staging", To: 7}).
				ReplyError(400, apiv1.Error{Code: "invalid", Field: "to", Message: "shop/web has no successful deploy of revision 7 in staging"})
		},
		msg: "to: shop/web has no successful deploy of revision 7 in staging", // the field, where the message does not name it
	}, {
		name: "an environment the server does not know",
		args: []string{"rollback", "web", "--team", "shop", "--env", "staging"},
		expect: func(s *apiclienttest.Server) {
			s.Expect("POST", "/api/v1/teams/shop/apps/web/rollback").WithBody(apiv1.Rollback{Env: "staging"}).
				ReplyError(404, apiv1.Error{Code: "not_found", Message: `environment "staging": not found`})
		},
		msg: `environment "staging": not found`,
	}, {
		name: "no app of that name",
		args: []string{"rollback", "nope", "--env", "staging"},
		expect: func(s *apiclienttest.Server) {
			s.Expect("GET", "/api/v1/apps?name=nope").Reply(200, apps("nope"))
		},
		msg: `no app "nope" that you can see: check the name, or pass --team`,
	}, {
		name: "an app in two teams",
		args: []string{"rollback", "web", "--env", "staging"},
		expect: func(s *apiclienttest.Server) {
			s.Expect("GET", "/api/v1/apps?name=web").Reply(200, apps("web", "blog", "shop"))
		},
		msg: `app "web" exists in teams blog, shop: pass --team`, usage: true,
	}, {
		name:   "no environment",
		args:   []string{"rollback", "web"},
		expect: func(*apiclienttest.Server) {},
		msg:    "--env is required", usage: true,
	}} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, false)
			c.expect(h.api)
			wantExit(t, h.run(c.args...), c.msg, c.usage)
			h.wantOutput(t, "", "")
		})
	}
}
