package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/devcluster"
)

// ClusterPrometheusConfigOptions are the inputs of `berth dev cluster prometheus-config`.
type ClusterPrometheusConfigOptions struct {
	*ClusterOptions
	Berth    string
	RulesDir string
	Interval string
}

// NewCmdClusterPrometheusConfig returns `berth dev cluster prometheus-config`; co holds the
// parent's --state-dir.
func NewCmdClusterPrometheusConfig(co *ClusterOptions, runF func(*ClusterPrometheusConfigOptions) error) *cobra.Command {
	o := &ClusterPrometheusConfigOptions{ClusterOptions: co}
	cmd := &cobra.Command{
		Use:   "prometheus-config --berth HOST:PORT --rules-dir DIR",
		Short: "Print a prometheus.yml that watches the local cluster and a Berth server",
		Long: `Prints, on standard output, a whole Prometheus configuration for the running local
cluster, and nothing else. The Prometheus it configures scrapes, every --interval:

  - the pods, in every namespace, annotated prometheus.io/scrape=true (what a manifest's
    metrics: asks for), at the port and path of their annotations, found through the
    cluster's kubeconfig and labelled team, app and env from the pods' labels: what the
    alert rules Berth renders select by (job berth-pods);
  - the real node's kubelet's resource metrics (/metrics/resource), the containers' CPU, memory
    and restarts, with the cluster's admin client certificate (job berth-kubelet; only
    when the cluster has a real node: simulated nodes serve no metrics);
  - the Berth server at --berth, its own /metrics (job berth).

It loads the rule files in --rules-dir (DIR/*.rules.yaml): start ` + "`berth server`" + ` with
--prometheus-rules-dir DIR and --prometheus-url of that Prometheus, and every deploy writes
its app's alert rules there and makes Prometheus reload them (Prometheus must run with
--web.enable-lifecycle). The paths in the configuration are the cluster's own files: a
cluster restarted by ` + "`berth dev cluster up`" + ` keeps them, but Prometheus must be restarted to
read the new kubeconfig.

` + "`make run`" + ` runs a Prometheus with this configuration (scripts/run.sh).`,
		Example: `  # The configuration make run writes
  berth dev cluster prometheus-config --berth 127.0.0.1:8080 --rules-dir ~/prom/rules > ~/prom/prometheus.yml
  prometheus --config.file ~/prom/prometheus.yml --storage.tsdb.path ~/prom/data --web.enable-lifecycle &
  berth server --prometheus-url http://127.0.0.1:9090 --prometheus-rules-dir ~/prom/rules ...

  # Scrape every 15 seconds instead of every 5
  berth dev cluster prometheus-config --berth 127.0.0.1:8080 --rules-dir ~/prom/rules --interval 15s`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if runF != nil {
				return runF(o)
			}
			return clusterPrometheusConfigRun(o)
		},
	}
	cmd.Flags().StringVar(&o.Berth, "berth", "", "the Berth server to scrape, HOST:PORT as its --listen (e.g. 127.0.0.1:8080)")
	cmd.Flags().StringVar(&o.RulesDir, "rules-dir", "", "the directory of apps' rule files: the server's --prometheus-rules-dir")
	cmd.Flags().StringVar(&o.Interval, "interval", "5s", "how often Prometheus scrapes and evaluates rules (a Prometheus duration: 5s, 1m)")
	_ = cmd.MarkFlagRequired("berth")
	_ = cmd.MarkFlagRequired("rules-dir")
	return cmd
}

func clusterPrometheusConfigRun(o *ClusterPrometheusConfigOptions) error {
	st, err := devcluster.LoadState(o.StateDir)
	if err != nil {
		return err
	}
	data, err := devcluster.PrometheusConfig(st, o.Berth, o.RulesDir, o.Interval)
	if err != nil {
		return &UsageError{Err: err}
	}
	_, err = o.IO.Out.Write(data)
	if err != nil {
		return fmt.Errorf("write the configuration: %w", err)
	}
	return nil
}
