package kube

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// Values DriftItem uses in place of a value.
const (
	// Missing stands for a field, list item or object that is not there.
	Missing = "(missing)"
	// Present stands for a whole object that should exist.
	Present = "(present)"
	// Redacted stands for a Secret's value, which Drift never reveals.
	Redacted = "(redacted)"
)

// DriftItem is one field Berth sets whose live value differs from the desired one.
type DriftItem struct {
	Object ObjectRef
	// Path locates the field, for example .spec.replicas or
	// .spec.template.spec.containers[name=web].env[name=LOG_LEVEL].value; it is empty when
	// the whole object is missing.
	Path string
	// Desired and Live are the values: scalars as they are, lists and maps as compact JSON,
	// or Missing, Present or Redacted.
	Desired, Live string
}

// Drift compares the desired objects (as Apply takes them) with the live ones in namespace
// and returns every difference in a field the desired objects set, in their order. Fields
// only the live objects have — defaults, status, other managers' additions such as an extra
// label — are not drift; changed values, removed fields and deleted objects are.
func (c *Cluster) Drift(ctx context.Context, namespace string, desired []runtime.Object) ([]DriftItem, error) {
	var items []DriftItem
	for i, obj := range desired {
		want, err := toUnstructured(obj)
		if err != nil {
			return nil, fmt.Errorf("drift: object %d: %w", i, err)
		}
		ref, _ := RefOf(want)
		ref.Namespace = namespace
		ri, _, err := c.resourceFor(ctx, want.GroupVersionKind(), namespace)
		if err != nil {
			return nil, fmt.Errorf("drift of %s: %w", ref, err)
		}
		var live *unstructured.Unstructured
		err = c.retry(ctx, "get "+ref.String(), func(ctx context.Context) error {
			var err error
			live, err = ri.Get(ctx, want.GetName(), metav1.GetOptions{})
			return err
		})
		if apierrors.IsNotFound(err) {
			items = append(items, DriftItem{Object: ref, Desired: Present, Live: Missing})
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("drift of %s: %w", ref, err)
		}
		d := differ{ref: ref, secret: want.GetKind() == "Secret" && want.GroupVersionKind().Group == ""}
		d.object(want.Object, live.Object)
		items = append(items, d.items...)
	}
	return items, nil
}

// differ walks a desired object and the live one side by side.
type differ struct {
	ref    ObjectRef
	secret bool
	items  []DriftItem
}

func (d *differ) object(want, live map[string]any) {
	if d.secret {
		want = secretAsData(want)
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		switch k {
		case "apiVersion", "kind", "status":
			continue
		case "metadata":
			// Only the labels and annotations of metadata are Berth's to set.
			wm, _ := want[k].(map[string]any)
			lm, _ := live[k].(map[string]any)
			for _, mk := range []string{"labels", "annotations"} {
				if v, ok := wm[mk]; ok {
					d.value(".metadata."+mk, v, lm[mk], lm != nil && lm[mk] != nil)
				}
			}
		default:
			lv, ok := live[k]
			d.value(segment("", k), want[k], lv, ok)
		}
	}
}

func (d *differ) value(path string, want, live any, present bool) {
	switch w := want.(type) {
	case nil:
		return
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok && present {
			d.report(path, w, live)
			return
		}
		for _, k := range slices.Sorted(maps.Keys(w)) {
			lv, ok := l[k]
			d.value(segment(path, k), w[k], lv, ok)
		}
	case []any:
		l, ok := live.([]any)
		if !ok {
			if len(w) > 0 {
				d.report(path, w, liveOrMissing(live, present))
			}
			return
		}
		d.list(path, w, l)
	default:
		if !present {
			if !isZero(w) {
				d.report(path, w, Missing)
			}
			return
		}
		if !equalScalar(path, w, live) {
			d.report(path, w, live)
		}
	}
}

// listKeys are the fields that identify an item of the lists in Berth's kinds, in the
// order tried: name (containers, env, volumes, ports), mountPath (volumeMounts), type
// (conditions).
var listKeys = []string{"name", "mountPath", "type"}

// list compares lists item by item: by key when every desired item has a distinct one
// (see listKeys), else by position; a list of scalars as a whole.
func (d *differ) list(path string, want, live []any) {
	if key, ids := itemKeys(want); key != "" {
		liveByID := map[string]any{}
		for _, item := range live {
			if m, ok := item.(map[string]any); ok {
				if id, ok := m[key].(string); ok {
					liveByID[id] = item
				}
			}
		}
		for i, item := range want {
			p := fmt.Sprintf("%s[%s=%s]", path, key, ids[i])
			lv, ok := liveByID[ids[i]]
			if !ok {
				d.report(p, item, Missing)
				continue
			}
			d.value(p, item, lv, true)
		}
		return
	}
	if scalars(want) {
		if len(want) != len(live) || !slices.EqualFunc(want, live, func(a, b any) bool { return equalScalar(path, a, b) }) {
			d.report(path, want, live)
		}
		return
	}
	for i, item := range want {
		p := fmt.Sprintf("%s[%d]", path, i)
		if i >= len(live) {
			d.report(p, item, Missing)
			continue
		}
		d.value(p, item, live[i], true)
	}
}

func (d *differ) report(path string, want, live any) {
	item := DriftItem{Object: d.ref, Path: path, Desired: format(want), Live: format(live)}
	if d.secret && (strings.HasPrefix(path, ".data") || strings.HasPrefix(path, ".stringData")) {
		item.Desired = Redacted
		if live != Missing {
			item.Live = Redacted
		}
	}
	d.items = append(d.items, item)
}

// secretAsData folds a desired Secret's stringData into data, as the API server does:
// the live Secret has only data.
func secretAsData(obj map[string]any) map[string]any {
	sd, ok := obj["stringData"].(map[string]any)
	if !ok {
		return obj
	}
	obj = maps.Clone(obj)
	data, _ := obj["data"].(map[string]any)
	data = maps.Clone(data)
	if data == nil {
		data = map[string]any{}
	}
	for k, v := range sd {
		if s, ok := v.(string); ok {
			data[k] = base64.StdEncoding.EncodeToString([]byte(s))
		}
	}
	obj["data"] = data
	delete(obj, "stringData")
	return obj
}

// itemKeys returns the first of listKeys that every item has, with distinct string values,
// and those values; "" when there is none.
func itemKeys(items []any) (string, []string) {
	if len(items) == 0 {
		return "", nil
	}
next:
	for _, key := range listKeys {
		ids := make([]string, len(items))
		seen := map[string]bool{}
		for i, item := range items {
			m, ok := item.(map[string]any)
			if !ok {
				return "", nil
			}
			id, ok := m[key].(string)
			if !ok || id == "" || seen[id] {
				continue next
			}
			seen[id] = true
			ids[i] = id
		}
		return key, ids
	}
	return "", nil
}

func scalars(items []any) bool {
	for _, item := range items {
		switch item.(type) {
		case map[string]any, []any:
			return false
		}
	}
	return true
}

// equalScalar compares JSON scalars: numbers by value, and resource quantities ("500m" and
// "0.5") by amount, since the API server rewrites them in canonical form.
func equalScalar(path string, want, live any) bool {
	if wn, ok := number(want); ok {
		ln, ok := number(live)
		return ok && wn == ln
	}
	ws, wok := want.(string)
	ls, lok := live.(string)
	if wok && lok && ws != ls && strings.Contains(path, "resources") {
		wq, err1 := resource.ParseQuantity(ws)
		lq, err2 := resource.ParseQuantity(ls)
		return err1 == nil && err2 == nil && wq.Cmp(lq) == 0
	}
	return want == live
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

// isZero reports a desired scalar the API server may drop as empty.
func isZero(v any) bool {
	switch x := v.(type) {
	case string:
		return x == ""
	case bool:
		return !x
	}
	n, ok := number(v)
	return ok && n == 0
}

func liveOrMissing(v any, present bool) any {
	if !present {
		return Missing
	}
	return v
}

func format(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return "null"
	case map[string]any, []any:
		data, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(data)
	}
	if n, ok := number(v); ok {
		return strconv.FormatFloat(n, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// segment appends key to a field path: .spec, or ["app.kubernetes.io/name"] for keys that
// are not identifiers.
func segment(path, key string) string {
	if plainKey.MatchString(key) {
		return path + "." + key
	}
	return path + "[" + strconv.Quote(key) + "]"
}
