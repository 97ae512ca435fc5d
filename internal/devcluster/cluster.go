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
	for _, d := range []string{"logs", "etcd", "pki"} {
		if err := os.MkdirAll(filepath.Join(o.StateDir, d), 0o700); err != nil {
			return nil, false, err
		}
	}
	st := &State{
		Dir:        o.StateDir,
		Server:     "https://127.0.0.1:" + strconv.Itoa(apiPort),
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
			os.Remove(filepath.Join(o.StateDir, stateFile))
		}
	}()

	step := func(format string, args ...any) func() {
		begin := time.Now()
		fmt.Fprintf(o.Progress, format, args...)
		return func() { fmt.Fprintf(o.Progress, " ok (%.1fs)\n", time.Since(begin).Seconds()) }
	}

	done := step("generating certificates in %s ...", filepath.Join(o.StateDir, "pki"))
	pk, err := generatePKI(filepath.Join(o.StateDir, "pki"), serviceIP)
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
	if err := r.start("kube-apiserver", []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(apiPort),
		"--tls-cert-file=" + pk.ServingCert, "--tls-private-key-file=" + pk.ServKey,
		"--client-ca-file=" + pk.CACert,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + pk.SAPublic,
		"--service-account-signing-key-file=" + pk.SAPrivate,
		"--service-cluster-ip-range=" + serviceCIDR,
		"--authorization-mode=Node,RBAC",
		// The default reconciler rejects a loopback advertise address.
		"--endpoint-reconciler-type=none",
		"--allow-privileged=true",
		"--profiling=false",
	}, func() error { return httpOK(ctx, client, st.Server+"/readyz") }); err != nil {
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
	return st, true, nil
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
	p, exited, err := startProcess(name, r.o.Binaries.Path(name), args,
		filepath.Join(r.st.Dir, "logs", name+".log"), r.o.TieToParent)
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
	StartedAt  time.Time         `json:"startedAt"`
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
	return s, nil
}

// healthy reports whether every component runs and the API server answers /readyz.
func (s *State) healthy(ctx context.Context) bool {
	if len(s.Processes) != len(Programs) {
		return false
	}
	for _, p := range s.Processes {
		if !p.alive() {
			return false
		}
	}
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
