package devcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
)

// stopNode stops the real node of the cluster st, when the machine's node is still its own,
// and undoes what it changed on the machine.
func stopNode(ctx context.Context, st *State, progress io.Writer) error {
	// Nobody claims or inspects the machine from the moment this node's daemons are gone
	// (freeing the node lock) until its changes are undone.
	op, err := lockOp(ctx, time.Minute)
	if err != nil {
		return fmt.Errorf("stop the real node: %w", err)
	}
	defer op.Close()
	rec, err := readHostRecord()
	if err != nil || rec.StateDir != st.Dir {
		// Another cluster's node, or none: stop only what this cluster itself recorded.
		return stopAll(ctx, nodeProcesses(st.Processes), progress)
	}
	// An `up` killed while it started the node recorded its daemons in the cluster's state
	// only.
	for _, p := range nodeProcesses(st.Processes) {
		if !slices.Contains(rec.Processes, p) {
			rec.Processes = append(rec.Processes, p)
		}
	}
	if cs, err := st.CoreClient(); err == nil && st.apiAnswers(ctx) {
		drainNode(ctx, cs, st.Node.Name, progress)
	}
	if err := stopNodeParts(ctx, rec, progress); err != nil {
		return err
	}
	// With the daemons gone, the node lock is free (no claim can take it while this holds
	// the operation lock). Taking it proves nothing of the node still runs.
	f, err := openLock("lock")
	if err != nil {
		return err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return fmt.Errorf("stop the real node: a process of it still holds %s: %w", f.Name(), err)
	}
	return undoHost(ctx, rec, progress)
}

// drainNode lets the kubelet tear its pods down itself (network and volumes), with the node
// cordoned so their controllers cannot put new ones there meanwhile. Best effort: whatever
// it leaves, cleanupHost removes.
func drainNode(ctx context.Context, cs corev1client.CoreV1Interface, name string, progress io.Writer) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	patch := []byte(`{"spec":{"unschedulable":true}}`)
	if _, err := cs.Nodes().Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return
	}
	sel := metav1.ListOptions{FieldSelector: "spec.nodeName=" + name}
	pods, err := cs.Pods(metav1.NamespaceAll).List(ctx, sel)
	if err != nil || len(pods.Items) == 0 {
		return
	}
	fmt.Fprintf(progress, "stopping %d pod(s) on the real node\n", len(pods.Items))
	grace := int64(1)
	for _, p := range pods.Items {
		_ = cs.Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &grace})
	}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		pods, err := cs.Pods(metav1.NamespaceAll).List(ctx, sel)
		if err != nil || len(running(pods.Items)) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func running(pods []corev1.Pod) []corev1.Pod {
	var out []corev1.Pod
	for _, p := range pods {
		if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			out = append(out, p)
		}
	}
	return out
}

// cleanupHost stops what is left of the node rec describes and undoes its changes to the
// machine: containers and their shims, kube-proxy's nftables tables, the bridge, cgroups,
// the directories it made and the sysctls it changed. It is safe to run more than once and
// after a kill -9 of any part. The caller holds the machine's node lock or owns the node.
func cleanupHost(ctx context.Context, rec *hostRecord, progress io.Writer) error {
	if progress == nil {
		progress = io.Discard
	}
	if err := stopNodeParts(ctx, rec, progress); err != nil {
		return err
	}
	return undoHost(ctx, rec, progress)
}

// stopNodeParts stops the node's pods, daemons, shims and containers.
func stopNodeParts(ctx context.Context, rec *hostRecord, progress io.Writer) error {
	var errs []error
	say := func(format string, args ...any) { fmt.Fprintf(progress, format+"\n", args...) }

	// Containers first, with containerd's own ctr, while containerd may still run; then
	// every daemon. (Pods were drained through the API before, when the kubelet ran.)
	if containerdAnswers(ctx, rec.Socket) {
		removeTasks(ctx, rec.Socket)
	}
	for i := len(rec.Processes) - 1; i >= 0; i-- {
		p := rec.Processes[i]
		if p.alive() {
			say("stopping %s (pid %d)", p.Name, p.PID)
			if err := p.stop(ctx, 10*time.Second); err != nil {
				errs = append(errs, err)
			}
		}
	}
	// Shims outlive containerd, and containers outlive a killed shim: kill both.
	for _, pid := range shimsOf(rec.Socket) {
		say("killing leftover containerd shim (pid %d)", pid)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, pid := range cgroupProcs() {
		say("killing leftover container process (pid %d)", pid)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if err := waitNoCgroupProcs(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// undoHost undoes the node's changes to the machine once nothing of it runs.
func undoHost(ctx context.Context, rec *hostRecord, progress io.Writer) error {
	var errs []error
	say := func(format string, args ...any) { fmt.Fprintf(progress, format+"\n", args...) }

	// Mounts on the host (the node's own live in its mount namespace, gone with its last
	// process; these are only there if something was mounted outside it).
	for _, m := range mountsUnder(filepath.Dir(filepath.Dir(rec.Socket))) {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil {
			errs = append(errs, fmt.Errorf("unmount %s: %w", m, err))
		} else {
			say("unmounted %s", m)
		}
	}

	// Network: kube-proxy's tables, any table that appeared while the node ran, the bridge.
	if tables, err := nftTables(ctx); err == nil {
		for _, t := range tables {
			if slices.Contains(rec.Tables, t) {
				continue
			}
			if t == "ip kube-proxy" || t == "ip6 kube-proxy" || nftTableEmpty(ctx, t) {
				fam, name, _ := strings.Cut(t, " ")
				if _, err := command(ctx, "nft", "delete", "table", fam, name); err != nil {
					errs = append(errs, err)
				} else {
					say("deleted nftables table %s", t)
				}
			}
		}
	} else {
		errs = append(errs, err)
	}
	if linkExists(rec.Bridge) {
		if _, err := command(ctx, "ip", "link", "del", rec.Bridge); err != nil {
			errs = append(errs, err)
		} else {
			say("deleted bridge %s", rec.Bridge)
		}
	}

	// cgroups the kubelet made, deepest first.
	for _, dir := range nodeCgroups() {
		if err := removeTree(dir); err != nil {
			errs = append(errs, err)
		}
	}

	// Directories made as mountpoints for the mount namespace.
	for _, d := range rec.Dirs {
		if err := os.RemoveAll(d); err != nil {
			errs = append(errs, err)
		}
	}
	if err := restoreSysctls(rec.Sysctls); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return removeHostRecord()
}

func containerdAnswers(ctx context.Context, socket string) bool {
	if _, err := os.Stat(socket); err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	_, err := command(ctx, "ctr", "--address", socket, "version")
	return err == nil
}

// removeTasks kills and deletes every container containerd still runs, in every namespace.
func removeTasks(ctx context.Context, socket string) {
	out, err := command(ctx, "ctr", "--address", socket, "namespaces", "list", "-q")
	if err != nil {
		return
	}
	for _, ns := range strings.Fields(out) {
		tasks, _ := command(ctx, "ctr", "--address", socket, "-n", ns, "tasks", "list", "-q")
		for _, t := range strings.Fields(tasks) {
			_, _ = command(ctx, "ctr", "--address", socket, "-n", ns, "tasks", "kill", "-s", "SIGKILL", t)
			_, _ = command(ctx, "ctr", "--address", socket, "-n", ns, "tasks", "delete", "-f", t)
		}
	}
}

// shimsOf finds containerd-shim-runc-v2 processes serving socket.
func shimsOf(socket string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		args := strings.Split(string(cmdline), "\x00")
		if len(args) == 0 || !strings.HasPrefix(filepath.Base(args[0]), "containerd-shim") {
			continue
		}
		for i := 0; i+1 < len(args); i++ {
			if args[i] == "-address" && args[i+1] == socket {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// nodeCgroups are the cgroup trees a kubelet makes, in every hierarchy.
func nodeCgroups() []string {
	var dirs []string
	for _, top := range []string{"kubepods", "kubepods.slice", "k8s.io"} {
		matches, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", top))
		dirs = append(dirs, matches...)
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", top)); err == nil {
			dirs = append(dirs, filepath.Join("/sys/fs/cgroup", top))
		}
	}
	return dirs
}

// cgroupProcs are the processes still in the node's cgroups.
func cgroupProcs() []int {
	seen := map[int]bool{}
	var pids []int
	for _, dir := range nodeCgroups() {
		_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
				return nil
			}
			data, _ := os.ReadFile(path)
			for _, f := range strings.Fields(string(data)) {
				if pid, err := strconv.Atoi(f); err == nil && !seen[pid] {
					seen[pid] = true
					pids = append(pids, pid)
				}
			}
			return nil
		})
	}
	return pids
}

func waitNoCgroupProcs(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		left := cgroupProcs()
		if len(left) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("processes %v are still in the node's cgroups", left)
		case <-time.After(50 * time.Millisecond):
		}
		for _, pid := range left {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// removeTree removes a cgroup directory and its children, deepest first (cgroup
// directories are removed with rmdir, never their files).
func removeTree(dir string) error {
	var dirs []string
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, path)
		}
		return nil
	})
	var last error
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := syscall.Rmdir(dirs[i]); err != nil && !errors.Is(err, os.ErrNotExist) {
			last = fmt.Errorf("remove cgroup %s: %w", dirs[i], err)
		}
	}
	return last
}

// mountsUnder lists the host's mount points below dir, deepest first.
func mountsUnder(dir string) []string {
	data, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && strings.HasPrefix(f[1], dir+"/") {
			out = append(out, f[1])
		}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func linkExists(name string) bool {
	_, err := os.Stat(filepath.Join("/sys/class/net", name))
	return err == nil
}

// nftTableEmpty reports whether table ("family name") holds nothing but empty chains.
func nftTableEmpty(ctx context.Context, table string) bool {
	fam, name, _ := strings.Cut(table, " ")
	out, err := command(ctx, "nft", "list", "table", fam, name)
	if err != nil {
		return false
	}
	for _, line := range strings.Split(out, "\n") {
		l := strings.TrimSpace(line)
		if l == "" || l == "}" || strings.HasPrefix(l, "table ") || strings.HasPrefix(l, "chain ") ||
			strings.HasPrefix(l, "type ") || strings.HasPrefix(l, "comment ") {
			continue
		}
		return false
	}
	return true
}
