package manifest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// dumpTree writes node n of t as text that shows kinds and order.
func dumpTree(t *jsonTree, n int32) string {
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

// checkObjectTree fails when addObject and encoding/json disagree on v.
// It reports whether addObject handled v.
func checkObjectTree(t *testing.T, v any, skip string) bool {
	t.Helper()
	var fast jsonTree
	root, ok := fast.addObject(reflect.ValueOf(v), skip)
	j, err := json.Marshal(v)
	if !ok {
		return false
	}
	if err != nil {
		t.Fatalf("%T: addObject took what encoding/json rejects: %v", v, err)
	}
	var slow jsonTree
	slow.reset(string(j))
	want, err := slow.parse(skip)
	if err != nil {
		t.Fatalf("%T: %v", v, err)
	}
	if diff := cmp.Diff(dumpTree(&slow, want), dumpTree(&fast, root)); diff != "" {
		t.Errorf("%T: addObject differs from encoding/json (-json +addObject):\n%s", v, diff)
	}
	return true
}

type textKey struct{ a, b string }

func (k textKey) MarshalText() ([]byte, error) { return []byte(k.a + "/" + k.b), nil }

type ptrMarshaler struct{ n int }

func (p *ptrMarshaler) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf(`{"n": %d}`, p.n)), nil
}

type ptrText struct{ s string }

func (p *ptrText) MarshalText() ([]byte, error) { return []byte("t:" + p.s), nil }

type zeroer struct{ on bool }

func (z zeroer) IsZero() bool { return !z.on }

type ptrZeroer struct{ X int }

func (z *ptrZeroer) IsZero() bool { return z.X == 7 }

type Inner struct {
	A     string `json:"a"`
	Dup   string `json:"dup"`
	Plain int
	deep  int
}

type Other struct {
	Dup  string `json:"dup"`
	Tied string `json:"tied"`
}

type Third struct {
	Tied string `json:"tied"`
}

type tricky struct {
	Inner
	*Other
	Third
	Dup        string          `json:"dup"`
	Skip       string          `json:"-"`
	Dash       string          `json:"-,"`
	Bad        string          `json:"bad\\name"`
	Empty      string          `json:",omitempty"`
	Zero       zeroer          `json:"zero,omitzero"`
	ZeroPtr    ptrZeroer       `json:"zeroPtr,omitzero"`
	ZeroStruct struct{ A int } `json:"zeroStruct,omitzero"`
	When       time.Time       `json:"when,omitzero"`
	Then       metav1.Time     `json:"then"`
	Bytes      []byte          `json:"bytes"`
	NilBytes   []byte          `json:"nilBytes"`
	Ints       map[int]string  `json:"ints"`
	Texts      map[textKey]int `json:"texts"`
	Marsh      ptrMarshaler    `json:"marsh"`
	MarshMap   map[string]ptrMarshaler
	MarshPtr   *ptrMarshaler `json:"marshPtr"`
	TextVal    ptrText       `json:"textVal"`
	TextMap    map[string]ptrText
	Any        any               `json:"any"`
	AnyNil     any               `json:"anyNil"`
	Arr        [2]int32          `json:"arr"`
	NilSlice   []string          `json:"nilSlice"`
	EmptySlice []string          `json:"emptySlice"`
	Uint       uint16            `json:"uint,omitempty"`
	Quantity   resource.Quantity `json:"quantity"`
	Port       intstr.IntOrString
	unexported string
}

func TestObjectTreeMatchesEncodingJSON(t *testing.T) {
	values := []any{
		&tricky{},
		&tricky{
			Inner: Inner{A: "a", Dup: "hidden", Plain: 3}, Other: &Other{Dup: "hidden", Tied: "x"}, Third: Third{Tied: "y"},
			Dup: "top", Skip: "s", Dash: "d", Bad: "b", Empty: "e", Zero: zeroer{on: true}, ZeroPtr: ptrZeroer{X: 7},
			When: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), Then: metav1.NewTime(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)),
			Bytes: []byte("hi"), Ints: map[int]string{10: "a", -2: "b", 3: "c"}, Texts: map[textKey]int{{"x", "y"}: 1},
			Marsh: ptrMarshaler{2}, MarshMap: map[string]ptrMarshaler{"k": {3}}, MarshPtr: &ptrMarshaler{4},
			TextVal: ptrText{"v"}, TextMap: map[string]ptrText{"k": {"w"}}, Any: map[string]any{"z": []any{1, "two", nil}},
			EmptySlice: []string{}, Uint: 9, Quantity: resource.MustParse("1500m"), Port: intstr.FromString("http"),
		},
		&corev1.Pod{},
		&corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Ports: []corev1.ContainerPort{{ContainerPort: 80}}}}}},
		corev1.Container{Name: "not a pointer"},
		map[string]any{"status": 1, "other": 2},
		[]any{1, "x"},
	}
	for _, v := range values {
		if !checkObjectTree(t, v, "status") {
			t.Errorf("%T: addObject fell back to encoding/json", v)
		}
	}
	type loop struct{ Next *loop }
	cycle := &loop{}
	cycle.Next = cycle
	// Floats, ",string" fields, invalid UTF-8 and pointer cycles are left
	// to encoding/json.
	for _, v := range []any{
		cycle,
		&struct{ F float64 }{1.5},
		&struct {
			N int `json:"n,string"`
		}{3},
		&struct{ S string }{"\xff"},
		&struct{ M map[string]string }{map[string]string{"\xff": "x"}},
		&struct{ M map[string]string }{map[string]string{"x": "\xff"}},
		&struct{ M map[string]int }{map[string]int{"\xff": 1}},
	} {
		if checkObjectTree(t, v, "") {
			t.Errorf("%T: addObject took a value it leaves to encoding/json", v)
		}
	}
}

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
			if !checkObjectTree(t, o, "status") {
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

// TestEncodeConcurrently encodes from several goroutines at once, for the
// race detector: encoders are built on first use and state is pooled.
func TestEncodeConcurrently(t *testing.T) {
	type fresh struct {
		Name  string            `json:"name"`
		Items map[string][]int  `json:"items,omitempty"`
		Next  *fresh            `json:"next,omitempty"`
		Q     resource.Quantity `json:"q"`
	}
	m, err := LoadFile("testdata/render/full/berth.yaml")
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
			var tree jsonTree
			v := &fresh{Name: "a", Items: map[string][]int{"x": {1}}, Next: &fresh{Q: resource.MustParse("1")}}
			if _, ok := tree.addObject(reflect.ValueOf(v), ""); !ok {
				done <- "addObject fell back"
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
