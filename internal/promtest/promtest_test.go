package promtest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/berth-dev/berth/internal/promtest"
)

// waitLimit bounds each wait for a scrape or a rule evaluation: a few of the 1s intervals,
// with room for a loaded machine.
const waitLimit = 30 * time.Second

// answer serves a registry with the gauge promtest_answer at 42 on loopback and returns the
// scrape_configs entry that scrapes it.
func answer(t *testing.T) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "promtest_answer", Help: "The answer."})
	g.Set(42)
	reg.MustRegister(g)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("- job_name: answer\n  static_configs:\n    - targets: [%q]\n", u.Host)
}

// ruleFile writes an alerting rule file (the alert PromtestAnswerHigh, firing as soon as
// promtest_answer > 1) into a directory of the test's and returns its path.
func ruleFile(t *testing.T) string {
	t.Helper()
	return writeFile(t, "answer.rules.yml", `groups:
  - name: promtest
    rules:
      - alert: PromtestAnswerHigh
        expr: promtest_answer > 1
        for: 0s
        labels:
          severity: page
`)
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// poll calls check every 100 ms until it returns nil, failing the test with its last error
// after waitLimit; each call gets a context bounded by the wait's deadline.
func poll(t *testing.T, check func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		err := check(ctx)
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("gave up after %s: %v", waitLimit, err)
		case <-tick.C:
		}
	}
}

// firing is a check that the alert PromtestAnswerHigh fires on srv.
func firing(srv *promtest.Server) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		alerts, err := srv.Alerts(ctx)
		if err != nil {
			return err
		}
		for _, a := range alerts {
			if a.Labels["alertname"] == "PromtestAnswerHigh" {
				if a.State != v1.AlertStateFiring {
					return fmt.Errorf("PromtestAnswerHigh is %s", a.State)
				}
				if a.Labels["severity"] != "page" {
					return fmt.Errorf("PromtestAnswerHigh fires with labels %v, without its rule's", a.Labels)
				}
				return nil
			}
		}
		return fmt.Errorf("no alert PromtestAnswerHigh among %d", len(alerts))
	}
}

// TestQuery: a gauge of a target in the scrape config is queried back with its value.
func TestQuery(t *testing.T) {
	t.Parallel()
	srv := promtest.Start(t, promtest.Config{ScrapeConfigs: answer(t)})
	poll(t, func(ctx context.Context) error {
		vec, err := srv.Query(ctx, "promtest_answer")
		if err != nil {
			return err
		}
		if len(vec) != 1 || vec[0].Value != 42 || vec[0].Metric["job"] != "answer" {
			return fmt.Errorf("promtest_answer is %v, want one sample of job answer at 42", vec)
		}
		return nil
	})
	if _, err := srv.Query(t.Context(), "scalar(promtest_answer)"); err == nil {
		t.Error("a scalar result was returned as a vector")
	}
}

// TestAlertFires: an alerting rule of a rule file given at start fires.
func TestAlertFires(t *testing.T) {
	t.Parallel()
	srv := promtest.Start(t, promtest.Config{ScrapeConfigs: answer(t), RuleFiles: []string{ruleFile(t)}})
	poll(t, firing(srv))
}

// TestWriteConfigReloads: a rule file added to the config after start is loaded by the
// reload and its alert fires; a config Prometheus refuses fails the reload.
func TestWriteConfigReloads(t *testing.T) {
	t.Parallel()
	scrape := answer(t)
	srv := promtest.Start(t, promtest.Config{ScrapeConfigs: scrape, ScrapeInterval: 500 * time.Millisecond})
	// Once the gauge is scraped, the alert could fire if its rule were loaded.
	poll(t, func(ctx context.Context) error {
		vec, err := srv.Query(ctx, "promtest_answer")
		if err == nil && len(vec) == 0 {
			err = errors.New("promtest_answer not scraped yet")
		}
		return err
	})
	alerts, err := srv.Alerts(t.Context())
	if err != nil || len(alerts) != 0 {
		t.Fatalf("alerts before the rule file is loaded: %v, %v", alerts, err)
	}
	srv.WriteConfig(t, promtest.Config{ScrapeConfigs: scrape, RuleFiles: []string{ruleFile(t)}})
	poll(t, firing(srv))

	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.WriteConfig(rec, promtest.Config{ScrapeConfigs: scrape, RuleFiles: []string{brokenRuleFile(t)}})
	}()
	<-done
	switch {
	case rec.msg == "":
		t.Error("a reload with a broken rule file succeeded")
	case !strings.Contains(rec.msg, "reload") || !strings.Contains(rec.msg, "broken.rules.yml"):
		t.Errorf("a reload with a broken rule file failed with %q, want it to name the reload and the file", rec.msg)
	}
	// Prometheus keeps the config it had.
	if err := firing(srv)(t.Context()); err != nil {
		t.Errorf("after the refused reload: %v", err)
	}
}

// fatalRecorder is a test that records its failure instead of failing the real one.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatal(args ...any) { r.Fatalf("%s", fmt.Sprint(args...)) }

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// TestPromtool: promtool accepts the rule file and refuses a broken one, saying which and why.
func TestPromtool(t *testing.T) {
	t.Parallel()
	promtest.CheckRules(t, ruleFile(t))
	broken := brokenRuleFile(t)
	out, err := promtest.Promtool(broken)
	if err == nil {
		t.Fatalf("promtool accepted %s:\n%s", broken, out)
	}
	if !strings.Contains(out, broken) || !strings.Contains(out, "parse") {
		t.Errorf("promtool's output names neither %s nor the parse error:\n%s", broken, out)
	}
}

// brokenRuleFile writes a rule file whose expression does not parse.
func brokenRuleFile(t *testing.T) string {
	t.Helper()
	return writeFile(t, "broken.rules.yml", `groups:
  - name: promtest
    rules:
      - alert: Broken
        expr: sum(
`)
}
