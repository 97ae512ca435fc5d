package manifest

import (
	"maps"
	"slices"

	"go.yaml.in/yaml/v3"
)

// An environment overlay (environments.NAME) is a partial manifest merged
// over the base before decoding, with one rule everywhere: mappings merge
// key by key, recursively; lists and scalars replace; null removes the key.
// Merging YAML trees rather than typed structs keeps every merged value at
// the line where it was written, so errors point into the overlay.

// environments checks the shape of environments: what an overlay may
// override, and that it only overrides things the base declares. It
// returns the overlay of each well-formed environment.
func (d *decoder) environments(n *yaml.Node, m *Manifest) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	for _, e := range d.entries(n, "environments") {
		path := join("environments", e.name)
		if msg, hint := checkDNSLabel(e.name); msg != "" {
			d.failNode(e.key, path, "environment name "+msg, hint)
			continue
		}
		r := d.resolve(e.val)
		if r == nil || isNull(r) {
			out[e.name] = nil
			continue
		}
		if r.Kind != yaml.MappingNode {
			d.fail(path, "must be a mapping, not "+describe(r), "")
			continue
		}
		before := len(d.errs.list)
		for _, p := range d.object(r, path, envFields) {
			fp := p.path
			switch p.name {
			case "args":
				for _, a := range d.entries(p.val, fp) {
					if _, ok := m.Args[a.name]; !ok {
						d.failNode(a.key, a.path, "unknown arg", argsHint(a.name, slices.Sorted(maps.Keys(m.Args))))
					}
				}
			case "containers":
				for _, c := range d.entries(p.val, fp) {
					cp := c.path
					if _, ok := m.Containers[c.name]; !ok {
						d.failNode(c.key, cp, "no such container in the base manifest", didYouMean(c.name, slices.Sorted(maps.Keys(m.Containers))))
						continue
					}
					d.object(c.val, cp, envContainerFields)
				}
			case "resources":
				for _, c := range d.entries(p.val, fp) {
					cp := c.path
					if _, ok := m.Resources[c.name]; !ok {
						d.failNode(c.key, cp, "no such resource in the base manifest", didYouMean(c.name, slices.Sorted(maps.Keys(m.Resources))))
						continue
					}
					d.object(c.val, cp, envResourceFields)
				}
			}
		}
		if len(d.errs.list) > before {
			d.markFailed(path)
		}
		out[e.name] = r
	}
	return out
}

// mark remembers which nodes the overlay wrote, so errors in them are
// shown under environments.NAME.
func (d *decoder) mark(n *yaml.Node, depth int) {
	if n == nil || depth > 4*maxDepth || d.overlay[n] || !d.spend() {
		return
	}
	d.overlay[n] = true
	for _, c := range n.Content {
		d.mark(c, depth+1)
	}
}

// merge returns base with over merged in, sharing unchanged nodes.
func (d *decoder) merge(base, over *yaml.Node, depth int) *yaml.Node {
	o := d.resolve(over)
	if o == nil || isNull(o) {
		return base
	}
	b := d.resolve(base)
	if b == nil || b.Kind != yaml.MappingNode || o.Kind != yaml.MappingNode || depth > maxDepth {
		return over
	}
	// Duplicate keys and bad merge keys were reported when the base and the
	// overlay were read; reading them again here must stay quiet.
	quiet := *d
	quiet.errs = &errorList{}
	bp := quiet.pairs(b, "", 0)
	op := quiet.pairs(o, "", 0)
	var byName keyIndex
	for i := range op {
		byName.add(op[:i+1])
	}
	used := make([]bool, len(op))
	out := d.newMapping(b, 2*(len(bp)+len(op)))
	for _, p := range bp {
		i := byName.find(op, p.name)
		if i < 0 {
			out.Content = append(out.Content, p.key, p.val)
			continue
		}
		used[i] = true
		q := op[i]
		if qr := d.resolve(q.val); qr == nil || isNull(qr) {
			continue
		}
		if d.peekKind(p.val) == yaml.MappingNode && d.peekKind(q.val) == yaml.MappingNode {
			out.Content = append(out.Content, p.key, d.merge(p.val, q.val, depth+1))
		} else {
			out.Content = append(out.Content, q.key, q.val)
		}
	}
	for i, q := range op {
		if used[i] {
			continue
		}
		if qr := d.resolve(q.val); qr == nil || isNull(qr) {
			continue
		}
		out.Content = append(out.Content, q.key, q.val)
	}
	return out
}

// newMapping returns an empty mapping positioned at b, with room for size
// nodes of content. Merged trees live only as long as Parse, like parsed
// ones, so they share the parsed tree's arena when there is one.
func (d *decoder) newMapping(b *yaml.Node, size int) *yaml.Node {
	if d.arena != nil {
		return d.arena.Mapping(b.Line, b.Column, size)
	}
	return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: b.Line, Column: b.Column, Content: make([]*yaml.Node, 0, size)}
}
