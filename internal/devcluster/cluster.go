package devcluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/clientcmd"
)

// Options configures Up.
type Options struct {
	// StateDir holds everything the cluster writes.
	StateDir string
	Binaries Binaries
	// APIServerPort is the API server's port on 127.0.0.1; 0 picks a free one.
	APIServerPort int
	// Nodes is the number of simulated nodes (at least 1).
	Nodes int
	// Progress receives one line per step.
	Progress io.Writer
	// TieToParent makes the components die with the calling process (tests).
	TieToParent bool
	// Timeout bounds the whole start; 0 means two minutes.
	Timeout time.Duration
	// Node says whether a real node starts beside the simulated ones.
	Node NodeMode
	// NodeBinaries are the real node's programs (ResolveNodeBinaries).
	NodeBinaries NodeBinaries
	// NodeLockWait is how long to wait for another cluster's real node to stop; 0 does not wait.
	NodeLockWait time.Duration
	// IngressPort is the ingress controller's port on 127.0.0.1; 0 picks a free one.
	IngressPort int
}

// serviceIP is the first address of the service range, the in-cluster API server address.
var serviceIP = net.ParseIP("10.0.0.1")

const (
	serviceCIDR = "10.0.0.0/24"
	// kwok's pod CIDR must stay clear of the service range.
	podCIDR = "10.244.0.1/16"
	// NodeAnnotation marks the nodes kwok simulates.
	NodeAnnotation = "kwok.x-k8s.io/node"
)

// Up starts a cluster in o.StateDir and waits until it is usable: /readyz answers, every node
// is Ready and the default service account exists. On a running cluster it does nothing and
// returns started == false.
func Up(ctx context.Context, o Options) (_ *State, started bool, err error) {
	if o.Nodes < 1 {
		o.Nodes = 1
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if prev, err := LoadState(o.StateDir); err == nil {
		if prev.healthy(ctx) {
			return prev, false, nil
		}
		fmt.Fprintf(o.Progress, "found a stopped or broken cluster in %s; cleaning it up\n", o.StateDir)
		if err := Down(ctx, o.StateDir, io.Discard); err != nil {
			return nil, false, err
		}
	}
	// Waiting for another cluster's real node is not part of the start's time.
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()

	apiPort, err := reservePort(o.APIServerPort, "--apiserver-port")
	if err != nil {
		return nil, false, err
	}
	ports := map[string]int{"kube-apiserver": apiPort}
	for _, name := range []string{"etcd", "etcd-peer"} {
		if ports[name], err = reservePort(0, ""); err != nil {
			return nil, false, err
		}
	}

	// A leftover directory without a state file is from a failed start: its logs were reported.
	if err := os.RemoveAll(o.StateDir); err != nil {
		return nil, false, err
	}
	var node *nodeRun
	if o.Node != NodeOff {
		node, err = claimNode(parent, o)
		if err != nil {
			return nil, false, err
		}
	}
	bindIP := "127.0.0.1"
	if node != nil {
		bindIP = nodeIP
		node.ingressPort = o.IngressPort
	}
	for _, d := range []string{"logs", "etcd", "pki"} {
		if err := os.MkdirAll(filepath.Join(o.StateDir, d), 0o700); err != nil {
			return nil, false, err
		}
	}
	st := &State{
		Dir:        o.StateDir,
		Server:     "https://" + bindIP + ":" + strconv.Itoa(apiPort),
		Kubeconfig: filepath.Join(o.StateDir, "kubeconfig"),
		Binaries:   o.Binaries.Dir,
		Ports:      ports,
		StartedAt:  time.Now().UTC(),
	}
	if err := st.save(); err != nil {
		return nil, false, err
	}
	defer func() {
		if err != nil {
			// Leave nothing running after a failed start; keep the logs for the error's reader.
			stopAll(context.WithoutCancel(ctx), st.Processes, io.Discard)
			if node != nil {
				node.record.Processes = nodeProcesses(st.Processes)
				if cerr := cleanupHost(context.WithoutCancel(ctx), node.record, io.Discard); cerr != nil {
					err = fmt.Errorf("%w (and cleaning up the real node: %v)", err, cerr)
				}
			}
			os.Remove(filepath.Join(o.StateDir, stateFile))
		}
		node.release()
	}()

	step := func(format string, args ...any) func() {
		begin := time.Now()
		fmt.Fprintf(o.Progress, format, args...)
		return func() { fmt.Fprintf(o.Progress, " ok (%.1fs)\n", time.Since(begin).Seconds()) }
	}

	done := step("generating certificates in %s ...", filepath.Join(o.StateDir, "pki"))
	var extraIPs []net.IP
	if node != nil {
		extraIPs = append(extraIPs, net.ParseIP(nodeIP))
	}
	pk, err := generatePKI(filepath.Join(o.StateDir, "pki"), serviceIP, extraIPs...)
	if err != nil {
		return nil, false, fmt.Errorf("generate certificates: %w", err)
	}
	if err := writeKubeconfig(st.Kubeconfig, st.Server, pk); err != nil {
		return nil, false, err
	}
	done()

	r := runner{o: o, st: st, ctx: ctx}

	done = step("starting etcd on 127.0.0.1:%d ...", ports["etcd"])
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(ports["etcd"])
	peerURL := "http://127.0.0.1:" + strconv.Itoa(ports["etcd-peer"])
	if err := r.start("etcd", []string{
		"--name=default",
		"--data-dir=" + filepath.Join(o.StateDir, "etcd"),
		"--listen-client-urls=" + etcdURL, "--advertise-client-urls=" + etcdURL,
		"--listen-peer-urls=" + peerURL, "--initial-advertise-peer-urls=" + peerURL,
		"--initial-cluster=default=" + peerURL,
		// fsync buys durability a throwaway dev cluster does not need and costs seconds.
		"--unsafe-no-fsync=true",
		"--log-level=warn",
	}, func() error { return httpOK(ctx, http.DefaultClient, etcdURL+"/health") }); err != nil {
		return nil, false, err
	}
	done()

	done = step("starting kube-apiserver on %s ...", st.Server)
	client, err := adminHTTPClient(pk)
	if err != nil {
		return nil, false, err
	}
	apiArgs, err := apiServerNodeArgs(node, pk)
	if err != nil {
		return nil, false, err
	}
	if err := r.start("kube-apiserver", append([]string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=" + bindIP, "--advertise-address=" + bindIP,
		"--secure-port=" + strconv.Itoa(apiPort),
		"--tls-cert-file=" + pk.ServingCert, "--tls-private-key-file=" + pk.ServKey,
		"--client-ca-file=" + pk.CACert,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + pk.SAPublic,
		"--service-account-signing-key-file=" + pk.SAPrivate,
		"--service-cluster-ip-range=" + serviceCIDR,
		"--authorization-mode=Node,RBAC",
		"--allow-privileged=true",
		"--profiling=false",
	}, apiArgs...), func() error { return httpOK(ctx, client, st.Server+"/readyz") }); err != nil {
		return nil, false, err
	}
	done()

	// The default 20 QPS makes controllers the bottleneck of every rollout.
	qps := []string{"--kube-api-qps=300", "--kube-api-burst=600"}
	common := []string{
		"--kubeconfig=" + st.Kubeconfig,
		"--authentication-kubeconfig=" + st.Kubeconfig,
		"--authorization-kubeconfig=" + st.Kubeconfig,
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		// No health port: two clusters side by side would otherwise fight over the default.
		"--secure-port=0",
	}
	done = step("starting kube-controller-manager ...")
	if err := r.start("kube-controller-manager", concat(common, qps, []string{
		"--service-account-private-key-file=" + pk.SAPrivate,
		"--root-ca-file=" + pk.CACert,
		"--use-service-account-credentials=true",
		"--concurrent-deployment-syncs=20",
		"--concurrent-replicaset-syncs=20",
	}), nil); err != nil {
		return nil, false, err
	}
	done()
	done = step("starting kube-scheduler ...")
	if err := r.start("kube-scheduler", concat(common, qps), nil); err != nil {
		return nil, false, err
	}
	done()

	done = step("starting kwok (simulated nodes and pods) ...")
	stages, err := writeStages(o.Binaries.StagesDir(), filepath.Join(o.StateDir, "kwok-stages.yaml"))
	if err != nil {
		return nil, false, err
	}
	if err := r.start("kwok", []string{
		"--kubeconfig=" + st.Kubeconfig,
		"--manage-nodes-with-annotation-selector=" + NodeAnnotation + "=fake",
		// Without leases kwok lets nodes, and then pods, go NotReady after ~50 s.
		"--node-lease-duration-seconds=40",
		"--cidr=" + podCIDR,
		"--config=" + stages,
	}, nil); err != nil {
		return nil, false, err
	}
	done()

	done = step("waiting for %d Ready node(s) and the default service account ...", o.Nodes)
	cs, err := st.CoreClient()
	if err != nil {
		return nil, false, err
	}
	if err := createNodes(ctx, cs, o.Nodes); err != nil {
		return nil, false, err
	}
	if err := r.wait(func() error { return usable(ctx, cs, o.Nodes) }); err != nil {
		return nil, false, err
	}
	done()
	if node != nil {
		if err := r.startNode(node, pk, step); err != nil {
			return nil, false, err
		}
	}
	return st, true, nil
}

// claimNode checks that the machine can run a real node and takes it. With NodeAuto, a
// machine that cannot, or whose node another cluster holds, gets no real node and a line
// on Progress saying why.
func claimNode(ctx context.Context, o Options) (*nodeRun, error) {
	err := checkHost(o.Binaries, o.NodeBinaries)
	var node *nodeRun
	if err == nil {
		node, err = claimHost(ctx, o, o.StateDir)
	}
	if err == nil {
		return node, nil
	}
	if node != nil {
		if cerr := cleanupHost(context.WithoutCancel(ctx), node.record, io.Discard); cerr != nil {
			err = fmt.Errorf("%w (and cleaning up: %v)", err, cerr)
		}
		node.release()
	}
	var unavailable *NodeUnavailableError
	var busy *NodeBusyError
	if o.Node == NodeAuto && (errors.As(err, &unavailable) || errors.As(err, &busy)) {
		fmt.Fprintf(o.Progress, "no real node: %v; pods are simulated only\n", err)
		return nil, nil
	}
	return nil, err
}

// apiServerNodeArgs are the API server's flags for a real node: it listens on the pod
// bridge (so pods reach it through the kubernetes Service), publishes that address as the
// Service's endpoint, and talks to the kubelet with a client certificate, checking the
// kubelet's serving certificate. Without a node it listens on loopback only.
func apiServerNodeArgs(node *nodeRun, pk *pki) ([]string, error) {
	if node == nil {
		// The default endpoint reconciler rejects a loopback advertise address.
		return []string{"--endpoint-reconciler-type=none"}, nil
	}
	cert, key, err := pk.clientCert(filepath.Dir(pk.CACert), "apiserver-kubelet-client", kubeletClientUser)
	if err != nil {
		return nil, err
	}
	return []string{
		"--kubelet-client-certificate=" + cert, "--kubelet-client-key=" + key,
		"--kubelet-certificate-authority=" + pk.CACert,
		"--kubelet-preferred-address-types=InternalIP",
	}, nil
}

func (n *nodeRun) release() {
	if n != nil {
		n.lock.release()
	}
}

// runner starts components and waits on them, failing fast when one exits.
type runner struct {
	o      Options
	st     *State
	ctx    context.Context
	exited []<-chan error
	names  []Process
}

func (r *runner) start(name string, args []string, ready func() error) error {
	return r.startSpec(procSpec{Name: name, Binary: r.o.Binaries.Path(name), Args: args}, ready)
}

// startSpec starts s, logging to logs/<name>.log, and waits until ready succeeds.
func (r *runner) startSpec(s procSpec, ready func() error) error {
	s.Log = filepath.Join(r.st.Dir, "logs", s.Name+".log")
	s.TieToParent = r.o.TieToParent
	p, exited, err := spawn(s)
	if err != nil {
		return err
	}
	r.st.Processes = append(r.st.Processes, p)
	r.exited = append(r.exited, exited)
	r.names = append(r.names, p)
	if err := r.st.save(); err != nil {
		return err
	}
	if ready == nil {
		return r.wait(func() error { return nil })
	}
	return r.wait(ready)
}

// wait polls ready until it succeeds, a component exits, or the start times out.
func (r *runner) wait(ready func() error) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		for i, ch := range r.exited {
			select {
			case err := <-ch:
				p := r.names[i]
				return &ExitError{Name: p.Name, Status: exitStatus(err), Log: p.Log, Tail: logTail(p.Log, 15)}
			default:
			}
		}
		lastErr := ready()
		if lastErr == nil {
			return nil
		}
		select {
		case <-r.ctx.Done():
			last := r.names[len(r.names)-1]
			return fmt.Errorf("the cluster did not become ready in %s (last check: %v); the end of %s:\n%s",
				r.o.Timeout, lastErr, last.Log, logTail(last.Log, 15))
		case <-t.C:
		}
	}
}

// Down stops every process the cluster in stateDir started and removes the directory.
// Without a cluster there it does nothing.
func Down(ctx context.Context, stateDir string, progress io.Writer) error {
	st, err := LoadState(stateDir)
	if errors.Is(err, ErrNotRunning) {
		// A failed start leaves only logs behind.
		return os.RemoveAll(stateDir)
	}
	if err != nil {
		return err
	}
	if progress == nil {
		progress = io.Discard
	}
	if st.Node != nil {
		if err := stopNode(ctx, st, progress); err != nil {
			return err
		}
	}
	if err := stopAll(ctx, st.Processes, progress); err != nil {
		return err
	}
	if err := os.RemoveAll(stateDir); err != nil {
		return fmt.Errorf("remove %s: %w", stateDir, err)
	}
	return nil
}

func stopAll(ctx context.Context, procs []Process, progress io.Writer) error {
	var errs []string
	for i := len(procs) - 1; i >= 0; i-- {
		p := procs[i]
		if !p.alive() {
			continue
		}
		fmt.Fprintf(progress, "stopping %s (pid %d)\n", p.Name, p.PID)
		if err := p.stop(ctx, 10*time.Second); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("stop cluster: %s", strings.Join(errs, "; "))
	}
	return nil
}

// ComponentStatus is one process of a cluster.
type ComponentStatus struct {
	Name    string `json:"name"`
	PID     int    `json:"pid"`
	Running bool   `json:"running"`
	Log     string `json:"log"`
}

// Status describes a cluster's processes and whether its API server is ready.
type Status struct {
	State      *State            `json:"-"`
	Server     string            `json:"server"`
	Kubeconfig string            `json:"kubeconfig"`
	Ready      bool              `json:"ready"`
	Components []ComponentStatus `json:"components"`
	// Nodes are the cluster's nodes as the API server has them (none when it does not answer).
	Nodes []NodeStatus `json:"nodes"`
	// RealNode is the real node's registry, ingress and scheduling values; nil without one.
	RealNode  *NodeState `json:"realNode,omitempty"`
	StartedAt time.Time  `json:"startedAt"`
}

// NodeStatus is one node of a cluster.
type NodeStatus struct {
	Name string `json:"name"`
	// Kind is "real" (a kubelet running containers) or "simulated" (kwok).
	Kind  string `json:"kind"`
	Ready bool   `json:"ready"`
}

// GetStatus reports on the cluster in stateDir; ErrNotRunning when there is none.
func GetStatus(ctx context.Context, stateDir string) (*Status, error) {
	st, err := LoadState(stateDir)
	if err != nil {
		return nil, err
	}
	s := &Status{State: st, Server: st.Server, Kubeconfig: st.Kubeconfig, StartedAt: st.StartedAt}
	for _, p := range st.Processes {
		s.Components = append(s.Components, ComponentStatus{Name: p.Name, PID: p.PID, Running: p.alive(), Log: p.Log})
	}
	s.Ready = st.healthy(ctx)
	s.RealNode = st.Node
	if cs, err := st.CoreClient(); err == nil {
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if list, err := cs.Nodes().List(lctx, metav1.ListOptions{}); err == nil {
			for _, n := range list.Items {
				ns := NodeStatus{Name: n.Name, Kind: "real"}
				if n.Annotations[NodeAnnotation] == "fake" {
					ns.Kind = "simulated"
				}
				for _, c := range n.Status.Conditions {
					if c.Type == corev1.NodeReady {
						ns.Ready = c.Status == corev1.ConditionTrue
					}
				}
				s.Nodes = append(s.Nodes, ns)
			}
		}
	}
	return s, nil
}

// healthy reports whether every component runs and the API server answers /readyz.
func (s *State) healthy(ctx context.Context) bool {
	want := len(Programs)
	if s.Node != nil {
		want += len(nodeComponents)
	}
	if len(s.Processes) != want {
		return false
	}
	for _, p := range s.Processes {
		if !p.alive() {
			return false
		}
	}
	return s.apiAnswers(ctx)
}

// apiAnswers reports whether the API server answers /readyz.
func (s *State) apiAnswers(ctx context.Context) bool {
	cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig)
	if err != nil {
		return false
	}
	cs, err := corev1client.NewForConfig(cfg)
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = cs.RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	return err == nil
}

// CoreClient returns an admin client of the cluster's core API group. It is not a
// kubernetes.Clientset: that links in every API group's client, which slows a cold build of
// berth (see internal/kube/deps_test.go).
func (s *State) CoreClient() (*corev1client.CoreV1Client, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", s.Kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = 100, 200
	return corev1client.NewForConfig(cfg)
}

func createNodes(ctx context.Context, cs corev1client.CoreV1Interface, n int) error {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("32"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		// Simulated pods cost nothing; a real kubelet's 110 would cap a 1,000-app test.
		corev1.ResourcePods: resource.MustParse("5000"),
	}
	for i := range n {
		name := fmt.Sprintf("kwok-node-%d", i)
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name:        name,
				Annotations: map[string]string{NodeAnnotation: "fake", "node.alpha.kubernetes.io/ttl": "0"},
				Labels: map[string]string{"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
					"kubernetes.io/arch": "amd64", "type": "kwok"},
			},
			Status: corev1.NodeStatus{Capacity: capacity, Allocatable: capacity},
		}
		if _, err := cs.Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create node %s: %w", name, err)
		}
	}
	return nil
}

func usable(ctx context.Context, cs corev1client.CoreV1Interface, nodes int) error {
	list, err := cs.Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	ready := 0
	for _, n := range list.Items {
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				ready++
			}
		}
	}
	if ready < nodes {
		return fmt.Errorf("%d of %d nodes Ready", ready, nodes)
	}
	if _, err := cs.ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{}); err != nil {
		return fmt.Errorf("default service account: %w", err)
	}
	return nil
}

func httpOK(ctx context.Context, c *http.Client, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}

func adminHTTPClient(p *pki) (*http.Client, error) {
	cert, err := tls.X509KeyPair(p.adminCertPEM, p.adminKeyPEM)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.caPEM)
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12,
	}}}, nil
}

func concat(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
