// Package kubetest gives tests a real Kubernetes API: one local control plane per test
// binary, started in TestMain (or an existing one named by $BERTH_TEST_KUBECONFIG), and a
// fresh namespace per test.
//
//	func TestMain(m *testing.M) { kubetest.Main(m) }
//
//	func TestX(t *testing.T) {
//		cs, ns := kubetest.Namespace(t)
//		...
//	}
//
// Pods of the test cluster are simulated by kwok: no container runs, and they are Ready at
// once whatever their image. Tests of pods that fail, or of anything a container does, use
// RealNode's cluster, whose real node runs examples/hello (HelloImage) for real.
package kubetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/berth-dev/berth/internal/devcluster"
)

// KubeconfigEnv names a kubeconfig whose cluster the tests reuse instead of starting one.
const KubeconfigEnv = "BERTH_TEST_KUBECONFIG"

// The cluster is per test binary, like the binary's flags: TestMain sets it once.
var (
	kubeconfig string
	restConfig *rest.Config
)

// Main starts a cluster (unless $BERTH_TEST_KUBECONFIG names one), runs the tests, stops the
// cluster and exits. The after functions run once the tests are done, before the cluster
// stops, for whatever else the test binary started (a throwaway database, a built binary).
func Main(m *testing.M, after ...func()) {
	os.Exit(run(m, after))
}

func run(m *testing.M, after []func()) int {
	ctx := context.Background()
	kubeconfig = os.Getenv(KubeconfigEnv)
	if kubeconfig == "" {
		dir, err := os.MkdirTemp("", "berth-kubetest-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "kubetest:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		bins, err := devcluster.ResolveBinaries(ctx, "", os.Stderr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "kubetest:", err)
			return 1
		}
		st, _, err := devcluster.Up(ctx, devcluster.Options{StateDir: dir, Binaries: bins, TieToParent: true})
		if err != nil {
			fmt.Fprintln(os.Stderr, "kubetest: start cluster:", err)
			return 1
		}
		defer func() {
			if err := devcluster.Down(ctx, dir, nil); err != nil {
				fmt.Fprintln(os.Stderr, "kubetest: stop cluster:", err)
			}
		}()
		kubeconfig = st.Kubeconfig
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubetest: load kubeconfig:", err)
		return 1
	}
	cfg.QPS, cfg.Burst = 200, 400
	restConfig = cfg
	code := m.Run()
	for _, f := range after {
		f()
	}
	StopRealNode()
	return code
}

// Config returns an admin REST config of the test cluster.
func Config(t testing.TB) *rest.Config {
	t.Helper()
	if restConfig == nil {
		t.Fatal("kubetest: no cluster; call kubetest.Main(m) from TestMain")
	}
	return rest.CopyConfig(restConfig)
}

// Kubeconfig returns the path of the test cluster's kubeconfig.
func Kubeconfig(t testing.TB) string {
	t.Helper()
	Config(t)
	return kubeconfig
}

// Client returns an admin clientset of the test cluster.
func Client(t testing.TB) kubernetes.Interface {
	t.Helper()
	cs, err := kubernetes.NewForConfig(Config(t))
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

var nonName = regexp.MustCompile(`[^a-z0-9-]+`)

// Namespace creates a namespace for this test, deleted when the test ends, and returns an
// admin client and the namespace's name.
func Namespace(t testing.TB) (kubernetes.Interface, string) {
	t.Helper()
	return namespace(t, Client(t))
}

// namespace creates a namespace named after the test through cs, deleted when the test ends.
func namespace(t testing.TB, cs kubernetes.Interface) (kubernetes.Interface, string) {
	t.Helper()
	base := strings.Trim(nonName.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(base) > 40 {
		base = strings.TrimRight(base[:40], "-")
	}
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	name := base + "-" + hex.EncodeToString(suffix)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := cs.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Errorf("delete namespace %s: %v", name, err)
		}
	})
	return cs, name
}

// Eventually polls cond every 50ms until it returns nil or timeout passes, then fails the
// test with cond's last error.
func Eventually(t testing.TB, timeout time.Duration, cond func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond(ctx)
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("condition not met in %s: %v", timeout, err)
		case <-tick.C:
		}
	}
}
