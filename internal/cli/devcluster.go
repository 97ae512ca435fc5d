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
		Short: "Run a real local Kubernetes control plane with simulated nodes",
		Long: `A local Kubernetes control plane — etcd, kube-apiserver, kube-controller-manager,
kube-scheduler and kwok, which simulates nodes and pods — running as plain processes on
loopback ports. Deployments roll out for real; containers do not run.

The binaries are built from the Go module proxy by tools/kube/build.sh the first time
(about 8 minutes on 2 cores) and cached in ~/.cache/berth/kube.`,
		Example: `  berth dev cluster up
  export KUBECONFIG=$(berth dev cluster kubeconfig)
  kubectl get nodes
  berth dev cluster status
  berth dev cluster down`,
		Args: cobra.NoArgs,
	}
	o.bindFlags(cmd)
	cmd.AddCommand(NewCmdClusterUp(o, nil), NewCmdClusterDown(o, nil), NewCmdClusterStatus(o, nil), NewCmdClusterKubeconfig(o, nil))
	return cmd
}

// ClusterUpOptions are the inputs of `berth dev cluster up`.
type ClusterUpOptions struct {
	*ClusterOptions
	KubeDir       string
	APIServerPort int
	Nodes         int
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
	st, started, err := devcluster.Up(ctx, devcluster.Options{
		StateDir: o.StateDir, Binaries: bins, APIServerPort: o.APIServerPort, Nodes: o.Nodes,
		Progress: o.IO.ErrOut, Timeout: o.Timeout,
	})
	if err != nil {
		return err
	}
	if !started {
		fmt.Fprintf(o.IO.Out, "dev cluster already running at %s; nothing to do\nkubeconfig: %s\n", st.Server, st.Kubeconfig)
		return nil
	}
	fmt.Fprintf(o.IO.Out, "dev cluster ready at %s\n\n  export KUBECONFIG=%s\n  %s get nodes\n\nStop it with `berth dev cluster down`.\n",
		st.Server, st.Kubeconfig, bins.Path("kubectl"))
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
	return tw.Flush()
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
