package manifest

import (
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestBadCharPositionsAsYAMLv3 checks that badChar counts lines and
// columns as yaml.v3 does: a bad character is reported where yaml.v3
// would put a key written in its place.
func TestBadCharPositionsAsYAMLv3(t *testing.T) {
	for _, prefix := range []string{
		"",
		"a: 1\n",
		"café: 1\n",
		"a: 1\r\nb: 2\r\n",
		"a: 1\rb: 2\r",
		"\uFEFFa: 1\n",
		"a: \"x\u2028y\"\n",
		"a: \"x\u0085y\"\n",
		"a: 日本語\n",
		"a: \"😀\"\n",
		"a:\n  - b\n  - c\n",
		"a:\t1\nb: |\n  text\n",
	} {
		bad := prefix + "\x00: 1\n"
		e, ok := badChar("berth.yaml", []byte(bad))
		if !ok {
			t.Errorf("badChar(%q) found nothing", bad)
			continue
		}
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(prefix+"k: 1\n"), &doc); err != nil {
			t.Fatalf("%q: %v", prefix, err)
		}
		var key *yaml.Node
		var find func(n *yaml.Node)
		find = func(n *yaml.Node) {
			if n.Kind == yaml.ScalarNode && n.Value == "k" {
				key = n
			}
			for _, c := range n.Content {
				find(c)
			}
		}
		find(&doc)
		if key == nil {
			t.Fatalf("%q: no key k", prefix)
		}
		if e.Line != key.Line || e.Col != key.Column {
			t.Errorf("badChar(%q) at %d:%d, yaml.v3 puts a key there at %d:%d", bad, e.Line, e.Col, key.Line, key.Column)
		}
	}
}

func TestBadChar(t *testing.T) {
	tests := []struct {
		data string
		want string // "" for nothing found
	}{
		{"a: 1\n", ""},
		{"a: \"\t\u0085\u00A0\uFFFD\U0010FFFF\"\n", ""},
		{"a: \xff\n", "berth.yaml:1:4: invalid UTF-8: byte 0xFF (a manifest is UTF-8 text)"},
		{"a: \xc3\n", "berth.yaml:1:4: invalid UTF-8: byte 0xC3 (a manifest is UTF-8 text)"},
		{"a: \xed\xa0\x80\n", "berth.yaml:1:4: invalid UTF-8: byte 0xED (a manifest is UTF-8 text)"}, // a surrogate
		{"a: é\x00\n", `berth.yaml:1:5: control character U+0000 is not allowed (YAML text takes tabs, line breaks and printable characters; in a double-quoted string write \u0000)`},
		{"a: \x7f", `berth.yaml:1:4: control character U+007F is not allowed (YAML text takes tabs, line breaks and printable characters; in a double-quoted string write \u007F)`},
		{"a: \u0080", `berth.yaml:1:4: control character U+0080 is not allowed (YAML text takes tabs, line breaks and printable characters; in a double-quoted string write \u0080)`},
		{"a: \uFFFE", `berth.yaml:1:4: control character U+FFFE is not allowed (YAML text takes tabs, line breaks and printable characters; in a double-quoted string write \uFFFE)`},
		{"\xff\xfea\x00", ""}, // UTF-16, left to yaml.v3
	}
	for _, tt := range tests {
		e, ok := badChar("berth.yaml", []byte(tt.data))
		got := ""
		if ok {
			got = e.Error()
		}
		if got != tt.want {
			t.Errorf("badChar(%q) = %q, want %q", tt.data, got, tt.want)
		}
	}
}
