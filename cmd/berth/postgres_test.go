package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/store/pgtest"
)

// TestTwoServersOnPostgres runs two berth servers on one PostgreSQL database, queues a
// 50-app team redeploy, and kills one server with SIGKILL while it runs: the other
// finishes every deploy, each exactly once, and no deploy was ever worked on by two
// workers under the same attempt.
func TestTwoServersOnPostgres(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	opts := []string{"--database", dsn, "--deploy-lease", "2s", "--workers", "4"}
	a := startServer(t, t.TempDir(), opts...)
	b := startServer(t, t.TempDir(), opts...)
	ca, cb := adminClient(t, a), adminClient(t, b)
	ctx := context.Background()
	setUpFleet(t, ca, "fleet-pg")
	var first []int64
	for i := range crashApps {
		c := ca
		if i%2 == 1 {
			c = cb
		}
		d, err := c.CreateDeploy(ctx, apiv1.CreateDeploy{Env: "staging", Manifest: appYAML(fmt.Sprintf("app-%02d", i))})
		if err != nil {
			t.Fatal(err)
		}
		first = append(first, d.ID)
	}
	waitFinal(t, cb, first, 2*time.Minute)

	queued, err := cb.RedeployTeam(ctx, "fleet", apiv1.RedeployTeam{Env: "staging", Concurrency: 8})
	if err != nil {
		t.Fatal(err)
	}
	// Kill server a as soon as it holds a deploy of the redeploy.
	waitUntil(t, 30*time.Second, func() bool {
		for _, d := range queued {
			evs, err := cb.DeployEvents(ctx, d.ID)
			if err != nil {
				continue
			}
			for _, ev := range evs {
				if ev.Phase == "rendered" && strings.Contains(ev.Message, fmt.Sprintf("-%d-", a.cmd.Process.Pid)) {
					return true
				}
			}
		}
		return false
	})
	a.kill9(t)

	var ids []int64
	for _, d := range queued {
		ids = append(ids, d.ID)
	}
	final := waitFinal(t, cb, ids, 3*time.Minute)
	workers := map[string]bool{}
	resumed := 0
	for _, d := range final {
		if d.State != "succeeded" {
			t.Errorf("deploy %d of %s: %s (%s)", d.ID, d.App, d.State, d.Reason)
		}
		evs, err := cb.DeployEvents(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		attempts := map[string]string{} // attempt -> worker
		for _, ev := range evs {
			if ev.Phase != "rendered" {
				continue
			}
			_, rest, _ := strings.Cut(ev.Message, "(worker ")
			worker, attempt, _ := strings.Cut(strings.TrimSuffix(rest, ")"), ", attempt ")
			if prev, dup := attempts[attempt]; dup && prev != worker {
				t.Errorf("deploy %d attempt %s was worked on by %s and %s", d.ID, attempt, prev, worker)
			}
			attempts[attempt] = worker
			workers[strings.SplitN(worker, "/", 2)[0]] = true
		}
		if len(attempts) > 1 {
			resumed++
		}
	}
	if len(workers) < 2 {
		t.Errorf("only %d server(s) ran deploys: %v", len(workers), workers)
	}
	t.Logf("%d deploys final across %d servers; %d resumed after the kill", len(final), len(workers), resumed)
	for i := range crashApps {
		hist, err := cb.Deploys(ctx, "fleet", fmt.Sprintf("app-%02d", i), "staging", 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(hist) != 2 {
			t.Errorf("app-%02d has %d deploys, want 2", i, len(hist))
		}
	}
}

func waitUntil(t testing.TB, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met in %s", timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
