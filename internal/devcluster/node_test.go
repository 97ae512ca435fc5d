package devcluster_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/internal/devcluster"
)

// hostState is what a real node may change on the machine.
type hostState struct {
	Sysctls   map[string]string
	Tables    []string
	Links     []string
	Cgroups   []string
	Mounts    []string
	Processes []string
	Dirs      []string
}

// snapshotHost reads what a real node may change, holding the machine's node lock so that
// no other test binary's node runs meanwhile.
func snapshotHost(t *testing.T, stateDir string) hostState {
	t.Helper()
	release, err := devcluster.HoldNode(context.Background(), 30*time.Minute)
	must(t, err)
	defer release()
	s := hostState{Sysctls: map[string]string{}}
	for _, k := range []string{"vm.overcommit_memory", "kernel.panic", "kernel.panic_on_oops", "net.ipv4.ip_forward"} {
		b, err := os.ReadFile(filepath.Join("/proc/sys", strings.ReplaceAll(k, ".", "/")))
		must(t, err)
		s.Sysctls[k] = strings.TrimSpace(string(b))
	}
	out, err := execOut("nft", "list", "tables")
	must(t, err)
	s.Tables = strings.Fields(out)
	sort.Strings(s.Tables)
	entries, err := os.ReadDir("/sys/class/net")
	must(t, err)
	for _, e := range entries {
		s.Links = append(s.Links, e.Name())
	}
	for _, top := range []string{"kubepods", "k8s.io"} {
		m, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", top))
		s.Cgroups = append(s.Cgroups, m...)
	}
	mounts, err := os.ReadFile("/proc/self/mounts")
	must(t, err)
	for _, line := range strings.Split(string(mounts), "\n") {
		if f := strings.Fields(line); len(f) > 1 && (strings.Contains(f[1], stateDir) ||
			strings.HasPrefix(f[1], "/var/lib/kubelet") || strings.HasPrefix(f[1], "/run/containerd") ||
			strings.HasPrefix(f[1], "/var/lib/cni") || strings.HasPrefix(f[1], "/run/netns")) {
			s.Mounts = append(s.Mounts, f[1])
		}
	}
	s.Processes = nodeProcesses(stateDir)
	for _, d := range []string{"/var/lib/kubelet", "/var/log/containers", "/var/lib/cni", "/run/containerd"} {
		if _, err := os.Stat(d); err == nil {
			s.Dirs = append(s.Dirs, d)
		}
	}
	return s
}

// nodeProcesses lists the processes of a real node: anything started with the cluster's
// state directory on its command line (containerd, its shims, the kubelet, the registry,
// CoreDNS, the ingress controller), and the pause containers of pods.
func nodeProcesses(stateDir string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || len(b) == 0 {
			continue
		}
		cmd := strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ")
		argv0, _, _ := strings.Cut(cmd, " ")
		if strings.Contains(cmd, stateDir) || argv0 == "/pause" ||
			strings.HasPrefix(filepath.Base(argv0), "containerd-shim") {
			out = append(out, fmt.Sprintf("%d %s", pid, cmd))
		}
	}
	return out
}

func execOut(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := execCommand(ctx, name, args...)
	return string(b), err
}

func realNodeUp(t *testing.T, dir string) *devcluster.State {
	t.Helper()
	nodeBins, err := devcluster.ResolveNodeBinaries(context.Background(), os.Stderr)
	must(t, err)
	var progress strings.Builder
	st, _, err := devcluster.Up(context.Background(), devcluster.Options{
		StateDir: dir, Binaries: realBinaries(t), TieToParent: true, Progress: &progress,
		Node: devcluster.NodeRequired, NodeBinaries: nodeBins, NodeLockWait: 30 * time.Minute, Timeout: 3 * time.Minute,
	})
	if err != nil {
		t.Fatalf("up with a real node: %v\n%s", err, progress.String())
	}
	for _, step := range []string{"starting containerd", "starting the kubelet", "starting kube-proxy", "starting CoreDNS", "starting the ingress controller", "image registry"} {
		if !strings.Contains(progress.String(), step) {
			t.Errorf("up's progress does not mention %q:\n%s", step, progress.String())
		}
	}
	return st
}

// runPod starts a pod of the pause image on the real node and waits until it runs.
func runPod(t *testing.T, st *devcluster.State) {
	t.Helper()
	cs, err := st.CoreClient()
	must(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "sleeper", Namespace: "default"},
		Spec: corev1.PodSpec{
			NodeSelector: map[string]string{devcluster.NodeLabelKey: devcluster.NodeLabelValue},
			Tolerations: []corev1.Toleration{{Key: devcluster.NodeLabelKey, Operator: corev1.TolerationOpEqual,
				Value: devcluster.NodeLabelValue, Effect: corev1.TaintEffectNoSchedule}},
			Containers: []corev1.Container{{Name: "pause", Image: devcluster.PauseImage, ImagePullPolicy: corev1.PullIfNotPresent}},
		},
	}
	_, err = cs.Pods("default").Create(ctx, pod, metav1.CreateOptions{})
	must(t, err)
	for {
		p, err := cs.Pods("default").Get(ctx, "sleeper", metav1.GetOptions{})
		if err == nil && p.Status.Phase == corev1.PodRunning && p.Spec.NodeName == devcluster.NodeName {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the pod did not run on the real node: %v %+v", err, p.Status)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestRealNodeLeavesNothingBehind starts a real node, runs a container on it and stops
// it; then does it again but kills every process of the cluster with SIGKILL, and starts
// and stops once more. After each stop the machine is as it was: no process, mount,
// cgroup, bridge, nftables table, directory or changed sysctl of the node remains.
func TestRealNodeLeavesNothingBehind(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	t.Cleanup(func() { devcluster.Down(context.Background(), dir, nil) })
	before := snapshotHost(t, dir)

	st := realNodeUp(t, dir)
	runPod(t, st)
	listensOnLoopbackOrBridge(t, st)
	secondClusterRunsSimulated(t, st)
	must(t, devcluster.Down(context.Background(), dir, nil))
	if diff := cmp.Diff(before, snapshotHost(t, dir)); diff != "" {
		t.Fatalf("the host changed after up and down (-before +after):\n%s", diff)
	}

	st = realNodeUp(t, dir)
	runPod(t, st)
	for _, p := range st.Processes {
		_ = syscall.Kill(p.PID, syscall.SIGKILL)
	}
	// The pod's container outlives its killed shim and kubelet: the next up must find it.
	if left := nodeProcesses(dir); len(left) == 0 {
		t.Fatal("nothing of the node survived kill -9: the test proves no cleanup")
	}
	st = realNodeUp(t, dir)
	if st.Node == nil {
		t.Fatal("the second up has no real node")
	}
	must(t, devcluster.Down(context.Background(), dir, nil))
	if diff := cmp.Diff(before, snapshotHost(t, dir)); diff != "" {
		t.Fatalf("the host changed after kill -9, up and down (-before +after):\n%s", diff)
	}
}

func execCommand(ctx context.Context, name string, args ...string) ([]byte, error) {
	return exec.CommandContext(ctx, name, args...).Output()
}

// secondClusterRunsSimulated starts another cluster while st holds the machine's real node:
// it says the node is in use, by whom, and runs with simulated nodes only.
func secondClusterRunsSimulated(t *testing.T, st *devcluster.State) {
	t.Helper()
	nodeBins, err := devcluster.ResolveNodeBinaries(context.Background(), nil)
	must(t, err)
	dir := filepath.Join(t.TempDir(), "second")
	var progress strings.Builder
	second, _, err := devcluster.Up(context.Background(), devcluster.Options{
		StateDir: dir, Binaries: realBinaries(t), TieToParent: true, Progress: &progress,
		Node: devcluster.NodeAuto, NodeBinaries: nodeBins,
	})
	if err != nil {
		t.Fatalf("a second cluster: %v\n%s", err, progress.String())
	}
	defer devcluster.Down(context.Background(), dir, nil)
	if second.Node != nil {
		t.Fatal("a second cluster got the machine's real node too")
	}
	for _, w := range []string{"no real node", "in use by the dev cluster in " + st.Dir, "simulated only"} {
		if !strings.Contains(progress.String(), w) {
			t.Errorf("the second cluster's progress does not say %q:\n%s", w, progress.String())
		}
	}
	if !strings.HasPrefix(second.Server, "https://127.0.0.1:") {
		t.Errorf("the second cluster's API server is at %s, want loopback", second.Server)
	}
}

// listensOnLoopbackOrBridge checks every socket the cluster's processes listen on: each is
// on 127.0.0.1 or the pod bridge's address, never on all addresses or another interface.
func listensOnLoopbackOrBridge(t *testing.T, st *devcluster.State) {
	t.Helper()
	out, err := execOut("ss", "-Hlntup")
	must(t, err)
	pids := map[string]string{}
	for _, p := range st.Processes {
		pids["pid="+strconv.Itoa(p.PID)+","] = p.Name
	}
	seen := 0
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 7 {
			continue
		}
		for pid, name := range pids {
			if !strings.Contains(f[6], pid) {
				continue
			}
			seen++
			host := f[4][:strings.LastIndex(f[4], ":")]
			if host != "127.0.0.1" && host != st.Node.IP {
				t.Errorf("%s listens on %s (%s)", name, f[4], f[0])
			}
		}
	}
	if seen < len(st.Processes)/2 {
		t.Fatalf("found only %d listening sockets of the cluster's processes in:\n%s", seen, out)
	}
}
