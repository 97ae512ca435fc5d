package cli_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/cli"
	"github.com/berth-dev/berth/internal/devcluster"
)

func run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	s, _, out, errOut := cli.Test()
	err = cli.Execute(context.Background(), &cli.Factory{IO: s}, args)
	return out.String(), errOut.String(), err
}

func TestDevClusterUpIsIdempotentAndDownStopsEverything(t *testing.T) {
	state := filepath.Join(t.TempDir(), "cluster")
	t.Cleanup(func() { devcluster.Down(context.Background(), state, nil) })

	out, progress, err := run(t, "dev", "cluster", "up", "--state-dir", state, "--real-node=off")
	if err != nil {
		t.Fatalf("up: %v\n%s", err, progress)
	}
	if !strings.Contains(out, "dev cluster ready at https://127.0.0.1:") {
		t.Errorf("up output:\n%s", out)
	}
	for _, step := range []string{"starting etcd", "starting kube-apiserver", "starting kwok", "Ready node"} {
		if !strings.Contains(progress, step) {
			t.Errorf("up progress does not mention %q:\n%s", step, progress)
		}
	}

	out, _, err = run(t, "dev", "cluster", "up", "--state-dir", state, "--real-node=off")
	if err != nil || !strings.Contains(out, "already running") || !strings.Contains(out, "nothing to do") {
		t.Fatalf("second up: err %v, output:\n%s", err, out)
	}

	out, _, err = run(t, "dev", "cluster", "status", "--state-dir", state, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var status devcluster.Status
	if err := json.Unmarshal([]byte(out), &status); err != nil {
		t.Fatalf("status -o json: %v\n%s", err, out)
	}
	if !status.Ready || len(status.Components) != len(devcluster.Programs) {
		t.Fatalf("status: %+v", status)
	}
	for _, c := range status.Components {
		if !c.Running {
			t.Errorf("%s not running", c.Name)
		}
	}

	out, _, err = run(t, "dev", "cluster", "kubeconfig", "--state-dir", state)
	if err != nil {
		t.Fatal(err)
	}
	path := strings.TrimSuffix(out, "\n")
	if strings.Contains(path, "\n") || path != filepath.Join(state, "kubeconfig") {
		t.Errorf("kubeconfig printed %q, want only the path", out)
	}
	if _, err := os.Stat(path); err != nil {
		t.Error(err)
	}

	st, err := devcluster.LoadState(state)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, "dev", "cluster", "down", "--state-dir", state); err != nil {
		t.Fatal(err)
	}
	for _, p := range st.Processes {
		if _, err := os.Stat(filepath.Join("/proc", itoa(p.PID))); err == nil {
			cmdline, _ := os.ReadFile(filepath.Join("/proc", itoa(p.PID), "cmdline"))
			if strings.HasPrefix(string(cmdline), p.Binary) {
				t.Errorf("%s (pid %d) still running after down", p.Name, p.PID)
			}
		}
	}
	for name, port := range st.Ports {
		if devcluster.Listening(port) {
			t.Errorf("port %d (%s) still listening after down", port, name)
		}
	}
	if _, err := os.Stat(state); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state dir left after down: %v", err)
	}

	out, _, err = run(t, "dev", "cluster", "down", "--state-dir", state)
	if err != nil || !strings.Contains(out, "nothing to stop") {
		t.Errorf("second down: err %v, output %q", err, out)
	}
	if _, _, err := run(t, "dev", "cluster", "kubeconfig", "--state-dir", state); !errors.Is(err, devcluster.ErrNotRunning) {
		t.Errorf("kubeconfig after down: %v, want ErrNotRunning", err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
