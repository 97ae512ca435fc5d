package yamltree

import (
	"reflect"
	"sync"

	"go.yaml.in/yaml/v3"
)

// Arena is the memory a parse builds its trees in (Parse the parsed one,
// the caller the merged ones with Mapping, and its lists of mapping
// entries with Entries): a few big chunks rather than an allocation per
// node, reused from one parse to the next. E is the caller's type for a
// mapping entry; the arena only hands out room for them. A manifest's
// nodes were the largest allocation of a parse and a third of the garbage
// of a render.
//
// Take one with GetArena and give it back with Release when done with the
// trees; nothing the caller keeps may point into them. The zero Arena is
// ready to use, and not pooled.
type Arena[E any] struct {
	trees
	entries chunks[E]
	pool    *sync.Pool // where Release puts it; nil for the zero Arena
}

// trees is what the parser builds in; it does not need to know E.
type trees struct {
	nodes chunks[yaml.Node]
	kids  chunks[*yaml.Node]
}

// arenaPools holds a *sync.Pool of *Arena[E] for each E used.
var arenaPools sync.Map // reflect.Type -> *sync.Pool

// GetArena returns an arena from the process-wide pool for E.
func GetArena[E any]() *Arena[E] {
	key := reflect.TypeFor[E]()
	p, ok := arenaPools.Load(key)
	if !ok {
		p, _ = arenaPools.LoadOrStore(key, &sync.Pool{New: func() any { return new(Arena[E]) }})
	}
	pool := p.(*sync.Pool)
	a := pool.Get().(*Arena[E])
	a.pool = pool
	return a
}

// maxPooledNodes keeps the pool from holding on to the arena of an
// unusually large manifest.
const maxPooledNodes = 8192

// Release returns the arena to its pool for the next parse. The trees and
// entries built in it must not be used afterwards.
func (a *Arena[E]) Release() {
	if a.nodes.reset() > maxPooledNodes || a.kids.reset() > 4*maxPooledNodes || a.entries.reset() > 4*maxPooledNodes || a.pool == nil {
		return
	}
	a.pool.Put(a)
}

// Entries returns an empty slice with room for n entries. Its capacity
// ends with it, so appending past n moves it out of the arena rather than
// overwriting another slice.
func (a *Arena[E]) Entries(n int) []E {
	return a.entries.take(n, 256)[:0]
}

// Mapping returns an empty mapping node at line and column, with room for
// size nodes of content (capacity ending with it, as for Entries).
func (a *Arena[E]) Mapping(line, column, size int) *yaml.Node {
	n := &a.nodes.take(1, 64)[0]
	*n = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: line, Column: column}
	n.Content = a.kids.take(size, 64)[:0]
	return n
}

// chunks hands out slices of T carved from big chunks, and keeps the
// chunks for reuse when reset.
type chunks[T any] struct {
	used  [][]T // chunks handed out from, the current one last
	spare [][]T
}

// take returns n elements, from a new chunk of at least size elements if
// the current one is full. The slice's capacity ends with it, so that an
// append to one slice cannot overwrite the next.
func (c *chunks[T]) take(n, size int) []T {
	if k := len(c.used); k > 0 {
		cur := c.used[k-1]
		if l := len(cur); l+n <= cap(cur) {
			c.used[k-1] = cur[:l+n]
			return cur[l : l+n : l+n]
		}
	}
	var chunk []T
	if k := len(c.spare); k > 0 && cap(c.spare[k-1]) >= n {
		chunk, c.spare = c.spare[k-1], c.spare[:k-1]
	} else {
		chunk = make([]T, 0, max(size, n))
	}
	c.used = append(c.used, chunk[:n])
	return chunk[:n:n]
}

// reset makes all chunks spare and returns their total capacity. It does
// not clear them: take's callers overwrite what they take, and what the
// last document left in them lives only as long as the pool keeps them,
// which sync.Pool limits to the next garbage collections.
func (c *chunks[T]) reset() int {
	for _, chunk := range c.used {
		c.spare = append(c.spare, chunk[:0])
	}
	c.used = c.used[:0]
	total := 0
	for _, chunk := range c.spare {
		total += cap(chunk)
	}
	return total
}
