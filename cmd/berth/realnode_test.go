package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/internal/kubetest"
)

// helloManifest is examples/hello as an app of team shop: its image from the real node's
// registry, HELLO_FAIL and HELLO_UPSTREAM from args, so a deploy can make it fail.
func helloManifest(name, host string) string {
	return fmt.Sprintf(`apiVersion: berth.dev/v1
metadata: {name: %s, team: shop}
args: {version: "1", fail: "", upstream: ""}
containers:
  web:
    image: registry.berth.localhost/hello:${args.version}
    variables:
      VERSION: ${args.version}
      HELLO_FAIL: ${args.fail}
      HELLO_UPSTREAM: ${args.upstream}
    readinessProbe: {httpGet: {path: /ready, port: 8080}}
    livenessProbe: {httpGet: {path: /healthz, port: 8080}}
service:
  ports: {http: {port: 80, targetPort: 8080}}
exposes: [{host: %s, path: /, port: http}]
replicas: 2
`, name, host)
}

// realNodeEnv starts a server with team shop and environment staging on the real node's
// cluster (see realNodeShop). It returns the server, the cluster and the namespace.
func realNodeEnv(t testing.TB) (*serverProc, *kubetest.RealNodeCluster, string) {
	t.Helper()
	srv := startServer(t, t.TempDir())
	cluster, ns := realNodeShop(t, srv)
	return srv, cluster, ns
}

// realNodeShop creates team shop and environment staging on srv, on the real node's
// cluster (in a namespace of this test, whose pods land on the real node), and builds
// examples/hello into its registry as hello:1 and hello:2. It returns the cluster and the
// namespace.
func realNodeShop(t testing.TB, srv *serverProc) (*kubetest.RealNodeCluster, string) {
	t.Helper()
	cluster := kubetest.RealNode(t)
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	ns := "shop-" + strings.ToLower(strings.ReplaceAll(t.Name(), "_", "-"))
	if len(ns) > 50 {
		ns = ns[:50]
	}
	for _, args := range [][]string{
		{"dev", "image", "build", filepath.Join(root, "examples", "hello"), "-t", "hello:1", "--state-dir", cluster.State.Dir},
		{"dev", "image", "build", filepath.Join(root, "examples", "hello"), "-t", "hello:2", "--state-dir", cluster.State.Dir},
		{"teams", "create", "shop"},
		{"envs", "create", "staging", "--kubeconfig", cluster.Kubeconfig, "--namespace-template", ns,
			"--node-selector", cluster.Node.Label, "--toleration", cluster.Node.Taint},
	} {
		if out, code := runBerth(t, srv, args...); code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, out)
		}
	}
	t.Cleanup(func() {
		cluster.Client(t).CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
	return cluster, ns
}

func writeManifest(t testing.TB, manifest string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "berth.yaml")
	if err := os.WriteFile(file, []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// get polls url (with Host host, when given) until it answers 200 and returns the body.
func get(t *testing.T, url, host string) string {
	t.Helper()
	var last string
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if host != "" {
			req.Host = host
		}
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return string(body)
			}
			last = fmt.Sprintf("%s: %s", resp.Status, body)
		} else {
			last = err.Error()
		}
		time.Sleep(200 * time.Millisecond) // a route or a Service rule appears a moment after its object
	}
	t.Fatalf("GET %s (Host %s) never answered 200: %s", url, host, last)
	return ""
}

// TestRealNodeAppAnswersThroughServiceAndIngress deploys examples/hello's image through
// `berth deploy` onto the real node: it answers through its Service (ClusterIP, from the
// host, through kube-proxy) and through its Ingress (the dev cluster's ingress controller); a second app calls the
// first by its Service name, which the pod resolves through the cluster's DNS.
func TestRealNodeAppAnswersThroughServiceAndIngress(t *testing.T) {
	srv, cluster, ns := realNodeEnv(t)
	host := "web." + ns + ".localhost"
	out, code := runBerth(t, srv, "deploy", "-f", writeManifest(t, helloManifest("web", host)), "--env", "staging", "--wait")
	if code != 0 || !strings.Contains(out, "succeeded") {
		t.Fatalf("deploy: exit %d\n%s", code, out)
	}
	cs := cluster.Client(t)
	pods, err := cs.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Spec.NodeName != cluster.Node.Name {
			t.Errorf("pod %s runs on %s, not the real node", p.Name, p.Spec.NodeName)
		}
	}

	svc, err := cs.CoreV1().Services(ns).Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if body := get(t, "http://"+svc.Spec.ClusterIP+"/", ""); body != "hello from berth\n" {
		t.Errorf("through the Service: %q", body)
	}
	if body := get(t, "http://"+cluster.Node.Ingress+"/", host); body != "hello from berth\n" {
		t.Errorf("through the Ingress: %q", body)
	}

	callerHost := "caller." + ns + ".localhost"
	out, code = runBerth(t, srv, "deploy", "-f", writeManifest(t, helloManifest("caller", callerHost)), "--env", "staging",
		"--set", "upstream=http://web/", "--wait")
	if code != 0 {
		t.Fatalf("deploy caller: exit %d\n%s", code, out)
	}
	if body := get(t, "http://"+cluster.Node.Ingress+"/upstream", callerHost); !strings.Contains(body, "hello from berth") {
		t.Errorf("caller's GET http://web/ through the cluster's DNS: %q", body)
	}
}

// TestRealNodeFailedRolloutsRollBack: real containers that fail their readiness probe,
// exit 1 at start, or name a tag the registry does not have each fail the deploy with
// what Kubernetes says, and the automatic rollback restores the revision that answered;
// the history shows each failed deploy answered by its automatic rollback.
func TestRealNodeFailedRolloutsRollBack(t *testing.T) {
	srv, cluster, ns := realNodeEnv(t)
	host := "web." + ns + ".localhost"
	file := writeManifest(t, helloManifest("web", host))
	if out, code := runBerth(t, srv, "deploy", "-f", file, "--env", "staging", "--wait"); code != 0 {
		t.Fatalf("first deploy: exit %d\n%s", code, out)
	}
	for _, tc := range []struct {
		name string
		set  string
		want []string
	}{
		{"never ready", "fail=ready", []string{"failed", "automatic rollback"}},
		{"crash", "fail=crash", []string{"failed", "CrashLoopBackOff", "automatic rollback"}},
		{"missing tag", "version=missing", []string{"failed", "ImagePull", "automatic rollback"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			out, code := runBerth(t, srv, "deploy", "-f", file, "--env", "staging", "--set", tc.set, "--timeout", "45s", "--wait")
			if code == 0 {
				t.Fatalf("a failing rollout succeeded:\n%s", out)
			}
			t.Logf("failure detected and rolled back in %s", time.Since(start).Round(time.Millisecond))
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if body := get(t, "http://"+cluster.Node.Ingress+"/info", host); !strings.Contains(body, `"version":"1"`) {
				t.Errorf("after the rollback the app answers %q, want version 1", body)
			}
			d, err := cluster.Client(t).AppsV1().Deployments(ns).Get(context.Background(), "web", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if img := d.Spec.Template.Spec.Containers[0].Image; img != "registry.berth.localhost/hello:1" {
				t.Errorf("after the rollback the live image is %s", img)
			}
			// deploy --wait follows the rollback to its end: the history is final.
			hist := history(t, srv)
			if len(hist) < 2 || historyKinds(hist[:2]) != "auto-rollback:succeeded deploy:failed" || hist[0].RollbackOf != hist[1].ID {
				t.Errorf("history %s, want the failed deploy answered by an automatic rollback on top", historyKinds(hist))
			}
		})
	}
}

// TestRealNodePodsReachTheAPIServer runs a pod on the real node that calls the API server
// as clients in a cluster do: https://kubernetes.default.svc.cluster.local (cluster DNS,
// then the kubernetes Service through kube-proxy to the API server on the pod bridge), with
// its service account's token, trusting the CA the pod is given.
func TestRealNodePodsReachTheAPIServer(t *testing.T) {
	cluster := kubetest.RealNode(t)
	srv := startServer(t, t.TempDir())
	if out, code := runBerth(t, srv, "dev", "image", "build", "testdata/apicheck", "-t", "apicheck:1", "--state-dir", cluster.State.Dir); code != 0 {
		t.Fatalf("build apicheck: exit %d\n%s", code, out)
	}
	cs := cluster.Client(t)
	ns := "apicheck"
	if _, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	kubetest.Eventually(t, time.Minute, func(ctx context.Context) error { // made by the controller manager
		_, err := cs.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err
	})
	key, value, _ := strings.Cut(cluster.Node.Label, "=")
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "apicheck", Namespace: ns},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			NodeSelector:  map[string]string{key: value},
			Tolerations:   []corev1.Toleration{{Key: key, Operator: corev1.TolerationOpEqual, Value: value, Effect: corev1.TaintEffectNoSchedule}},
			Containers:    []corev1.Container{{Name: "apicheck", Image: "registry.berth.localhost/apicheck:1"}},
		},
	}
	if _, err := cs.CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubetest.Eventually(t, 2*time.Minute, func(ctx context.Context) error {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, "apicheck", metav1.GetOptions{})
		if err != nil {
			return err
		}
		switch p.Status.Phase {
		case corev1.PodSucceeded:
			return nil
		case corev1.PodFailed:
			logs, _ := cs.CoreV1().Pods(ns).GetLogs("apicheck", &corev1.PodLogOptions{}).DoRaw(ctx)
			t.Fatalf("apicheck failed: %s", logs)
		}
		return fmt.Errorf("pod %s", p.Status.Phase)
	})
	logs, err := cs.CoreV1().Pods(ns).GetLogs("apicheck", &corev1.PodLogOptions{}).DoRaw(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := "system:serviceaccount:" + ns + ":default"; !strings.Contains(string(logs), want) {
		t.Errorf("the API server did not see the pod as %s: %s", want, logs)
	}
}
