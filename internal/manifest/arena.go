package manifest

import (
	"sync"

	"go.yaml.in/yaml/v3"
)

// yamlArena is the memory a parse builds its trees in (parseYAMLFast the
// parsed one, the decoder the merged ones and its lists of mapping
// entries): a few big chunks rather than an allocation per node, reused
// from one parse to the next. Parse takes one from yamlArenas and puts it
// back when done with the trees; nothing it returns points into them. A
// manifest's nodes were the largest allocation of a parse and a third of
// the garbage of a render.
type yamlArena struct {
	nodes chunks[yaml.Node]
	kids  chunks[*yaml.Node]
	pairs chunks[pair]
}

var yamlArenas = sync.Pool{New: func() any { return new(yamlArena) }}

// maxPooledNodes keeps the pool from holding on to the arena of an
// unusually large manifest.
const maxPooledNodes = 8192

// release returns the arena to yamlArenas for the next parse. The trees
// built in it must not be used afterwards.
func (a *yamlArena) release() {
	if a.nodes.reset() > maxPooledNodes || a.kids.reset() > 4*maxPooledNodes || a.pairs.reset() > 4*maxPooledNodes {
		return
	}
	yamlArenas.Put(a)
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
