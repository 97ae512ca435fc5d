package yamltree

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// checkObjectTree fails when addObject and encoding/json disagree on v.
// It reports whether addObject handled v.
func checkObjectTree(t *testing.T, v any, skip string) bool {
	t.Helper()
	ok, err := CheckObject(v, skip)
	if err != nil {
		t.Error(err)
	}
	return ok
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
