package devcluster

import (
	"fmt"
	"net"
	"path/filepath"
	"regexp"

	"github.com/berth-dev/berth/internal/prom"
)

// promDuration is a Prometheus duration as its configuration takes it: 5s, 1m30s, 500ms.
var promDuration = regexp.MustCompile(`^([0-9]+(ms|s|m|h|d|w|y))+$`)

// PrometheusConfig renders a whole prometheus.yml for a Prometheus watching the dev cluster
// of st: the pods of every namespace that ask to be scraped (prometheus.io/scrape, labelled
// team, app and env as Berth's alert rules select), the real node's kubelet's resource metrics
// (with the cluster's admin client certificate, which the kubelet accepts; only when st has
// a real node, the simulated nodes serve no metrics), the Berth server at berthAddr
// (host:port; "" for none), every interval (a Prometheus duration), and the rule files a
// server started with --prometheus-rules-dir rulesDir writes ("" for none). Paths in it are
// absolute: Prometheus reads them relative to its configuration file otherwise.
func PrometheusConfig(st *State, berthAddr, rulesDir, interval string) ([]byte, error) {
	if !promDuration.MatchString(interval) {
		return nil, fmt.Errorf("scrape interval %q: want a Prometheus duration such as 5s or 1m", interval)
	}
	dir, err := filepath.Abs(st.Dir)
	if err != nil {
		return nil, err
	}
	kubeconfig := st.Kubeconfig
	if kubeconfig == "" {
		kubeconfig = filepath.Join(dir, "kubeconfig")
	}
	if kubeconfig, err = filepath.Abs(kubeconfig); err != nil {
		return nil, err
	}
	o := prom.ScrapeOptions{Kubeconfig: kubeconfig, Interval: interval}
	if st.Node != nil {
		pki := filepath.Join(dir, "pki")
		o.CAFile, o.CertFile, o.KeyFile = filepath.Join(pki, "ca.crt"), filepath.Join(pki, "admin.crt"), filepath.Join(pki, "admin.key")
	}
	if berthAddr != "" {
		if _, port, err := net.SplitHostPort(berthAddr); err != nil || port == "" {
			return nil, fmt.Errorf("berth server address %q: want HOST:PORT, e.g. 127.0.0.1:8080", berthAddr)
		}
		o.Berth = []string{berthAddr}
	}
	sc, err := prom.ScrapeConfigs(o)
	if err != nil {
		return nil, err
	}
	var globs []string
	if rulesDir != "" {
		abs, err := filepath.Abs(rulesDir)
		if err != nil {
			return nil, err
		}
		globs = []string{filepath.Join(abs, "*"+prom.RuleFileSuffix)}
	}
	return prom.Config(interval, sc, globs), nil
}
