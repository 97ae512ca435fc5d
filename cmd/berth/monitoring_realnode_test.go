package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/kubetest"
	"github.com/berth-dev/berth/internal/prom"
	"github.com/berth-dev/berth/internal/promtest"
	"github.com/berth-dev/berth/internal/web/webtest"
)

// monitoredHello is examples/hello as team shop's app with its metrics declared, an
// availability SLO, and alerts quick enough for a test (the server shortens their windows
// 60 times: 5m becomes 5s).
func monitoredHello(name, host string) string {
	return helloManifest(name, host) + `metrics:
  port: 8080
  requests: hello_http_requests_total
  duration: hello_http_request_duration_seconds
slo:
  availability: 99.9
alerts:
  errorRatio: 10
environments:
  staging:
    containers:
      web: {resources: {limits: {memory: 64Mi}}}
`
}

// devPrometheus starts a real Prometheus scraping, every second, the pods of namespace ns
// on the real node's cluster, the node's kubelet (its resource metrics), and (once set with scrapeBerth) a Berth
// server, with the rule files in rulesDir loaded. It returns the Prometheus and a function
// adding the Berth server at addr to what it scrapes.
func devPrometheus(t *testing.T, cluster *kubetest.RealNodeCluster, ns, rulesDir string) (*promtest.Server, func(addr string)) {
	t.Helper()
	pki := filepath.Join(cluster.State.Dir, "pki")
	opts := prom.ScrapeOptions{Kubeconfig: cluster.Kubeconfig, Namespaces: []string{ns},
		CAFile: filepath.Join(pki, "ca.crt"), CertFile: filepath.Join(pki, "admin.crt"), KeyFile: filepath.Join(pki, "admin.key")}
	config := func() promtest.Config {
		sc, err := prom.ScrapeConfigs(opts)
		if err != nil {
			t.Fatal(err)
		}
		return promtest.Config{ScrapeInterval: time.Second, EvaluationInterval: time.Second,
			ScrapeConfigs: string(sc), RuleFiles: []string{filepath.Join(rulesDir, "*"+prom.RuleFileSuffix)}}
	}
	p := promtest.Start(t, config())
	return p, func(addr string) {
		opts.Berth = []string{addr}
		p.WriteConfig(t, config())
	}
}

// loadHello sends GET requests to app through the ingress at addr (Host host) until ctx
// ends: every failEvery-th one to /fail, which answers 500, the rest to /. At most one
// request at a time, one every 20 ms; loopback only.
func loadHello(ctx context.Context, addr, host string, failEvery int) (wait func() (sent int)) {
	var wg sync.WaitGroup
	sent := 0
	wg.Go(func() {
		c := &http.Client{Timeout: 5 * time.Second}
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			path := "/"
			if failEvery > 0 && i%failEvery == 0 {
				path = "/fail"
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
			req.Host = host
			if resp, err := c.Do(req); err == nil {
				io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
				resp.Body.Close()
				sent++
			}
		}
	})
	return func() int { wg.Wait(); return sent }
}

// firing polls Prometheus's alerts until one named name is firing for app, and returns it.
func firing(t *testing.T, p *promtest.Server, name, app string, within time.Duration) v1.Alert {
	t.Helper()
	deadline := time.Now().Add(within)
	var seen []string
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		alerts, err := p.Alerts(ctx)
		cancel()
		seen = seen[:0]
		for _, a := range alerts {
			seen = append(seen, fmt.Sprintf("%s{app=%s} %s", a.Labels["alertname"], a.Labels["app"], a.State))
			if string(a.Labels["alertname"]) == name && string(a.Labels["app"]) == app && a.State == v1.AlertStateFiring {
				return a
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("alert %s of %s never fired within %s (last error %v); alerts: %v", name, app, within, err, seen)
		}
		time.Sleep(time.Second) // Prometheus evaluates the rules every second
	}
}

// TestRealNodeAlertsFire deploys examples/hello with metrics and an SLO onto the real node,
// with a real Prometheus scraping it: the rules the deploy rendered reach Prometheus's rule
// directory (and promtool accepts them), and injected errors fire the error-ratio and the
// SLO's burn-rate alerts, labelled with the app, team and environment. Prometheus also
// scrapes the kubelet's resource metrics and Berth itself.
func TestRealNodeAlertsFire(t *testing.T) {
	cluster := kubetest.RealNode(t)
	ns := "shop-" + strings.ToLower(strings.ReplaceAll(t.Name(), "_", "-"))
	rulesDir := t.TempDir()
	p, scrapeBerth := devPrometheus(t, cluster, ns, rulesDir)
	dataDir := t.TempDir()
	srv := startServer(t, dataDir, "--prometheus-url", p.URL, "--prometheus-rules-dir", rulesDir, "--alert-time-scale", "60")
	scrapeBerth(strings.TrimPrefix(srv.url, "http://"))
	if got, _ := realNodeShop(t, srv); got.State.Dir != cluster.State.Dir {
		t.Fatalf("two real-node clusters: %s and %s", got.State.Dir, cluster.State.Dir)
	}

	host := "alerts." + ns + ".localhost"
	out, code := runBerth(t, srv, "deploy", "-f", writeManifest(t, monitoredHello("alerts", host)), "--env", "staging", "--wait")
	if code != 0 || !strings.Contains(out, "succeeded") {
		t.Fatalf("deploy: exit %d\n%s", code, out)
	}
	rules := filepath.Join(rulesDir, prom.RuleFileName("staging", ns, "alerts"))
	data, err := os.ReadFile(rules)
	if err != nil {
		t.Fatalf("the deploy handed no rules to Prometheus: %v", err)
	}
	for _, want := range []string{"BerthErrorRatioHigh", "BerthSLOAvailabilityBurn", "BerthLatencyP99High", "BerthRestarting", "BerthMemorySaturation"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("rules lack %s:\n%s", want, data)
		}
	}
	promtest.CheckRules(t, rules)

	// Berth and the kubelet's resource metrics are scraped; so are the app's pods, labelled.
	waitQuery(t, p, `berth_http_requests_total{job="berth",route=~".*deploys.*"}`, 60*time.Second)
	waitQuery(t, p, fmt.Sprintf(`container_memory_working_set_bytes{namespace=%q,container="web"}`, ns), 90*time.Second)
	waitQuery(t, p, `up{job="berth-pods",team="shop",app="alerts",env="staging"} == 1`, 60*time.Second)

	// Clean traffic first: for longer than the rules' 5s, no error alert is even pending.
	clean, stopClean := context.WithTimeout(context.Background(), 2*time.Minute)
	waitClean := loadHello(clean, cluster.Node.Ingress, host, 0)
	waitQuery(t, p, `sum(rate(hello_http_requests_total{app="alerts",code="200"}[5s])) > 0`, 60*time.Second)
	for quiet := time.Now().Add(8 * time.Second); time.Now().Before(quiet); time.Sleep(time.Second) { // rules run every second
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		alerts, err := p.Alerts(ctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range alerts {
			if a.Labels["app"] == "alerts" && (a.Labels["alertname"] == "BerthErrorRatioHigh" || a.Labels["alertname"] == "BerthSLOAvailabilityBurn") {
				t.Fatalf("%s is %s without a single failed request", a.Labels["alertname"], a.State)
			}
		}
	}
	stopClean()
	waitClean()

	// Then one request in 4 fails: 25% errors against a 10% threshold and a 99.9%
	// objective. The load runs until the checks are done (at most 6 minutes).
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	wait := loadHello(ctx, cluster.Node.Ingress, host, 4)
	ratio := firing(t, p, "BerthErrorRatioHigh", "alerts", 2*time.Minute)
	burn := firing(t, p, "BerthSLOAvailabilityBurn", "alerts", 2*time.Minute)

	// Under that load, berth metrics and the dashboard show the four signals.
	checkSignals(t, srv)
	checkSignalCharts(t, srv)
	cancel()
	t.Logf("%d requests sent", wait())
	for _, a := range []v1.Alert{ratio, burn} {
		if a.Labels["team"] != "shop" || a.Labels["env"] != "staging" {
			t.Errorf("alert %s labelled %v", a.Labels["alertname"], a.Labels)
		}
	}
	if burn.Labels["severity"] != "page" {
		t.Errorf("fast burn is severity %q, want page", burn.Labels["severity"])
	}

	// A server makes the rules directory whole again from the rules ConfigMaps when it
	// starts (and every few minutes): a lost file comes back, a stray one goes.
	stray := filepath.Join(rulesDir, prom.RuleFileName("staging", ns, "gone"))
	if err := os.WriteFile(stray, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(rules); err != nil {
		t.Fatal(err)
	}
	srv.kill9(t)
	srv = startServer(t, dataDir, "--prometheus-url", p.URL, "--prometheus-rules-dir", rulesDir, "--alert-time-scale", "60")
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) { // the sync runs as the server starts
		back, err := os.ReadFile(rules)
		_, strayErr := os.Stat(stray)
		if err == nil && string(back) == string(data) && os.IsNotExist(strayErr) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the restarted server did not mend the rules directory: %v, stray %v", err, strayErr)
		}
	}

	// Deleting the app takes its rules out of Prometheus's directory.
	if out, code := runBerth(t, srv, "apps", "delete", "alerts", "--team", "shop"); code != 0 {
		t.Fatalf("apps delete: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(rules); !os.IsNotExist(err) {
		t.Errorf("rules left after the app was deleted: %v", err)
	}
}

// checkSignals polls `berth metrics` until every signal of the app under load has points:
// latency p50 and p99, traffic, errors near the quarter of requests sent to /fail, CPU and
// memory (against hello's 64Mi memory limit).
func checkSignals(t *testing.T, srv *serverProc) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var last string
	for {
		out, code := runBerth(t, srv, "metrics", "alerts", "--team", "shop", "--env", "staging", "--since", "5m", "-o", "json")
		var s apiv1.Signals
		problem := ""
		switch {
		case code != 0:
			problem = fmt.Sprintf("exit %d: %s", code, out)
		case json.Unmarshal([]byte(out), &s) != nil:
			problem = "not JSON: " + out
		default:
			got := map[string]apiv1.SignalSeries{}
			for _, se := range s.Series {
				got[se.Name] = se
			}
			for _, name := range []string{"latency_p50", "latency_p99", "traffic", "errors", "cpu", "memory"} {
				if len(got[name].Points) == 0 {
					problem += " " + name + ": no points;"
				}
			}
			if problem == "" {
				lastOf := func(name string) float64 { ps := got[name].Points; return ps[len(ps)-1].V }
				if e := lastOf("errors"); e < 0.15 || e > 0.35 {
					problem += fmt.Sprintf(" errors %.3f, want about 0.25;", e)
				}
				if lastOf("traffic") <= 0 || lastOf("latency_p99") < lastOf("latency_p50") || lastOf("memory") <= 0 {
					problem += fmt.Sprintf(" traffic %g, p50 %g, p99 %g, memory %g;", lastOf("traffic"), lastOf("latency_p50"), lastOf("latency_p99"), lastOf("memory"))
				}
				if got["memory"].Limit != 64<<20 {
					problem += fmt.Sprintf(" memory limit %g, want 64Mi;", got["memory"].Limit)
				}
			}
		}
		if problem == "" {
			table, code := runBerth(t, srv, "metrics", "alerts", "--team", "shop", "--env", "staging", "--since", "5m")
			if code != 0 || !strings.Contains(table, "req/s") || !strings.ContainsAny(table, "▁▂▃▄▅▆▇█") {
				t.Errorf("berth metrics: exit %d\n%s", code, table)
			}
			t.Logf("berth metrics:\n%s", table)
			return
		}
		last = problem
		if time.Now().After(deadline) {
			t.Fatalf("berth metrics never showed the four signals: %s", last)
		}
		time.Sleep(2 * time.Second) // a new point every scrape
	}
}

// checkSignalCharts opens the app's page in a real browser: its golden signals section
// (over the last 5 minutes, a point every 3s) draws a line for each signal once it has two
// points; the page is opened again until it does, for up to a minute.
func checkSignalCharts(t *testing.T, srv *serverProc) {
	t.Helper()
	b := webtest.Browser(t)
	webtest.SignIn(t, b, srv.url, adminToken, "body")
	deadline := time.Now().Add(time.Minute)
	for {
		webtest.Do(t, b, "app page", chromedp.Navigate(srv.url+"/apps/shop/alerts?env=staging&since=5m"),
			chromedp.WaitVisible(chromedp.CSS(`tr[data-signal="memory"]`)))
		var missing []string
		for _, name := range []string{"latency_p50", "latency_p99", "traffic", "errors", "cpu", "memory"} {
			n := webtest.Read(t, b, "lines of "+name, chromedp.Evaluate[int](
				fmt.Sprintf(`document.querySelectorAll('tr[data-signal=%q] svg polyline').length`, name)))
			if n == 0 {
				missing = append(missing, name+": "+webtest.Text(t, b, `tr[data-signal="`+name+`"]`))
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dashboard draws no line for:\n%s", strings.Join(missing, "\n"))
		}
		time.Sleep(3 * time.Second) // a new point every 3s
	}
}

// targets says how Prometheus's scrape targets are doing: job, URL, health and last error.
func targets(p *promtest.Server) string {
	resp, err := http.Get(p.URL + "/api/v1/targets?state=active")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			ActiveTargets []struct {
				ScrapePool, ScrapeURL, Health, LastError string
			} `json:"activeTargets"`
		} `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&r); err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, tg := range r.Data.ActiveTargets {
		fmt.Fprintf(&b, "  %s %s %s %s\n", tg.ScrapePool, tg.ScrapeURL, tg.Health, tg.LastError)
	}
	return b.String()
}

// waitQuery polls Prometheus until promql returns at least one sample.
func waitQuery(t *testing.T, p *promtest.Server, promql string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		v, err := p.Query(ctx, promql)
		cancel()
		if err == nil && len(v) > 0 {
			return
		}
		if time.Now().After(deadline) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			seen, _ := p.Query(ctx, `count by (job, namespace, container) ({job=~"berth.*"})`)
			cancel()
			t.Fatalf("%s: no samples within %s (last error %v); targets:\n%s\nseries by job, namespace and container: %v", promql, within, err, targets(p), seen)
		}
		time.Sleep(time.Second) // scraped every second
	}
}
