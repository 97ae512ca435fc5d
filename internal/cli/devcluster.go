package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/devcluster"
)

// NewCmdDev returns `berth dev`, the tools for working on berth and apps locally.
func NewCmdDev(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Local development tools",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(NewCmdDevCluster(f), NewCmdDevImage(f))
	return cmd
}

// ClusterOptions are shared by the `berth dev cluster` commands, whose --state-dir is a
// flag of `berth dev cluster` itself; they are the whole input of down and kubeconfig.
type ClusterOptions struct {
	IO       *IOStreams
	StateDir string
}

func (o *ClusterOptions) bindFlags(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&o.StateDir, "state-dir", devcluster.DefaultStateDir(),
		"directory holding the cluster's certificates, data, logs and kubeconfig (env BERTH_STATE_DIR sets its parent)")
}

// NewCmdDevCluster returns `berth dev cluster`.
func NewCmdDevCluster(f *Factory) *cobra.Command {
	o := &ClusterOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Run a real local Kubernetes: a control plane, simulated nodes and one real node",
		Long: `A local Kubernetes control plane — etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and kwok, which simulates nodes and pods — running as plain processes on
loopback ports, and, where the machine allows it (root, cgroups, network namespaces), one
real node beside the simulated ones: containerd, the kubelet, kube-proxy, CoreDNS, an
image registry and an ingress controller (berth-dev-ingress). Pods that select the real node
(label berth.dev/real-node=true, toleration berth.dev/real-node=true:NoSchedule) run real
containers; every other pod is simulated. One real node runs per machine: a second cluster
runs simulated nodes only.

The binaries are built from the Go module proxy by tools/kube/build.sh and
tools/node/build.sh the first time (about 15 minutes on 2 cores) and cached in
~/.cache/berth/.`,
		Example: `  berth dev cluster up
  export KUBECONFIG=$(berth dev cluster kubeconfig)
  kubectl get nodes
  berth dev cluster status
  berth dev cluster prometheus-config --berth 127.0.0.1:8080 --rules-dir rules > prometheus.yml
  berth dev cluster down`,
		Args: cobra.NoArgs,
	}
	o.bindFlags(cmd)
	cmd.AddCommand(NewCmdClusterUp(o, nil), NewCmdClusterDown(o, nil), NewCmdClusterStatus(o, nil), NewCmdClusterKubeconfig(o, nil),
		NewCmdClusterPrometheusConfig(o, nil))
	return cmd
}

// ClusterUpOptions are the inputs of `berth dev cluster up`.
type ClusterUpOptions struct {
	*ClusterOptions
	KubeDir       string
	APIServerPort int
	IngressPort   int
	Nodes         int
	RealNode      string
	RealNodeWait  time.Duration
	Timeout       time.Duration
}

// NewCmdClusterUp returns `berth dev cluster up`; co holds the parent's --state-dir.
func NewCmdClusterUp(co *ClusterOptions, runF func(*ClusterUpOptions) error) *cobra.Command {
	o := &ClusterUpOptions{ClusterOptions: co}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the local cluster (a no-op when it already runs)",
		Example: `  # Start on free ports and wait until a node is Ready
  berth dev cluster up

  # A fixed API server port and three simulated nodes
  berth dev cluster up --apiserver-port 6443 --nodes 3

  # Simulated nodes only, even where a real node could run
  berth dev cluster up --real-node=off

  # Fail unless the real node starts
  berth dev cluster up --real-node=on

  # Use binaries built elsewhere
  berth dev cluster up --kube-dir ~/.cache/berth/kube/kubernetes-v1.37.2_etcd-v3.7.0_kwok-v0.8.0_f9ca75d4`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return clusterUpRun(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.KubeDir, "kube-dir", "", "directory of built cluster binaries (default $"+devcluster.KubeDirEnv+", else built by "+devcluster.BuildScript+")")
	cmd.Flags().IntVar(&o.APIServerPort, "apiserver-port", 0, "API server port on 127.0.0.1 (0 picks a free one)")
	cmd.Flags().IntVar(&o.Nodes, "nodes", 1, "number of simulated nodes")
	cmd.Flags().StringVar(&o.RealNode, "real-node", "auto", "start a real node: auto (when the machine allows it and no other cluster has it), on (or fail), off")
	cmd.Flags().DurationVar(&o.RealNodeWait, "real-node-wait", 0, "how long to wait for another cluster's real node to stop (0: do not wait)")
	cmd.Flags().IntVar(&o.IngressPort, "ingress-port", 0, "the ingress controller's HTTP port on 127.0.0.1 (0 picks a free one)")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 2*time.Minute, "how long to wait for the cluster to become ready")
	return cmd
}

func clusterUpRun(ctx context.Context, o *ClusterUpOptions) error {
	if o.Nodes < 1 || o.Nodes > 100 {
		return &UsageError{Err: fmt.Errorf("--nodes must be between 1 and 100, not %d", o.Nodes)}
	}
	if o.APIServerPort < 0 || o.APIServerPort > 65535 {
		return &UsageError{Err: fmt.Errorf("--apiserver-port must be between 0 and 65535, not %d", o.APIServerPort)}
	}
	if o.RealNodeWait < 0 {
		return &UsageError{Err: fmt.Errorf("--real-node-wait must not be negative")}
	}
	if o.IngressPort < 0 || o.IngressPort > 65535 {
		return &UsageError{Err: fmt.Errorf("--ingress-port must be between 0 and 65535, not %d", o.IngressPort)}
	}
	mode, ok := map[string]devcluster.NodeMode{"auto": devcluster.NodeAuto, "on": devcluster.NodeRequired, "off": devcluster.NodeOff}[o.RealNode]
	if !ok {
		return &UsageError{Err: fmt.Errorf("--real-node must be auto, on or off, not %q", o.RealNode)}
	}
	if st, err := devcluster.LoadState(o.StateDir); err == nil {
		if s, err := devcluster.GetStatus(ctx, o.StateDir); err == nil && s.Ready {
			fmt.Fprintf(o.IO.Out, "dev cluster already running at %s; nothing to do\nkubeconfig: %s\n", st.Server, st.Kubeconfig)
			return nil
		}
	}
	bins, err := devcluster.ResolveBinaries(ctx, o.KubeDir, o.IO.ErrOut)
	if err != nil {
		return err
	}
	var nodeBins devcluster.NodeBinaries
	if mode != devcluster.NodeOff {
		if nodeBins, err = devcluster.ResolveNodeBinaries(ctx, o.IO.ErrOut); err != nil {
			return err
		}
	}
	st, started, err := devcluster.Up(ctx, devcluster.Options{
		StateDir: o.StateDir, Binaries: bins, APIServerPort: o.APIServerPort, Nodes: o.Nodes,
		Progress: o.IO.ErrOut, Timeout: o.Timeout,
		Node: mode, NodeBinaries: nodeBins, IngressPort: o.IngressPort, NodeLockWait: o.RealNodeWait,
	})
	if err != nil {
		return err
	}
	if !started {
		fmt.Fprintf(o.IO.Out, "dev cluster already running at %s; nothing to do\nkubeconfig: %s\n", st.Server, st.Kubeconfig)
		return nil
	}
	fmt.Fprintf(o.IO.Out, "dev cluster ready at %s\n\n  export KUBECONFIG=%s\n  %s get nodes\n",
		st.Server, st.Kubeconfig, bins.Path("kubectl"))
	if n := st.Node; n != nil {
		fmt.Fprintf(o.IO.Out, `
Real node %s: pods that select it run real containers.
  registry:  %s (images are named %s/NAME:TAG; berth dev image build pushes there)
  ingress:   http://%s/ (class berth; Ingress hosts such as app.localhost resolve to 127.0.0.1)
  pods land there with --node-selector %s --toleration %s
             (berth envs create ENV ... takes both)
`, n.Name, n.Registry.Addr, n.Registry.Name, n.Ingress, n.Label, n.Taint)
	}
	fmt.Fprintln(o.IO.Out, "\nStop it with `berth dev cluster down`.")
	return nil
}

// NewCmdClusterDown returns `berth dev cluster down`.
func NewCmdClusterDown(o *ClusterOptions, runF func(*ClusterOptions) error) *cobra.Command {
	return &cobra.Command{
		Use:     "down",
		Short:   "Stop every process the local cluster started and delete its state",
		Example: `  berth dev cluster down`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return clusterDownRun(cmd.Context(), o)
		},
	}
}

func clusterDownRun(ctx context.Context, o *ClusterOptions) error {
	if _, err := devcluster.LoadState(o.StateDir); err != nil {
		fmt.Fprintf(o.IO.Out, "no dev cluster in %s; nothing to stop\n", o.StateDir)
		return devcluster.Down(ctx, o.StateDir, o.IO.ErrOut)
	}
	if err := devcluster.Down(ctx, o.StateDir, o.IO.ErrOut); err != nil {
		return err
	}
	fmt.Fprintf(o.IO.Out, "dev cluster stopped; removed %s\n", o.StateDir)
	return nil
}

// ClusterStatusOptions are the inputs of `berth dev cluster status`.
type ClusterStatusOptions struct {
	*ClusterOptions
	Output string
}

// NewCmdClusterStatus returns `berth dev cluster status`; co holds the parent's --state-dir.
func NewCmdClusterStatus(co *ClusterOptions, runF func(*ClusterStatusOptions) error) *cobra.Command {
	o := &ClusterStatusOptions{ClusterOptions: co}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the local cluster's processes and readiness",
		Example: `  berth dev cluster status
  berth dev cluster status -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return clusterStatusRun(cmd.Context(), o)
		},
	}
	bindOutput(cmd, &o.Output)
	return cmd
}

func clusterStatusRun(ctx context.Context, o *ClusterStatusOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	s, err := devcluster.GetStatus(ctx, o.StateDir)
	if err != nil {
		return err
	}
	if o.Output != "table" {
		return printData(o.IO.Out, o.Output, s)
	}
	ready := "not ready"
	if s.Ready {
		ready = "ready"
	}
	fmt.Fprintf(o.IO.Out, "server:     %s (%s)\nkubeconfig: %s\nstarted:    %s\n\n",
		s.Server, ready, s.Kubeconfig, s.StartedAt.Local().Format(time.RFC1123))
	tw := tabwriter.NewWriter(o.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COMPONENT\tPID\tSTATE\tLOG")
	for _, c := range s.Components {
		state := "running"
		if !c.Running {
			state = "stopped"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", c.Name, c.PID, state, c.Log)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(o.IO.Out)
	tw = tabwriter.NewWriter(o.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tKIND\tREADY")
	for _, n := range s.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%t\n", n.Name, n.Kind, n.Ready)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if n := s.RealNode; n != nil {
		fmt.Fprintf(o.IO.Out, "\nregistry:   %s (images named %s/NAME:TAG)\ningress:    http://%s/\nscheduling: --node-selector %s --toleration %s\n",
			n.Registry.Addr, n.Registry.Name, n.Ingress, n.Label, n.Taint)
	} else {
		fmt.Fprintln(o.IO.Out, "\nno real node: every pod is simulated")
	}
	return nil
}

// NewCmdClusterKubeconfig returns `berth dev cluster kubeconfig`.
func NewCmdClusterKubeconfig(o *ClusterOptions, runF func(*ClusterOptions) error) *cobra.Command {
	return &cobra.Command{
		Use:   "kubeconfig",
		Short: "Print the path of the local cluster's kubeconfig, and nothing else",
		Example: `  export KUBECONFIG=$(berth dev cluster kubeconfig)
  kubectl get pods -A`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if runF != nil {
				return runF(o)
			}
			return clusterKubeconfigRun(o)
		},
	}
}

func clusterKubeconfigRun(o *ClusterOptions) error {
	st, err := devcluster.LoadState(o.StateDir)
	if err != nil {
		return err
	}
	fmt.Fprintln(o.IO.Out, st.Kubeconfig)
	return nil
}
