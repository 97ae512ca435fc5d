package devcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	networkingv1client "k8s.io/client-go/kubernetes/typed/networking/v1"
	rbacv1client "k8s.io/client-go/kubernetes/typed/rbac/v1"
	"k8s.io/client-go/tools/clientcmd"
)

// NodeMode says whether Up starts a real node beside the simulated ones.
type NodeMode int

const (
	// NodeOff runs simulated nodes only.
	NodeOff NodeMode = iota
	// NodeAuto starts a real node when the machine allows it and no other cluster holds
	// the machine's node; otherwise Up says why and runs simulated nodes only.
	NodeAuto
	// NodeRequired fails Up when a real node cannot start.
	NodeRequired
)

// The real node's fixed parts. One real node runs per machine (a lock), so fixed names,
// ports and ranges cannot collide with another Berth node; Up checks them against the rest
// of the machine first.
const (
	// NodeName is the real node's Node object.
	NodeName = "berth-node"
	// NodeLabelKey and NodeLabelValue label the real node; the node is also tainted
	// NodeLabelKey=NodeLabelValue:NoSchedule, so only pods that ask for it land there.
	NodeLabelKey   = "berth.dev/real-node"
	NodeLabelValue = "true"
	// RegistryName is the registry host images on the real node are named by.
	RegistryName = "registry.berth.localhost"
	// PauseImage is the pod sandbox image, imported into containerd at start.
	PauseImage = RegistryName + "/pause:3.10"

	nodeBridge  = "berth0"
	nodePodCIDR = "10.89.0.0/24"
	nodeIP      = "10.89.0.1"
	cniBinDir   = "/usr/lib/cni"

	kubeletHealthzPort = 10248
	kubeletPort        = 10250
	proxyHealthzPort   = 10256
	proxyMetricsPort   = 10249
)

// nodeSysctls are the host settings the node changes: the kubelet rewrites the first three
// at start (it has no setting to only warn), the CNI bridge turns on forwarding.
var nodeSysctls = []string{"vm.overcommit_memory", "kernel.panic", "kernel.panic_on_oops", "net.ipv4.ip_forward"}

// nsDirs are paths the kubelet, containerd and the CNI plugins write whatever their
// configuration says. They run in a mount namespace of their own where these are bind
// mounts of directories in the state directory, so the host sees none of their mounts.
var nsDirs = []string{"/var/lib/kubelet", "/var/log/containers", "/var/lib/cni", "/run/containerd"}

// NodeUnavailableError says why this machine cannot run a real node.
type NodeUnavailableError struct{ Reason string }

func (e *NodeUnavailableError) Error() string {
	return "this machine cannot run a real node: " + e.Reason
}

// checkHost says why the machine cannot run a real node, or nil.
func checkHost(kube Binaries, node NodeBinaries) error {
	bad := func(format string, args ...any) error {
		return &NodeUnavailableError{Reason: fmt.Sprintf(format, args...)}
	}
	if os.Geteuid() != 0 {
		return bad("it needs root (cgroups, network namespaces, mounts, nftables); run `berth dev cluster up` as root")
	}
	if _, err := os.Stat("/proc/self/ns/net"); err != nil {
		return bad("no network namespaces (/proc/self/ns/net: %v)", err)
	}
	if !cgroupsMounted() {
		return bad("no cgroup hierarchies under /sys/fs/cgroup (need the memory, cpu and pids controllers)")
	}
	for _, tool := range []string{"containerd", "ctr", "runc", "nft", "ip", "conntrack", "unshare", "nsenter", "mount"} {
		if _, err := exec.LookPath(tool); err != nil {
			return bad("%s is not installed (scripts/deps.sh installs it from Debian's packages)", tool)
		}
	}
	for _, p := range []string{"bridge", "host-local", "loopback"} {
		if _, err := os.Stat(filepath.Join(cniBinDir, p)); err != nil {
			return bad("the CNI plugin %s is missing (Debian's containernetworking-plugins; scripts/deps.sh)", filepath.Join(cniBinDir, p))
		}
	}
	for _, p := range []string{"kubelet", "kube-proxy", "registry", "coredns"} {
		if _, err := os.Stat(kube.Path(p)); err != nil {
			return bad("%s is not in %s: rebuild with %s", p, kube.Dir, BuildScript)
		}
	}
	for _, p := range NodePrograms {
		if node[p] == "" {
			return bad("%s is not built (%s)", p, NodeBuildScript)
		}
	}
	return nil
}

// checkHostResources says which of the node's fixed network resources another program
// holds. It runs once the machine's node lock is held and a killed node is cleaned up, so
// what it finds is not another Berth node.
func checkHostResources() error {
	if err := cidrFree(nodePodCIDR, nodeBridge); err != nil {
		return &NodeUnavailableError{Reason: err.Error()}
	}
	for _, port := range []int{kubeletHealthzPort, proxyHealthzPort, proxyMetricsPort} {
		if Listening(port) {
			return &NodeUnavailableError{Reason: fmt.Sprintf("port %d on 127.0.0.1, which the node's components use, is taken by another program", port)}
		}
	}
	return nil
}

func cgroupsMounted() bool {
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return true // cgroup v2
	}
	for _, c := range []string{"memory", "cpu", "pids"} {
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", c)); err != nil {
			return false
		}
	}
	return true
}

// cidrFree fails when an interface other than bridge already has an address in cidr.
func cidrFree(cidr, bridge string) error {
	_, want, err := net.ParseCIDR(cidr)
	if err != nil {
		return err
	}
	ifs, err := net.Interfaces()
	if err != nil {
		return err
	}
	for _, i := range ifs {
		if i.Name == bridge || strings.HasPrefix(i.Name, "veth") {
			continue
		}
		addrs, _ := i.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && (want.Contains(ipn.IP) || ipn.Contains(want.IP)) {
				return fmt.Errorf("the pod network %s overlaps %s on %s", cidr, ipn, i.Name)
			}
		}
	}
	return nil
}

// nodeRun is a real node being started: its lock, record and config.
type nodeRun struct {
	lock        *hostLock
	record      *hostRecord
	cfg         nodeConfig
	bins        NodeBinaries
	ingressPort int
}

// claimHost takes the machine's node, undoes what a killed earlier node left behind,
// records the host's state and makes the pod bridge, which the API server then listens on.
func claimHost(ctx context.Context, o Options, stateDir string) (*nodeRun, error) {
	lock, err := lockHost(ctx, o.NodeLockWait)
	if err != nil {
		return nil, err
	}
	n := &nodeRun{lock: lock, bins: o.NodeBinaries}
	if prev, err := readHostRecord(); err == nil {
		fmt.Fprintf(o.Progress, "cleaning up the real node a stopped cluster left (%s) ...", prev.Owner)
		begin := time.Now()
		if err := cleanupHost(ctx, prev, nil); err != nil {
			lock.release()
			return nil, fmt.Errorf("clean up the real node of %s: %w", prev.StateDir, err)
		}
		fmt.Fprintf(o.Progress, " ok (%.1fs)\n", time.Since(begin).Seconds())
	}
	if err := checkHostResources(); err != nil {
		lock.release()
		return nil, err
	}
	rec := &hostRecord{
		StateDir: stateDir,
		Owner:    fmt.Sprintf("the dev cluster in %s (started by pid %d)", stateDir, os.Getpid()),
		Socket:   filepath.Join(stateDir, "node", "containerd", "containerd.sock"),
		Bridge:   nodeBridge,
		Sysctls:  map[string]string{},
	}
	for _, k := range nodeSysctls {
		v, err := readSysctl(k)
		if err != nil {
			lock.release()
			return nil, err
		}
		rec.Sysctls[k] = v
	}
	if rec.Tables, err = nftTables(ctx); err != nil {
		lock.release()
		return nil, err
	}
	for _, d := range nsDirs {
		if _, err := os.Stat(d); errors.Is(err, os.ErrNotExist) {
			rec.Dirs = append(rec.Dirs, d)
		}
	}
	if err := rec.save(); err != nil {
		lock.release()
		return nil, err
	}
	n.record = rec
	if err := makeBridge(ctx); err != nil {
		return n, err
	}
	// The machine is ours now (the node lock): others may look at it again.
	lock.releaseOp()
	return n, nil
}

func makeBridge(ctx context.Context) error {
	if _, err := net.InterfaceByName(nodeBridge); err != nil {
		if _, err := command(ctx, "ip", "link", "add", nodeBridge, "type", "bridge"); err != nil {
			return err
		}
	}
	if _, err := command(ctx, "ip", "addr", "replace", nodeIP+"/24", "dev", nodeBridge); err != nil {
		return err
	}
	_, err := command(ctx, "ip", "link", "set", nodeBridge, "up")
	return err
}

// startNode starts the real node's components once the control plane runs: containerd,
// the registry, the kubelet, kube-proxy, CoreDNS and the ingress controller, each printed
// with its time.
func (r *runner) startNode(n *nodeRun, pk *pki, step func(string, ...any) func()) error {
	ctx, st := r.ctx, r.st
	dir := filepath.Join(st.Dir, "node")
	for _, d := range []string{"pki", "containerd/certs.d/" + RegistryName, "cni/net.d", "kubelet", "pod-logs", "registry", "host"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return err
		}
	}
	regPort, err := reservePort(0, "")
	if err != nil {
		return err
	}
	ports := map[string]int{}
	for _, name := range []string{"coredns-health", "coredns-ready", "ingress-health"} {
		if ports[name], err = reservePort(0, ""); err != nil {
			return err
		}
	}
	ingressPort, err := reservePort(n.ingressPort, "--ingress-port")
	if err != nil {
		return err
	}
	runc, _ := exec.LookPath("runc")
	c := nodeConfig{
		Dir: dir, Socket: n.record.Socket, NodeName: NodeName, NodeIP: nodeIP, PodCIDR: nodePodCIDR,
		Bridge: nodeBridge, PauseImage: PauseImage, RegistryName: RegistryName,
		RegistryAddr: "127.0.0.1:" + strconv.Itoa(regPort), CNIBinDir: cniBinDir, Runc: runc,
		CACert: pk.CACert, LabelKey: NodeLabelKey, LabelValue: NodeLabelValue,
		HealthzPort: kubeletHealthzPort, ProxyHealthz: proxyHealthzPort, ProxyMetrics: proxyMetricsPort,
		DNSHealth: ports["coredns-health"], DNSReady: ports["coredns-ready"],
	}
	st.Node = &NodeState{
		Name: NodeName, IP: nodeIP, PodCIDR: nodePodCIDR, Bridge: nodeBridge,
		Registry: Registry{Addr: c.RegistryAddr, Name: RegistryName},
		Ingress:  "127.0.0.1:" + strconv.Itoa(ingressPort),
		Label:    NodeLabelKey + "=" + NodeLabelValue,
		Taint:    NodeLabelKey + "=" + NodeLabelValue + ":NoSchedule",
		Sysctls:  n.record.Sysctls,
	}
	if err := st.save(); err != nil {
		return err
	}

	done := step("issuing the node's certificates and access ...")
	pkiDir := filepath.Join(dir, "pki")
	if c.KubeletCert, c.KubeletKey, err = pk.servingCert(pkiDir, "kubelet-serving", NodeName, net.ParseIP(nodeIP)); err != nil {
		return err
	}
	kubeconfigs := map[string]string{}
	for _, id := range []struct{ name, cn, org string }{
		{"kubelet", "system:node:" + NodeName, "system:nodes"},
		{"kube-proxy", "system:kube-proxy", ""},
		{"coredns", "berth:coredns", ""},
		{"ingress", "berth:ingress", ""},
	} {
		var orgs []string
		if id.org != "" {
			orgs = []string{id.org}
		}
		cert, key, err := pk.clientCert(pkiDir, id.name, id.cn, orgs...)
		if err != nil {
			return err
		}
		kubeconfigs[id.name] = filepath.Join(pkiDir, id.name+".kubeconfig")
		if err := writeComponentKubeconfig(kubeconfigs[id.name], st.Server, pk, cert, key); err != nil {
			return err
		}
	}
	if err := grantNodeAccess(ctx, st.Kubeconfig); err != nil {
		return err
	}
	done()

	done = step("starting containerd (its own mount namespace) ...")
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		return err
	}
	// The anchor holds the mount namespace open; the node's mounts live and die with it.
	if err := r.startSpec(procSpec{Name: "mount-namespace", Binary: sleep, Args: []string{"infinity"},
		Wrap: []string{mustLookPath("unshare"), "--mount", "--propagation", "private"}}, func() error {
		return sameMountNS(r.lastPID())
	}); err != nil {
		return err
	}
	anchor := r.lastPID()
	for _, d := range nsDirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		src := filepath.Join(dir, "host", strings.ReplaceAll(strings.TrimPrefix(d, "/"), "/", "_"))
		if err := os.MkdirAll(src, 0o755); err != nil {
			return err
		}
		if _, err := command(ctx, "nsenter", "-t", strconv.Itoa(anchor), "-m", "--", "mount", "--bind", src, d); err != nil {
			return err
		}
	}
	inNS := []string{mustLookPath("nsenter"), "-t", strconv.Itoa(anchor), "-m", "--"}
	if err := writeTemplate(filepath.Join(dir, "containerd", "config.toml"), containerdTemplate, &c); err != nil {
		return err
	}
	if err := writeTemplate(filepath.Join(dir, "containerd", "certs.d", RegistryName, "hosts.toml"), registryHostsTemplate, &c); err != nil {
		return err
	}
	if err := writeTemplate(filepath.Join(dir, "cni", "net.d", "10-berth.conflist"), cniTemplate, &c); err != nil {
		return err
	}
	ctr := func(args ...string) (string, error) {
		return command(ctx, "ctr", append([]string{"--address", c.Socket}, args...)...)
	}
	if err := r.startSpec(procSpec{Name: "containerd", Binary: mustLookPath("containerd"),
		Args: []string{"--config", filepath.Join(dir, "containerd", "config.toml")}, Wrap: inNS, Files: []*os.File{n.lock.f}},
		func() error { _, err := ctr("version"); return err }); err != nil {
		return err
	}
	done()

	done = step("starting the image registry on %s (images named %s/...) ...", c.RegistryAddr, RegistryName)
	if err := writeTemplate(filepath.Join(dir, "registry.yml"), registryTemplate, &c); err != nil {
		return err
	}
	// The registry exports traces to localhost:4318 unless told not to.
	if err := r.startSpec(procSpec{Name: "registry", Binary: r.o.Binaries.Path("registry"), Args: []string{"serve", filepath.Join(dir, "registry.yml")},
		Env: []string{"OTEL_TRACES_EXPORTER=none"}, Files: []*os.File{n.lock.f}}, func() error { return httpOK(ctx, http.DefaultClient, "http://"+c.RegistryAddr+"/v2/") }); err != nil {
		return err
	}
	done()

	done = step("importing the pause image ...")
	tarball := filepath.Join(dir, "pause.tar")
	if err := writeSingleFileImage(tarball, PauseImage, n.bins["pause"], "/pause", "65535:65535"); err != nil {
		return err
	}
	if _, err := command(ctx, inNS[0], append(inNS[1:], "ctr", "--address", c.Socket, "-n", "k8s.io", "images", "import", tarball)...); err != nil {
		return err
	}
	done()

	done = step("starting the kubelet (node %s) ...", NodeName)
	c.Kubeconfig = kubeconfigs["kubelet"]
	if err := writeTemplate(filepath.Join(dir, "kubelet", "config.yaml"), kubeletTemplate, &c); err != nil {
		return err
	}
	cs, err := st.CoreClient()
	if err != nil {
		return err
	}
	if err := r.startSpec(procSpec{Name: "kubelet", Binary: r.o.Binaries.Path("kubelet"), Wrap: inNS, Files: []*os.File{n.lock.f},
		Args: []string{"--config=" + filepath.Join(dir, "kubelet", "config.yaml"), "--kubeconfig=" + kubeconfigs["kubelet"],
			"--root-dir=" + filepath.Join(dir, "kubelet", "root"), "--hostname-override=" + NodeName, "--node-ip=" + nodeIP,
			"--node-labels=" + NodeLabelKey + "=" + NodeLabelValue, "--v=1"}},
		func() error { return nodeReady(ctx, cs, NodeName) }); err != nil {
		return err
	}
	// The kubelet rewrote kernel.panic_on_oops and others at start and never looks again:
	// put the machine's values back at once.
	if err := restoreSysctls(n.record.Sysctls, "net.ipv4.ip_forward"); err != nil {
		return err
	}
	done()

	done = step("starting kube-proxy (nftables) ...")
	c.Kubeconfig = kubeconfigs["kube-proxy"]
	if err := writeTemplate(filepath.Join(dir, "kube-proxy.yaml"), kubeProxyTemplate, &c); err != nil {
		return err
	}
	if err := r.startSpec(procSpec{Name: "kube-proxy", Binary: r.o.Binaries.Path("kube-proxy"), Files: []*os.File{n.lock.f},
		Args: []string{"--config=" + filepath.Join(dir, "kube-proxy.yaml"), "--v=1"}},
		func() error {
			return httpOK(ctx, http.DefaultClient, "http://127.0.0.1:"+strconv.Itoa(proxyHealthzPort)+"/healthz")
		}); err != nil {
		return err
	}
	done()

	done = step("starting CoreDNS on %s:53 ...", nodeIP)
	c.Kubeconfig = kubeconfigs["coredns"]
	if err := writeTemplate(filepath.Join(dir, "Corefile"), corefileTemplate, &c); err != nil {
		return err
	}
	if err := r.startSpec(procSpec{Name: "coredns", Binary: r.o.Binaries.Path("coredns"), Files: []*os.File{n.lock.f},
		Args: []string{"-conf", filepath.Join(dir, "Corefile")}},
		func() error {
			return httpOK(ctx, http.DefaultClient, "http://127.0.0.1:"+strconv.Itoa(c.DNSReady)+"/ready")
		}); err != nil {
		return err
	}
	done()

	done = step("starting the ingress controller on %s ...", st.Node.Ingress)
	if err := r.startSpec(procSpec{Name: "ingress", Binary: n.bins["ingress"], Files: []*os.File{n.lock.f},
		Args: []string{
			"--kubeconfig=" + kubeconfigs["ingress"], "--class=" + IngressClassName,
			"--listen=" + st.Node.Ingress, "--status-address=127.0.0.1",
			"--health=127.0.0.1:" + strconv.Itoa(ports["ingress-health"]),
		}},
		func() error {
			return httpOK(ctx, http.DefaultClient, "http://127.0.0.1:"+strconv.Itoa(ports["ingress-health"])+"/healthz")
		}); err != nil {
		return err
	}
	done()

	n.record.Processes = nodeProcesses(st.Processes)
	if err := n.record.save(); err != nil {
		return err
	}
	return st.save()
}

// nodeComponents are the processes of a real node, in start order.
var nodeComponents = []string{"mount-namespace", "containerd", "registry", "kubelet", "kube-proxy", "coredns", "ingress"}

func nodeProcesses(ps []Process) []Process {
	var out []Process
	for _, p := range ps {
		for _, n := range nodeComponents {
			if p.Name == n {
				out = append(out, p)
			}
		}
	}
	return out
}

func (r *runner) lastPID() int { return r.st.Processes[len(r.st.Processes)-1].PID }

func mustLookPath(tool string) string {
	p, err := exec.LookPath(tool)
	if err != nil {
		return tool // checkHost found it; a later failure names it
	}
	return p
}

// sameMountNS fails until pid runs in a mount namespace other than this process's.
func sameMountNS(pid int) error {
	mine, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		return err
	}
	theirs, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid))
	if err != nil {
		return err
	}
	if mine == theirs {
		return errors.New("the mount namespace is not made yet")
	}
	return nil
}

func nodeReady(ctx context.Context, cs corev1client.CoreV1Interface, name string) error {
	n, err := cs.Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
			return nil
		}
	}
	return fmt.Errorf("node %s is not Ready", name)
}

// grantNodeAccess gives the API server's kubelet client, CoreDNS and the ingress controller
// what they read, and makes the controller's class the cluster's default ingress class.
func grantNodeAccess(ctx context.Context, kubeconfig string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	rbac, err := rbacv1client.NewForConfig(cfg)
	if err != nil {
		return err
	}
	netc, err := networkingv1client.NewForConfig(cfg)
	if err != nil {
		return err
	}
	read := []string{"get", "list", "watch"}
	roles := []rbacv1.ClusterRole{
		{ObjectMeta: metav1.ObjectMeta{Name: "berth:coredns"}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"services", "pods", "namespaces"}, Verbs: read},
			{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: read},
		}},
		{ObjectMeta: metav1.ObjectMeta{Name: "berth:ingress"}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: read},
			{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"ingresses", "ingressclasses"}, Verbs: read},
			{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"ingresses/status"}, Verbs: []string{"update"}},
		}},
	}
	for _, role := range roles {
		if _, err := rbac.ClusterRoles().Create(ctx, &role, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create cluster role %s: %w", role.Name, err)
		}
	}
	bindings := []struct{ name, role, user string }{
		{"berth:kube-apiserver-kubelet-client", "system:kubelet-api-admin", kubeletClientUser},
		{"berth:coredns", "berth:coredns", "berth:coredns"},
		{"berth:ingress", "berth:ingress", "berth:ingress"},
	}
	for _, b := range bindings {
		crb := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: b.name},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: b.role},
			Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "User", Name: b.user}},
		}
		if _, err := rbac.ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create cluster role binding %s: %w", b.name, err)
		}
	}
	class := &networkingv1.IngressClass{
		ObjectMeta: metav1.ObjectMeta{Name: IngressClassName,
			Annotations: map[string]string{"ingressclass.kubernetes.io/is-default-class": "true"}},
		Spec: networkingv1.IngressClassSpec{Controller: IngressController},
	}
	if _, err := netc.IngressClasses().Create(ctx, class, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create ingress class %s: %w", IngressClassName, err)
	}
	return nil
}

// IngressClassName is the dev cluster's ingress class, the cluster's default, served by
// its own controller (internal/devingress, run as berth-dev-ingress).
const IngressClassName = "berth"

// IngressController is the controller name of the dev cluster's IngressClass.
const IngressController = "berth.dev/dev-ingress"

// kubeletClientUser is who the API server is to kubelets.
const kubeletClientUser = "kube-apiserver-kubelet-client"

// command runs a tool and returns its output; the error carries the output.
func command(ctx context.Context, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

func sysctlPath(key string) string {
	return filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
}

func readSysctl(key string) (string, error) {
	b, err := os.ReadFile(sysctlPath(key))
	if err != nil {
		return "", fmt.Errorf("read sysctl %s: %w", key, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// restoreSysctls writes back every value that changed, except those named in keep.
func restoreSysctls(values map[string]string, keep ...string) error {
	for k, v := range values {
		if slices.Contains(keep, k) {
			continue
		}
		now, err := readSysctl(k)
		if err != nil {
			return err
		}
		if now != v {
			if err := os.WriteFile(sysctlPath(k), []byte(v+"\n"), 0o644); err != nil {
				return fmt.Errorf("restore sysctl %s=%s: %w", k, v, err)
			}
		}
	}
	return nil
}

// nftTables lists the machine's nftables tables as "family name".
func nftTables(ctx context.Context) ([]string, error) {
	out, err := command(ctx, "nft", "list", "tables")
	if err != nil {
		return nil, err
	}
	var tables []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "table" {
			tables = append(tables, f[1]+" "+f[2])
		}
	}
	return tables, nil
}
