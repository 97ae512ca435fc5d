package cli_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/cli"
	"github.com/berth-dev/berth/internal/devcluster"
)

// prometheus-config prints only the configuration, for the cluster the state directory
// holds; without one it says how to start one.
func TestDevClusterPrometheusConfig(t *testing.T) {
	state := filepath.Join(t.TempDir(), "dev-cluster")
	args := []string{"dev", "cluster", "prometheus-config", "--state-dir", state, "--berth", "127.0.0.1:8080", "--rules-dir", "/run/rules"}
	if _, _, err := run(t, args...); !errors.Is(err, devcluster.ErrNotRunning) || !strings.Contains(err.Error(), "berth dev cluster up") {
		t.Errorf("without a cluster: %v, want ErrNotRunning saying how to start one", err)
	}

	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	// What `up` records, as far as the configuration reads it.
	record := `{"dir": "` + state + `", "kubeconfig": "` + filepath.Join(state, "kubeconfig") + `", "node": {"name": "real"}}`
	if err := os.WriteFile(filepath.Join(state, "cluster.json"), []byte(record), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := run(t, args...)
	if err != nil || errOut != "" {
		t.Fatalf("prometheus-config: %v\n%s", err, errOut)
	}
	for _, want := range []string{"# Written by Berth", "scrape_interval: 5s", "job_name: berth-kubelet",
		"kubeconfig_file: " + filepath.Join(state, "kubeconfig"), `"/run/rules/*.rules.yaml"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the configuration lacks %q:\n%s", want, out)
		}
	}

	var usage *cli.UsageError
	for _, bad := range [][]string{{"--interval", "often"}, {"--berth", "localhost"}} {
		if _, _, err := run(t, append(args, bad...)...); !errors.As(err, &usage) {
			t.Errorf("%v: %v, want a usage error", bad, err)
		}
	}
	if _, _, err := run(t, "dev", "cluster", "prometheus-config", "--state-dir", state, "--berth", "127.0.0.1:8080"); err == nil ||
		!strings.Contains(err.Error(), "rules-dir") {
		t.Errorf("without --rules-dir: %v", err)
	}
}
