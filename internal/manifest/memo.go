package manifest

import (
	"strings"

	"go.yaml.in/yaml/v3"
)

// Parse decodes the base manifest, then each environment's merged tree.
// An overlay changes a few fields; the rest of a merged tree is the base's
// own nodes, and decoding them again made every environment cost as much
// as the base. So the base pass keeps, for each top-level field it decodes
// without a problem, what decoding it produced besides the value: the
// placeholders to check. An environment pass that meets the very same key
// and value nodes takes the base's value (shared, as ForEnv already shares
// the base for environments without an overlay) and placeholders, looks
// the field's positions up in the base, and then runs the cross-field
// checks itself.
//
// Only trees without aliases qualify (the fast parser's, see parse):
// there a node has one parent, so the same node under the same top-level
// key has the same path and decodes the same way, and no base node can
// also be part of an overlay.

// fieldMemo is what decoding one top-level field in the base produced.
type fieldMemo struct {
	key, val *yaml.Node
	tmpls    []tmpl
	visits   int // node budget spent
}

// fieldStart is the decoder's state when a top-level field's decoding
// started.
type fieldStart struct {
	tmpls, visits, problems int
}

func (d *decoder) startField() fieldStart {
	return fieldStart{tmpls: len(d.tmpls), visits: *d.budget, problems: d.problems}
}

// endField keeps what decoding p in the base produced, if it went without
// a problem.
func (d *decoder) endField(p pair, s fieldStart) {
	if d.memos == nil || reusableIndex(p.name) < 0 || d.problems != s.problems {
		return
	}
	d.memos[p.name] = &fieldMemo{
		key: p.key, val: p.val,
		tmpls:  d.tmpls[s.tmpls:len(d.tmpls):len(d.tmpls)],
		visits: s.visits - *d.budget,
	}
}

// reuse takes field p from the base's decoding when the base decoded the
// same nodes cleanly, and reports whether it did.
func (d *decoder) reuse(p pair) bool {
	if d.base == nil {
		return false
	}
	memo := d.base.memos[p.name]
	if memo == nil || memo.key != p.key || memo.val != p.val || *d.budget < memo.visits {
		return false
	}
	i := reusableIndex(p.name)
	reusable[i].take(d.m, d.base.m)
	d.m.base = d.base.m
	d.m.reused |= 1 << i
	for _, t := range memo.tmpls {
		t.reused = true
		d.tmpls = append(d.tmpls, t)
	}
	*d.budget -= memo.visits
	return true
}

// unchanged reports whether the environment being decoded has all the
// named top-level fields as the base has them: taken from the base's
// decoding, or absent from both.
func (d *decoder) unchanged(names ...string) bool {
	if d.base == nil {
		return false
	}
	for _, name := range names {
		bit := uint16(1) << reusableIndex(name)
		if d.m.reused&bit == 0 && (d.present&bit != 0 || d.base.present&bit != 0) {
			return false
		}
	}
	return true
}

// reusable lists the top-level fields reuse can take from the base, with
// how. Manifest.reused has a bit per entry.
var reusable = []struct {
	name string
	take func(dst, src *Manifest)
}{
	{"metadata", func(dst, src *Manifest) { dst.Metadata = src.Metadata }},
	{"args", func(dst, src *Manifest) { dst.Args = src.Args }},
	{"containers", func(dst, src *Manifest) { dst.Containers = src.Containers }},
	{"service", func(dst, src *Manifest) { dst.Service = src.Service }},
	{"exposes", func(dst, src *Manifest) { dst.Exposes = src.Exposes }},
	{"replicas", func(dst, src *Manifest) { dst.Replicas = src.Replicas }},
	{"autoscale", func(dst, src *Manifest) { dst.Autoscale = src.Autoscale }},
	{"resources", func(dst, src *Manifest) { dst.Resources = src.Resources }},
	{"smoke", func(dst, src *Manifest) { dst.Smoke = src.Smoke }},
	{"ingressClass", func(dst, src *Manifest) { dst.IngressClass = src.IngressClass }},
	{"deploy", func(dst, src *Manifest) { dst.Deploy = src.Deploy }},
	{"git", func(dst, src *Manifest) { dst.Git = src.Git }},
	{"metrics", func(dst, src *Manifest) { dst.Metrics = src.Metrics }},
	{"slo", func(dst, src *Manifest) { dst.SLO = src.SLO }},
	{"alerts", func(dst, src *Manifest) { dst.Alerts = src.Alerts }},
}

func reusableIndex(name string) int {
	for i, r := range reusable {
		if r.name == name {
			return i
		}
	}
	return -1
}

// position returns where path was written: in the base for the fields an
// environment reused, else in m's own positions.
func (m *Manifest) position(path string) (loc, bool) {
	if m.reused != 0 {
		top := path
		if i := strings.IndexAny(path, ".["); i >= 0 {
			top = path[:i]
		}
		if i := reusableIndex(top); i >= 0 && m.reused&(1<<i) != 0 {
			return m.base.position(path)
		}
	}
	l, ok := m.locs[path]
	return l, ok
}
