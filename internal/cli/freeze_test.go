package cli_test

import (
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

var (
	freezeStart = time.Date(2026, 12, 24, 0, 0, 0, 0, time.UTC)
	freezeEnd   = time.Date(2026, 12, 27, 0, 0, 0, 0, time.UTC)
	holidays    = apiv1.FreezeWindow{ID: 3, Env: "production", Start: freezeStart, End: freezeEnd, Reason: "holidays",
		CreatedBy: "root", CreatedAt: freezeStart.Add(-time.Hour)}
)

// TestEnvsFreeze: --until or --for (from --from, or now on the server) become the window's
// end; the answer says how to end it.
func TestEnvsFreeze(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		body apiv1.FreezeEnvironment
	}{{
		name: "until, from now",
		args: []string{"--until", "2026-12-27T00:00:00Z"},
		body: apiv1.FreezeEnvironment{End: freezeEnd, Reason: "holidays"},
	}, {
		name: "for, from a time",
		args: []string{"--from", "2026-12-24T00:00:00Z", "--for", "72h"},
		body: apiv1.FreezeEnvironment{Start: &freezeStart, End: freezeEnd, Reason: "holidays"},
	}} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, false)
			h.api.Expect("POST", "/api/v1/envs/production/freezes").WithBody(c.body).Reply(201, holidays)
			if err := h.run(append([]string{"envs", "freeze", "production", "--reason", "holidays"}, c.args...)...); err != nil {
				t.Fatal(err)
			}
			h.wantOutput(t, "froze production from 2026-12-24T00:00:00Z until 2026-12-27T00:00:00Z (window 3): "+
				"only deploys with --emergency REASON go there; berth envs unfreeze 3 ends it\n", "")
		})
	}
}

func TestEnvsFreezeErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--reason", "x"}, "give one of --until TIME or --for DURATION: when the freeze ends"},
		{[]string{"--reason", "x", "--for", "2h", "--until", "2026-12-27T00:00:00Z"}, "give one of --until TIME or --for DURATION: when the freeze ends"},
		{[]string{"--for", "2h"}, "--reason is required: why nothing may deploy, for whoever wants to"},
		{[]string{"--reason", "x", "--until", "tomorrow"}, `--until "tomorrow" is not an RFC 3339 time, such as 2026-12-24T00:00:00Z`},
		{[]string{"--reason", "x", "--for", "2h", "--from", "2026-12-24"}, `--from "2026-12-24" is not an RFC 3339 time, such as 2026-12-24T00:00:00Z`},
	} {
		h := newHarness(t, false)
		wantExit(t, h.run(append([]string{"envs", "freeze", "production"}, c.args...)...), c.msg, true)
	}

	// The server's refusal, as it says it.
	h := newHarness(t, false)
	h.api.Expect("POST", "/api/v1/envs/production/freezes").WithBody(apiv1.FreezeEnvironment{End: freezeEnd, Reason: "holidays"}).
		ReplyError(403, apiv1.Error{Code: "forbidden", Message: "env.manage needs a global admin"})
	wantExit(t, h.run("envs", "freeze", "production", "--until", "2026-12-27T00:00:00Z", "--reason", "holidays"), "env.manage needs a global admin", false)
}

func TestEnvsFreezes(t *testing.T) {
	other := apiv1.FreezeWindow{ID: 4, Env: "staging", Start: freezeStart, End: freezeEnd.Add(time.Hour), Reason: "migration", CreatedBy: "ops"}
	h := newHarness(t, false)
	h.api.Expect("GET", "/api/v1/freezes").Reply(200, apiv1.List[apiv1.FreezeWindow]{Items: []apiv1.FreezeWindow{holidays, other}})
	if err := h.run("envs", "freezes"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, `ID  ENV         FROM                  UNTIL                 REASON     BY
3   production  2026-12-24T00:00:00Z  2026-12-27T00:00:00Z  holidays   root
4   staging     2026-12-24T00:00:00Z  2026-12-27T01:00:00Z  migration  ops
`, "")

	h = newHarness(t, false)
	h.api.Expect("GET", "/api/v1/freezes?env=production").Reply(200, apiv1.List[apiv1.FreezeWindow]{Items: []apiv1.FreezeWindow{holidays}})
	if err := h.run("envs", "freezes", "production", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, `[
  {
    "id": 3,
    "env": "production",
    "start": "2026-12-24T00:00:00Z",
    "end": "2026-12-27T00:00:00Z",
    "reason": "holidays",
    "createdBy": "root",
    "createdAt": "2026-12-23T23:00:00Z"
  }
]
`, "")
}

func TestEnvsUnfreeze(t *testing.T) {
	h := newHarness(t, false)
	h.api.Expect("DELETE", "/api/v1/freezes/3").Reply(200, holidays)
	if err := h.run("envs", "unfreeze", "3"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "ended freeze window 3 of production (holidays)\n", "")

	h = newHarness(t, false)
	wantExit(t, h.run("envs", "unfreeze", "holidays"), "freeze window id \"holidays\" must be a number (see `berth envs freezes`)", true)
}

// TestEmergencyDeploy: --emergency sends why the deploy or promotion goes ahead inside a
// freeze window; without it the server's refusal says how.
func TestEmergencyDeploy(t *testing.T) {
	frozen := "environment production is frozen until 2026-12-27T00:00:00Z (holidays, window 3): deploy only in an emergency, saying why (--emergency REASON)"
	h := newHarness(t, false)
	h.api.Expect("POST", "/api/v1/deploys").WithBody(apiv1.CreateDeploy{Env: "production", Manifest: webManifest, ManifestName: "berth.yaml"}).
		ReplyError(409, apiv1.Error{Code: "conflict", Message: frozen})
	wantExit(t, h.run("deploy", "-f", manifestFile(t), "--env", "production"), frozen, false)

	h = newHarness(t, false)
	d := queued(7, "web", 3)
	d.Env = "production"
	h.api.Expect("POST", "/api/v1/deploys").
		WithBody(apiv1.CreateDeploy{Env: "production", Manifest: webManifest, ManifestName: "berth.yaml", Emergency: "checkout down"}).Reply(201, d)
	if err := h.run("deploy", "-f", manifestFile(t), "--env", "production", "--emergency", "checkout down"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "7\n", "deploy 7 queued: shop/web revision 3 to production\n")

	h = newHarness(t, false)
	h.api.Expect("POST", "/api/v1/teams/shop/apps/web/promotions").
		WithBody(apiv1.Promote{From: "staging", To: "production", Emergency: "checkout down"}).Reply(201, d)
	if err := h.run("promote", "web", "--team", "shop", "--from", "staging", "--to", "production", "--emergency", "checkout down"); err != nil {
		t.Fatal(err)
	}
}
