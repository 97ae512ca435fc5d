package manifest_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/manifest"
)

// BenchmarkRender1000Apps parses, renders and encodes to YAML 1,000
// distinct apps (the DESIGN.md example under 1,000 names) per iteration:
// the work `helm template` does for an equivalent chart, so the two can be
// compared in one run.
func BenchmarkRender1000Apps(b *testing.B) {
	src := designManifest(b)
	apps := make([][]byte, 1000)
	for i := range apps {
		apps[i] = []byte(strings.Replace(string(src), "name: reports", fmt.Sprintf("name: reports-%d", i), 1))
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, data := range apps {
			m, err := manifest.Parse("berth.yaml", data)
			if err != nil {
				b.Fatal(err)
			}
			objs, err := manifest.Render(m, manifest.RenderOptions{Env: "production", Revision: "r1"})
			if err != nil {
				b.Fatal(err)
			}
			if err := manifest.EncodeYAML(io.Discard, objs); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// The three steps of a render on their own, for profiling one at a time:
// go test -run=NONE -bench=Parse -cpuprofile cpu.prof ./internal/manifest

func BenchmarkParse(b *testing.B) {
	src := designManifest(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := manifest.Parse("berth.yaml", src); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRender(b *testing.B) {
	m, err := manifest.Parse("berth.yaml", designManifest(b))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := manifest.Render(m, manifest.RenderOptions{Env: "production", Revision: "r1"}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeYAML(b *testing.B) {
	m, err := manifest.Parse("berth.yaml", designManifest(b))
	if err != nil {
		b.Fatal(err)
	}
	objs, err := manifest.Render(m, manifest.RenderOptions{Env: "production", Revision: "r1"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := manifest.EncodeYAML(io.Discard, objs); err != nil {
			b.Fatal(err)
		}
	}
}

func designManifest(b *testing.B) []byte {
	src, err := os.ReadFile(filepath.Join("testdata", "render", "design", "berth.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	return src
}
