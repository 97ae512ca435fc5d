package yamltree

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// CheckObject reports whether Encode builds the tree of v, without its
// top-level field skip, by reflection rather than from encoding/json's
// output, and if so returns an error when that tree is not the one
// encoding/json's output reads as. It is for tests: this package's run it
// over tricky types, and callers' over the values they encode, which only
// they can produce.
func CheckObject(v any, skip string) (bool, error) {
	var fast jsonTree
	root, ok := fast.addObject(reflect.ValueOf(v), skip)
	j, err := json.Marshal(v)
	if !ok {
		return false, nil
	}
	if err != nil {
		return true, fmt.Errorf("%T: addObject took what encoding/json rejects: %v", v, err)
	}
	var slow jsonTree
	slow.reset(string(j))
	want, err := slow.parse(skip)
	if err != nil {
		return true, fmt.Errorf("%T: %v", v, err)
	}
	if got, want := fast.dump(root), slow.dump(want); got != want {
		return true, fmt.Errorf("%T: addObject differs from encoding/json:\n%s", v, firstDifference(want, got))
	}
	return true, nil
}

// dump writes node n as text that shows kinds and order.
func (t *jsonTree) dump(n int32) string {
	var b strings.Builder
	var dump func(n int32)
	dump = func(n int32) {
		node := t.nodes[n]
		switch node.kind {
		case jsonObject:
			b.WriteString("{")
			for i := node.lo; i < node.hi; i += 2 {
				dump(t.kids[i])
				b.WriteString(": ")
				dump(t.kids[i+1])
				b.WriteString(", ")
			}
			b.WriteString("}")
		case jsonArray:
			b.WriteString("[")
			for _, c := range t.kids[node.lo:node.hi] {
				dump(c)
				b.WriteString(", ")
			}
			b.WriteString("]")
		case jsonString, jsonWord:
			b.WriteString(strconv.Quote(node.text))
		default:
			fmt.Fprintf(&b, "%s(%d)", node.text, node.kind)
		}
	}
	dump(n)
	return b.String()
}

// firstDifference shows where dumps want and got part, with some context.
func firstDifference(want, got string) string {
	i := 0
	for i < len(want) && i < len(got) && want[i] == got[i] {
		i++
	}
	from := max(i-60, 0)
	return fmt.Sprintf("encoding/json: ...%s\naddObject:     ...%s", want[from:min(i+60, len(want))], got[from:min(i+60, len(got))])
}
