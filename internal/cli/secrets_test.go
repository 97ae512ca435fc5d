package cli_test

import (
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient/apiclienttest"
	"github.com/berth-dev/berth/internal/cli"
)

func TestSecretsSetParsesFlags(t *testing.T) {
	h := newHarness(t, false)
	var got *cli.SettingsSetOptions
	cmd := cli.NewCmdSecretsSet(h.f, func(o *cli.SettingsSetOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"DB_PASSWORD", "API=x", "--app", "web", "--env", "staging", "--team", "shop", "--redeploy"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !got.Secret || strings.Join(got.Pairs, " ") != "DB_PASSWORD API=x" || got.App != "web" || got.Env != "staging" ||
		got.Team != "shop" || !got.Redeploy {
		t.Errorf("options %+v", got)
	}
}

// TestSecretsSet: a value without =VALUE is read from standard input (all of it but the
// final newline) and sent; what is printed names the key, version and level, never the
// value.
func TestSecretsSet(t *testing.T) {
	const value = "s3cret-p4ss\nline two"
	h := newHarness(t, false)
	h.in.WriteString(value + "\n")
	h.api.Expect("GET", "/api/v1/apps?name=web").Reply(200, apps("web", "shop"))
	h.api.Expect("PATCH", "/api/v1/teams/shop/apps/web/envs/staging/secrets").
		WithBody(apiv1.UpdateSettings{Set: map[string]string{"DB_PASSWORD": value, "API_USER": "reports"}}).
		Reply(200, apiv1.SecretsUpdated{Items: []apiv1.Secret{
			{Key: "API_USER", Level: "app+env", Team: "shop", App: "web", Env: "staging", Version: 1, KeyID: "k1", UpdatedBy: "alice"},
			{Key: "DB_PASSWORD", Level: "app+env", Team: "shop", App: "web", Env: "staging", Version: 4, KeyID: "k1", UpdatedBy: "alice"},
		}, Deploys: []apiv1.Deploy{}})
	if err := h.run("secrets", "set", "DB_PASSWORD", "API_USER=reports", "--app", "web", "--env", "staging"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "set secret API_USER (version 1) at app shop/web in staging\n"+
		"set secret DB_PASSWORD (version 4) at app shop/web in staging\n", "")
}

// TestSecretsSetRedeploy: --redeploy waits for the redeploys the change queued, which the
// server queues outside any batch (a change at the global level spans teams), polling
// each, and prints the same summary as a team redeploy.
func TestSecretsSetRedeploy(t *testing.T) {
	h := newHarness(t, false)
	a, b := queued(21, "web", 3), queued(22, "api", 5)
	h.api.Expect("PATCH", "/api/v1/teams/shop/secrets").WithBody(apiv1.UpdateSettings{Set: map[string]string{"SMTP_PASSWORD": "pw"}, Redeploy: true}).
		Reply(200, apiv1.SecretsUpdated{Items: []apiv1.Secret{{Key: "SMTP_PASSWORD", Level: "team", Team: "shop", Version: 2}}, Deploys: []apiv1.Deploy{a, b}})
	h.api.Expect("GET", "/api/v1/deploys/21").Reply(200, ended(a, "succeeded", "available"))
	h.api.Expect("GET", "/api/v1/deploys/22").Reply(200, ended(b, "succeeded", "available"))
	if err := h.run("secrets", "set", "SMTP_PASSWORD=pw", "--team", "shop", "--redeploy"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "set secret SMTP_PASSWORD (version 2) at team shop\n"+
		"APP  ENV      DEPLOY  REVISION  STATE      REASON\n"+
		"web  staging  21      3         succeeded  available\n"+
		"api  staging  22      5         succeeded  available\n"+
		"2 succeeded, 0 failed\n",
		"redeploying 2 app environment(s) with the new secrets\n"+
			"[1/2] shop/web in staging: succeeded\n[2/2] shop/api in staging: succeeded\n")
}

func TestSecretsSetErrors(t *testing.T) {
	for _, c := range []struct {
		name   string
		args   []string
		stdin  string
		expect func(*apiclienttest.Server)
		msg    string
		usage  bool
	}{{
		name: "a key the server refuses",
		args: []string{"secrets", "set", "BAD KEY=1", "--team", "shop"},
		expect: func(s *apiclienttest.Server) {
			s.Expect("PATCH", "/api/v1/teams/shop/secrets").WithBody(apiv1.UpdateSettings{Set: map[string]string{"BAD KEY": "1"}}).
				ReplyError(400, apiv1.Error{Code: "invalid", Field: "key", Message: `"BAD KEY" must consist of letters, digits, '-', '_' and '.'`})
		},
		msg: `key: "BAD KEY" must consist of letters, digits, '-', '_' and '.'`,
	}, {
		name: "an app the server does not know",
		args: []string{"secrets", "set", "A=1", "--team", "shop", "--app", "nope"},
		expect: func(s *apiclienttest.Server) {
			s.Expect("PATCH", "/api/v1/teams/shop/apps/nope/secrets").WithBody(apiv1.UpdateSettings{Set: map[string]string{"A": "1"}}).
				ReplyError(404, apiv1.Error{Code: "not_found", Message: `app "shop/nope": not found`})
		},
		msg: `app "shop/nope": not found`,
	}, {
		name: "a server without a secrets key",
		args: []string{"secrets", "set", "A=1"},
		expect: func(s *apiclienttest.Server) {
			s.Expect("PATCH", "/api/v1/secrets").WithBody(apiv1.UpdateSettings{Set: map[string]string{"A": "1"}}).
				ReplyError(503, apiv1.Error{Code: "unavailable", Message: "no secrets key: start the server with --secrets-key-file"})
		},
		msg: "no secrets key: start the server with --secrets-key-file",
	}, {
		name:   "nothing on standard input",
		args:   []string{"secrets", "set", "DB_PASSWORD", "--team", "shop"},
		expect: func(*apiclienttest.Server) {},
		msg:    "no value for DB_PASSWORD on standard input: pipe it in, or run on a terminal to be prompted",
	}, {
		name:   "an environment without an app",
		args:   []string{"secrets", "set", "A=1", "--env", "staging"},
		expect: func(*apiclienttest.Server) {},
		msg:    "--env needs --app: environment-specific settings belong to an app", usage: true,
	}} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, false)
			h.in.WriteString(c.stdin)
			c.expect(h.api)
			wantExit(t, h.run(c.args...), c.msg, c.usage)
			h.wantOutput(t, "", "")
		})
	}
}
