package cli_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

const crashReason = "rollout failed: pods crash-looping (CrashLoopBackOff) in web-7d9f: back-off 5m0s restarting"

// history is an app's two deploys, newest first, created at created.
func history(created time.Time) apiv1.List[apiv1.Deploy] {
	started, finished := created.Add(time.Second), created.Add(2500*time.Millisecond)
	return apiv1.List[apiv1.Deploy]{Items: []apiv1.Deploy{
		{ID: 12, Team: "shop", App: "web", Env: "staging", Revision: 2, Kind: "rollback", SourceDeploy: 10, State: "succeeded",
			Reason: "available", CreatedBy: "alice", CreatedAt: created, StartedAt: &started, FinishedAt: &finished,
			Smoke: &apiv1.SmokeRun{Revision: 2, Passed: true, Results: []apiv1.SmokeResult{{Passed: true}, {Passed: true}}}},
		{ID: 11, Team: "shop", App: "web", Env: "staging", Revision: 3, Kind: "deploy", State: "failed",
			Reason: crashReason, CreatedBy: "bob", CreatedAt: created.Add(-time.Hour),
			Smoke: &apiv1.SmokeRun{Revision: 3, Results: []apiv1.SmokeResult{{Passed: true}, {}}, Skipped: 1}},
		{ID: 10, Team: "shop", App: "web", Env: "staging", Revision: 2, Kind: "deploy", State: "succeeded",
			Reason: "available", CreatedBy: "alice", CreatedAt: created.Add(-2 * time.Hour)},
	}}
}

// TestHistory prints the deploys as a table: times are RFC 3339 in a pipe, for scripts,
// and relative on a terminal; long reasons are cut.
func TestHistory(t *testing.T) {
	pipeTime := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, c := range []struct {
		name    string
		tty     bool
		created time.Time
		want    string
	}{{
		name: "pipe", created: pipeTime,
		want: "DEPLOY  ENV      REVISION  KIND            STATE      BY     CREATED               DURATION  SMOKE       REASON\n" +
			"12      staging  2         rollback of 10  succeeded  alice  2026-03-04T05:06:07Z  1.5s      2/2         available\n" +
			"11      staging  3         deploy          failed     bob    2026-03-04T04:06:07Z  -         failed 1/3  rollout failed: pods crash-looping (CrashLoopBackOff) in we…\n" +
			"10      staging  2         deploy          succeeded  alice  2026-03-04T03:06:07Z  -         -           available\n",
	}, {
		name: "terminal", tty: true, created: time.Now().Add(-5 * time.Minute),
		want: "DEPLOY  ENV      REVISION  KIND            STATE      BY     CREATED  DURATION  SMOKE       REASON\n" +
			"12      staging  2         rollback of 10  succeeded  alice  5m ago   1.5s      2/2         available\n" +
			"11      staging  3         deploy          failed     bob    1h ago   -         failed 1/3  rollout failed: pods crash-looping (CrashLoopBackOff) in we…\n" +
			"10      staging  2         deploy          succeeded  alice  2h ago   -         -           available\n",
	}} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, c.tty)
			h.api.Expect("GET", "/api/v1/apps?name=web").Reply(200, apps("web", "shop"))
			h.api.Expect("GET", "/api/v1/teams/shop/apps/web/deploys?env=staging&limit=50").Reply(200, history(c.created))
			if err := h.run("history", "web", "--env", "staging"); err != nil {
				t.Fatal(err)
			}
			h.wantOutput(t, c.want, "")
		})
	}
}

// TestHistoryJSON: -o json is the deploys as the API sends them; none is [], not null.
func TestHistoryJSON(t *testing.T) {
	h := newHarness(t, false)
	want := history(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))
	h.api.Expect("GET", "/api/v1/teams/shop/apps/web/deploys?limit=5").Reply(200, want)
	if err := h.run("history", "web", "--team", "shop", "--limit", "5", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	var got []apiv1.Deploy
	if err := json.Unmarshal(h.out.Bytes(), &got); err != nil || len(got) != 3 || got[0].ID != 12 || got[1].Reason != crashReason {
		t.Errorf("-o json printed %s (%v)", h.out, err)
	}

	h = newHarness(t, false)
	h.api.Expect("GET", "/api/v1/teams/shop/apps/web/deploys?limit=50").Reply(200, apiv1.List[apiv1.Deploy]{Items: []apiv1.Deploy{}})
	if err := h.run("history", "web", "--team", "shop", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "[]\n", "")
}

func TestHistoryErrors(t *testing.T) {
	h := newHarness(t, false)
	h.api.Expect("GET", "/api/v1/teams/shop/apps/web/deploys?limit=50").
		ReplyError(404, apiv1.Error{Code: "not_found", Message: `app "shop/web": not found`})
	wantExit(t, h.run("history", "web", "--team", "shop"), `app "shop/web": not found`, false)

	h = newHarness(t, false)
	h.api.Expect("GET", "/api/v1/teams/shop/apps/web/deploys?limit=5000").
		ReplyError(400, apiv1.Error{Code: "invalid", Field: "limit", Message: "must be 1 to 1000"})
	wantExit(t, h.run("history", "web", "--team", "shop", "--limit", "5000"), "limit: must be 1 to 1000", false)

	h = newHarness(t, false)
	wantExit(t, h.run("history", "web", "-o", "xml"), `invalid output format "xml": use one of table, json, yaml`, true)
	h.wantOutput(t, "", "")
}

// smokeFailed is a deploy whose second smoke test failed.
func smokeFailed() apiv1.Deploy {
	created := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	return apiv1.Deploy{ID: 11, Team: "shop", App: "web", Env: "staging", Revision: 3, Kind: "deploy", State: "failed",
		Reason: `smoke test "GET /info" failed: got 500, want 200: boom`, CreatedBy: "bob", CreatedAt: created,
		Smoke: &apiv1.SmokeRun{Revision: 3, Skipped: 1, DurationMs: 1500, Results: []apiv1.SmokeResult{
			{Name: "GET /smoke", Kind: "http", Passed: true, Status: 200, Attempts: 1, DurationMs: 12},
			{Name: "GET /info", Kind: "http", Status: 500, Detail: "got 500, want 200", Attempts: 3, DurationMs: 1480, Excerpt: "boom\nline two"},
		}}}
}

func TestHistoryOneDeployWithSmokeTests(t *testing.T) {
	h := newHarness(t, false)
	h.api.Expect("GET", "/api/v1/deploys/11").Reply(200, smokeFailed())
	h.api.Expect("GET", "/api/v1/deploys/11/gitops").ReplyError(404, apiv1.Error{Code: "not_found", Message: "deploy 11 published nothing"})
	if err := h.run("history", "web", "--team", "shop", "--deploy", "11"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, "deploy:   11\napp:      shop/web\nenv:      staging\nrevision: 3\nkind:     deploy\nstate:    failed\nby:       bob\n"+
		"created:  2026-03-04T05:06:07Z\nduration: -\nreason:   smoke test \"GET /info\" failed: got 500, want 200: boom\n"+
		"smoke tests of revision 3: failed, 1/3 passed\n"+
		"  ok    GET /smoke  200  12ms\n"+
		"  FAIL  GET /info   500  1.48s  3 attempts\n"+
		"GET /info: got 500, want 200\n  | boom\n  | line two\n1 more not run after the failure\n", "")

	h = newHarness(t, false)
	h.api.Expect("GET", "/api/v1/deploys/11").Reply(200, smokeFailed())
	if err := h.run("history", "api", "--team", "shop", "--deploy", "11"); err == nil || err.Error() != "deploy 11 is of shop/web, not shop/api" {
		t.Errorf("a deploy of another app: %v", err)
	}
}

func TestSmoke(t *testing.T) {
	h := newHarness(t, false)
	run := smokeFailed().Smoke
	h.api.Expect("POST", "/api/v1/teams/shop/apps/web/smoke").WithBody(apiv1.RunSmoke{Env: "staging"}).Reply(200, run)
	err := h.run("smoke", "web", "--team", "shop", "--env", "staging")
	if err == nil || err.Error() != "the smoke tests of shop/web in staging failed" {
		t.Fatalf("a failing run: %v", err)
	}
	if !strings.Contains(h.out.String(), "FAIL  GET /info   500  1.48s  3 attempts") {
		t.Errorf("output:\n%s", h.out)
	}

	h = newHarness(t, false)
	h.api.Expect("POST", "/api/v1/teams/shop/apps/web/smoke").WithBody(apiv1.RunSmoke{Env: "staging"}).Reply(200, apiv1.SmokeRun{Revision: 2, Passed: true, DurationMs: 40,
		Results: []apiv1.SmokeResult{{Name: "hello check", Kind: "command", Passed: true, Attempts: 1, DurationMs: 40}}})
	if err := h.run("smoke", "web", "--team", "shop", "--env", "staging", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	var got apiv1.SmokeRun
	if err := json.Unmarshal(h.out.Bytes(), &got); err != nil || !got.Passed || got.Results[0].Name != "hello check" {
		t.Errorf("-o json: %s", h.out)
	}

	h = newHarness(t, false)
	if err := h.run("smoke", "web", "--team", "shop"); err == nil || !strings.Contains(err.Error(), "--env is required") {
		t.Errorf("no --env: %v", err)
	}
}
