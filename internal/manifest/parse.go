package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/berth-dev/berth/internal/manifest/internal/yamltree"
)

// Limits that keep hostile input cheap: a manifest is a few hundred lines,
// so these are far above real use and far below what would hurt a server.
const (
	maxFileSize = 1 << 20   // bytes
	maxVisits   = 1_000_000 // YAML nodes visited, counting alias expansions
	maxDepth    = 32        // nesting of free-form params and merges
)

// Parse parses and validates the manifest in data. file names it in error
// messages. Every environment overlay is merged and validated too, so a
// manifest that parses renders for any environment. Invalid input returns
// *Errors.
func Parse(file string, data []byte) (*Manifest, error) {
	return parse(file, data, true)
}

// parse is Parse, through yaml.v3 alone and without reuse (memo.go) unless
// fast, so that tests can compare the two.
func parse(file string, data []byte, fast bool) (*Manifest, error) {
	errs := &errorList{}
	fail := func(line int, msg, hint string) (*Manifest, error) {
		errs.add(Error{File: file, Line: line, Msg: msg, Hint: hint})
		return nil, errs.err()
	}
	if len(data) > maxFileSize {
		return fail(0, fmt.Sprintf("file is %d bytes; a manifest may have at most %d", len(data), maxFileSize), "")
	}
	// A tree from the fast parser is plain: it has no aliases, so every
	// node has one parent.
	var root *yaml.Node
	plain := false
	arena := yamltree.GetArena[pair]()
	defer arena.Release()
	if fast {
		root, plain = arena.Parse(data)
	}
	if !plain {
		var line int
		var err error
		if root, line, err = decodeYAMLv3(data); err != nil {
			// yaml.v3 gives no position for bytes it can't read at all.
			if e, ok := badChar(file, data); line == 0 && ok {
				errs.add(e)
				return nil, errs.err()
			}
			return fail(line, err.Error(), "")
		}
	}
	if root == nil {
		return fail(0, "empty manifest", `start with "apiVersion: berth.dev/v1", or run berth init`)
	}

	budget := maxVisits
	// Manifests have a field per 18 to 20 bytes; sizing the positions map
	// up front saves growing it field by field.
	d := &decoder{file: file, errs: errs, budget: &budget, fields: len(data) / 20}
	var base *decoder
	if plain {
		// Without aliases, the pairs and merged nodes are bounded by the
		// tree, and can live in its arena.
		d.arena = arena
		d.memos = map[string]*fieldMemo{}
		base = d
	}
	m := d.decode(root)
	overlays := d.environments(d.envNode, m)
	m.envs = map[string]*Manifest{}
	envFields := len(m.locs) // an environment records what it does not reuse
	if base != nil {
		envFields = 16
	}
	for _, name := range sortedKeys(overlays) {
		if d.failed[join("environments", name)] {
			continue // merging a malformed overlay would only add noise
		}
		ed := &decoder{file: file, errs: errs, budget: &budget, env: name, overlay: map[*yaml.Node]bool{}, fields: envFields, base: base, arena: d.arena}
		over := overlays[name]
		ed.mark(over, 0)
		merged := ed.merge(root, over, 0)
		m.envs[name] = ed.decode(merged)
	}
	if budget <= 0 {
		// Everything reported after the budget ran out is noise from a
		// half-read tree; keep only the budget error itself.
		errs = &errorList{}
		return fail(0, "manifest expands to too many YAML nodes", fmt.Sprintf("at most %d, counting alias expansions", maxVisits))
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return m, nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// decodeYAMLv3 parses one YAML document into a node tree with yaml.v3,
// turning its errors into a line and a message.
func decodeYAMLv3(data []byte) (root *yaml.Node, line int, err error) {
	defer func() {
		// The YAML library is the one part we do not control; a panic in it
		// must still come out as an invalid-manifest error.
		if r := recover(); r != nil {
			root, line, err = nil, 0, fmt.Errorf("unreadable YAML: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, 0, nil
		}
		line, err := yamlErrorLine(err)
		return nil, line, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		if len(extra.Content) > 0 && !isNull(extra.Content[0]) {
			return nil, extra.Line, errors.New("more than one YAML document (a manifest is one document; remove the ---)")
		}
	} else if !errors.Is(err, io.EOF) {
		line, err := yamlErrorLine(err)
		return nil, line, err
	}
	if len(doc.Content) == 0 || isNull(doc.Content[0]) {
		return nil, 0, nil
	}
	return doc.Content[0], 0, nil
}

func yamlErrorLine(err error) (int, error) {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return line, errors.New("invalid YAML: " + m[2])
	}
	return 0, errors.New("invalid YAML: " + trimPrefix(msg, "yaml: "))
}

func trimPrefix(s, prefix string) string {
	if len(s) >= len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):]
	}
	return s
}

// decoder turns one YAML node tree into a Manifest. Parse runs one for the
// base and one per environment over the merged tree; they share the error
// list and the node budget.
type decoder struct {
	file    string
	errs    *errorList
	budget  *int
	env     string              // environment being decoded; "" for the base
	overlay map[*yaml.Node]bool // nodes written in the environment's overlay
	m       *Manifest
	tmpls   []tmpl
	score   bool
	envNode *yaml.Node            // value of environments:, for Parse
	failed  map[string]bool       // paths with a reported problem
	fields  int                   // expected number of fields, to size Manifest.locs
	arena   *yamltree.Arena[pair] // for pairs and merged nodes, which do not outlive Parse; nil for trees with aliases

	// Reuse of the base's decoding in environment passes (memo.go).
	problems int                   // problems reported or marked so far
	present  uint16                // top-level fields in the tree, a bit per reusable entry
	memos    map[string]*fieldMemo // base: clean top-level fields
	base     *decoder              // environments: the base's decoder, when reuse is safe
}

// tmpl is a string field that may hold placeholders, checked once the whole
// manifest (args, resources) is known.
type tmpl struct {
	path   string
	text   string
	allow  allow
	segs   []segment      // text parsed, once for the base and all environments
	err    *templateError // or why it does not parse
	reused bool           // taken from the base's decoding (memo.go)
}

type pair struct {
	name     string
	key, val *yaml.Node
	path     string // set by object and entries
}

func isNull(n *yaml.Node) bool { return n != nil && n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// spend charges one node visit; false once the budget is gone.
func (d *decoder) spend() bool {
	if *d.budget <= 0 {
		return false
	}
	*d.budget--
	return true
}

// resolve follows aliases and charges the visit, so a billion-laughs tree
// costs what it expands to and then stops.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode; i++ {
		if i > 16 {
			return nil
		}
		n = n.Alias
	}
	if n == nil || !d.spend() {
		return nil
	}
	return n
}

// displayPath is the path shown to the user for a node: overlay nodes are
// shown under the environment that wrote them.
func (d *decoder) displayPath(n *yaml.Node, path string) string {
	if d.env != "" && d.overlay[n] {
		return join("environments."+d.env, path)
	}
	return path
}

// record remembers where path was written. Scalars point at the value;
// mappings and lists point at their key, where a reader looks for them.
func (d *decoder) record(path string, key, val *yaml.Node) {
	n := val
	if n == nil || (key != nil && d.peekKind(n) != yaml.ScalarNode) {
		n = key
	}
	if n == nil {
		return
	}
	d.m.locs[path] = loc{line: int32(n.Line), col: int32(n.Column), overlay: d.env != "" && d.overlay[n]}
}

func (d *decoder) peekKind(n *yaml.Node) yaml.Kind {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 16; i++ {
		n = n.Alias
	}
	if n == nil {
		return 0
	}
	return n.Kind
}

// fail reports a problem at the recorded position of path.
func (d *decoder) fail(path, msg, hint string) {
	d.markFailed(path)
	d.add(d.m.errorAt(path, msg, hint))
}

// required reports a missing field, unless the field was there but bad:
// one problem per field is enough.
func (d *decoder) required(path, hint string) {
	if !d.failed[path] {
		d.fail(path, "required", hint)
	}
}

func (d *decoder) markFailed(path string) {
	d.problems++
	if d.failed == nil {
		d.failed = map[string]bool{}
	}
	d.failed[path] = true
}

// failNode reports a problem at node n.
func (d *decoder) failNode(n *yaml.Node, path, msg, hint string) {
	d.markFailed(path)
	d.add(Error{File: d.file, Line: n.Line, Col: n.Column, Path: d.displayPath(n, path), Msg: msg, Hint: hint})
}

func (d *decoder) add(e Error) {
	d.problems++
	if d.env != "" && !hasPrefix(e.Path, "environments.") {
		if d.errs.has(e) {
			return // the base has this problem too and already reported it
		}
		e.Msg += " in environment " + d.env
	}
	d.errs.add(e)
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!str":
			return "a string"
		case "!!int", "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		case "!!null":
			return "null"
		}
		return "a scalar"
	}
	return "something else"
}

// mapping returns the entries of a mapping, with YAML merge keys (<<)
// applied. null counts as empty, so "variables:" with nothing under it is
// fine.
func (d *decoder) mapping(n *yaml.Node, path string) []pair {
	r := d.resolve(n)
	if r == nil || isNull(r) {
		return nil
	}
	if r.Kind != yaml.MappingNode {
		d.fail(path, "must be a mapping, not "+describe(r), "")
		return nil
	}
	return d.pairs(r, path, 0)
}

func (d *decoder) pairs(r *yaml.Node, path string, depth int) []pair {
	var merged []pair
	var own []pair
	if d.arena != nil {
		own = d.arena.Entries(len(r.Content) / 2)
	} else {
		own = make([]pair, 0, len(r.Content)/2)
	}
	var seen keyIndex
	for i := 0; i+1 < len(r.Content); i += 2 {
		k, v := r.Content[i], r.Content[i+1]
		kr := d.resolve(k)
		if kr == nil {
			return own
		}
		if kr.Kind == yaml.ScalarNode && kr.Tag == "!!merge" {
			merged = append(merged, d.mergeKey(v, path, depth)...)
			continue
		}
		if kr.Kind != yaml.ScalarNode || isNull(kr) {
			d.failNode(k, path, "keys must be strings, not "+describe(kr), "")
			continue
		}
		if first := seen.find(own, kr.Value); first >= 0 {
			d.failNode(k, join(path, kr.Value), "duplicate key (first at line "+strconv.Itoa(own[first].key.Line)+")", "")
			continue
		}
		own = append(own, pair{name: kr.Value, key: k, val: v})
		seen.add(own)
	}
	// Merged keys fill in only what the mapping does not set itself, and an
	// earlier merge source wins over a later one, as YAML specifies.
	for _, p := range merged {
		if seen.find(own, p.name) < 0 {
			own = append(own, p)
			seen.add(own)
		}
	}
	return own
}

// keyIndex finds keys among a mapping's pairs. Mappings in a manifest are
// small, and scanning them beats hashing; a map takes over for big ones.
type keyIndex struct {
	byName map[string]int
}

const maxScannedKeys = 16

// find returns the index in own of the pair named name, or -1.
func (x *keyIndex) find(own []pair, name string) int {
	if x.byName != nil {
		if i, ok := x.byName[name]; ok {
			return i
		}
		return -1
	}
	for i := range own {
		if own[i].name == name {
			return i
		}
	}
	return -1
}

// add indexes the pair just appended to own.
func (x *keyIndex) add(own []pair) {
	switch {
	case x.byName != nil:
		x.byName[own[len(own)-1].name] = len(own) - 1
	case len(own) > maxScannedKeys:
		x.byName = make(map[string]int, 2*len(own))
		for i, p := range own {
			if _, dup := x.byName[p.name]; !dup {
				x.byName[p.name] = i
			}
		}
	}
}

func (d *decoder) mergeKey(v *yaml.Node, path string, depth int) []pair {
	if depth >= maxDepth {
		d.failNode(v, path, "merge keys (<<) nested too deeply", "")
		return nil
	}
	vr := d.resolve(v)
	if vr == nil {
		return nil
	}
	var out []pair
	switch vr.Kind {
	case yaml.MappingNode:
		return d.pairs(vr, path, depth+1)
	case yaml.SequenceNode:
		for _, item := range vr.Content {
			ir := d.resolve(item)
			if ir == nil || ir.Kind != yaml.MappingNode {
				d.failNode(item, path, "<< merges mappings only", "")
				continue
			}
			out = append(out, d.pairs(ir, path, depth+1)...)
		}
	default:
		d.failNode(v, path, "<< merges mappings only, not "+describe(vr), "")
	}
	return out
}

// object returns the entries of a mapping whose keys are field names from
// fs, reporting the others.
func (d *decoder) object(n *yaml.Node, path string, fs *fieldSet) []pair {
	ps := d.mapping(n, path)
	out := ps[:0]
	for _, p := range ps {
		fp := join(path, p.name)
		p.path = fp
		d.record(fp, p.key, p.val)
		if !fs.has(p.name) {
			if r, ok := refusals[fs][p.name]; ok {
				d.failNode(p.key, fp, r.msg, r.hint)
				continue
			}
			d.failNode(p.key, fp, "unknown field", didYouMean(p.name, fs.fields))
			if s := suggest(p.name, fs.fields); s != "" {
				// The typo is the problem; "required" for the field it
				// meant would only repeat it.
				d.markFailed(join(path, s))
			}
			continue
		}
		out = append(out, p)
	}
	return out
}

// entries returns the entries of a mapping with free keys (names).
func (d *decoder) entries(n *yaml.Node, path string) []pair {
	ps := d.mapping(n, path)
	for i := range ps {
		ps[i].path = join(path, ps[i].name)
		d.record(ps[i].path, ps[i].key, ps[i].val)
	}
	return ps
}

// items returns the items of a list, recording where each was written.
func (d *decoder) items(n *yaml.Node, path string) []*yaml.Node {
	r := d.resolve(n)
	if r == nil || isNull(r) {
		return nil
	}
	if r.Kind != yaml.SequenceNode {
		d.fail(path, "must be a list, not "+describe(r), "")
		return nil
	}
	for i, item := range r.Content {
		d.record(index(path, i), nil, item)
	}
	return r.Content
}

// scalar returns the resolved scalar node, or nil for null and non-scalars.
func (d *decoder) scalar(n *yaml.Node, path, what string) *yaml.Node {
	r := d.resolve(n)
	if r == nil || isNull(r) {
		return nil
	}
	if r.Kind != yaml.ScalarNode {
		d.fail(path, "must be "+what+", not "+describe(r), "")
		return nil
	}
	return r
}

// str reads a string field that takes no placeholders. Numbers and booleans
// are taken as written, since YAML users rarely quote "8080" or "1.0".
func (d *decoder) str(n *yaml.Node, path string) string {
	r := d.scalar(n, path, "a string")
	if r == nil {
		return ""
	}
	if hasPlaceholder(r.Value) {
		d.fail(path, "placeholders are not allowed here", "only container fields, exposes[].host and resource params take placeholders")
	}
	return r.Value
}

// text reads a string field that may hold placeholders of the kinds in a.
func (d *decoder) text(n *yaml.Node, path string, a allow) string {
	r := d.scalar(n, path, "a string")
	if r == nil {
		return ""
	}
	if hasPlaceholder(r.Value) {
		segs, err := parseTemplate(r.Value)
		d.tmpls = append(d.tmpls, tmpl{path: path, text: r.Value, allow: a, segs: segs, err: err})
	}
	return r.Value
}

// integer reads a whole number in [lo, hi].
func (d *decoder) integer(n *yaml.Node, path string, lo, hi int64) (int64, bool) {
	r := d.scalar(n, path, "a number")
	if r == nil {
		return 0, false
	}
	rangeMsg := func() string { return fmt.Sprintf("must be a whole number from %d to %d", lo, hi) }
	switch r.Tag {
	case "!!int":
	case "!!str":
		d.fail(path, rangeMsg()+", not a string", "remove the quotes")
		return 0, false
	case "!!float":
		d.fail(path, rangeMsg(), "")
		return 0, false
	default:
		d.fail(path, rangeMsg()+", not "+describe(r), "")
		return 0, false
	}
	v, err := yamltree.Int(r)
	if err != nil || v < lo || v > hi {
		d.fail(path, rangeMsg(), "")
		return 0, false
	}
	return v, true
}

// duration reads a Go duration such as 30s or 2m in [lo, hi].
func (d *decoder) duration(n *yaml.Node, path string, lo, hi time.Duration) time.Duration {
	r := d.scalar(n, path, "a duration")
	if r == nil {
		return 0
	}
	want := fmt.Sprintf("must be a duration from %s to %s, such as 30s or 2m", shortDuration(lo), shortDuration(hi))
	v, err := time.ParseDuration(r.Value)
	if err != nil {
		hint := ""
		if _, nerr := strconv.Atoi(r.Value); nerr == nil {
			hint = "add a unit: " + r.Value + "s"
		}
		d.fail(path, want, hint)
		return 0
	}
	if v < lo || v > hi {
		d.fail(path, want, "")
		return 0
	}
	return v
}

// shortDuration writes d as people do: 30m, not 30m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func (d *decoder) boolean(n *yaml.Node, path string) bool {
	r := d.scalar(n, path, "true or false")
	if r == nil {
		return false
	}
	if r.Tag != "!!bool" {
		d.fail(path, "must be true or false", "")
		return false
	}
	v, err := yamltree.Bool(r)
	if err != nil {
		d.fail(path, "must be true or false", "")
	}
	return v
}

// strList reads a list of strings; a == 0 means no placeholders.
func (d *decoder) strList(n *yaml.Node, path string, a allow) []string {
	items := d.items(n, path)
	out := make([]string, 0, len(items))
	for i, item := range items {
		p := index(path, i)
		if a == 0 {
			out = append(out, d.str(item, p))
		} else {
			out = append(out, d.text(item, p, a))
		}
	}
	return out
}

// strMap reads a mapping of names to strings; a == 0 means no placeholders.
func (d *decoder) strMap(n *yaml.Node, path string, a allow) map[string]string {
	ps := d.entries(n, path)
	if ps == nil {
		return nil
	}
	out := make(map[string]string, len(ps))
	for _, p := range ps {
		fp := p.path
		if r := d.resolve(p.val); r == nil || isNull(r) {
			d.fail(fp, "must be a string, not null", `write "" for an empty value`)
			continue
		}
		if a == 0 {
			out[p.name] = d.str(p.val, fp)
		} else {
			out[p.name] = d.text(p.val, fp, a)
		}
	}
	return out
}

// anyValue reads free-form params: scalars stay as written (strings),
// mappings and lists nest up to maxDepth.
func (d *decoder) anyValue(n *yaml.Node, path string, depth int) any {
	r := d.resolve(n)
	if r == nil || isNull(r) {
		return nil
	}
	if depth > maxDepth {
		d.fail(path, "nested too deeply", fmt.Sprintf("params may nest %d levels", maxDepth))
		return nil
	}
	switch r.Kind {
	case yaml.MappingNode:
		out := map[string]any{}
		for _, p := range d.entries(r, path) {
			out[p.name] = d.anyValue(p.val, p.path, depth+1)
		}
		return out
	case yaml.SequenceNode:
		items := d.items(r, path)
		out := make([]any, 0, len(items))
		for i, item := range items {
			out = append(out, d.anyValue(item, index(path, i), depth+1))
		}
		return out
	default:
		// A param may take another resource's output: score-k8s's routes take
		// ${resources.dns.host}. checkResourceCycles refuses loops.
		return d.text(r, path, allowText)
	}
}
