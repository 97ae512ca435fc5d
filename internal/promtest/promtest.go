// Package promtest runs a real Prometheus for tests: prometheus and promtool, built from the
// Go module proxy by tools/prometheus/build.sh. Each server scrapes and evaluates rules every
// second (by default) on a free loopback port, keeps its data and config in a directory of the
// test's, and takes a new config through its lifecycle API; promtool checks rule files.
package promtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/berth-dev/berth/internal/freeport"
	"github.com/berth-dev/berth/internal/tooltest"
)

// startTimeout bounds a start, from exec to /-/ready answering: longer than the other test
// servers' because Prometheus opens its TSDB and loads its config and rules first.
const startTimeout = 60 * time.Second

// requestTimeout bounds each HTTP request to the server; reloadTimeout a reload, which
// answers only once the new config and its rules are loaded.
const (
	requestTimeout = 10 * time.Second
	reloadTimeout  = 30 * time.Second
)

// promtoolTimeout bounds a run of promtool.
const promtoolTimeout = time.Minute

// Config is what a server's prometheus.yml says.
type Config struct {
	// ScrapeInterval and EvaluationInterval are the global intervals; 0 means 1s each.
	ScrapeInterval, EvaluationInterval time.Duration
	// ScrapeConfigs is YAML of a list of Prometheus scrape_configs entries (what goes under
	// scrape_configs:), "" for none.
	ScrapeConfigs string
	// RuleFiles are glob patterns of rule files to load (rule_files:); relative ones are
	// relative to the server's Dir.
	RuleFiles []string
}

// Server is a running Prometheus.
type Server struct {
	// URL is http://127.0.0.1:PORT, its web and API address.
	URL string
	// Dir holds its config (prometheus.yml) and its TSDB (data/).
	Dir string
	// Log is its output.
	Log string

	config string
	api    v1.API
}

// binary builds (or finds in the cache) Prometheus and promtool and returns the path of name.
func binary(name string) (string, error) {
	dir, err := tooltest.Build("prometheus")
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, name), nil
}

// Start runs a new Prometheus for the test with config c, stopped when the test ends.
func Start(t testing.TB, c Config) *Server {
	t.Helper()
	bin, err := binary("prometheus")
	if err != nil {
		t.Fatalf("promtest: %v", err)
	}
	port, err := freeport.Pick()
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	dir := t.TempDir()
	s := &Server{URL: "http://" + addr, Dir: dir, Log: filepath.Join(dir, "prometheus.log"),
		config: filepath.Join(dir, "prometheus.yml")}
	client, err := api.NewClient(api.Config{Address: s.URL, Client: &http.Client{Timeout: requestTimeout}})
	if err != nil {
		t.Fatalf("promtest: API client: %v", err)
	}
	s.api = v1.NewAPI(client)
	if err := os.WriteFile(s.config, render(c), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(s.Log)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	// The scrape manager applies new targets, at start and after a reload, on a ticker of
	// 5s by default (a hidden flag): shorter, a test's targets are scraped within a second.
	cmd := exec.Command(bin, "--config.file="+s.config, "--web.listen-address="+addr,
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.enable-lifecycle",
		"--scrape.discovery-reload-interval=100ms")
	cmd.Stdout, cmd.Stderr = logf, logf
	// Die with the test binary if it is killed before the cleanup runs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("promtest: start prometheus: %v", err)
	}
	// exited is closed once it has exited, with waitErr set: unlike a value sent on a
	// channel, a close is seen by both the start's wait and the cleanup.
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	if err := s.waitReady(exited, &waitErr); err != nil {
		t.Fatalf("promtest: prometheus at %s did not start: %v\nthe end of its log:\n%s", s.URL, err, s.tail())
	}
	return s
}

// render is the prometheus.yml of c. The generated parts are JSON, which YAML reads as is.
func render(c Config) []byte {
	interval := func(d time.Duration) string {
		if d == 0 {
			d = time.Second
		}
		// Prometheus's own format: time.Duration's (1.5s, 1m0s) is not all accepted.
		return model.Duration(d).String()
	}
	global, _ := json.Marshal(map[string]string{
		"scrape_interval":     interval(c.ScrapeInterval),
		"evaluation_interval": interval(c.EvaluationInterval),
	})
	rules, _ := json.Marshal(append([]string{}, c.RuleFiles...))
	var b bytes.Buffer
	fmt.Fprintf(&b, "global: %s\nrule_files: %s\n", global, rules)
	if strings.TrimSpace(c.ScrapeConfigs) != "" {
		// Indenting every line keeps the list's own indentation, whatever it starts at.
		b.WriteString("scrape_configs:\n")
		for line := range strings.Lines(strings.TrimRight(c.ScrapeConfigs, "\n") + "\n") {
			if strings.TrimSpace(line) != "" {
				b.WriteString("  ")
			}
			b.WriteString(line)
		}
	}
	return b.Bytes()
}

// waitReady polls /-/ready until it answers 200 OK (the TSDB is open and the config loaded),
// the server exits, or startTimeout passes.
func (s *Server) waitReady(exited <-chan struct{}, waitErr *error) error {
	c := &http.Client{Timeout: 2 * time.Second}
	deadline := time.After(startTimeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := c.Get(s.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("%s", resp.Status)
		}
		select {
		case <-exited:
			return fmt.Errorf("it exited: %v", *waitErr)
		case <-deadline:
			return fmt.Errorf("/-/ready did not answer 200 within %s (last: %v)", startTimeout, err)
		case <-tick.C:
		}
	}
}

// tail is the end of the server's log.
func (s *Server) tail() string {
	log, _ := os.ReadFile(s.Log)
	return tooltest.Tail(string(log), 30)
}

// Reload makes the server read its config file and rule files again; it answers once they
// are loaded, or that they were not, which fails the test. The server keeps its previous
// config then, and says why only in its log (a rule file's parse error, say), hence the tail.
func (s *Server) Reload(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), reloadTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/-/reload", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("promtest: reload prometheus at %s: %v", s.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("promtest: reload prometheus at %s: %s: %s\nthe end of its log:\n%s", s.URL, resp.Status,
			strings.TrimSpace(string(body)), s.tail())
	}
}

// WriteConfig replaces the server's config with c and reloads it.
func (s *Server) WriteConfig(t testing.TB, c Config) {
	t.Helper()
	if err := os.WriteFile(s.config, render(c), 0o600); err != nil {
		t.Fatal(err)
	}
	s.Reload(t)
}

// Query evaluates an instant query now; a result other than a vector is an error.
func (s *Server) Query(ctx context.Context, promql string) (model.Vector, error) {
	// Warnings and infos (e.g. on a counter's name) are Prometheus's advice, not failures.
	v, _, _, err := s.api.Query(ctx, promql, time.Now())
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", promql, err)
	}
	vec, ok := v.(model.Vector)
	if !ok {
		return nil, fmt.Errorf("query %q: the result is a %s, not a vector", promql, v.Type())
	}
	return vec, nil
}

// Alerts returns the alerts of the server's alerting rules now, pending and firing.
func (s *Server) Alerts(ctx context.Context) ([]v1.Alert, error) {
	r, err := s.api.Alerts(ctx)
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	return r.Alerts, nil
}

// CheckRules runs promtool check rules on files, failing the test with promtool's output if
// it finds them wrong.
func CheckRules(t testing.TB, files ...string) {
	t.Helper()
	out, err := Promtool(files...)
	if err != nil {
		t.Fatalf("promtest: %v\n%s", err, out)
	}
}

// Promtool runs promtool check rules on files and returns its output (stdout and stderr),
// and an error if it could not run or exited non-zero (the files are wrong).
func Promtool(files ...string) (output string, err error) {
	bin, err := binary("promtool")
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), promtoolTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, append([]string{"check", "rules"}, files...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("promtool check rules %s: %w", strings.Join(files, " "), err)
	}
	return string(out), nil
}
