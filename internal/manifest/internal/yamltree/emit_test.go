package yamltree

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
)

// emitBoth writes the JSON object doc, repeated n times as a stream, with
// yamlEmitter and with yaml.v3. fits is false when yamlEmitter leaves the
// value to yaml.v3.
func emitBoth(t testing.TB, doc []byte, n int) (fast, slow string, fits bool) {
	t.Helper()
	var tree jsonTree
	e := newYAMLEmitter(nil)
	var want bytes.Buffer
	enc := yaml.NewEncoder(&want)
	enc.SetIndent(2)
	fits = true
	for range n {
		tree.reset(string(doc))
		root, err := tree.parse("")
		if err != nil {
			t.Fatalf("parse %s: %v", doc, err)
		}
		if !e.fits(&tree, root) {
			fits = false
		}
		e.document(&tree, root)

		dec := json.NewDecoder(bytes.NewReader(doc))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		if err := enc.Encode(JSONNode(v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return string(e.out), want.String(), fits
}

// trickyStrings are values whose YAML notation is not plain text: they
// look like other types, start with indicators, span lines, or hold
// characters YAML escapes.
var trickyStrings = []string{
	"", " ", "a ", " a", "a  b", "8080", "1.0", "-1", "+1", ".5", "1e3", "1_000", "0x1F", "0o17", "0b101",
	"true", "True", "FALSE", "yes", "on", "null", "Null", "~", ".nan", ".inf", "-.Inf", "2001-12-14",
	"2001-12-14T21:59:43.10Z", "<<", "-", "- a", "-a", "--", "---", "--- a", "...", ":", "a: b", "a:b", "a:",
	"?", "? a", "?a", "a?", "#", "#a", "a #b", "a#b", ",", "a,b", "[a]", "{a}", "a]", "@a", "`a", "%a", "!a",
	"&a", "*a", "|", ">", "'", "\"", "a'b", "a\"b", "\\", "a\\b", "\t", "a\tb", "\ta", "x\n", "a\nb", "a\nb\n",
	"a\n\n", "\n", "\n\n", "\na", " a\nb", "a \nb", "a\n b", "a\n\tb", "a\r\nb", "\r", "\x00", "\x07", "\x1b",
	"\x7f", "é", "日本語", "\u0085", "a\u2028b", "\u2029", "\u00a0", "\ufeffa", "a\ufeff", "\ufffe", "😀",
	"<offline:resources.db.url>", "$(BERTH_X)", "${x}", "a&b<c>", "http://x:80/a?b=c#d",
	strings.Repeat("k", 128), strings.Repeat("k", 129), strings.Repeat("long value ", 20),
}

func TestYAMLEmitterMatchesYAMLv3(t *testing.T) {
	var docs []any
	for _, s := range trickyStrings {
		docs = append(docs,
			map[string]any{"value": s},
			map[string]any{s: "key"},
			map[string]any{"list": []any{s, s}},
			map[string]any{"a": map[string]any{"b": []any{map[string]any{"c": s, s: []any{s}}}}},
			map[string]any{"nested": []any{[]any{s}, []any{[]any{s}}}},
		)
	}
	docs = append(docs,
		map[string]any{},
		map[string]any{"m": map[string]any{}, "l": []any{}, "n": nil, "t": true, "f": false},
		map[string]any{"l": []any{map[string]any{}, []any{}, nil, map[string]any{"x": map[string]any{}}}},
		map[string]any{"i": 0, "neg": -12, "big": uint64(12345678901234567890), "f": 1.5, "e": 1e30, "small": 1e-7},
	)
	for _, d := range docs {
		doc, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{1, 2} {
			fast, slow, fits := emitBoth(t, doc, n)
			if fits && fast != slow {
				t.Errorf("%s x%d: yamlEmitter differs from yaml.v3 (-yaml.v3 +yamlEmitter):\n%s", doc, n, cmp.Diff(slow, fast))
			}
		}
	}
}

// FuzzYAMLEmitter checks that yamlEmitter writes any JSON object as yaml.v3
// does, and that the output reads back as the same value.
func FuzzYAMLEmitter(f *testing.F) {
	for _, s := range trickyStrings {
		doc, _ := json.Marshal(map[string]any{"k": s, s: []any{s, map[string]any{"x": s}}})
		f.Add(doc)
	}
	f.Add([]byte(`{"a":{"b":[1,2.5,-3e10,true,null,[],{}]},"":""}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		var v any
		if json.Unmarshal(doc, &v) != nil {
			return
		}
		if _, ok := v.(map[string]any); !ok {
			return
		}
		// Normalize: the tree reads encoding/json's output, which has no
		// duplicate keys, no insignificant space and valid UTF-8.
		doc, err := json.Marshal(v)
		if err != nil {
			return
		}
		fast, slow, fits := emitBoth(t, doc, 2)
		if !fits {
			return
		}
		if fast != slow {
			t.Fatalf("%s: yamlEmitter differs from yaml.v3 (-yaml.v3 +yamlEmitter):\n%s", doc, cmp.Diff(slow, fast))
		}
		if strings.Contains(fast, "<<") {
			return // yaml.v3 writes a "<<" key plain, which reads back as a merge
		}
		dec := yaml.NewDecoder(strings.NewReader(fast))
		var got any
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("%s: output does not parse: %v\n%s", doc, err, fast)
		}
		// Compare through JSON, where YAML's ints and floats meet again.
		back, err := json.Marshal(got)
		if err != nil {
			t.Fatalf("%s: read back a value JSON cannot hold: %v\n%s", doc, err, fast)
		}
		var round any
		if err := json.Unmarshal(back, &round); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(v, round); diff != "" {
			t.Fatalf("%s: output reads back differently (-want +got):\n%s\n%s", doc, diff, fast)
		}
	})
}

func TestAnalyzeWordMatchesAnalyzeText(t *testing.T) {
	const chars = "a-:.?#,[]{}&*!|>'\"%@`~0_"
	var words []string
	var gen func(prefix string, n int)
	gen = func(prefix string, n int) {
		if prefix != "" {
			words = append(words, prefix)
		}
		if n == 0 {
			return
		}
		for i := 0; i < len(chars); i++ {
			gen(prefix+chars[i:i+1], n-1)
		}
	}
	gen("", 4)
	for _, w := range words {
		if !isWord(w) {
			t.Fatalf("isWord(%q) = false", w)
		}
		if got, want := analyzeWord(w), analyzeText(w); got != want {
			t.Errorf("analyzeWord(%q) = %+v, want %+v", w, got, want)
		}
	}
}

func TestPlainTagMatchesYAMLv3(t *testing.T) {
	values := append([]string{"0", "-0", "7", "-42", "123456789012345678", "1234567890123456789", "12345678901234567890",
		"007", "09", "0x1F", "1e3", "1.5", "-1.5e-7", ".5", "+5", "1_000", "2001-12-14", "-", "+", "."}, trickyStrings...)
	for _, s := range values {
		n := yaml.Node{Kind: yaml.ScalarNode, Value: s}
		if got, want := plainTag(s), n.ShortTag(); got != want {
			t.Errorf("plainTag(%q) = %s, want %s", s, got, want)
		}
	}
}

func newYAMLEmitter(out []byte) *yamlEmitter {
	e := &yamlEmitter{}
	e.reset(out)
	return e
}
