package manifest

import (
	"bytes"
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The stored form of rendered objects is a compact JSON array of objects: what a deploy
// keeps for history, diffs and rollbacks, and what it applies. EncodeStored makes it and
// DecodeStored is the one place it is read back.

// EncodeStored encodes objs in the stored form.
func EncodeStored(objs []Object) ([]byte, error) {
	var list bytes.Buffer
	if err := EncodeJSON(&list, objs); err != nil {
		return nil, err
	}
	var l struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(list.Bytes(), &l); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.WriteByte('[')
	for i, it := range l.Items {
		if i > 0 {
			buf.WriteByte(',')
		}
		if err := json.Compact(&buf, it); err != nil {
			return nil, err
		}
	}
	buf.WriteByte(']')
	return buf.Bytes(), nil
}

// DecodeStored decodes objects in the stored form.
func DecodeStored(content []byte) ([]*unstructured.Unstructured, error) {
	var raw []map[string]any
	if err := json.Unmarshal(content, &raw); err != nil {
		return nil, fmt.Errorf("stored objects: %w", err)
	}
	objs := make([]*unstructured.Unstructured, len(raw))
	for i, o := range raw {
		if o == nil {
			return nil, fmt.Errorf("stored objects: item %d is not an object", i)
		}
		objs[i] = &unstructured.Unstructured{Object: o}
	}
	return objs, nil
}
