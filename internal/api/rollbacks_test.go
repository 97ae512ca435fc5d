package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// failedWithRollback is a deploy of alpha/reports to staging that failed, and the
// automatic rollback the engine queued in the same transaction, which then succeeded (so
// that nothing is left queued).
func (f *fixture) failedWithRollback() (failed, rollback berth.Deploy) {
	f.t.Helper()
	ctx := context.Background()
	d := f.enqueue(berth.NewDeploy{Team: "alpha", App: "reports", Env: "staging", Revision: 1, Kind: berth.KindDeploy, CreatedBy: "dan"})
	f.claim(d.ID)
	err := f.st.Tx(ctx, func(tx *store.Tx) (err error) {
		if failed, err = tx.FinishDeploy(ctx, d.ID, "test-worker", berth.DeployFailed, "CrashLoopBackOff"); err != nil {
			return err
		}
		rollback, err = tx.EnqueueDeploy(ctx, berth.NewDeploy{Team: "alpha", App: "reports", Env: "staging", Revision: 1,
			Kind: berth.KindAutoRollback, SourceDeploy: f.ids["deploy"], RollbackOf: d.ID, CreatedBy: "system"})
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return failed, f.finish(rollback.ID, berth.DeploySucceeded, "available")
}

// TestGetDeployRollback: a failed deploy's automatic rollback is found; a deploy without
// one is a 404 that says so; another team's viewer is refused.
func TestGetDeployRollback(t *testing.T) {
	f := newFixture(t)
	// A deploy queued while the failed one ran comes between it and its rollback.
	d := f.enqueue(berth.NewDeploy{Team: "alpha", App: "reports", Env: "staging", Revision: 1, Kind: berth.KindDeploy, CreatedBy: "dan"})
	f.claim(d.ID)
	f.enqueue(berth.NewDeploy{Team: "alpha", App: "reports", Env: "staging", Revision: 1, Kind: berth.KindDeploy, CreatedBy: "dan"})
	var failed, rollback berth.Deploy
	err := f.st.Tx(context.Background(), func(tx *store.Tx) (err error) {
		if failed, err = tx.FinishDeploy(context.Background(), d.ID, "test-worker", berth.DeployFailed, "CrashLoopBackOff"); err != nil {
			return err
		}
		rollback, err = tx.EnqueueDeploy(context.Background(), berth.NewDeploy{Team: "alpha", App: "reports", Env: "staging", Revision: 1,
			Kind: berth.KindAutoRollback, SourceDeploy: f.ids["deploy"], RollbackOf: d.ID, CreatedBy: "system"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	status, data := f.do(ownViewer, "GET", fmt.Sprintf("/api/v1/deploys/%d/rollback", failed.ID), nil)
	var got apiv1.Deploy
	if status != 200 || json.Unmarshal(data, &got) != nil || got.ID != rollback.ID || got.RollbackOf != failed.ID || got.Kind != "auto-rollback" {
		t.Fatalf("rollback of %d: %d %s, want deploy %d", failed.ID, status, data, rollback.ID)
	}
	for _, c := range []struct {
		caller    string
		id        int64
		status    int
		code, msg string
	}{
		{ownViewer, f.ids["deploy"], 404, "not_found", fmt.Sprintf("deploy %d has no automatic rollback", f.ids["deploy"])},
		{ownViewer, 999, 404, "not_found", `deploy "999"`},
		{otherViewer, failed.ID, 403, "forbidden", "bob is not a member of team alpha"},
	} {
		status, data := f.do(c.caller, "GET", fmt.Sprintf("/api/v1/deploys/%d/rollback", c.id), nil)
		var e apiv1.Error
		if status != c.status || json.Unmarshal(data, &e) != nil || e.Code != c.code || !strings.Contains(e.Message, c.msg) {
			t.Errorf("rollback of %d as %s: %d %s, want %d %s %q", c.id, c.caller, status, data, c.status, c.code, c.msg)
		}
	}
}

// TestRollbackWithoutToPicksTheDeployBeforeTheCurrent: without a revision the server
// rolls back to the last successful deploy before the current (the newest successful)
// one; failed deploys do not count; the errors name the field "to".
func TestRollbackWithoutToPicksTheDeployBeforeTheCurrent(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ds, err := f.st.Deploys(ctx, store.DeployFilter{Team: "alpha", App: "reports", Env: "staging"})
	if err != nil || len(ds) != 2 {
		t.Fatalf("fixture deploys: %v %v", ds, err)
	}
	first := ds[1]

	rollback := func(wantSource int64) berth.Deploy {
		t.Helper()
		status, data := f.do(deployer, "POST", "/api/v1/teams/alpha/apps/reports/rollback", apiv1.Rollback{Env: "staging"})
		var d apiv1.Deploy
		if status != 201 || json.Unmarshal(data, &d) != nil || d.SourceDeploy != wantSource || d.Kind != "rollback" {
			t.Fatalf("rollback: %d %s, want a rollback to deploy %d", status, data, wantSource)
		}
		return f.finish(d.ID, berth.DeploySucceeded, "available")
	}
	// Current: the fixture's second deploy; before it: the first.
	r1 := rollback(first.ID)
	// Then a failed deploy, and its automatic rollback, which succeeds.
	f.failedWithRollback() // current: the automatic rollback; before it: r1
	rollback(r1.ID)

	for _, c := range []struct {
		body apiv1.Rollback
		app  string
		msg  string
	}{
		{apiv1.Rollback{Env: "old"}, "reports", "alpha/reports has no earlier successful deploy in old to roll back to"},
		{apiv1.Rollback{Env: "staging", To: 9}, "reports", "alpha/reports has no successful deploy of revision 9 in staging"},
	} {
		status, data := f.do(deployer, "POST", "/api/v1/teams/alpha/apps/"+c.app+"/rollback", c.body)
		var e apiv1.Error
		if status != 400 || json.Unmarshal(data, &e) != nil || e.Field != "to" || e.Message != c.msg {
			t.Errorf("rollback %s %+v: %d %s, want 400 on to: %q", c.app, c.body, status, data, c.msg)
		}
	}
	// An app that does not exist has nothing to roll back: 404, with or without a revision.
	for _, body := range []apiv1.Rollback{{Env: "staging"}, {Env: "staging", To: 1}} {
		status, data := f.do(deployer, "POST", "/api/v1/teams/alpha/apps/nope/rollback", body)
		var e apiv1.Error
		if status != 404 || json.Unmarshal(data, &e) != nil || e.Code != "not_found" || !strings.Contains(e.Message, `"alpha/nope"`) {
			t.Errorf("rollback of a missing app %+v: %d %s, want 404 naming alpha/nope", body, status, data)
		}
	}
}

func TestRunSmoke(t *testing.T) {
	f := newFixture(t)
	status, data := f.do(deployer, "POST", "/api/v1/teams/alpha/apps/reports/smoke", apiv1.RunSmoke{Env: "staging"})
	if status != 200 {
		t.Fatalf("smoke: %d %s", status, data)
	}
	var run apiv1.SmokeRun
	if err := json.Unmarshal(data, &run); err != nil {
		t.Fatal(err)
	}
	if !run.Passed || len(run.Results) != 1 || run.Results[0].Status != 200 || run.DurationMs != 12 || run.Revision == 0 {
		t.Errorf("run %s", data)
	}
	for _, c := range []struct {
		who, env string
		status   int
		want     string
	}{
		{deployer, "", 400, "env is required"},
		{deployer, "nowhere", 404, "nowhere"},
		{deployer, "old", 409, "alpha/reports was never deployed to old"},
		{otherViewer, "staging", 403, ""},
		{ownViewer, "staging", 403, ""},
	} {
		status, data := f.do(c.who, "POST", "/api/v1/teams/alpha/apps/reports/smoke", apiv1.RunSmoke{Env: c.env})
		if status != c.status || !strings.Contains(string(data), c.want) {
			t.Errorf("env %q: %d %s, want %d %q", c.env, status, data, c.status, c.want)
		}
	}
	_, data = f.do(globalAdmin, "GET", "/api/v1/audit?limit=1000", nil)
	var events apiv1.List[apiv1.AuditEvent]
	if err := json.Unmarshal(data, &events); err != nil {
		t.Fatal(err)
	}
	outcomes := map[string]int{}
	for _, ev := range events.Items {
		if ev.Action == "app.smoke" {
			outcomes[ev.Outcome]++
		}
	}
	if outcomes["success"] != 1 || outcomes["denied"] != 2 {
		t.Errorf("app.smoke audit outcomes %v, want 1 success and 2 denials", outcomes)
	}
}
