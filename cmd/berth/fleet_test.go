package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/kube"
	"github.com/berth-dev/berth/internal/kubetest"
)

// fleet starts a server with team "fleet" and environment "staging" in a namespace of its
// own on the test cluster.
func fleet(t testing.TB, extra ...string) (*serverProc, *apiclient.Client, string) {
	t.Helper()
	srv := startServer(t, t.TempDir(), extra...)
	c := adminClient(t, srv)
	return srv, c, setUpFleet(t, c, "fleet")
}

// adminClient is an API client of srv with the admin's token.
func adminClient(t testing.TB, srv *serverProc) *apiclient.Client {
	t.Helper()
	c, err := apiclient.New(srv.url, adminToken)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// setUpFleet creates team "fleet" and environment "staging" in a new namespace, named
// after prefix, which the test deletes at the end; it returns the namespace.
func setUpFleet(t testing.TB, c *apiclient.Client, prefix string) string {
	t.Helper()
	ns := fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()%1000000)
	t.Cleanup(func() {
		kubetest.Client(t).CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
	if _, err := c.CreateTeam(context.Background(), "fleet"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateEnvironment(context.Background(), apiv1.CreateEnvironment{Name: "staging", Kubeconfig: kubetest.Kubeconfig(t), NamespaceTemplate: ns}); err != nil {
		t.Fatal(err)
	}
	return ns
}

// deployAll deploys each manifest and waits until all succeeded.
func deployAll(t testing.TB, c *apiclient.Client, manifests []string) []apiv1.Deploy {
	t.Helper()
	var ids []int64
	for _, m := range manifests {
		d, err := c.CreateDeploy(context.Background(), apiv1.CreateDeploy{Env: "staging", Manifest: m})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.ID)
	}
	final := waitFinal(t, c, ids, 3*time.Minute)
	out := make([]apiv1.Deploy, len(ids))
	for i, id := range ids {
		out[i] = final[id]
		if out[i].State != "succeeded" {
			t.Fatalf("deploy %d of %s: %s %s", id, out[i].App, out[i].State, out[i].Reason)
		}
	}
	return out
}

// TestTeamRedeploySkipsExcludedApps redeploys a team of 50 apps with 2 excluded through the
// CLI: 48 deploys, and a summary that says so.
func TestTeamRedeploySkipsExcludedApps(t *testing.T) {
	srv, c, _ := fleet(t, "--workers", "8")
	var manifests []string
	for i := range 50 {
		manifests = append(manifests, appYAML(fmt.Sprintf("app-%02d", i)))
	}
	deployAll(t, c, manifests)

	out, code := runBerth(t, srv, "redeploy", "team", "--team", "fleet", "--env", "staging",
		"--exclude-app", "app-07", "--exclude-app", "app-42", "--concurrency", "8")
	if code != 0 {
		t.Fatalf("redeploy team: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "queued 48 deploys") || !strings.Contains(out, "48 succeeded, 0 failed") {
		t.Errorf("summary is wrong:\n%s", out)
	}
	rows := 0
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && strings.HasPrefix(f[0], "app-") && f[1] == "staging" {
			rows++
			if f[0] == "app-07" || f[0] == "app-42" {
				t.Errorf("excluded app redeployed: %s", line)
			}
		}
	}
	if rows != 48 {
		t.Errorf("summary table has %d rows, want 48:\n%s", rows, out)
	}
	for _, app := range []string{"app-07", "app-42", "app-08"} {
		hist, err := c.Deploys(context.Background(), "fleet", app, "staging", 10)
		if err != nil {
			t.Fatal(err)
		}
		want := 2
		if app != "app-08" {
			want = 1
		}
		if len(hist) != want {
			t.Errorf("%s has %d deploys, want %d", app, len(hist), want)
		}
	}
}

// TestRollbackAppliesStoredObjectsExactly deploys 5 apps through 4 revisions each, then
// rolls back 20 random (app, revision) pairs: after each, the rollback stored the same
// objects as the deploy of that revision, and the live objects have no drift from them.
func TestRollbackAppliesStoredObjectsExactly(t *testing.T) {
	_, c, ns := fleet(t, "--workers", "8")
	ctx := context.Background()
	const apps, revisions = 5, 4
	byRev := map[string]map[int64]apiv1.Deploy{} // app -> revision -> deploy
	for rev := 1; rev <= revisions; rev++ {
		var manifests []string
		for a := range apps {
			name := fmt.Sprintf("roll-%d", a)
			m := strings.Replace(appYAML(name), ":1}", fmt.Sprintf(":%d}", rev), 1)
			m = strings.Replace(m, "replicas: 1", fmt.Sprintf("replicas: %d", rev), 1)
			manifests = append(manifests, m)
		}
		for _, d := range deployAll(t, c, manifests) {
			if byRev[d.App] == nil {
				byRev[d.App] = map[int64]apiv1.Deploy{}
			}
			byRev[d.App][d.Revision] = d
		}
	}
	cluster, err := kube.New(kubetest.Config(t), kube.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20 {
		app := fmt.Sprintf("roll-%d", rng.IntN(apps))
		rev := int64(1 + rng.IntN(revisions))
		current, err := c.Deploys(ctx, "fleet", app, "staging", 1)
		if err != nil {
			t.Fatal(err)
		}
		rb, err := c.Rollback(ctx, "fleet", app, apiv1.Rollback{Env: "staging", To: rev})
		if err != nil {
			t.Fatalf("pair %d (%s, %d): %v", i, app, rev, err)
		}
		final := waitFinal(t, c, []int64{rb.ID}, time.Minute)[rb.ID]
		if final.State != "succeeded" {
			t.Fatalf("rollback of %s to %d: %s %s (current was %d)", app, rev, final.State, final.Reason, current[0].Revision)
		}
		want := byRev[app][rev]
		if final.ObjectsDigest != want.ObjectsDigest {
			t.Errorf("rollback of %s to %d applied objects %s, revision %d's deploy stored %s", app, rev, final.ObjectsDigest, rev, want.ObjectsDigest)
		}
		objs, err := c.DeployObjects(ctx, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		var desired []runtime.Object
		for _, o := range objs {
			desired = append(desired, &unstructured.Unstructured{Object: o})
		}
		drift, err := cluster.Drift(ctx, ns, desired)
		if err != nil {
			t.Fatal(err)
		}
		if len(drift) > 0 {
			b, _ := json.Marshal(drift)
			t.Errorf("after rollback of %s to revision %d the live objects differ: %s", app, rev, b)
		}
	}
}
