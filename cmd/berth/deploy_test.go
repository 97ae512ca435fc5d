package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/kubetest"
)

// appManifest is a small app whose image is an arg, so a deploy can change it.
const appManifest = `apiVersion: berth.dev/v1
metadata: {name: web, team: shop}
args: {image: registry.example.com/web:1}
containers:
  web:
    image: ${args.image}
service:
  ports: {http: {port: 80, targetPort: 8080}}
replicas: 3
`

// deployEnv starts a server with team shop and environment staging (see shopEnv) and
// writes appManifest; it returns the server, the manifest's path and the namespace.
func deployEnv(t testing.TB) (*serverProc, string, string) {
	t.Helper()
	srv := startServer(t, t.TempDir())
	file, ns := shopEnv(t, srv, appManifest)
	return srv, file, ns
}

// shopEnv creates team shop and environment staging on srv, in a namespace of this test on
// the test cluster (deleted at the end), and writes manifest to a file; it returns the
// file's path and the namespace. envFlags are more flags of `berth envs create`.
func shopEnv(t testing.TB, srv *serverProc, manifest string, envFlags ...string) (string, string) {
	t.Helper()
	ns := "shop-" + strings.ToLower(strings.ReplaceAll(t.Name(), "_", "-"))
	if len(ns) > 50 {
		ns = ns[:50]
	}
	for _, args := range [][]string{
		{"teams", "create", "shop"},
		append([]string{"envs", "create", "staging", "--kubeconfig", kubetest.Kubeconfig(t), "--namespace-template", ns}, envFlags...),
	} {
		if out, code := runBerth(t, srv, args...); code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, out)
		}
	}
	t.Cleanup(func() {
		kubetest.Client(t).CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
	file := filepath.Join(t.TempDir(), "berth.yaml")
	if err := os.WriteFile(file, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	return file, ns
}

func liveImage(t testing.TB, ns string) string {
	t.Helper()
	d, err := kubetest.Client(t).AppsV1().Deployments(ns).Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d.Spec.Template.Spec.Containers[0].Image
}

// TestDeployRollingUpdateRollbackAndDrift deploys 3 replicas, rolls an image change, and a
// manual rollback returns to the first; a scale by hand shows as drift. A failed rollout
// and its automatic rollback need real containers: TestRealNodeFailedRolloutsRollBack.
func TestDeployRollingUpdateRollbackAndDrift(t *testing.T) {
	srv, file, ns := deployEnv(t)

	out, code := runBerth(t, srv, "deploy", "-f", file, "--env", "staging", "--wait")
	if code != 0 || !strings.Contains(out, "succeeded") {
		t.Fatalf("first deploy: exit %d\n%s", code, out)
	}
	if img := liveImage(t, ns); img != "registry.example.com/web:1" {
		t.Fatalf("live image %s", img)
	}

	// Revision 2 of the manifest changes the image.
	if err := os.WriteFile(file, []byte(strings.Replace(appManifest, "web:1", "web:2", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code = runBerth(t, srv, "deploy", "-f", file, "--env", "staging", "--wait")
	if code != 0 || !strings.Contains(out, "succeeded") {
		t.Fatalf("image change: exit %d\n%s", code, out)
	}
	for _, phase := range []string{"applying", "ready 3/3"} {
		if !strings.Contains(out, phase) {
			t.Errorf("progress does not show %q:\n%s", phase, out)
		}
	}
	if img := liveImage(t, ns); img != "registry.example.com/web:2" {
		t.Fatalf("live image after change %s", img)
	}

	out, code = runBerth(t, srv, "rollback", "web", "--env", "staging", "--to", "1", "--wait")
	if code != 0 {
		t.Fatalf("rollback --to 1: exit %d\n%s", code, out)
	}
	if img := liveImage(t, ns); img != "registry.example.com/web:1" {
		t.Fatalf("after rollback to revision 1 the live image is %s", img)
	}

	// Status: what runs matches the deploy; then someone scales by hand, and it is drift.
	status := func() apiv1.EnvStatus {
		t.Helper()
		out, code := runBerth(t, srv, "status", "web", "--env", "staging", "-o", "json")
		var st apiv1.AppStatus
		if code != 0 || json.Unmarshal([]byte(out), &st) != nil || len(st.Envs) != 1 || st.Envs[0].Live == nil {
			t.Fatalf("status: exit %d\n%s", code, out)
		}
		return st.Envs[0]
	}
	if st := status(); st.Current.Revision != 1 || st.Live.Ready != 3 || len(st.Live.Pods) < 3 || len(st.Live.Drift) != 0 {
		t.Fatalf("status after rollback: %+v", st)
	}
	scale, err := kubetest.Client(t).AppsV1().Deployments(ns).GetScale(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	scale.Spec.Replicas = 5
	if _, err := kubetest.Client(t).AppsV1().Deployments(ns).UpdateScale(context.Background(), "web", scale, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	st := status()
	if len(st.Live.Drift) != 1 || st.Live.Drift[0].Path != ".spec.replicas" || st.Live.Drift[0].Desired != "3" || st.Live.Drift[0].Live != "5" {
		t.Errorf("drift after a manual scale: %+v", st.Live.Drift)
	}
	if out, code := runBerth(t, srv, "status", "web", "--env", "staging"); code != 0 || !strings.Contains(out, ".spec.replicas") {
		t.Errorf("status table does not show the drift:\n%s", out)
	}

	want := "rollback:succeeded deploy:succeeded deploy:succeeded"
	if got := historyKinds(history(t, srv)); got != want {
		t.Errorf("history %s, want %s", got, want)
	}
}

// TestDeployAutoRollbackOffInManifest: a revision whose manifest turns automatic rollback
// off for the environment leaves its failed rollout as it is, and the failure says why. Its
// containers crash for real, on the real node.
func TestDeployAutoRollbackOffInManifest(t *testing.T) {
	srv, cluster, ns := realNodeEnv(t)
	manifest := helloManifest("web", "web."+ns+".localhost")
	file := writeManifest(t, manifest)
	if out, code := runBerth(t, srv, "deploy", "-f", file, "--env", "staging", "--wait"); code != 0 {
		t.Fatalf("first deploy: exit %d\n%s", code, out)
	}

	// Revision 2 turns automatic rollback off in staging, through an overlay.
	off := manifest + "environments:\n  staging:\n    deploy: {autoRollback: false}\n"
	if err := os.WriteFile(file, []byte(off), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := runBerth(t, srv, "deploy", "-f", file, "--env", "staging", "--set", "fail=crash", "--timeout", "60s", "--wait")
	if code == 0 {
		t.Fatalf("a crashing rollout succeeded:\n%s", out)
	}
	const why = "automatic rollback is off for this app in staging"
	for _, want := range []string{"failed", "CrashLoopBackOff", why} {
		if !strings.Contains(out, want) {
			t.Errorf("failed deploy output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "rolling back") {
		t.Errorf("the failed rollout was rolled back:\n%s", out)
	}

	// The rollback would have been queued in the same transaction that finished the
	// deploy, so the history is final here.
	hist := history(t, srv)
	if got, want := historyKinds(hist), "deploy:failed deploy:succeeded"; got != want {
		t.Errorf("history %s, want %s", got, want)
	}
	if failed := hist[0]; failed.Revision != 2 || !strings.Contains(failed.Reason, why) {
		t.Errorf("failed deploy: revision %d, reason %q; want revision 2 and a reason saying %q", failed.Revision, failed.Reason, why)
	}
	d, err := cluster.Client(t).AppsV1().Deployments(ns).Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var fail string
	for _, e := range d.Spec.Template.Spec.Containers[0].Env {
		if e.Name == "HELLO_FAIL" {
			fail = e.Value
		}
	}
	if fail != "crash" {
		t.Errorf("live HELLO_FAIL %q, want the failed rollout's crash left in place", fail)
	}
}

// history returns the deploys of the app web in staging, newest first.
func history(t testing.TB, srv *serverProc) []apiv1.Deploy {
	t.Helper()
	out, code := runBerth(t, srv, "history", "web", "--env", "staging", "-o", "json")
	if code != 0 {
		t.Fatalf("history: %d %s", code, out)
	}
	var hist []apiv1.Deploy
	if err := json.Unmarshal([]byte(out), &hist); err != nil {
		t.Fatalf("history -o json: %v\n%s", err, out)
	}
	return hist
}

// historyKinds is a history as "kind:state" words.
func historyKinds(hist []apiv1.Deploy) string {
	kinds := make([]string, len(hist))
	for i, d := range hist {
		kinds[i] = fmt.Sprintf("%s:%s", d.Kind, d.State)
	}
	return strings.Join(kinds, " ")
}

// TestDeployConflictsAndPrune: a field another manager owns stops a deploy with a clear
// message until --force-conflicts; a revision that drops the Service deletes it, and
// objects Berth does not own are never touched.
func TestDeployConflictsAndPrune(t *testing.T) {
	srv, file, ns := deployEnv(t)
	ctx := context.Background()
	cs := kubetest.Client(t)
	if out, code := runBerth(t, srv, "deploy", "-f", file, "--env", "staging", "--wait"); code != 0 {
		t.Fatalf("first deploy: exit %d\n%s", code, out)
	}

	// Someone hot-fixes the image with their own server-side apply.
	patch := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"template":{"spec":{"containers":[{"name":"web","image":"registry.example.com/web:hotfix"}]}}}}`
	force := true
	if _, err := cs.AppsV1().Deployments(ns).Patch(ctx, "web", types.ApplyPatchType, []byte(patch),
		metav1.PatchOptions{FieldManager: "hotfix", Force: &force}); err != nil {
		t.Fatal(err)
	}
	out, code := runBerth(t, srv, "deploy", "-f", file, "--env", "staging", "--set", "image=registry.example.com/web:2", "--wait")
	if code == 0 {
		t.Fatalf("deploy over another manager's field succeeded:\n%s", out)
	}
	for _, want := range []string{"conflict", "hotfix", "--force-conflicts"} {
		if !strings.Contains(out, want) {
			t.Errorf("conflict message lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "rolling back") {
		t.Errorf("a refused apply was rolled back:\n%s", out)
	}
	if img := liveImage(t, ns); img != "registry.example.com/web:hotfix" {
		t.Errorf("live image %s after the refused deploy", img)
	}
	if out, code := runBerth(t, srv, "deploy", "-f", file, "--env", "staging", "--set", "image=registry.example.com/web:2", "--force-conflicts", "--wait"); code != 0 {
		t.Fatalf("--force-conflicts: exit %d\n%s", code, out)
	}
	if img := liveImage(t, ns); img != "registry.example.com/web:2" {
		t.Errorf("live image %s after --force-conflicts", img)
	}

	// Objects Berth does not own: one without its labels, one managed by someone else.
	for _, svc := range []*corev1.Service{
		{ObjectMeta: metav1.ObjectMeta{Name: "web-extra", Labels: map[string]string{"app.kubernetes.io/name": "web"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "web-other", Labels: map[string]string{"app.kubernetes.io/name": "web",
			"berth.dev/env": "staging", "app.kubernetes.io/managed-by": "helm"}}},
	} {
		svc.Spec.Ports = []corev1.ServicePort{{Port: 80}}
		if _, err := cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	noService := strings.Replace(appManifest, "service:\n  ports: {http: {port: 80, targetPort: 8080}}\n", "", 1)
	if noService == appManifest {
		t.Fatal("test manifest has no service block to drop")
	}
	if err := os.WriteFile(file, []byte(noService), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code = runBerth(t, srv, "deploy", "-f", file, "--env", "staging", "--wait")
	if code != 0 || !strings.Contains(out, "pruned") {
		t.Fatalf("deploy without the service: exit %d\n%s", code, out)
	}
	if _, err := cs.CoreV1().Services(ns).Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the Service the new revision dropped is still there (err %v)", err)
	}
	for _, name := range []string{"web-extra", "web-other"} {
		if _, err := cs.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("prune touched %s, which Berth does not own: %v", name, err)
		}
	}
}
