package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
)

// EncodeYAML writes objs as a multi-document YAML stream, the format
// kubectl apply -f reads. Keys are sorted, as kubectl prints them.
func EncodeYAML(w io.Writer, objs []Object) error {
	s := yamlEncoders.Get().(*yamlEncoder)
	defer s.release()
	e, t := &s.emit, &s.tree
	for _, o := range objs {
		// The tree holds the JSON value encoding/json would write: that
		// honours the API types' json tags (omitempty, quantities,
		// int-or-string) exactly as the API server reads them, and the
		// YAML only changes notation.
		root, ok := t.addObject(reflect.ValueOf(o), "status")
		if !ok {
			s.json.Reset()
			if err := s.enc.Encode(o); err != nil {
				return fmt.Errorf("encode %s: %w", describeObject(o), err)
			}
			t.reset(s.json.String())
			var err error
			if root, err = t.parse("status"); err != nil {
				return encodeYAMLv3(w, objs)
			}
		}
		if !e.fits(t, root) {
			return encodeYAMLv3(w, objs)
		}
		e.document(t, root)
	}
	_, err := w.Write(e.out)
	return err
}

// yamlEncoder is EncodeYAML's scratch memory. It is pooled because
// allocating its buffers and arena afresh for every render cost a fifth
// of EncodeYAML's time; nothing of one call's output outlives it.
type yamlEncoder struct {
	json bytes.Buffer
	enc  *json.Encoder
	tree jsonTree
	emit yamlEmitter
}

var yamlEncoders = sync.Pool{New: func() any {
	s := &yamlEncoder{}
	s.emit.reset(nil)
	s.enc = json.NewEncoder(&s.json)
	s.enc.SetEscapeHTML(false) // the tree holds unescaped strings either way
	return s
}}

// maxPooledBytes keeps the pool from holding on to the buffers of an
// unusually large render.
const maxPooledBytes = 1 << 20

func (s *yamlEncoder) release() {
	if s.json.Cap() > maxPooledBytes || cap(s.emit.out) > maxPooledBytes || cap(s.tree.nodes) > maxPooledBytes/32 {
		return
	}
	s.tree.reset("")
	s.emit.reset(s.emit.out[:0])
	yamlEncoders.Put(s)
}

// encodeYAMLv3 is EncodeYAML through yaml.v3's encoder, for the values the
// faster yamlEmitter does not write (see yamlEmitter.fits).
func encodeYAMLv3(w io.Writer, objs []Object) error {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	for _, o := range objs {
		j, err := encodeObject(o)
		if err != nil {
			return err
		}
		dec := json.NewDecoder(bytes.NewReader(j))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("encode %s: %w", describeObject(o), err)
		}
		if err := enc.Encode(yamlNode(v)); err != nil {
			return fmt.Errorf("encode %s: %w", describeObject(o), err)
		}
	}
	if err := enc.Close(); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// yamlNode converts decoded JSON into a YAML tree with sorted keys.
func yamlNode(v any) *yaml.Node {
	switch x := v.(type) {
	case map[string]any:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		for _, k := range slices.Sorted(maps.Keys(x)) {
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k}, yamlNode(x[k]))
		}
		return n
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		for _, item := range x {
			n.Content = append(n.Content, yamlNode(item))
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

// EncodeJSON writes objs as one indented JSON v1 List.
func EncodeJSON(w io.Writer, objs []Object) error {
	items := make([]json.RawMessage, 0, len(objs))
	for _, o := range objs {
		j, err := encodeObject(o)
		if err != nil {
			return err
		}
		items = append(items, j)
	}
	list := struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Items      []json.RawMessage `json:"items"`
	}{"v1", "List", items}
	out, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return fmt.Errorf("encode list: %w", err)
	}
	_, err = w.Write(append(out, '\n'))
	return err
}

// encodeObject marshals o without status: the typed structs always carry
// one, Render never fills it, and the API server ignores it on apply.
func encodeObject(o Object) ([]byte, error) {
	j, err := json.Marshal(o)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", describeObject(o), err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(j, &fields); err != nil {
		return nil, fmt.Errorf("encode %s: %w", describeObject(o), err)
	}
	if _, ok := fields["status"]; !ok {
		return j, nil
	}
	delete(fields, "status")
	// Re-marshaling sorts the keys, which puts apiVersion and kind first,
	// the order sigs.k8s.io/yaml would produce anyway.
	return json.Marshal(fields)
}

func describeObject(o Object) string {
	gvk := o.GetObjectKind().GroupVersionKind()
	return gvk.Kind + " " + o.GetName()
}
