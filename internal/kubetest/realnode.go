package kubetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/berth-dev/berth/internal/devcluster"
	"github.com/berth-dev/berth/internal/devimage"
	"github.com/berth-dev/berth/internal/tooltest"
)

// RealNodeCluster is a dev cluster with the machine's real node: pods that select the node
// (Node.Label, Node.Taint) run real containers; images come from Node.Registry.
type RealNodeCluster struct {
	State      *devcluster.State
	Kubeconfig string
	Config     *rest.Config
	// Node is the real node's state: registry, ingress, label and taint.
	Node *devcluster.NodeState

	mu     sync.Mutex
	images map[string]*imageBuild // by tag, see HelloImage
}

// imageBuild is one tag of examples/hello built into the registry, once per cluster.
type imageBuild struct {
	once sync.Once
	ref  string
	err  error
}

// Client returns an admin clientset of the cluster.
func (c *RealNodeCluster) Client(t testing.TB) kubernetes.Interface {
	t.Helper()
	cs, err := kubernetes.NewForConfig(rest.CopyConfig(c.Config))
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// Namespace creates a namespace of the cluster for this test, deleted when the test ends,
// and returns an admin client and the namespace's name, as Namespace does on Main's cluster.
func (c *RealNodeCluster) Namespace(t testing.TB) (kubernetes.Interface, string) {
	t.Helper()
	return namespace(t, c.Client(t))
}

// NodeSelector is the node selector that puts a pod on the real node (Node.Label).
func (c *RealNodeCluster) NodeSelector() map[string]string {
	key, value, _ := strings.Cut(c.Node.Label, "=")
	return map[string]string{key: value}
}

// Tolerations are what a pod needs to tolerate the real node's taint (Node.Taint).
func (c *RealNodeCluster) Tolerations() []corev1.Toleration {
	kv, effect, _ := strings.Cut(c.Node.Taint, ":")
	key, value, _ := strings.Cut(kv, "=")
	return []corev1.Toleration{{Key: key, Operator: corev1.TolerationOpEqual, Value: value, Effect: corev1.TaintEffect(effect)}}
}

// HelloImage builds examples/hello into the cluster's registry as hello:tag, once per tag
// and cluster however many tests ask, and returns the name pods use
// (registry.berth.localhost/hello:tag). A tag never asked for is missing from the registry:
// pods naming it fail to pull.
func (c *RealNodeCluster) HelloImage(t testing.TB, tag string) string {
	t.Helper()
	c.mu.Lock()
	if c.images == nil {
		c.images = map[string]*imageBuild{}
	}
	b := c.images[tag]
	if b == nil {
		b = &imageBuild{}
		c.images[tag] = b
	}
	c.mu.Unlock()
	b.once.Do(func() {
		root, err := tooltest.Root()
		if err != nil {
			b.err = err
			return
		}
		res, err := devimage.Build(context.Background(), devimage.Options{
			Dir: filepath.Join(root, "examples", "hello"), Repository: "hello", Tag: tag,
			Registry: devimage.Registry{Addr: c.Node.Registry.Addr, Name: c.Node.Registry.Name},
		})
		if err != nil {
			b.err = err
			return
		}
		b.ref = res.Reference
	})
	if b.err != nil {
		t.Fatalf("kubetest: build examples/hello as hello:%s: %v", tag, b.err)
	}
	return b.ref
}

// realNodeWait is how long a test binary waits for another one's real node: the machine
// runs one at a time, and `go test ./...` runs packages side by side.
const realNodeWait = 30 * time.Minute

var realNode struct {
	mu      sync.Mutex
	cluster *RealNodeCluster
	dir     string
}

// RealNode returns the test binary's cluster with the machine's real node, starting it on
// first use (waiting for another test binary's real node to stop first). It is a second
// cluster beside the one Main starts, stopped when Main's tests end. A machine that cannot
// run a real node fails the test with the reason: tests that need real containers must not
// pass without them.
func RealNode(t testing.TB) *RealNodeCluster {
	t.Helper()
	realNode.mu.Lock()
	defer realNode.mu.Unlock()
	if realNode.cluster == nil {
		c, err := startRealNode(context.Background())
		if err != nil {
			stopRealNodeLocked()
			t.Fatalf("kubetest: real node: %v", err)
		}
		realNode.cluster = c
	}
	return realNode.cluster
}

// StopRealNode stops the test binary's real-node cluster, if it runs, so that a test can
// start a cluster of its own with the machine's one real node (`make run`'s test does).
// A later RealNode starts a new one.
func StopRealNode() {
	realNode.mu.Lock()
	defer realNode.mu.Unlock()
	stopRealNodeLocked()
}

func startRealNode(ctx context.Context) (*RealNodeCluster, error) {
	dir, err := os.MkdirTemp("", "berth-kubetest-node-")
	if err != nil {
		return nil, err
	}
	realNode.dir = dir
	bins, err := devcluster.ResolveBinaries(ctx, "", os.Stderr)
	if err != nil {
		return nil, err
	}
	nodeBins, err := devcluster.ResolveNodeBinaries(ctx, os.Stderr)
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(os.Stderr, "kubetest: starting a cluster with the real node (waiting for another test binary's node to stop, if any)")
	st, _, err := devcluster.Up(ctx, devcluster.Options{
		StateDir: dir, Binaries: bins, TieToParent: true, Progress: os.Stderr,
		Node: devcluster.NodeRequired, NodeBinaries: nodeBins, NodeLockWait: realNodeWait,
		// A loaded machine (go test runs packages side by side) starts slowly.
		Timeout: 5 * time.Minute,
	})
	if err != nil {
		return nil, err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", st.Kubeconfig)
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 200, 400
	return &RealNodeCluster{State: st, Kubeconfig: st.Kubeconfig, Config: cfg, Node: st.Node}, nil
}

func stopRealNodeLocked() {
	if realNode.dir == "" {
		return
	}
	if err := devcluster.Down(context.Background(), realNode.dir, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "kubetest: stop the real node's cluster:", err)
	}
	os.RemoveAll(realNode.dir)
	realNode.dir, realNode.cluster = "", nil
}
