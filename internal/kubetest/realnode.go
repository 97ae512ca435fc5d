package kubetest

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/berth-dev/berth/internal/devcluster"
)

// RealNodeCluster is a dev cluster with the machine's real node: pods that select the node
// (Node.Label, Node.Taint) run real containers; images come from Node.Registry.
type RealNodeCluster struct {
	State      *devcluster.State
	Kubeconfig string
	Config     *rest.Config
	// Node is the real node's state: registry, ingress, label and taint.
	Node *devcluster.NodeState
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
		Timeout: 3 * time.Minute,
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
