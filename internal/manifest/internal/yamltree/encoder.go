package yamltree

import (
	"bytes"
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// Encoder writes values as a multi-document YAML stream, byte for byte as
// yaml.v3's Encoder (indent 2) writes the JSON value encoding/json would
// write for them, converted by JSONNode. It goes through neither: the
// value becomes a flat JSON tree by reflection, following encoding/json's
// rules (addObject), or from encoding/json's output for what those rules
// do not cover, and a port of yaml.v3's emitter writes the tree.
//
// Take one with GetEncoder and give it back with Release. Its memory is
// pooled because allocating buffers and arena afresh for every render cost
// a fifth of the encoding's time.
type Encoder struct {
	json bytes.Buffer
	enc  *json.Encoder
	tree jsonTree
	emit yamlEmitter
}

var encoders = sync.Pool{New: func() any {
	e := &Encoder{}
	e.emit.reset(nil)
	e.enc = json.NewEncoder(&e.json)
	e.enc.SetEscapeHTML(false) // the tree holds unescaped strings either way
	return e
}}

// GetEncoder returns an encoder, with an empty stream, from the
// process-wide pool.
func GetEncoder() *Encoder { return encoders.Get().(*Encoder) }

// maxPooledBytes keeps the pool from holding on to the buffers of an
// unusually large stream.
const maxPooledBytes = 1 << 20

// Release returns the encoder to the pool. What Bytes returned must not be
// used afterwards.
func (e *Encoder) Release() {
	if e.json.Cap() > maxPooledBytes || cap(e.emit.out) > maxPooledBytes || cap(e.tree.nodes) > maxPooledBytes/32 {
		return
	}
	e.tree.reset("")
	e.emit.reset(e.emit.out[:0])
	encoders.Put(e)
}

// Encode adds v, without its top-level field skip, as the next document
// of the stream. It reports false, without adding v, when v holds what
// the emitter does not write as yaml.v3 would (keys yaml.v3 writes in the
// "? " form, numbers it would tag explicitly): the caller then writes the
// whole stream with yaml.v3. The error is encoding/json's, for a value it
// cannot encode.
func (e *Encoder) Encode(v any, skip string) (bool, error) {
	t := &e.tree
	root, ok := t.addObject(reflect.ValueOf(v), skip)
	if !ok {
		e.json.Reset()
		if err := e.enc.Encode(v); err != nil {
			return false, err
		}
		t.reset(e.json.String())
		var err error
		if root, err = t.parse(skip); err != nil {
			return false, nil
		}
	}
	if !e.emit.fits(t, root) {
		return false, nil
	}
	e.emit.document(t, root)
	return true, nil
}

// Bytes returns the stream written so far, valid until Release.
func (e *Encoder) Bytes() []byte { return e.emit.out }

// JSONNode converts a value decoded from JSON (with json.Decoder's
// UseNumber) into the yaml.v3 node tree, keys sorted, whose encoding
// Encoder's output is: what a caller hands yaml.v3 when Encode reports
// false.
func JSONNode(v any) *yaml.Node {
	switch x := v.(type) {
	case map[string]any:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for _, k := range slices.Sorted(maps.Keys(x)) {
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}, JSONNode(x[k]))
		}
		return n
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, item := range x {
			n.Content = append(n.Content, JSONNode(item))
		}
		return n
	case string:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: x}
	case json.Number:
		tag := "!!int"
		if strings.ContainsAny(string(x), ".eE") {
			tag = "!!float"
		}
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: string(x)}
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(x)}
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
}
