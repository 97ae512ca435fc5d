package cli_test

import (
	"encoding/json"
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
			Reason: "available", CreatedBy: "alice", CreatedAt: created, StartedAt: &started, FinishedAt: &finished},
		{ID: 11, Team: "shop", App: "web", Env: "staging", Revision: 3, Kind: "deploy", State: "failed",
			Reason: crashReason, CreatedBy: "bob", CreatedAt: created.Add(-time.Hour)},
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
		want: "DEPLOY  ENV      REVISION  KIND            STATE      BY     CREATED               DURATION  REASON\n" +
			"12      staging  2         rollback of 10  succeeded  alice  2026-03-04T05:06:07Z  1.5s      available\n" +
			"11      staging  3         deploy          failed     bob    2026-03-04T04:06:07Z  -         rollout failed: pods crash-looping (CrashLoopBackOff) in we…\n",
	}, {
		name: "terminal", tty: true, created: time.Now().Add(-5 * time.Minute),
		want: "DEPLOY  ENV      REVISION  KIND            STATE      BY     CREATED  DURATION  REASON\n" +
			"12      staging  2         rollback of 10  succeeded  alice  5m ago   1.5s      available\n" +
			"11      staging  3         deploy          failed     bob    1h ago   -         rollout failed: pods crash-looping (CrashLoopBackOff) in we…\n",
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
	if err := json.Unmarshal(h.out.Bytes(), &got); err != nil || len(got) != 2 || got[0].ID != 12 || got[1].Reason != crashReason {
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
