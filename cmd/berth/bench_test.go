package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/devcluster"
	"github.com/berth-dev/berth/internal/kubetest"
)

// BenchmarkDeployVsKubectl times one deploy to Ready — `berth deploy --wait` of a new image,
// through the server — against what users would otherwise run on the same rendered objects:
// `kubectl apply --server-side` then `kubectl rollout status`, in the same run on the same
// cluster, here with simulated pods. It reports both and the ratio (target: berth ≤ 1.2×
// kubectl).
func BenchmarkDeployVsKubectl(b *testing.B) {
	srv, file, ns := deployEnv(b)
	benchAgainstKubectl(b, srv, file, ns, kubetest.Kubeconfig(b),
		func(i int) string { return fmt.Sprintf("image=registry.example.com/web:%d", i+1) }, nil)
}

// benchAgainstKubectl runs the comparison of BenchmarkDeployVsKubectl for the app "web" of
// file, deployed to staging in namespace ns: each iteration deploys with --set set(i), then
// kubectl applies what `berth render` makes of the same (through patch, when given) into a
// namespace of its own.
func benchAgainstKubectl(b *testing.B, srv *serverProc, file, ns, kubeconfig string, set func(int) string, patch func([]byte) []byte) {
	bins, err := devcluster.ResolveBinaries(context.Background(), "", nil)
	if err != nil {
		b.Fatal(err)
	}
	kubectl := bins.Path("kubectl")
	if out, code := runBerth(b, srv, "deploy", "-f", file, "--env", "staging", "--wait"); code != 0 {
		b.Fatalf("first deploy: %s", out)
	}
	// The same objects, rendered by berth, for kubectl, into a namespace of their own.
	kns := ns + "-kubectl"
	run := func(name string, args ...string) {
		b.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
	}
	run(kubectl, "create", "namespace", kns)
	b.Cleanup(func() { run(kubectl, "delete", "namespace", kns, "--wait=false") })
	dir := b.TempDir()

	var berthTime, kubectlTime time.Duration
	i := 0
	for b.Loop() {
		i++
		start := time.Now()
		if out, code := runBerth(b, srv, "deploy", "-f", file, "--env", "staging", "--set", set(i), "--wait"); code != 0 {
			b.Fatalf("berth deploy: %s", out)
		}
		berthTime += time.Since(start)

		out, code := runBerth(b, srv, "render", "-f", file, "--env", "staging", "--set", set(i), "-n", kns, "-o", "json")
		if code != 0 {
			b.Fatalf("render: %s", out)
		}
		objs := []byte(out)
		if patch != nil {
			objs = patch(objs)
		}
		rendered := filepath.Join(dir, fmt.Sprintf("objs-%d.json", i))
		if err := os.WriteFile(rendered, objs, 0o644); err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		run(kubectl, "apply", "--server-side", "-f", rendered)
		run(kubectl, "rollout", "status", "-n", kns, "deployment/web", "--timeout=120s")
		kubectlTime += time.Since(start)
	}
	n := time.Duration(b.N)
	b.ReportMetric(float64(berthTime/n)/1e6, "berth-ms/op")
	b.ReportMetric(float64(kubectlTime/n)/1e6, "kubectl-ms/op")
	b.ReportMetric(float64(berthTime)/float64(kubectlTime), "ratio")
}

// BenchmarkTeamRedeploy1000Apps times a team redeploy of 1,000 apps, from the request to
// every deploy final, on the local cluster (target: ≤ 60 s). Setting up the 1,000 apps is
// not timed.
func BenchmarkTeamRedeploy1000Apps(b *testing.B) {
	srv, c, _ := fleet(b, "--workers", "32", "--kube-qps", "300", "--kube-burst", "600")
	apps := 1000
	if v := os.Getenv("BERTH_BENCH_APPS"); v != "" {
		fmt.Sscan(v, &apps)
	}
	var manifests []string
	for i := range apps {
		manifests = append(manifests, appYAML(fmt.Sprintf("app-%04d", i)))
	}
	start := time.Now()
	deployAll(b, c, manifests)
	b.Logf("initial deploy of %d apps: %s", apps, time.Since(start).Round(time.Millisecond))
	_ = srv
	for b.Loop() {
		queued, err := c.RedeployTeam(context.Background(), "fleet", apiv1.RedeployTeam{Env: "staging", Concurrency: 32})
		if err != nil {
			b.Fatal(err)
		}
		var ids []int64
		for _, d := range queued {
			ids = append(ids, d.ID)
		}
		for _, d := range waitFinal(b, c, ids, 10*time.Minute) {
			if d.State != "succeeded" {
				b.Fatalf("deploy %d of %s: %s", d.ID, d.App, d.Reason)
			}
		}
	}
}

// BenchmarkDeployVsKubectlRealNode is BenchmarkDeployVsKubectl on the real node: real
// containers of examples/hello pulled from the dev registry, a readiness probe that really
// answers. Each iteration rolls to the other of two tags; kubectl applies the same objects
// berth rendered, with the environment's node selector and toleration (target: berth ≤ 1.2×
// kubectl).
func BenchmarkDeployVsKubectlRealNode(b *testing.B) {
	srv, cluster, ns := realNodeEnv(b)
	file := writeManifest(b, helloManifest("web", "web."+ns+".localhost"))
	benchAgainstKubectl(b, srv, file, ns, cluster.Kubeconfig,
		func(i int) string { return fmt.Sprintf("version=%d", 2-i%2) },
		func(objs []byte) []byte { return onRealNode(b, objs, cluster.Node) })
}

// onRealNode adds the real node's node selector and toleration to the Deployments of a
// rendered List, as the environment's scheduling defaults do for berth's own deploys.
func onRealNode(b *testing.B, list []byte, node *devcluster.NodeState) []byte {
	b.Helper()
	var objs struct {
		APIVersion string           `json:"apiVersion"`
		Kind       string           `json:"kind"`
		Items      []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(list, &objs); err != nil {
		b.Fatalf("rendered objects: %v", err)
	}
	key, value, _ := strings.Cut(node.Label, "=")
	for _, o := range objs.Items {
		if o["kind"] != "Deployment" {
			continue
		}
		pod := o["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
		pod["nodeSelector"] = map[string]string{key: value}
		pod["tolerations"] = []map[string]string{{"key": key, "operator": "Equal", "value": value, "effect": "NoSchedule"}}
	}
	out, err := json.Marshal(objs)
	if err != nil {
		b.Fatal(err)
	}
	return out
}
