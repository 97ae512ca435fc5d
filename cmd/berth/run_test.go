package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/devcluster"
	"github.com/berth-dev/berth/internal/freeport"
	"github.com/berth-dev/berth/internal/kubetest"
	"github.com/berth-dev/berth/internal/prom"
)

// TestMakeRunStartsThenReuses runs scripts/run.sh — what `make run` runs — twice, in its
// own state directory and on free ports: the first run starts a dev cluster with the
// machine's real node, a Prometheus and a server reporting to it, sets up the environment
// and team, builds examples/hello into the cluster's registry, deploys it (Prometheus
// scrapes its pods and loads its alert rules) and prints its answer through the ingress;
// the second reuses all of it. Then `run.sh stop` stops them. Whatever is left running is
// stopped even if the test fails.
func TestMakeRunStartsThenReuses(t *testing.T) {
	// make run's cluster takes the machine's real node: this binary's must give it up.
	kubetest.StopRealNode()
	bin := berthBinary(t)
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	runDir, clusterDir := filepath.Join(state, "run"), filepath.Join(state, "dev-cluster")
	port, promPort := freePort(t), freePort(t)
	for promPort == port {
		promPort = freePort(t)
	}
	url, promURL := "http://127.0.0.1:"+port, "http://127.0.0.1:"+promPort
	promPIDFile := filepath.Join(runDir, "prometheus", "prometheus.pid")

	var env []string
	for _, kv := range os.Environ() {
		// The developer's own server, login and directories stay out of it.
		if name, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(name, "BERTH_") || name == devcluster.KubeDirEnv || name == "BERTH_CACHE_DIR" {
			env = append(env, kv)
		}
	}
	// The real node is the machine's one: wait while another test binary has it.
	env = append(env, "BERTH_BIN="+bin, "BERTH_STATE_DIR="+state, "BERTH_RUN_PORT="+port,
		"BERTH_PROMETHEUS_PORT="+promPort, "BERTH_REAL_NODE=on", "BERTH_REAL_NODE_WAIT=30m")
	script := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 35*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(root, "scripts", "run.sh"), args...)
		cmd.Dir, cmd.Env = root, env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	// Registered before anything starts, so that it runs however the test ends; it goes
	// around the script, in case the script is what is broken.
	var serverPID, promPID int
	t.Cleanup(func() {
		if serverPID == 0 { // the first run failed: it may still have started the server
			serverPID, _ = readPIDFile(filepath.Join(runDir, "server.pid"))
		}
		if serverPID != 0 && running(serverPID) {
			if !t.Failed() {
				t.Errorf("server pid %d still runs after stop", serverPID)
			}
			syscall.Kill(serverPID, syscall.SIGKILL)
		}
		if promPID == 0 {
			promPID, _ = readPIDFile(promPIDFile)
		}
		if promPID != 0 && running(promPID) {
			if !t.Failed() {
				t.Errorf("Prometheus pid %d still runs after stop", promPID)
			}
			syscall.Kill(promPID, syscall.SIGKILL)
		}
		if _, err := os.Stat(clusterDir); err == nil {
			out, err := exec.Command(bin, "dev", "cluster", "down", "--state-dir", clusterDir).CombinedOutput()
			if err != nil {
				t.Errorf("dev cluster down: %v\n%s", err, out)
			}
		}
		// dev's S3 and queue servers: stopped by `run.sh stop`, or here.
		for _, f := range []string{filepath.Join(runDir, "s3", "pid"), filepath.Join(runDir, "nats", "pid")} {
			if pid, err := readPIDFile(f); err == nil && running(pid) {
				if !t.Failed() {
					t.Errorf("%s (pid %d) still runs after stop", f, pid)
				}
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		// dev's PostgreSQL: stopped by `run.sh stop`, or here; its files go with the test.
		if dir, err := os.ReadFile(filepath.Join(runDir, "postgres.dir")); err == nil {
			pgDir := strings.TrimSpace(string(dir))
			if pid, err := readPIDFile(filepath.Join(pgDir, "data", "postmaster.pid")); err == nil && running(pid) {
				if !t.Failed() {
					t.Errorf("dev's PostgreSQL (pid %d) still runs after stop", pid)
				}
				syscall.Kill(pid, syscall.SIGQUIT)
			}
			os.RemoveAll(pgDir)
		}
	})

	out, err := script()
	if err != nil {
		t.Fatalf("first run: %v\n%s", err, out)
	}
	t.Logf("first run:\n%s", out)
	if !strings.Contains(out, "dashboard at "+url+"/") {
		t.Fatalf("first run does not print the dashboard's address %s/", url)
	}
	serverPID = readPID(t, filepath.Join(runDir, "server.pid"))
	tokenFile := filepath.Join(runDir, "admin-token")
	fi, err := os.Stat(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", tokenFile, fi.Mode().Perm())
	}
	data, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(data))
	if !strings.Contains(out, token) {
		t.Errorf("the output does not show the admin token")
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := apiclient.New(url, token)
	if err != nil {
		t.Fatal(err)
	}
	who, err := c.Whoami(ctx)
	if err != nil || who.User != "admin" || !who.GlobalAdmin {
		t.Fatalf("whoami with the printed token = %+v, %v; want the global admin", who, err)
	}
	st, err := c.AppStatus(ctx, "demo", "hello", "dev")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Envs) != 1 || st.Envs[0].Current == nil || st.Envs[0].Current.State != "succeeded" ||
		st.Envs[0].Live == nil || st.Envs[0].Live.Ready != 2 {
		t.Fatalf("demo/hello in dev is not deployed and ready with 2 replicas: %+v", st)
	}
	cluster, err := devcluster.LoadState(clusterDir)
	if err != nil {
		t.Fatal(err)
	}
	if cluster.Node == nil {
		t.Fatal("make run's cluster has no real node")
	}
	appURL := "http://hello.demo.dev.localhost:" + cluster.Node.Ingress[strings.LastIndex(cluster.Node.Ingress, ":")+1:] + "/"
	for _, want := range []string{"examples/hello runs on the real node and answers at", appURL, "  hello from berth"} {
		if !strings.Contains(out, want) {
			t.Errorf("the first run's output lacks %q", want)
		}
	}
	if body := get(t, "http://"+cluster.Node.Ingress+"/", "hello.demo.dev.localhost"); body != "hello from berth\n" {
		t.Errorf("GET %s = %q", appURL, body)
	}

	// dev's Prometheus: it answers, scrapes hello's pods and the server, and has loaded the
	// alert rules the deploy wrote into its directory.
	promPID = readPID(t, promPIDFile)
	if !strings.Contains(out, "Prometheus at "+promURL) {
		t.Errorf("the first run's output does not show Prometheus's address %s", promURL)
	}
	if body := get(t, promURL+"/-/ready", ""); !strings.Contains(body, "Ready") {
		t.Errorf("GET %s/-/ready = %q", promURL, body)
	}
	pc, err := promapi.NewClient(promapi.Config{Address: promURL})
	if err != nil {
		t.Fatal(err)
	}
	papi := v1.NewAPI(pc)
	// Scraped every 5 s: a pod found, scraped and stored takes a few intervals.
	for _, q := range []string{`up{app="hello",env="dev",team="demo"} == 1`, `up{job="berth"} == 1`} {
		kubetest.Eventually(t, 90*time.Second, func(ctx context.Context) error {
			v, _, _, err := papi.Query(ctx, q, time.Now())
			if err != nil {
				return err
			}
			if vec, ok := v.(model.Vector); !ok || len(vec) == 0 {
				return fmt.Errorf("%s: no samples (%v)", q, v)
			}
			return nil
		})
	}
	rules := filepath.Join(runDir, "prometheus", "rules", prom.RuleFileName("dev", "demo-dev", "hello"))
	if _, err := os.Stat(rules); err != nil {
		t.Errorf("hello's alert rules are not in Prometheus's directory: %v", err)
	}
	kubetest.Eventually(t, 30*time.Second, func(ctx context.Context) error {
		r, err := papi.Rules(ctx, nil)
		if err != nil {
			return err
		}
		var names []string
		for _, g := range r.Groups {
			if g.Name == "berth.demo.hello.dev" && len(g.Rules) > 0 {
				return nil
			}
			names = append(names, g.Name)
		}
		return fmt.Errorf("Prometheus's rule groups %v lack berth.demo.hello.dev", names)
	})

	// dev has what a newcomer's resources need: examples/notes gets its database, host
	// name and route, and keeps a note.
	berth := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = root, append(env, "BERTH_SERVER="+url, "BERTH_TOKEN="+token, "BERTH_CONFIG="+filepath.Join(state, "no-config.json"),
			"BERTH_STATE_DIR="+state)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("berth %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	// berth metrics answers for hello in dev from that Prometheus: the kubelet's readiness
	// probes and the requests above are its traffic.
	kubetest.Eventually(t, 90*time.Second, func(ctx context.Context) error {
		cmd := exec.CommandContext(ctx, bin, "metrics", "hello", "--env", "dev", "--since", "5m", "-o", "json")
		cmd.Dir, cmd.Env = root, append(env, "BERTH_SERVER="+url, "BERTH_TOKEN="+token, "BERTH_CONFIG="+filepath.Join(state, "no-config.json"),
			"BERTH_STATE_DIR="+state)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("berth metrics hello --env dev: %v: %s", err, out)
		}
		var sig apiv1.Signals
		if err := json.Unmarshal(out, &sig); err != nil {
			return fmt.Errorf("berth metrics -o json: %v: %s", err, out)
		}
		for _, se := range sig.Series {
			if se.Name == "traffic" && len(se.Points) > 0 {
				return nil
			}
		}
		return fmt.Errorf("berth metrics hello --env dev: no traffic yet: %s", out)
	})
	// dev's synthetic probe passed in make run, and passes again: every step, against make
	// run's PostgreSQL, S3 server and queue server, from a pod of the probe image (bin/berth).
	if !strings.Contains(out, "==> dev's probe (berth probe run --env dev)") || strings.Contains(out, "the probe of dev failed") {
		t.Errorf("the first run does not show dev's probe passing")
	}
	var probe apiv1.ProbeRun
	probeOut := berth("probe", "run", "--env", "dev", "-o", "json") // progress on standard error first
	if err := json.NewDecoder(strings.NewReader(probeOut[max(strings.Index(probeOut, "{"), 0):])).Decode(&probe); err != nil {
		t.Fatalf("berth probe run --env dev -o json: %v\n%s", err, probeOut)
	}
	if probe.State != "succeeded" || len(probe.Steps) != 7 {
		t.Errorf("berth probe run --env dev: %s, %d steps (%s)", probe.State, len(probe.Steps), probe.Reason)
	}
	for _, st := range probe.Steps {
		if !st.OK {
			t.Errorf("probe step %s failed: %s", st.Name, st.Error)
		}
	}
	// The S3 and queue servers run from the run directory, reused by the next run.
	daemonPIDs := map[string]int{}
	for _, name := range []string{"s3", "nats"} {
		daemonPIDs[name] = readPID(t, filepath.Join(runDir, name, "pid"))
		if !running(daemonPIDs[name]) {
			t.Errorf("dev's %s server (pid %d) does not run", name, daemonPIDs[name])
		}
	}
	berth("dev", "image", "build", "examples/notes", "-t", "notes:1.0.0")
	berth("deploy", "-f", "examples/notes/berth.yaml", "--env", "dev", "--wait")
	notesHost := "notes.demo.dev.localhost"
	get(t, "http://"+cluster.Node.Ingress+"/ready", notesHost)
	req, _ := http.NewRequest(http.MethodPost, "http://"+cluster.Node.Ingress+"/notes", strings.NewReader("from make run"))
	req.Host = notesHost
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST a note to examples/notes: %v %v", resp, err)
	}
	if body := get(t, "http://"+cluster.Node.Ingress+"/notes", notesHost); !strings.Contains(body, "from make run") {
		t.Errorf("examples/notes lists %q", body)
	}

	out, err = script()
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, out)
	}
	t.Logf("second run:\n%s", out)
	if !strings.Contains(out, "dashboard at "+url+"/") {
		t.Errorf("second run does not print the dashboard's address")
	}
	if pid := readPID(t, filepath.Join(runDir, "server.pid")); pid != serverPID {
		t.Errorf("second run started server pid %d; want pid %d reused", pid, serverPID)
	}
	if pid := readPID(t, promPIDFile); pid != promPID || !running(promPID) {
		t.Errorf("second run has Prometheus pid %d; want pid %d reused", pid, promPID)
	}
	for name, was := range daemonPIDs {
		if pid := readPID(t, filepath.Join(runDir, name, "pid")); pid != was || !running(was) {
			t.Errorf("second run has dev's %s server pid %d; want pid %d reused", name, pid, was)
		}
	}
	if again, err := devcluster.LoadState(clusterDir); err != nil || !again.StartedAt.Equal(cluster.StartedAt) {
		t.Errorf("second run did not reuse the cluster started at %s: %+v, %v", cluster.StartedAt, again, err)
	}
	if !strings.Contains(out, "  hello from berth") {
		t.Errorf("the second run does not show the app's answer")
	}
	if ds, err := c.Deploys(ctx, "demo", "hello", "dev", 10); err != nil || len(ds) != 1 {
		t.Errorf("deploys after the second run: %d, %v; want the first run's one (unchanged manifest)", len(ds), err)
	}
	log, err := os.ReadFile(filepath.Join(runDir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(log), token) {
		t.Errorf("server.log contains the admin token")
	}

	out, err = script("stop")
	if err != nil {
		t.Fatalf("stop: %v\n%s", err, out)
	}
	t.Logf("stop:\n%s", out)
	if running(serverPID) {
		t.Errorf("server pid %d still runs after stop", serverPID)
	}
	if running(promPID) {
		t.Errorf("Prometheus pid %d still runs after stop", promPID)
	}
	if _, err := os.Stat(clusterDir); !os.IsNotExist(err) {
		t.Errorf("cluster state %s still there after stop: %v", clusterDir, err)
	}
	for _, p := range cluster.Processes {
		kubetest.Eventually(t, 10*time.Second, func(context.Context) error {
			if running(p.PID) {
				return fmt.Errorf("%s (pid %d) still runs after stop", p.Name, p.PID)
			}
			return nil
		})
	}
}

// running reports whether pid runs: a zombie, exited but not yet reaped, has no command line.
func running(pid int) bool {
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return err == nil && len(cmdline) > 0
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	pid, err := readPIDFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func readPIDFile(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return pid, nil
}

func freePort(t *testing.T) string {
	t.Helper()
	p, err := freeport.Pick()
	if err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(p)
}
