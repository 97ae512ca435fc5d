package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// EncodeYAML writes objs as a multi-document YAML stream, the format
// kubectl apply -f reads. Keys are sorted, as kubectl prints them.
func EncodeYAML(w io.Writer, objs []Object) error {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	for _, o := range objs {
		j, err := encodeObject(o)
		if err != nil {
			return err
		}
		// Going through encoding/json honours the API types' json tags
		// (omitempty, quantities, int-or-string) exactly as the API server
		// reads them; the tree then only changes notation.
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
