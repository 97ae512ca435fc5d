package manifest

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/berth-dev/berth/internal/manifest/internal/yamltree"
)

// What only Render produces, checked against yamltree's fast paths; the
// fast paths' own tests are in yamltree.

// TestObjectTreeRenders compares addObject with encoding/json on every
// object the render tests and the parse seeds produce, in every
// environment.
func TestObjectTreeRenders(t *testing.T) {
	for _, data := range parseSeeds(t) {
		checkRenderTrees(t, data)
	}
}

func checkRenderTrees(t *testing.T, data []byte) {
	t.Helper()
	m, err := Parse("berth.yaml", data)
	if err != nil {
		return
	}
	for _, env := range append(m.Environments(), "development") {
		objs, err := Render(m, RenderOptions{Env: env, Revision: "r1", Namespace: "ns"})
		if err != nil {
			continue
		}
		for _, o := range objs {
			reflected, err := yamltree.CheckObject(o, "status")
			if err != nil {
				t.Error(err)
			}
			if !reflected {
				t.Errorf("%s: addObject fell back to encoding/json", describeObject(o))
			}
		}
	}
}

func FuzzObjectTree(f *testing.F) {
	for _, data := range parseSeeds(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkRenderTrees(t, data)
	})
}

// TestYAMLEmitterFitsRenders checks the golden renders take the fast path:
// yaml.v3 is only a fallback for values Berth does not render. (Encode
// emits the tree addObject builds, which TestObjectTreeRenders holds to
// encoding/json's.)
func TestYAMLEmitterFitsRenders(t *testing.T) {
	for _, file := range []string{"testdata/render/design/berth.yaml", "testdata/render/full/berth.yaml"} {
		m, err := LoadFile(t.Context(), file)
		if err != nil {
			t.Fatal(err)
		}
		for _, env := range append(m.Environments(), "development") {
			objs, err := Render(m, RenderOptions{Env: env, Revision: "r1"})
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range objs {
				e := yamltree.GetEncoder()
				ok, err := e.Encode(o, "status")
				e.Release()
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					t.Errorf("%s %s: %s does not fit the fast emitter", file, env, describeObject(o))
				}
			}
		}
	}
}

// TestEncodeConcurrently encodes from several goroutines at once, for the
// race detector: encoders are built on first use and state is pooled.
func TestEncodeConcurrently(t *testing.T) {
	type fresh struct {
		Name  string            `json:"name"`
		Items map[string][]int  `json:"items,omitempty"`
		Next  *fresh            `json:"next,omitempty"`
		Q     resource.Quantity `json:"q"`
	}
	m, err := LoadFile(t.Context(), "testdata/render/full/berth.yaml")
	if err != nil {
		t.Fatal(err)
	}
	objs, err := Render(m, RenderOptions{Env: "production", Revision: "r1"})
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	if err := EncodeYAML(&want, objs); err != nil {
		t.Fatal(err)
	}
	done := make(chan string)
	for range 8 {
		go func() {
			v := &fresh{Name: "a", Items: map[string][]int{"x": {1}}, Next: &fresh{Q: resource.MustParse("1")}}
			if reflected, err := yamltree.CheckObject(v, ""); !reflected || err != nil {
				done <- "addObject fell back or differs: " + errString(err)
				return
			}
			var got strings.Builder
			if err := EncodeYAML(&got, objs); err != nil {
				done <- err.Error()
				return
			}
			if got.String() != want.String() {
				done <- "output differs"
				return
			}
			done <- ""
		}()
	}
	for range 8 {
		if msg := <-done; msg != "" {
			t.Error(msg)
		}
	}
}
