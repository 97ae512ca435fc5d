package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"

	"github.com/berth-dev/berth/internal/manifest/internal/yamltree"
)

// EncodeYAML writes objs as a multi-document YAML stream, the format
// kubectl apply -f reads. Keys are sorted, as kubectl prints them.
func EncodeYAML(w io.Writer, objs []Object) error {
	e := yamltree.GetEncoder()
	defer e.Release()
	for _, o := range objs {
		// Each document is the JSON value encoding/json would write: that
		// honours the API types' json tags (omitempty, quantities,
		// int-or-string) exactly as the API server reads them, and the
		// YAML only changes notation.
		ok, err := e.Encode(o, "status")
		if err != nil {
			return fmt.Errorf("encode %s: %w", describeObject(o), err)
		}
		if !ok {
			return encodeYAMLv3(w, objs)
		}
	}
	_, err := w.Write(e.Bytes())
	return err
}

// encodeYAMLv3 is EncodeYAML through yaml.v3's encoder, for the values
// yamltree's faster Encoder does not write.
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
		if err := enc.Encode(yamltree.JSONNode(v)); err != nil {
			return fmt.Errorf("encode %s: %w", describeObject(o), err)
		}
	}
	if err := enc.Close(); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
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
