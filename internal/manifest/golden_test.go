package manifest_test

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/manifest"
	"github.com/berth-dev/berth/internal/manifest/manifesttest"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// renderCases are the manifests under testdata/render and the environments
// rendered from each into <env>.golden.yaml.
var renderCases = []struct {
	dir, file string
	envs      []string
	set       map[string]string
	// scheduling, when set, is the environment's defaults; the golden file is then
	// <env>.scheduled.golden.yaml.
	scheduling berth.Scheduling
}{
	{dir: "design", file: "berth.yaml", envs: []string{"production", "staging"}},
	{dir: "score-hello", file: "score.yaml", envs: []string{"development"}},
	{dir: "score-files", file: "score.yaml", envs: []string{"development"}},
	{dir: "full", file: "berth.yaml", envs: []string{"production", "staging", "development"}, set: map[string]string{"log-level": "debug"}},
	{dir: "design", file: "berth.yaml", envs: []string{"production"}, scheduling: berth.Scheduling{
		NodeSelector: map[string]string{"berth.dev/real-node": "true", "kubernetes.io/os": "linux"},
		Tolerations: []berth.Toleration{
			{Key: "berth.dev/real-node", Operator: berth.TolerationEqual, Value: "true", Effect: berth.EffectNoSchedule},
			{Key: "dedicated", Operator: berth.TolerationExists, Effect: berth.EffectNoExecute},
		},
	}},
}

func TestRenderGolden(t *testing.T) {
	for _, tc := range renderCases {
		m, err := manifest.LoadFile(t.Context(), filepath.Join("testdata", "render", tc.dir, tc.file))
		if err != nil {
			t.Fatalf("%s: %v", tc.dir, err)
		}
		for _, env := range tc.envs {
			name := env
			if !tc.scheduling.IsZero() {
				name += ".scheduled"
			}
			t.Run(tc.dir+"/"+name, func(t *testing.T) {
				objs, err := manifest.Render(m, manifest.RenderOptions{Env: env, Revision: "r1", Set: tc.set, Scheduling: tc.scheduling})
				if err != nil {
					t.Fatal(err)
				}
				var got bytes.Buffer
				if err := manifest.EncodeYAML(&got, objs); err != nil {
					t.Fatal(err)
				}
				golden(t, filepath.Join("testdata", "render", tc.dir, name+".golden.yaml"), got.String())
			})
		}
	}
}

func TestEncodeJSONGolden(t *testing.T) {
	m, err := manifest.LoadFile(t.Context(), filepath.Join("testdata", "render", "design", "berth.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := manifest.Render(m, manifest.RenderOptions{Env: "production", Namespace: "reports-production", Revision: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := manifest.EncodeJSON(&got, objs); err != nil {
		t.Fatal(err)
	}
	golden(t, filepath.Join("testdata", "render", "design", "production.golden.json"), got.String())
}

// TestInvalid parses each testdata/invalid/NAME.yaml and compares the
// messages with NAME.err.
func TestInvalid(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "invalid", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("want at least 20 invalid manifests, have %d", len(files))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, err = manifest.Parse("berth.yaml", data)
			var errs *manifest.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Parse() error = %v, want *manifest.Errors", err)
			}
			for _, e := range errs.List {
				if e.Line == 0 && !strings.Contains(e.Msg, "empty manifest") && !strings.Contains(e.Msg, "YAML nodes") {
					t.Errorf("error without a position: %s", e)
				}
			}
			golden(t, strings.TrimSuffix(f, ".yaml")+".err", err.Error()+"\n")
		})
	}
}

func TestGoldenFilesListsEveryRender(t *testing.T) {
	files, err := manifesttest.GoldenFiles()
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, tc := range renderCases {
		want += len(tc.envs)
	}
	if len(files) != want {
		t.Errorf("GoldenFiles() = %d files, want %d: %v", len(files), want, files)
	}
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			t.Error(err)
		}
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/manifest -update)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}
