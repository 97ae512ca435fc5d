package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/internal/manifest"
)

// smokeChecks are examples/hello's smoke tests: two HTTP checks through the API server's
// service proxy and `hello check` run as a Job in the app's own image.
const smokeChecks = `smoke:
  - {path: /smoke, contains: "smoke ok"}
  - {name: info, path: /info, port: http, matches: '"version":"[0-9]+"'}
  - {name: hello check, command: [/app/hello, check, /smoke]}
`

// TestRealNodeSmokeTestsGateDeploys runs smoke tests against real pods: a passing
// revision's deploy shows each check with its time; a revision whose smoke path answers
// 500 fails with the check in its reason and is rolled back, and the rollback runs the
// restored revision's tests, which pass, and says so; a command check that exits 1 fails
// the deploy with its log; `berth smoke` tests what runs now; no smoke Job is left behind.
func TestRealNodeSmokeTestsGateDeploys(t *testing.T) {
	srv, cluster, ns := realNodeEnv(t)
	host := "web." + ns + ".localhost"
	file := writeManifest(t, helloManifest("web", host)+smokeChecks)

	out, code := runBerth(t, srv, "deploy", "-f", file, "--env", "staging", "--wait")
	if code != 0 {
		t.Fatalf("first deploy: exit %d\n%s", code, out)
	}
	for _, want := range []string{"smoke tests of revision 1: 3/3 passed in ", "ok  GET /smoke   200", "ok  info         200", "ok  hello check  exit 0"} {
		if !strings.Contains(out, want) {
			t.Errorf("deploy --wait output lacks %q:\n%s", want, out)
		}
	}
	hist := history(t, srv)
	if s := hist[0].Smoke; s == nil || !s.Passed || len(s.Results) != 3 || s.Results[2].Kind != "command" {
		t.Fatalf("stored smoke results: %+v", s)
	}
	t.Logf("3 smoke checks on real pods: %dms (%s)", hist[0].Smoke.DurationMs, hist[0].Reason)

	// The new revision's pods are ready but answer 500 on the smoke path.
	start := time.Now()
	out, code = runBerth(t, srv, "deploy", "-f", file, "--env", "staging", "--set", "fail=smoke", "--wait")
	if code == 0 {
		t.Fatalf("a deploy failing its smoke tests succeeded:\n%s", out)
	}
	t.Logf("smoke failure detected and rolled back in %s", time.Since(start).Round(time.Millisecond))
	for _, want := range []string{`smoke test "GET /smoke" failed: got 500, want 200`, "HELLO_FAIL=smoke", "rolling back automatically",
		"automatic rollback", "to revision 1 succeeded"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	hist = history(t, srv)
	if historyKinds(hist[:2]) != "auto-rollback:succeeded deploy:failed" {
		t.Fatalf("history %s", historyKinds(hist))
	}
	if rb := hist[0]; !strings.Contains(rb.Reason, "the smoke tests of revision 1, which it restores: 3 smoke tests passed") || rb.Smoke == nil || !rb.Smoke.Passed {
		t.Errorf("the rollback's reason %q, smoke %+v", rb.Reason, rb.Smoke)
	}
	if failed := hist[1]; failed.Smoke == nil || failed.Smoke.Passed || failed.Smoke.Results[0].Status != 500 ||
		!strings.Contains(failed.Smoke.Results[0].Excerpt, "HELLO_FAIL=smoke") {
		t.Errorf("the failed deploy's smoke results: %+v", failed.Smoke)
	}
	if body := get(t, "http://"+cluster.Node.Ingress+"/smoke", host); !strings.Contains(body, "smoke ok") {
		t.Errorf("after the rollback the app answers %q", body)
	}

	// A revision with only the command check, on pods that fail it.
	cmdOnly := writeManifest(t, helloManifest("web", host)+"smoke:\n  - {name: hello check, command: [/app/hello, check, /smoke], timeout: 90s}\n")
	out, code = runBerth(t, srv, "deploy", "-f", cmdOnly, "--env", "staging", "--set", "fail=smoke", "--no-auto-rollback", "--wait")
	if code == 0 {
		t.Fatalf("a failing command check passed:\n%s", out)
	}
	for _, want := range []string{`smoke test "hello check" failed: exit code 1`, "500 Internal Server Error", "  | smoke test failing on purpose: HELLO_FAIL=smoke"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	// berth smoke tests what runs now: the failed revision's pods, left as they are, with
	// that revision's tests.
	out, code = runBerth(t, srv, "smoke", "web", "--env", "staging")
	if code == 0 || !strings.Contains(out, "smoke tests of revision 2: failed, 0/1 passed") || !strings.Contains(out, "FAIL  hello check  exit 1") {
		t.Errorf("berth smoke on failing pods: exit %d\n%s", code, out)
	}
	if out, code := runBerth(t, srv, "rollback", "web", "--env", "staging", "--wait"); code != 0 {
		t.Fatalf("rollback: exit %d\n%s", code, out)
	}
	out, code = runBerth(t, srv, "smoke", "web", "--env", "staging")
	if code != 0 || !strings.Contains(out, "smoke tests of revision 1: 3/3 passed") {
		t.Errorf("berth smoke after the rollback: exit %d\n%s", code, out)
	}

	// Every smoke Job is deleted once its check is done.
	ctx := context.Background()
	deadline := time.Now().Add(time.Minute)
	for {
		jobs, err := cluster.Client(t).BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{LabelSelector: manifest.LabelSmoke + "=true"})
		if err != nil {
			t.Fatal(err)
		}
		if len(jobs.Items) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("smoke Jobs left behind: %v", fmt.Sprint(len(jobs.Items)))
		}
		time.Sleep(200 * time.Millisecond) // deleting is asynchronous; nothing to watch for
	}
}
