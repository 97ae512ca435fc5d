package yamltree

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// manifestData holds package manifest's test manifests: the documents the
// parser is for.
var manifestData = filepath.Join("..", "..", "testdata")

// parseYAMLv3 reads data as package manifest does when Parse declines:
// one document with yaml.v3, nil for an empty one, an error for YAML that
// yaml.v3 rejects or a second document.
func parseYAMLv3(data []byte) (root *yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			root, err = nil, fmt.Errorf("unreadable YAML: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		if len(extra.Content) > 0 && !isNull(extra.Content[0]) {
			return nil, errors.New("more than one YAML document")
		}
	} else if !errors.Is(err, io.EOF) {
		return nil, err
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		return nil, nil
	}
	return doc.Content[0], nil
}

func isNull(n *yaml.Node) bool { return n != nil && n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

// sameTree describes the first difference between the node trees a and b
// in what the decoder reads, or returns "".
func sameTree(a, b *yaml.Node, path string) string {
	if (a == nil) != (b == nil) {
		return fmt.Sprintf("%s: nil %v vs %v", path, a == nil, b == nil)
	}
	if a == nil {
		return ""
	}
	type fields struct {
		Kind         yaml.Kind
		Tag, Value   string
		Style        yaml.Style
		Line, Column int
		Content      int
	}
	fa := fields{a.Kind, a.Tag, a.Value, a.Style, a.Line, a.Column, len(a.Content)}
	fb := fields{b.Kind, b.Tag, b.Value, b.Style, b.Line, b.Column, len(b.Content)}
	if fa != fb {
		return fmt.Sprintf("%s: %+v vs %+v", path, fa, fb)
	}
	for i := range a.Content {
		if d := sameTree(a.Content[i], b.Content[i], fmt.Sprintf("%s[%d]", path, i)); d != "" {
			return d
		}
	}
	return ""
}

// checkFastParse fails when Parse answers differently from yaml.v3. It
// reports whether Parse answered.
func checkFastParse(t *testing.T, data []byte) bool {
	t.Helper()
	var arena Arena[struct{}]
	fast, ok := arena.Parse(data)
	if !ok {
		return false
	}
	slow, err := parseYAMLv3(data)
	if err != nil {
		t.Fatalf("fast parser read YAML that yaml.v3 rejects (%v):\n%s", err, data)
	}
	if d := sameTree(fast, slow, "root"); d != "" {
		t.Fatalf("fast parser differs from yaml.v3 (fast vs yaml.v3) at %s:\n%s", d, data)
	}
	return true
}

// yamlSamples are documents in and around the subset the fast parser reads.
var yamlSamples = []string{
	"a: b\n",
	"a: b",
	"a:\n",
	"a:",
	"a: \n  # c\nb: 1\n",
	"a:   b   # c\n#x\n\n  \nb:  'c'  \n",
	"a b  c:  d  e  \n",
	"a  : b\n",
	"a: b#c\n",
	"a: b #c\n",
	"a: -1\nb: --x\nc: -\n",
	"a: 0x1F\nb: 1e3\nc: .5\nd: 2001-12-14\ne: ~\nf: Null\ng: TRUE\nh: yes\ni: 1_000\n",
	"'a': \"b\"\n\"c\\\"d\": 'e''f'\n",
	"a: \"\\x41\\u00e9\\U0001F600\\n\\t\\\\\\/\"\n",
	"a: \"\\/\"\n",
	"a: \"\\x41\\u00e9\\U0001F600\\n\\t\\\\ \\0\\e\\N\\_\\L\\P\\ \\'\"\n",
	"a: \"\\q\"\n",
	"a: 'x\n  y'\n",
	"a: x\n  y\n",
	"a: x\n  # y\n",
	"a:\n  b: c\n  d:\n    - e\n    - f: g\n      h: i\n    -\n      j: k\n",
	"a:\n- b\n- c: d\n  e: f\n",
	"a:\n- b\nc: d\n",
	"a:\n  - b\n c: d\n",
	"a:\n  - b\n  c: d\n",
	"- a\n- b\n",
	"a: [b, c, {d: e}, [], {}]\n",
	"a: {b: c, 'd': \"e\", f: [g, h]}\n",
	"a: [b,c]\n",
	"a: {b:c}\n",
	"a: {b: }\n",
	"a: [b, ]\n",
	"a: [b: c]\n",
	"a: [b\n  , c]\n",
	"a: {b: c} d\n",
	"a: [-b, -]\n",
	"a: [a b, c  d ]\n",
	"a: |\n  x\n  y\n",
	"a: |-\n  x\n\n",
	"a: |+\n  x\n\n\nb: 1\n",
	"a: |2\n    x\n   y\n",
	"a: >\n  x\n  y\n\n  z\n   w\n",
	"a: >-\n  x\n",
	"a: | # c\n  x\n",
	"a: |\n\n  x\n",
	"a: |\n    \n  x\n",
	"a: |\n  x\nb: |\n  y",
	"a: |\n",
	"a: |",
	"- |\n  x\n- >\n  y\n",
	"a:\n  - |\n    x\n  - b: |\n      y\n",
	"a:\n  |\n  x\n",
	"a: |0\n  x\n",
	"a: |1-\n  x\n",
	"a: &x b\nc: *x\n",
	"a: !!str 1\n",
	"<<: {a: b}\n",
	"---\na: b\n",
	"a: b\n---\nc: d\n",
	"a: b\n...\n",
	"%YAML 1.2\n---\na: b\n",
	"? a\n: b\n",
	"a: b: c\n",
	"a: - b\n",
	"a:\tb\n",
	"a: b\r\n",
	"\ufeffa: b\n",
	"a: caf\u00e9\n\u00e9: x\n",
	"a: {\u00e9: \u00e8}\n",
	"a: b\n  c: d\n",
	"  a: b\n",
	"a\n",
	"[a, b]\n",
	"a: b\na: c\n",
	"a:\n  - - b\n",
	"a:\n  -\n",
	strings.Repeat("k", 1100) + ": v\n",
}

func TestFastParserMatchesYAMLv3(t *testing.T) {
	answered := 0
	for _, s := range yamlSamples {
		if checkFastParse(t, []byte(s)) {
			answered++
		}
	}
	files, err := filepath.Glob(filepath.Join(manifestData, "*", "*", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob(filepath.Join(manifestData, "invalid", "*.yaml"))
	for _, f := range append(files, more...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if checkFastParse(t, data) {
			answered++
		}
	}
	t.Logf("fast parser answered %d documents", answered)
}

// TestFastParserReadsManifests checks that the manifests berth init writes
// and the golden tests render take the fast path.
func TestFastParserReadsManifests(t *testing.T) {
	for _, f := range []string{"render/design/berth.yaml", "render/full/berth.yaml"} {
		data, err := os.ReadFile(filepath.Join(manifestData, f))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := new(Arena[struct{}]).Parse(data); !ok {
			t.Errorf("%s: fast parser falls back to yaml.v3", f)
		}
	}
}

// FuzzYAMLParser checks that whenever the fast parser reads a document,
// yaml.v3 reads the same tree from it.
func FuzzYAMLParser(f *testing.F) {
	for _, s := range yamlSamples {
		f.Add([]byte(s))
	}
	for _, pattern := range []string{"render/*/*.yaml", "invalid/*.yaml"} {
		files, _ := filepath.Glob(filepath.Join(manifestData, pattern))
		for _, file := range files {
			if data, err := os.ReadFile(file); err == nil {
				f.Add(data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFastParse(t, data)
	})
}
