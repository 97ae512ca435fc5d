package devcluster_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/devcluster"
)

// PrometheusConfig scrapes the cluster's pods, the real node's kubelet only when there is
// one, and the Berth server, loads the rules directory, and names every file absolutely.
func TestPrometheusConfig(t *testing.T) {
	dir := t.TempDir()
	st := &devcluster.State{Dir: dir, Kubeconfig: filepath.Join(dir, "kubeconfig")}
	withNode := *st
	withNode.Node = &devcluster.NodeState{Name: "real"}
	for _, tc := range []struct {
		name       string
		st         *devcluster.State
		want, none []string
	}{
		{"real node", &withNode, []string{
			"scrape_interval: 5s", "job_name: berth-pods", "job_name: berth-kubelet", "job_name: berth\n",
			"kubeconfig_file: " + filepath.Join(dir, "kubeconfig"), "cert_file: " + filepath.Join(dir, "pki", "admin.crt"),
			"targets: ['127.0.0.1:8080']", `- "` + filepath.Join(dir, "rules", "*.rules.yaml") + `"`,
		}, nil},
		{"simulated nodes only", st, []string{"job_name: berth-pods", "job_name: berth\n"}, []string{"berth-kubelet", "cert_file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := devcluster.PrometheusConfig(tc.st, "127.0.0.1:8080", filepath.Join(dir, "rules"), "5s")
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(data), w) {
					t.Errorf("lacks %q:\n%s", w, data)
				}
			}
			for _, n := range tc.none {
				if strings.Contains(string(data), n) {
					t.Errorf("has %q:\n%s", n, data)
				}
			}
		})
	}

	// A relative directory would be read relative to prometheus.yml's.
	t.Chdir(dir)
	data, err := devcluster.PrometheusConfig(&devcluster.State{Dir: "cluster"}, "", "rules", "1m30s")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"kubeconfig_file: " + filepath.Join(dir, "cluster", "kubeconfig"), filepath.Join(dir, "rules", "*.rules.yaml")} {
		if !strings.Contains(string(data), w) {
			t.Errorf("lacks %q:\n%s", w, data)
		}
	}

	for _, bad := range [][2]string{{"127.0.0.1", "5s"}, {"127.0.0.1:8080", "5"}, {"127.0.0.1:8080", "five seconds"}, {"127.0.0.1:8080", ""}} {
		if _, err := devcluster.PrometheusConfig(st, bad[0], "", bad[1]); err == nil {
			t.Errorf("berth %q, interval %q: no error", bad[0], bad[1])
		}
	}
}
