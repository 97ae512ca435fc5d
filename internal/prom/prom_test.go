package prom_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/prom"
	"github.com/berth-dev/berth/internal/promtest"
	"github.com/berth-dev/berth/internal/tooltest"
)

const alwaysRules = `groups:
  - name: berth.shop.web.staging
    rules:
      - alert: Always
        expr: vector(1)
`

// alertNames polls the alerts of p until want(names) holds, and fails after 30 s.
func waitAlerts(t *testing.T, p *promtest.Server, what string, want func([]string) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		alerts, err := p.Alerts(ctx)
		cancel()
		var names []string
		for _, a := range alerts {
			names = append(names, string(a.Labels["alertname"]))
		}
		if err == nil && want(names) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: alerts %v (err %v)", what, names, err)
		}
		time.Sleep(200 * time.Millisecond) // rules are evaluated every second
	}
}

// RuleDir writes rule files where a real Prometheus loads them and makes it reload: the
// alert appears, and goes when the file is removed; a file Prometheus refuses makes Put
// fail with Prometheus's reason.
func TestRuleDirReloadsPrometheus(t *testing.T) {
	dir := t.TempDir()
	p := promtest.Start(t, promtest.Config{RuleFiles: []string{filepath.Join(dir, "*"+prom.RuleFileSuffix)}})
	rd := prom.RuleDir{Dir: dir, ReloadURL: p.URL}
	env := berth.Environment{Name: "staging"}
	ctx := t.Context()

	if err := rd.Put(ctx, env, "shop-staging", "web", []byte(alwaysRules)); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "staging.shop-staging.web.rules.yaml")
	if data, err := os.ReadFile(file); err != nil || string(data) != alwaysRules {
		t.Fatalf("%s: %q, %v", file, data, err)
	}
	waitAlerts(t, p, "after Put", func(n []string) bool { return len(n) == 1 && n[0] == "Always" })

	err := rd.Put(ctx, env, "shop-staging", "web", []byte("groups:\n  - name: x\n    rules:\n      - alert: Broken\n        expr: sum(\n"))
	if err == nil || !strings.Contains(err.Error(), "reload Prometheus") || !strings.Contains(err.Error(), "the rules before stay") {
		t.Errorf("a rule file Prometheus refuses: %v", err)
	}
	// The rules before are back, loaded: other rule files keep loading, and a restarted
	// Prometheus starts.
	if data, err := os.ReadFile(file); err != nil || string(data) != alwaysRules {
		t.Errorf("after a refused file, %s: %q, %v", file, data, err)
	}
	waitAlerts(t, p, "after a refused file", func(n []string) bool { return len(n) == 1 && n[0] == "Always" })
	// A Put of what is there reloads anyway (an earlier reload may have failed).
	if err := rd.Put(ctx, env, "shop-staging", "web", []byte(alwaysRules)); err != nil {
		t.Errorf("Put of the same rules: %v", err)
	}
	if err := rd.Remove(ctx, env, "shop-staging", "web"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("after Remove: %v", err)
	}
	waitAlerts(t, p, "after Remove", func(n []string) bool { return len(n) == 0 })
	// Removing what is not there is done already.
	if err := rd.Remove(ctx, env, "shop-staging", "web"); err != nil {
		t.Errorf("second Remove: %v", err)
	}
	for _, bad := range [][3]string{{"", "ns", "web"}, {"staging", "../etc", "web"}, {"staging", "ns", "a.b"}} {
		if err := rd.Put(ctx, berth.Environment{Name: bad[0]}, bad[1], bad[2], []byte(alwaysRules)); err == nil {
			t.Errorf("Put(%q) wrote a file", bad)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left in the directory: %v", entries)
	}
}

// The configuration Berth renders is one promtool accepts.
func TestConfigPassesPromtool(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"kubeconfig", "ca.crt", "admin.crt", "admin.key"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	sc, err := prom.ScrapeConfigs(prom.ScrapeOptions{Kubeconfig: filepath.Join(dir, "kubeconfig"), Namespaces: []string{"shop-staging"},
		CAFile: filepath.Join(dir, "ca.crt"), CertFile: filepath.Join(dir, "admin.crt"), KeyFile: filepath.Join(dir, "admin.key"),
		Berth: []string{"127.0.0.1:8080"}, Interval: "15s"})
	if err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(config, prom.Config("15s", sc, []string{filepath.Join(dir, "rules", "*.rules.yaml")}), 0o600); err != nil {
		t.Fatal(err)
	}
	bin, err := tooltest.Build("prometheus")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(bin, "promtool"), "check", "config", "--syntax-only", config).CombinedOutput()
	if err != nil {
		data, _ := os.ReadFile(config)
		t.Fatalf("promtool check config: %v\n%s\n%s", err, out, data)
	}
	if _, err := prom.ScrapeConfigs(prom.ScrapeOptions{}); err == nil {
		t.Error("nothing to scrape was accepted")
	}
}

// Sync makes an environment's rule files those of its rules ConfigMaps, reloading a real
// Prometheus once when anything changed, and leaves other environments' files alone.
func TestRuleDirSync(t *testing.T) {
	dir := t.TempDir()
	p := promtest.Start(t, promtest.Config{RuleFiles: []string{filepath.Join(dir, "*"+prom.RuleFileSuffix)}})
	rd := prom.RuleDir{Dir: dir, ReloadURL: p.URL}
	ctx := t.Context()
	rule := func(name string) []byte {
		return []byte("groups:\n  - name: " + name + "\n    rules:\n      - alert: " + name + "\n        expr: vector(1)\n")
	}
	other := filepath.Join(dir, prom.RuleFileName("staging2", "ns", "web"))
	if err := os.WriteFile(other, rule("Other"), 0o644); err != nil {
		t.Fatal(err)
	}
	stray := filepath.Join(dir, prom.RuleFileName("staging", "old-ns", "web"))
	if err := os.WriteFile(stray, rule("Stray"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := berth.Environment{Name: "staging"}
	files := map[[2]string][]byte{{"shop-staging", "web"}: rule("Web"), {"shop-staging", "api"}: rule("Api")}
	wrote, removed, err := rd.Sync(ctx, env, files)
	if err != nil || wrote != 2 || removed != 1 {
		t.Fatalf("Sync = %d written, %d removed, %v; want 2, 1", wrote, removed, err)
	}
	if _, err := os.Stat(stray); !os.IsNotExist(err) {
		t.Errorf("the stray file of staging stays: %v", err)
	}
	if data, err := os.ReadFile(other); err != nil || string(data) != string(rule("Other")) {
		t.Errorf("another environment's file: %q, %v", data, err)
	}
	waitAlerts(t, p, "after Sync", func(n []string) bool {
		slices.Sort(n)
		return slices.Equal(n, []string{"Api", "Other", "Web"})
	})
	if wrote, removed, err := rd.Sync(ctx, env, files); err != nil || wrote+removed != 0 {
		t.Errorf("a second Sync = %d, %d, %v; want nothing to do", wrote, removed, err)
	}
	delete(files, [2]string{"shop-staging", "api"})
	if wrote, removed, err := rd.Sync(ctx, env, files); err != nil || wrote != 0 || removed != 1 {
		t.Errorf("Sync after an app went = %d, %d, %v; want 0, 1", wrote, removed, err)
	}
	waitAlerts(t, p, "after the api's rules went", func(n []string) bool {
		slices.Sort(n)
		return slices.Equal(n, []string{"Other", "Web"})
	})
}
