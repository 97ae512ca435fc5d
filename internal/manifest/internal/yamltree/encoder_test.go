package yamltree

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// encodeYAMLv3 writes vs as yaml.v3 writes their encoding/json values
// without their top-level field skip: what Encoder must write.
func encodeYAMLv3(t *testing.T, skip string, vs ...any) string {
	t.Helper()
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	for _, v := range vs {
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(j))
		dec.UseNumber()
		var x any
		if err := dec.Decode(&x); err != nil {
			t.Fatal(err)
		}
		if m, ok := x.(map[string]any); ok {
			delete(m, skip)
		}
		if err := enc.Encode(JSONNode(x)); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// TestEncoderMatchesYAMLv3 writes streams through both of Encode's paths
// (reflection, and encoding/json's output for floats) and checks that it
// declines what the emitter does not write as yaml.v3 would.
func TestEncoderMatchesYAMLv3(t *testing.T) {
	pod := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "a", Labels: map[string]string{"app": "a", "n": "8080"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "web", Image: "r/a:1", Args: []string{"--x", "a: b", "line\nbreak"},
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1500m")}},
		}}},
	}
	withFloat := map[string]any{"f": 1.5, "status": "dropped", "s": "true"}
	for _, stream := range [][]any{{pod}, {pod, withFloat, pod}, {withFloat}} {
		e := GetEncoder()
		for _, v := range stream {
			ok, err := e.Encode(v, "status")
			if !ok || err != nil {
				t.Fatalf("Encode(%T) = %v, %v; want true, nil", v, ok, err)
			}
		}
		got := string(e.Bytes())
		e.Release()
		if diff := cmp.Diff(encodeYAMLv3(t, "status", stream...), got); diff != "" {
			t.Errorf("Encoder differs from yaml.v3 (-yaml.v3 +Encoder):\n%s", diff)
		}
	}

	e := GetEncoder()
	defer e.Release()
	if ok, err := e.Encode(map[string]string{strings.Repeat("k", maxSimpleKey+1): "v"}, ""); ok || err != nil {
		t.Errorf("Encode of a key yaml.v3 writes as \"? key\" = %v, %v; want false, nil", ok, err)
	}
	if ok, err := e.Encode(struct{ C chan int }{}, ""); ok || err == nil {
		t.Errorf("Encode of what encoding/json rejects = %v, %v; want false and its error", ok, err)
	}
}
