package manifest_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/manifest"
)

// sourcesManifest takes files from sources in every way a manifest can:
// both forms of files, sources shared through anchors, an alias and a merge
// key, text whose placeholders each environment expands differently,
// noExpand, bytes that are not UTF-8, and text that is hard to quote.
const sourcesManifest = `# Files from sources, for InlineFile.
apiVersion: berth.dev/v1
metadata: {name: shop, team: commerce}
args: {domain: shop.example.com, level: info}
x-conf: &conf {source: conf/app.yaml, mode: "0640"}
x-path: &path conf/app.yaml
containers:
  web:
    image: registry.example.com/shop:1
    files:
      /etc/shop/app.yaml: *conf            # an alias
      /etc/shop/merged.yaml: {<<: *conf}   # a merge key
      /etc/shop/by-alias.yaml: {source: *path}
      /etc/shop/raw.tmpl: {source: "raw.tmpl", noExpand: true}
      /etc/shop/logo.bin: {source: 'logo.bin'}
      /etc/shop/hard.txt:
        source: hard.txt
      /etc/shop/empty: {source: empty}
      /etc/shop/plain: {content: "inline ${args.level}"}
  worker:
    image: registry.example.com/shop-worker:1
    files:
    - target: /etc/worker/app.yaml
      source: ./conf/app.yaml
      mode: "0600"
    - {target: /etc/worker/hard.txt, source: hard.txt}
environments:
  production:
    args: {domain: shop.com}
    containers:
      web: {image: registry.example.com/shop:2}
  staging:
    args: {level: debug}
`

// sourceFiles are the files sourcesManifest names.
var sourceFiles = map[string]string{
	"conf/app.yaml": "domain: ${args.domain}\nlevel: ${args.level}\napp: ${metadata.name}\nliteral: $${args.domain}\n",
	"raw.tmpl":      "hello ${name}\n",
	"logo.bin":      "\x89PNG\r\n\x1a\n\x00\xff\xfe",
	"hard.txt": "  leading spaces\ntrailing spaces   \n\ttab\r\ncrlf\r\n\"quotes\" 'single' \\backslash\\ #not a comment\n" +
		"nel\u0085ls\u2028ps\u2029bom\uFEFFnul\x00del\x7fc1\u0080 é 😀 \u00A0\n\n\nno final newline",
	"empty": "",
}

// TestInlineFileRendersAsLoadFile checks that Parse of InlineFile's text
// renders, for every environment, byte for byte what LoadFile does.
func TestInlineFileRendersAsLoadFile(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, sourceFiles)
	writeFiles(t, dir, map[string]string{"berth.yaml": sourcesManifest})
	text := checkInlineRendersAsLoadFile(t, filepath.Join(dir, "berth.yaml"))

	// Only the sources changed, each on its line: every other line is
	// as written, comments included, so positions hold.
	got, want := strings.Split(string(text), "\n"), strings.Split(sourcesManifest, "\n")
	if len(got) != len(want) {
		t.Fatalf("InlineFile made %d lines of %d", len(got), len(want))
	}
	for i := range want {
		if !strings.Contains(want[i], "source: ") && got[i] != want[i] {
			t.Errorf("line %d = %q, want %q as written", i+1, got[i], want[i])
		}
	}
	if strings.Contains(string(text), "source: hard.txt") {
		t.Error("a source is left")
	}
}

// TestInlineFileRendersAsLoadFileGolden does the same for the golden
// manifests, Score's with their list form of files among them.
func TestInlineFileRendersAsLoadFileGolden(t *testing.T) {
	for _, tc := range renderCases {
		t.Run(tc.dir, func(t *testing.T) {
			path := filepath.Join("testdata", "render", tc.dir, tc.file)
			text := checkInlineRendersAsLoadFile(t, path)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(data, []byte("source: file.txt")) && !bytes.Equal(text, data) {
				t.Error("InlineFile changed a manifest without sources")
			}
		})
	}
}

// TestInlineFileReencodes checks a source InlineFile can't replace in
// place (a block scalar, a tag): the manifest is encoded anew, and still
// renders as LoadFile's.
func TestInlineFileReencodes(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, sourceFiles)
	src := strings.Replace(sourcesManifest, "        source: hard.txt", "        source: >-\n          hard.txt", 1)
	src = strings.Replace(src, "{source: empty}", "{source: !!str empty}", 1)
	writeFiles(t, dir, map[string]string{"berth.yaml": src})
	text := checkInlineRendersAsLoadFile(t, filepath.Join(dir, "berth.yaml"))
	if !strings.Contains(string(text), "content: |\n") {
		t.Errorf("want the manifest encoded anew, with a literal block for a text file; got\n%s", text)
	}
	if !strings.Contains(string(text), "# Files from sources") {
		t.Error("the head comment was lost")
	}
}

func checkInlineRendersAsLoadFile(t *testing.T, path string) []byte {
	t.Helper()
	loaded, err := manifest.LoadFile(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	text, err := manifest.InlineFile(t.Context(), path, "berth.yaml")
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := manifest.Parse("berth.yaml", text)
	if err != nil {
		t.Fatalf("Parse(InlineFile()): %v\n%s", err, text)
	}
	envs := append(loaded.Environments(), "development")
	if got := append(parsed.Environments(), "development"); !slices.Equal(got, envs) {
		t.Fatalf("environments %v, want %v", got, envs)
	}
	for _, env := range envs {
		want, got := renderYAML(t, loaded, env), renderYAML(t, parsed, env)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s: Parse(InlineFile()) renders differently from LoadFile (-LoadFile +inlined):\n%s\ninlined text:\n%s", env, diff, text)
		}
	}
	return text
}

func renderYAML(t *testing.T, m *manifest.Manifest, env string) string {
	t.Helper()
	objs, err := manifest.Render(m, manifest.RenderOptions{Env: env, Revision: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := manifest.EncodeYAML(&b, objs); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestInlineFileErrors checks that InlineFile reads as LoadFile does, and
// names the manifest as it is told in its errors.
func TestInlineFileErrors(t *testing.T) {
	top := t.TempDir()
	dir := filepath.Join(top, "deploy")
	writeFiles(t, top, map[string]string{"secret.txt": "secret", "deploy/a.txt": "a", "deploy/link": "->../secret.txt"})
	writeFiles(t, dir, map[string]string{"big.txt": strings.Repeat("x", 1<<20)})

	tests := []struct {
		name, manifest, want string
	}{{
		name:     "absolute",
		manifest: sourceManifest("/etc/shadow"),
		want:     `deploy/berth.yaml:7:22: containers.web.files[/f/0].source: "/etc/shadow" is an absolute path; a source must be inside the manifest's directory (a source is a path relative to the manifest's directory, and inside it)`,
	}, {
		name:     "symlink out",
		manifest: sourceManifest("link"),
		want:     `deploy/berth.yaml:7:22: containers.web.files[/f/0].source: "link" leads out of the manifest's directory through a symlink; a source must be inside it (a symlink in a source must be relative and stay inside the manifest's directory)`,
	}, {
		name:     "invalid",
		manifest: "apiVersion: berth.dev/v1\nmetadata: {name: app}\n",
		want:     `deploy/berth.yaml:1:1: containers: required: at least one container (e.g. containers: {web: {image: nginx}})`,
	}, {
		name:     "too big inlined",
		manifest: sourceManifest("big.txt") + "# " + strings.Repeat("x", 1<<19) + "\n",
		want:     `deploy/berth.yaml: with its sources inlined, the manifest is 1572987 bytes; a manifest may have at most 1048576 (ship big files in the image or a volume)`,
	}, {
		name: "shared with params",
		manifest: "apiVersion: berth.dev/v1\nmetadata: {name: app}\nx-s: &s {source: a.txt}\ncontainers:\n  web:\n    image: nginx\n    files: {/f/0: *s}\n" +
			"resources:\n  db: {type: postgres, params: *s}\n",
		want: `deploy/berth.yaml: can't inline the files' sources: one is shared, through an anchor or a merge key, with a field that is not a file's source (write the source in each file that uses it)`,
	}, {
		name:     "placeholder in the source",
		manifest: sourceManifest("bad.txt"),
		want:     `deploy/berth.yaml:7:23: containers.web.files[/f/0].content: unknown arg "nope" in ${args.nope} (no args are declared; declare it with a default under args)`,
	}}
	writeFiles(t, dir, map[string]string{"bad.txt": "x: ${args.nope}\n"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "berth.yaml")
			if err := os.WriteFile(path, []byte(tt.manifest), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := manifest.InlineFile(t.Context(), path, "deploy/berth.yaml")
			if err == nil || err.Error() != tt.want {
				t.Fatalf("InlineFile() error = %v\nwant %s", err, tt.want)
			}
			if !errors.As(err, new(*manifest.Errors)) {
				t.Errorf("InlineFile() error is %T, want *manifest.Errors", err)
			}
		})
	}
}

// FuzzInlineSource checks that any bytes a source may hold come through
// InlineFile as LoadFile reads them.
func FuzzInlineSource(f *testing.F) {
	for _, content := range sourceFiles {
		f.Add([]byte(content))
	}
	f.Fuzz(func(t *testing.T, content []byte) {
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{
			"data":       string(content),
			"berth.yaml": "apiVersion: berth.dev/v1\nmetadata: {name: app}\ncontainers:\n  web:\n    image: nginx\n    files:\n      /f/0: {source: data, noExpand: true}\n",
		})
		checkInlineRendersAsLoadFile(t, filepath.Join(dir, "berth.yaml"))
	})
}
