package manifest

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// InlineFile returns the text of the manifest at path with each
// files[].source replaced by the content of the file it names, for a
// client to send to a server, which has no files: Parse(name, text) there
// gives the manifest LoadFile(ctx, path) gives here (named name), so both
// render the same objects. name names the manifest in errors, here and in
// the server's Parse: give the name the user gave (LoadFile uses
// filepath.Base(path)).
//
// The manifest and its sources are read as LoadFile reads them, with the
// same limits and confinement (a regular file inside the manifest's
// directory, after symlinks; 1 MiB each and together) and the same
// positioned errors; a manifest that does not parse is Parse's *Errors. A
// manifest without sources comes back as it is.
//
// A source of UTF-8 text becomes `content: "..."`, anything else
// `binaryContent: "<base64>"` (LoadFile's BinaryContent), each written on
// one line in place of `source: PATH`. Every other byte of the file stays
// as it is, comments included, and every line keeps its number (only
// columns after a replaced source on its line move), so errors the server
// finds point where the user's file has them. A source written in a form
// that can't be replaced in place (a block scalar, or with a tag or an
// anchor on it) makes the whole manifest encoded anew instead: the same
// manifest, in yaml.v3's layout.
//
// The text is checked before it is returned: Parse of it must give what
// LoadFile gives, or its *Errors are returned (such as a placeholder in a
// source's text that is not declared, which Render would refuse after
// LoadFile). It does not give the same when a source is shared, through
// an anchor or a merge key, with a field that is not a file's source (a
// resource's params, say), which would change too; that is an *Errors. So
// is a manifest that with its sources inlined is over the 1 MiB a manifest
// may have.
func InlineFile(ctx context.Context, path, name string) ([]byte, error) {
	data, err := readManifest(ctx, path, name)
	if err != nil {
		return nil, err
	}
	m, err := Parse(name, data)
	if err != nil {
		return nil, err
	}
	at := sourcePositions(m)
	if len(at) == 0 {
		return data, nil
	}
	r := newSourceReader(ctx, filepath.Dir(path))
	defer r.Close()
	if err := r.load(m); err != nil {
		return nil, err
	}
	return inline(name, data, m, at, r.read)
}

// sourceAt is where a files[].source was written.
type sourceAt struct {
	line, col int
	src       string
}

// sourcePositions lists where m and its environments take files from a
// source, once each.
func sourcePositions(m *Manifest) []sourceAt {
	var out []sourceAt
	seen := map[[2]int]bool{}
	for _, mm := range append([]*Manifest{m}, envManifests(m)...) {
		for _, name := range sortedKeys(mm.Containers) {
			for _, f := range mm.Containers[name].Files {
				if f.Source == "" {
					continue
				}
				l, _ := mm.position(f.path + ".source")
				pos := [2]int{int(l.line), int(l.col)}
				if !seen[pos] {
					seen[pos] = true
					out = append(out, sourceAt{line: pos[0], col: pos[1], src: f.Source})
				}
			}
		}
	}
	return out
}

// sourceEdit is one source to replace: the value at index i of mapping m,
// whose key is at i-1, and the data to put there.
type sourceEdit struct {
	m    *yaml.Node
	i    int
	data []byte
}

func (e sourceEdit) text() bool { return utf8.Valid(e.data) }

func (e sourceEdit) key() string {
	if e.text() {
		return "content"
	}
	return "binaryContent"
}

func (e sourceEdit) value() string {
	if e.text() {
		return string(e.data)
	}
	return base64.StdEncoding.EncodeToString(e.data)
}

// inline writes the sources read into data, checking the result against
// want, the manifest with its sources loaded.
func inline(name string, data []byte, want *Manifest, at []sourceAt, read map[string]*source) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: inline sources: %w", name, err) // Parse read it, so this can't happen
	}
	values := mappingValues(&doc)
	edits := make([]sourceEdit, 0, len(at))
	for _, a := range at {
		v, ok := values[[2]int{a.line, a.col}]
		if !ok {
			return nil, fmt.Errorf("%s:%d:%d: inline sources: no source %q there", name, a.line, a.col, a.src)
		}
		v.data = read[a.src].data
		edits = append(edits, v)
	}

	problem := func(msg, hint string) error {
		return &Errors{List: []Error{{File: name, Msg: msg, Hint: hint}}}
	}
	var first error
	try := func(text []byte) ([]byte, bool) {
		got, err := Parse(name, text)
		if err == nil && !sameManifest(want, got) {
			err = problem("can't inline the files' sources: one is shared, through an anchor or a merge key, with a field that is not a file's source",
				"write the source in each file that uses it")
		}
		first = cmp.Or(first, err)
		return text, err == nil
	}
	if text, ok := splice(data, edits); ok {
		if len(text) > maxFileSize {
			// Encoded anew, it would be no smaller.
			return nil, problem(fmt.Sprintf("with its sources inlined, the manifest is %d bytes; a manifest may have at most %d", len(text), maxFileSize),
				"ship big files in the image or a volume")
		}
		if text, ok := try(text); ok {
			return text, nil
		}
	}
	text, err := reencode(&doc, edits)
	if err != nil {
		return nil, fmt.Errorf("%s: inline sources: %w", name, err)
	}
	if text, ok := try(text); ok {
		return text, nil
	}
	return nil, first
}

// mappingValues indexes the scalar and alias values of every mapping in
// the tree by position; no two share one. Aliases are not followed, so
// each node is visited once.
func mappingValues(n *yaml.Node) map[[2]int]sourceEdit {
	out := map[[2]int]sourceEdit{}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.MappingNode {
			for i := 1; i < len(n.Content); i += 2 {
				if v := n.Content[i]; v.Kind == yaml.ScalarNode || v.Kind == yaml.AliasNode {
					out[[2]int{v.Line, v.Column}] = sourceEdit{m: n, i: i}
				}
			}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(n)
	return out
}

// splice replaces each source's key and value in data in place, and
// reports whether it could: each must be a plain or quoted scalar on one
// line, or an alias.
func splice(data []byte, edits []sourceEdit) ([]byte, bool) {
	type span struct {
		from, to int
		text     string
	}
	starts := lineStarts(data)
	var spans []span
	for _, e := range edits {
		for _, part := range []struct {
			n    *yaml.Node
			text string
		}{{e.m.Content[e.i-1], e.key()}, {e.m.Content[e.i], quoteYAML(e.value())}} {
			from, ok := offsetOf(data, starts, part.n.Line, part.n.Column)
			if !ok {
				return nil, false
			}
			to, ok := scalarEnd(data, from, part.n)
			if !ok {
				return nil, false
			}
			spans = append(spans, span{from, to, part.text})
		}
	}
	slices.SortFunc(spans, func(a, b span) int { return a.from - b.from })
	var b bytes.Buffer
	at := 0
	for _, s := range spans {
		if s.from < at {
			return nil, false
		}
		b.Write(data[at:s.from])
		b.WriteString(s.text)
		at = s.to
	}
	b.Write(data[at:])
	return b.Bytes(), true
}

// lineStarts returns the offset at which each line of data starts, lines
// broken as YAML 1.1 (and so yaml.v3's positions) breaks them.
func lineStarts(data []byte) []int {
	first := 0
	if bytes.HasPrefix(data, []byte("\uFEFF")) {
		first = 3 // positions count from after a byte order mark
	}
	starts := []int{first}
	for i := first; i < len(data); i++ {
		switch {
		case data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n':
			i++
			starts = append(starts, i+1)
		case data[i] == '\n', data[i] == '\r':
			starts = append(starts, i+1)
		case bytes.HasPrefix(data[i:], []byte("\u0085")):
			i++
			starts = append(starts, i+1)
		case bytes.HasPrefix(data[i:], []byte("\u2028")), bytes.HasPrefix(data[i:], []byte("\u2029")):
			i += 2
			starts = append(starts, i+1)
		}
	}
	return starts
}

// offsetOf is the byte offset of line:col, col counted in characters.
func offsetOf(data []byte, starts []int, line, col int) (int, bool) {
	if line < 1 || line > len(starts) || col < 1 {
		return 0, false
	}
	i := starts[line-1]
	for c := 1; c < col; c++ {
		if i >= len(data) {
			return 0, false
		}
		_, w := utf8.DecodeRune(data[i:])
		i += w
	}
	return i, true
}

// scalarEnd is where the scalar or alias n, written at data[from:], ends,
// when it is on one line and has no tag or anchor.
func scalarEnd(data []byte, from int, n *yaml.Node) (int, bool) {
	rest := data[from:]
	switch {
	case n.Kind == yaml.AliasNode:
		if w := "*" + n.Value; bytes.HasPrefix(rest, []byte(w)) {
			return from + len(w), true
		}
	case n.Kind != yaml.ScalarNode || n.Anchor != "":
	case n.Style == 0: // plain: the value is the text as written
		if n.Value != "" && bytes.HasPrefix(rest, []byte(n.Value)) {
			return from + len(n.Value), true
		}
	case n.Style == yaml.DoubleQuotedStyle, n.Style == yaml.SingleQuotedStyle:
		if len(rest) == 0 || (rest[0] != '"' && rest[0] != '\'') {
			return 0, false
		}
		q := rest[0]
		for i := 1; i < len(rest); i++ {
			switch c := rest[i]; {
			case c == '\n' || c == '\r':
				return 0, false
			case q == '"' && c == '\\':
				i++
			case c == q && q == '\'' && i+1 < len(rest) && rest[i+1] == '\'':
				i++
			case c == q:
				// Read back, the span must be the value.
				var v yaml.Node
				if yaml.Unmarshal(rest[:i+1], &v) != nil || len(v.Content) != 1 || v.Content[0].Value != n.Value {
					return 0, false
				}
				return from + i + 1, true
			}
		}
	}
	return 0, false
}

// quoteYAML writes s as a YAML double-quoted scalar on one line: line
// breaks, and every character YAML text can't hold or would take for a
// line break, escaped.
func quoteYAML(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			if r < 0x20 || r >= 0x7F && r < 0xA0 || r == 0x2028 || r == 0x2029 || r == 0xFEFF || !yamlChar(r) {
				b.WriteString(`\u`)
				b.WriteString(fmt.Sprintf("%04X", r))
				continue
			}
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// reencode edits the tree and encodes it again.
func reencode(doc *yaml.Node, edits []sourceEdit) ([]byte, error) {
	for _, e := range edits {
		k := e.m.Content[e.i-1]
		k.Kind, k.Tag, k.Value, k.Style, k.Alias = yaml.ScalarNode, "!!str", e.key(), 0, nil
		v := e.m.Content[e.i]
		nv := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: e.value(),
			HeadComment: v.HeadComment, LineComment: v.LineComment, FootComment: v.FootComment}
		if e.text() {
			nv.Style = yaml.DoubleQuotedStyle
			if strings.Contains(nv.Value, "\n") {
				nv.Style = yaml.LiteralStyle // yaml.v3 quotes it when it must
			}
		}
		if v.Kind != yaml.AliasNode && v.Anchor != "" {
			// Aliases elsewhere name this node: it must stay in place.
			nv.Anchor = v.Anchor
			*v = *nv
			continue
		}
		e.m.Content[e.i] = nv
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// sameManifest reports whether a and b, and each of their environments,
// have the same fields.
func sameManifest(a, b *Manifest) bool {
	if !sameFields(a, b) || len(a.envs) != len(b.envs) {
		return false
	}
	for name, ea := range a.envs {
		if eb, ok := b.envs[name]; !ok || !sameFields(ea, eb) {
			return false
		}
	}
	return true
}

func sameFields(a, b *Manifest) bool {
	x, y := *a, *b
	// Positions differ where a source was replaced; the rest is how Parse
	// got there.
	x.envs, x.locs, x.base, x.reused = nil, nil, nil, 0
	y.envs, y.locs, y.base, y.reused = nil, nil, nil, 0
	return reflect.DeepEqual(x, y)
}
