package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
)

// crashApps is how many apps the crash test redeploys.
const crashApps = 50

func appYAML(name string) string {
	return fmt.Sprintf(`apiVersion: berth.dev/v1
metadata: {name: %s, team: fleet}
containers:
  web: {image: registry.example.com/%s:1}
replicas: 1
`, name, name)
}

// waitFinal polls until every deploy is final and returns them.
func waitFinal(t testing.TB, c *apiclient.Client, ids []int64, timeout time.Duration) map[int64]apiv1.Deploy {
	t.Helper()
	deadline := time.Now().Add(timeout)
	final := map[int64]apiv1.Deploy{}
	for len(final) < len(ids) {
		for _, id := range ids {
			if _, ok := final[id]; ok {
				continue
			}
			d, err := c.Deploy(context.Background(), id)
			if err != nil {
				continue // the server may be restarting
			}
			if d.State == "succeeded" || d.State == "failed" {
				final[id] = d
			}
		}
		if time.Now().After(deadline) {
			var stuck []string
			for _, id := range ids {
				if _, ok := final[id]; !ok {
					stuck = append(stuck, strconv.FormatInt(id, 10))
				}
			}
			t.Fatalf("deploys not final after %s: %s", timeout, strings.Join(stuck, ", "))
		}
		time.Sleep(100 * time.Millisecond)
	}
	return final
}

// TestCrashDuringTeamRedeploy kills the server with SIGKILL at random moments during a
// 50-app team redeploy and restarts it: every deploy must end in exactly one final state,
// with no duplicate deploys and none stuck. BERTH_CRASH_TRIALS sets the number of trials
// (scripts/crash-test.sh runs 10).
func TestCrashDuringTeamRedeploy(t *testing.T) {
	trials := 2
	if v := os.Getenv("BERTH_CRASH_TRIALS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("BERTH_CRASH_TRIALS=%q", v)
		}
		trials = n
	}
	for trial := range trials {
		t.Run(fmt.Sprintf("trial-%d", trial), func(t *testing.T) { crashTrial(t, trial) })
	}
}

func crashTrial(t *testing.T, trial int) {
	data := t.TempDir()
	lease := []string{"--deploy-lease", "2s", "--workers", "8"}
	srv := startServer(t, data, lease...)
	c := adminClient(t, srv)
	ctx := context.Background()
	setUpFleet(t, c, fmt.Sprintf("fleet-crash-%d", trial))
	var first []int64
	for i := range crashApps {
		d, err := c.CreateDeploy(ctx, apiv1.CreateDeploy{Env: "staging", Manifest: appYAML(fmt.Sprintf("app-%02d", i))})
		if err != nil {
			t.Fatal(err)
		}
		first = append(first, d.ID)
	}
	for _, d := range waitFinal(t, c, first, 2*time.Minute) {
		if d.State != "succeeded" {
			t.Fatalf("initial deploy %d of %s: %s %s", d.ID, d.App, d.State, d.Reason)
		}
	}

	queued, err := c.RedeployTeam(ctx, "fleet", apiv1.RedeployTeam{Env: "staging", Concurrency: 8})
	if err != nil {
		t.Fatal(err)
	}
	if len(queued) != crashApps {
		t.Fatalf("redeploy queued %d deploys, want %d", len(queued), crashApps)
	}
	// Kill the server twice at random moments while the redeploy runs.
	for kill := range 2 {
		time.Sleep(time.Duration(rand.IntN(1500)) * time.Millisecond)
		srv.kill9(t)
		t.Logf("killed the server (kill %d)", kill+1)
		srv = startServer(t, data, lease...)
		c = adminClient(t, srv)
	}
	var ids []int64
	for _, d := range queued {
		ids = append(ids, d.ID)
	}
	final := waitFinal(t, c, ids, 3*time.Minute)
	resumed := 0
	for _, d := range final {
		if d.State != "succeeded" {
			t.Errorf("deploy %d of %s: %s (%s)", d.ID, d.App, d.State, d.Reason)
		}
		if d.Attempts > 1 {
			resumed++
		}
	}
	t.Logf("%d deploys final; %d resumed after a crash", len(final), resumed)

	// No duplicates: each app has exactly its initial deploy and one redeploy.
	for i := range crashApps {
		app := fmt.Sprintf("app-%02d", i)
		hist, err := c.Deploys(ctx, "fleet", app, "staging", 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(hist) != 2 || hist[0].Kind != "redeploy" || hist[1].Kind != "deploy" {
			var got []string
			for _, d := range hist {
				got = append(got, fmt.Sprintf("%d:%s:%s", d.ID, d.Kind, d.State))
			}
			t.Errorf("%s history %v, want one deploy and one redeploy", app, got)
		}
	}
}
