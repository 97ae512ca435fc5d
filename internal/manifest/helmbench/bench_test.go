package helmbench

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/berth-dev/berth/internal/manifest"
)

const apps = 1000

// BenchmarkRenderVsHelm1000Apps renders the DESIGN.md example app under 1,000 names with
// berth (parse, render, encode YAML, in process) and with `helm template` on an equivalent
// chart (one helm process for all 1,000, helm's best case), and reports both times per run
// and how many times faster berth is. Target: at least 10×.
func BenchmarkRenderVsHelm1000Apps(b *testing.B) {
	helm := buildHelm(b)
	src, err := os.ReadFile(filepath.Join("..", "testdata", "render", "design", "berth.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	manifests := make([][]byte, apps)
	for i := range manifests {
		manifests[i] = bytes.Replace(src, []byte("name: reports"), fmt.Appendf(nil, "name: reports-%d", i), 1)
	}
	values := writeValues(b)

	var berthTime, helmTime time.Duration
	var berthBytes, helmBytes int
	for b.Loop() {
		start := time.Now()
		var out countWriter
		for _, data := range manifests {
			m, err := manifest.Parse("berth.yaml", data)
			if err != nil {
				b.Fatal(err)
			}
			objs, err := manifest.Render(m, manifest.RenderOptions{Env: "production", Revision: "r1"})
			if err != nil {
				b.Fatal(err)
			}
			if err := manifest.EncodeYAML(&out, objs); err != nil {
				b.Fatal(err)
			}
		}
		berthTime += time.Since(start)
		berthBytes = out.n

		start = time.Now()
		cmd := exec.Command(helm, "template", "apps", filepath.Join("testdata", "chart"), "-f", values)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			b.Fatalf("helm template: %v\n%s", err, stderr.String())
		}
		helmTime += time.Since(start)
		helmBytes = stdout.Len()
		if got := strings.Count(stdout.String(), "\nkind: Deployment"); got != apps {
			b.Fatalf("helm rendered %d Deployments, want %d", got, apps)
		}
	}
	n := time.Duration(b.N)
	b.ReportMetric(float64(berthTime/n)/1e6, "berth-ms/op")
	b.ReportMetric(float64(helmTime/n)/1e6, "helm-ms/op")
	b.ReportMetric(float64(helmTime)/float64(berthTime), "x-faster")
	b.Logf("berth %v (%d bytes), helm %v (%d bytes) per %d apps", berthTime/n, berthBytes, helmTime/n, helmBytes, apps)
}

// writeValues lists the 1,000 apps in a values file shaped like the DESIGN.md example.
func writeValues(b *testing.B) string {
	type probe struct {
		Path string `json:"path"`
		Port int    `json:"port"`
	}
	type app map[string]any
	list := make([]app, apps)
	for i := range list {
		name := fmt.Sprintf("reports-%d", i)
		list[i] = app{
			"name": name, "team": "insights", "replicas": 4,
			"autoscale": map[string]int{"min": 2, "max": 10, "cpu": 70},
			"ports":     map[string]any{"http": map[string]int{"port": 80, "targetPort": 8080}},
			"exposes":   []map[string]string{{"host": "reports.example.com", "path": "/", "port": "http"}},
			"containers": map[string]any{"web": map[string]any{
				"image":     "registry.example.com/reports",
				"variables": map[string]string{"DATABASE_URL": "<offline:resources.db.url>", "USERS_API": "<offline:resources.users.url>"},
				"secrets":   map[string]any{"SECRET_KEY": map[string]string{"name": name + "-secrets", "key": "SECRET_KEY"}},
				"readiness": probe{Path: "/health", Port: 8080},
				"resources": map[string]any{"requests": map[string]string{"cpu": "100m", "memory": "128Mi"}},
			}},
		}
	}
	data, err := yaml.Marshal(map[string]any{"env": "production", "revision": "r1", "version": "latest", "apps": list})
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "values.yaml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}

func buildHelm(b *testing.B) string {
	script, err := filepath.Abs(filepath.Join("..", "..", "..", "tools", "helm", "build.sh"))
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(script)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("%s: %v\n%s", script, err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

type countWriter struct{ n int }

func (w *countWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

var _ io.Writer = (*countWriter)(nil)
