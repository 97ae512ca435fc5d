package manifest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// parseSlow is Parse through yaml.v3 alone, without the fast parser and
// without reusing the base's decoding in environment passes.
func parseSlow(file string, data []byte) (*Manifest, error) {
	return parse(file, data, false)
}

// checkParseFastPaths fails when Parse and parseSlow disagree on data.
func checkParseFastPaths(t *testing.T, data []byte) {
	t.Helper()
	fast, ferr := Parse("berth.yaml", data)
	slow, serr := parseSlow("berth.yaml", data)
	if diff := cmp.Diff(errString(serr), errString(ferr)); diff != "" {
		t.Fatalf("errors differ (-yaml.v3 +fast):\n%s\n%s", diff, data)
	}
	if diff := cmp.Diff(flatten(slow), flatten(fast), flatOptions); diff != "" {
		t.Fatalf("manifests differ (-yaml.v3 +fast):\n%s\n%s", diff, data)
	}
}

// flatManifest is a Manifest with every field's position looked up, so
// that manifests with and without reused fields compare.
type flatManifest struct {
	Manifest  Manifest
	Positions map[string]loc
	Envs      map[string]*flatManifest
}

var flatOptions = cmp.AllowUnexported(flatManifest{}, Manifest{}, loc{}, File{}, Volume{})

func flatten(m *Manifest) *flatManifest {
	if m == nil {
		return nil
	}
	f := &flatManifest{Manifest: *m, Positions: map[string]loc{}, Envs: map[string]*flatManifest{}}
	for _, p := range allPaths(m) {
		if l, ok := m.position(p); ok {
			f.Positions[p] = l
		}
	}
	for name, e := range m.envs {
		f.Envs[name] = flatten(e)
	}
	f.Manifest.envs, f.Manifest.locs, f.Manifest.base, f.Manifest.reused = nil, nil, nil, 0
	return f
}

// allPaths lists the paths m and the manifests it takes positions from
// record.
func allPaths(m *Manifest) []string {
	var paths []string
	for ; m != nil; m = m.base {
		for p := range m.locs {
			paths = append(paths, p)
		}
	}
	return paths
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// envSeeds are manifests whose environments interact with the base in the
// ways reuse (memo.go) must get right.
var envSeeds = []string{
	// An environment removing an arg the base's placeholders use.
	`apiVersion: berth.dev/v1
metadata: {name: a}
args: {version: "1", other: x}
containers: {web: {image: "r/a:${args.version}", variables: {X: "${args.other}"}}}
environments:
  prod: {args: {version: null}}
  dev: {replicas: 2}
`,
	// A base with problems in some fields and not others.
	`apiVersion: berth.dev/v1
metadata: {name: a, labels: {"bad key!": x}}
args: {v: "1"}
containers: {web: {image: "r/a:${args.nope}", resources: {requests: {cpu: lots}}}}
service: {ports: {http: {port: 80}}}
exposes: [{host: a.example.com, port: nope}]
replicas: "3"
autoscale: {min: 5, max: 2}
smoke: [{path: health}]
environments:
  prod: {replicas: 4, containers: {web: {image: "r/a:2"}}}
  staging: {autoscale: null}
`,
	// Environments replacing, merging into and removing fields, valid.
	`apiVersion: berth.dev/v1
metadata: {name: a, team: t}
args: {v: "1"}
containers:
  web: {image: "r/a:${args.v}", resources: {requests: {cpu: 100m}}, variables: {A: "${resources.db.url}"}}
  side: {image: r/b, resources: {requests: {cpu: 100m}}}
service: {ports: {http: {port: 80}, admin: {port: 81}}}
exposes: [{host: a.example.com, port: http}]
autoscale: {max: 3}
resources: {db: {type: postgres}, cache: {type: redis}}
smoke: [{path: /h, port: http}]
deploy: {autoRollback: false}
environments:
  a: {containers: {side: {image: r/c}}, resources: {db: {class: big}}}
  b: {exposes: [{host: b.example.com, port: admin}], smoke: [], args: {v: "2"}, deploy: null}
  c: {autoscale: {max: 5}, replicas: 3, deploy: {autoRollback: true}}
  d: {}
`,
	// Environments replacing, merging into and removing fields.
	`apiVersion: berth.dev/v1
metadata: {name: a, team: t}
containers:
  web: {image: r/a, resources: {requests: {cpu: 100m}}}
  side: {image: r/b}
service: {ports: {http: {port: 80}, admin: {port: 81}}}
exposes: [{host: a.example.com, port: http}]
autoscale: {max: 3}
resources: {db: {type: postgres}, cache: {type: redis}}
smoke: [{path: /h, port: http}]
environments:
  a: {containers: {side: {image: null}}, resources: {db: {class: big}}}
  b: {exposes: [{host: b.example.com}], smoke: []}
  c: {autoscale: {max: 1}, replicas: 3}
`,
}

func parseSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	for _, s := range envSeeds {
		seeds = append(seeds, []byte(s))
	}
	for _, pattern := range []string{"testdata/render/*/*.yaml", "testdata/invalid/*.yaml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if filepath.Base(f) == "alias-bomb.yaml" {
				continue // slow, and yaml.v3's on both paths
			}
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			seeds = append(seeds, data)
		}
	}
	return seeds
}

// TestParseFastPathsMatchYAMLv3 checks that the fast YAML parser and the
// reuse of the base's decoding in environment passes change nothing
// Parse returns: values, positions, environments and errors.
func TestParseFastPathsMatchYAMLv3(t *testing.T) {
	for _, data := range parseSeeds(t) {
		checkParseFastPaths(t, data)
	}
}

func FuzzParseFastPaths(f *testing.F) {
	for _, data := range parseSeeds(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkParseFastPaths(t, data)
	})
}

// TestParseKeepsNoArenaNodes checks that a parsed manifest does not change
// when later parses reuse the YAML arena its tree was built in.
func TestParseKeepsNoArenaNodes(t *testing.T) {
	data, err := os.ReadFile("testdata/render/full/berth.yaml")
	if err != nil {
		t.Fatal(err)
	}
	first, err := Parse("berth.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	want, err := parseSlow("berth.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	for _, data := range parseSeeds(t) {
		Parse("berth.yaml", data)
	}
	if diff := cmp.Diff(flatten(want), flatten(first), flatOptions); diff != "" {
		t.Errorf("manifest changed by later parses (-want +got):\n%s", diff)
	}
}
