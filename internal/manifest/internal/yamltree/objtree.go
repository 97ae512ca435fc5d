package yamltree

import (
	"cmp"
	"encoding"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// addObject adds v to t as the JSON value encoding/json would write for
// it, without writing and re-reading that JSON: the API types' encoding
// cost more than the rest of writing them as YAML. It follows
// encoding/json's rules (field names and tags, omitempty and omitzero,
// embedded structs, the Marshaler and TextMarshaler interfaces, []byte as
// base64, sorted map keys) and reports false for what it does not cover
// (floats, ",string" fields, invalid UTF-8, marshaling errors), which the
// caller then sends through encoding/json itself. skip leaves out a field
// of v's top-level struct. TestObjectTreeMatchesEncodingJSON holds the two
// together.
func (t *jsonTree) addObject(v reflect.Value, skip string) (int32, bool) {
	t.src, t.depth = "", 0
	if cap(t.nodes) < 256 {
		t.nodes, t.kids = make([]jsonNode, 0, 256), make([]int32, 0, 256)
	}
	t.nodes = t.nodes[:0]
	t.kids = t.kids[:0]
	root, ok := encoderFor(v.Type()).value(t, v)
	if !ok {
		return 0, false
	}
	if n := &t.nodes[root]; n.kind == jsonObject {
		// Leaving the field out of the root's children, which are the
		// last ones added, as parse leaves it out of the JSON.
		for i := n.lo; i < n.hi; i += 2 {
			if t.nodes[t.kids[i]].text == skip {
				t.kids = slices.Delete(t.kids, int(i), int(i)+2)
				n.hi -= 2
				break
			}
		}
	}
	return root, true
}

// typeEncoder adds values of one type to a jsonTree. Encoders are built
// once per type, as encoding/json's are.
type typeEncoder struct {
	typ    reflect.Type
	encode func(t *jsonTree, v reflect.Value) (int32, bool)
	fields []structField // structs
	elem   *typeEncoder  // slices, arrays, maps, pointers
	orElse *typeEncoder  // the encoder for unaddressable values, when addressable ones use a pointer method
	// Maps whose values encode the same addressable or not (see
	// addrSensitive) are iterated without a copy per entry.
	iterInPlace bool
}

type structField struct {
	name      string
	word      bool // yamlEmitter writes name plain (see plainWord)
	index     []int
	omitEmpty bool
	omitZero  bool
	isZero    func(reflect.Value) bool
	enc       *typeEncoder
}

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	isZeroerType      = reflect.TypeFor[interface{ IsZero() bool }]()
)

// encoderFor returns the encoder for t, building it and those of the
// types it contains on first use.
func encoderFor(t reflect.Type) *typeEncoder {
	return encoderWithAddr(t, true)
}

type encoderKey struct {
	typ       reflect.Type
	allowAddr bool
}

var (
	typeEncoders   sync.Map // encoderKey -> *typeEncoder, complete
	buildEncoderMu sync.Mutex
)

func encoderWithAddr(t reflect.Type, allowAddr bool) *typeEncoder {
	key := encoderKey{t, allowAddr}
	if e, ok := typeEncoders.Load(key); ok {
		return e.(*typeEncoder)
	}
	// Encoders are built one type graph at a time and published when
	// complete, so that using one never waits for or sees a half-built
	// encoder; recursive types meet the encoder under construction.
	buildEncoderMu.Lock()
	defer buildEncoderMu.Unlock()
	b := encoderBuilder{}
	e := b.get(key)
	for k, built := range b {
		typeEncoders.Store(k, built)
	}
	return e
}

// encoderBuilder holds the encoders being built, by key.
type encoderBuilder map[encoderKey]*typeEncoder

func (b encoderBuilder) get(key encoderKey) *typeEncoder {
	if e, ok := typeEncoders.Load(key); ok {
		return e.(*typeEncoder)
	}
	if e, ok := b[key]; ok {
		return e
	}
	e := &typeEncoder{typ: key.typ}
	b[key] = e
	e.build(b, key.allowAddr)
	return e
}

func (b encoderBuilder) of(t reflect.Type) *typeEncoder { return b.get(encoderKey{t, true}) }

// maxObjectDepth stops addObject in a pointer cycle, which encoding/json
// reports as an error.
const maxObjectDepth = 1000

func (e *typeEncoder) value(t *jsonTree, v reflect.Value) (int32, bool) {
	if t.depth++; t.depth > maxObjectDepth {
		t.depth--
		return 0, false
	}
	n, ok := e.encode(t, v)
	t.depth--
	return n, ok
}

func unsupported(*jsonTree, reflect.Value) (int32, bool) { return 0, false }

// build is encoding/json's newTypeEncoder.
func (e *typeEncoder) build(b encoderBuilder, allowAddr bool) {
	t := e.typ
	if t.Kind() != reflect.Pointer && allowAddr && reflect.PointerTo(t).Implements(marshalerType) {
		e.orElse = b.get(encoderKey{t, false})
		e.encode = func(tr *jsonTree, v reflect.Value) (int32, bool) {
			if !v.CanAddr() {
				return e.orElse.value(tr, v)
			}
			return tr.addMarshaler(v.Addr())
		}
		return
	}
	if t.Implements(marshalerType) {
		e.encode = func(tr *jsonTree, v reflect.Value) (int32, bool) { return tr.addMarshaler(v) }
		return
	}
	if t.Kind() != reflect.Pointer && allowAddr && reflect.PointerTo(t).Implements(textMarshalerType) {
		e.orElse = b.get(encoderKey{t, false})
		e.encode = func(tr *jsonTree, v reflect.Value) (int32, bool) {
			if !v.CanAddr() {
				return e.orElse.value(tr, v)
			}
			return tr.addTextMarshaler(v.Addr())
		}
		return
	}
	if t.Implements(textMarshalerType) {
		e.encode = func(tr *jsonTree, v reflect.Value) (int32, bool) { return tr.addTextMarshaler(v) }
		return
	}
	switch t.Kind() {
	case reflect.Bool:
		e.encode = func(tr *jsonTree, v reflect.Value) (int32, bool) {
			return tr.add(jsonNode{kind: jsonBool, text: strconv.FormatBool(v.Bool())}), true
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		e.encode = func(tr *jsonTree, v reflect.Value) (int32, bool) {
			return tr.add(jsonNode{kind: jsonNumber, text: strconv.FormatInt(v.Int(), 10)}), true
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		e.encode = func(tr *jsonTree, v reflect.Value) (int32, bool) {
			return tr.add(jsonNode{kind: jsonNumber, text: strconv.FormatUint(v.Uint(), 10)}), true
		}
	case reflect.String:
		e.encode = func(tr *jsonTree, v reflect.Value) (int32, bool) {
			s := v.String()
			if !utf8.ValidString(s) {
				return 0, false // encoding/json replaces each bad byte
			}
			return tr.add(jsonNode{kind: jsonString, text: s}), true
		}
	case reflect.Interface:
		e.encode = func(tr *jsonTree, v reflect.Value) (int32, bool) {
			if v.IsNil() {
				return tr.add(jsonNode{kind: jsonNull, text: "null"}), true
			}
			return encoderFor(v.Elem().Type()).value(tr, v.Elem())
		}
	case reflect.Struct:
		if !e.buildFields(b) {
			e.encode = unsupported
			return
		}
		e.encode = func(tr *jsonTree, v reflect.Value) (int32, bool) { return tr.addStruct(e, v) }
	case reflect.Map:
		switch t.Key().Kind() {
		case reflect.String, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		default:
			if !t.Key().Implements(textMarshalerType) {
				e.encode = unsupported
				return
			}
		}
		if t == reflect.TypeFor[map[string]string]() {
			// Labels, annotations and selectors: most maps in a render,
			// and ranging over them natively beats reflection.
			e.encode = func(tr *jsonTree, v reflect.Value) (int32, bool) {
				m, _ := reflect.TypeAssert[map[string]string](v)
				return tr.addStringMap(m)
			}
			return
		}
		e.elem = b.of(t.Elem())
		e.iterInPlace = !addrSensitive(t.Elem(), map[reflect.Type]bool{})
		e.encode = func(tr *jsonTree, v reflect.Value) (int32, bool) { return tr.addMap(e, v) }
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			p := reflect.PointerTo(t.Elem())
			if !p.Implements(marshalerType) && !p.Implements(textMarshalerType) {
				e.encode = func(tr *jsonTree, v reflect.Value) (int32, bool) {
					if v.IsNil() {
						return tr.add(jsonNode{kind: jsonNull, text: "null"}), true
					}
					return tr.add(jsonNode{kind: jsonString, text: base64.StdEncoding.EncodeToString(v.Bytes())}), true
				}
				return
			}
		}
		e.elem = b.of(t.Elem())
		e.encode = func(tr *jsonTree, v reflect.Value) (int32, bool) {
			if v.IsNil() {
				return tr.add(jsonNode{kind: jsonNull, text: "null"}), true
			}
			return tr.addArray(e, v)
		}
	case reflect.Array:
		e.elem = b.of(t.Elem())
		e.encode = func(tr *jsonTree, v reflect.Value) (int32, bool) { return tr.addArray(e, v) }
	case reflect.Pointer:
		e.elem = b.of(t.Elem())
		e.encode = func(tr *jsonTree, v reflect.Value) (int32, bool) {
			if v.IsNil() {
				return tr.add(jsonNode{kind: jsonNull, text: "null"}), true
			}
			return e.elem.value(tr, v.Elem())
		}
	default:
		// Floats (their formatting rules are not worth copying for types
		// Berth does not render), and what encoding/json rejects.
		e.encode = unsupported
	}
}

// buildFields is encoding/json's typeFields: the fields of a struct and of
// the structs embedded in it, with Go's rules for which embedded field
// wins. It reports false for ",string" fields.
func (e *typeEncoder) buildFields(b encoderBuilder) bool {
	type field struct {
		structField
		tagged bool
		typ    reflect.Type
	}
	var fields []field
	current, next := []field{}, []field{{typ: e.typ}}
	var count, nextCount map[reflect.Type]int
	visited := map[reflect.Type]bool{}
	for len(next) > 0 {
		current, next = next, current[:0]
		count, nextCount = nextCount, map[reflect.Type]int{}
		for _, f := range current {
			if visited[f.typ] {
				continue
			}
			visited[f.typ] = true
			for i := 0; i < f.typ.NumField(); i++ {
				sf := f.typ.Field(i)
				if sf.Anonymous {
					t := sf.Type
					if t.Kind() == reflect.Pointer {
						t = t.Elem()
					}
					if !sf.IsExported() && t.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				if !isValidTag(name) {
					name = ""
				}
				index := append(slices.Clip(f.index), i)
				ft := sf.Type
				if ft.Name() == "" && ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if name != "" || !sf.Anonymous || ft.Kind() != reflect.Struct {
					if hasOption(opts, "string") {
						return false
					}
					nf := field{tagged: name != "", typ: ft}
					if name == "" {
						name = sf.Name
					}
					nf.name, nf.index = name, index
					nf.omitEmpty, nf.omitZero = hasOption(opts, "omitempty"), hasOption(opts, "omitzero")
					if nf.omitZero {
						nf.isZero = isZeroFunc(sf.Type)
					}
					fields = append(fields, nf)
					if count[f.typ] > 1 {
						fields = append(fields, fields[len(fields)-1])
					}
					continue
				}
				nextCount[ft]++
				if nextCount[ft] == 1 {
					next = append(next, field{structField: structField{index: index}, typ: ft})
				}
			}
		}
	}
	slices.SortFunc(fields, func(a, b field) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		if c := cmp.Compare(len(a.index), len(b.index)); c != 0 {
			return c
		}
		if a.tagged != b.tagged {
			if a.tagged {
				return -1
			}
			return +1
		}
		return slices.Compare(a.index, b.index)
	})
	// Keep the dominant field of each name; a tie hides them all.
	for i := 0; i < len(fields); {
		j := i + 1
		for j < len(fields) && fields[j].name == fields[i].name {
			j++
		}
		if j-i == 1 || len(fields[i].index) < len(fields[i+1].index) || fields[i].tagged != fields[i+1].tagged {
			f := fields[i].structField
			f.enc = b.of(typeByIndex(e.typ, f.index))
			f.word = plainWord(f.name)
			e.fields = append(e.fields, f)
		}
		i = j
	}
	if e.fields == nil {
		e.fields = []structField{}
	}
	return true
}

func typeByIndex(t reflect.Type, index []int) reflect.Type {
	for _, i := range index {
		if t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		t = t.Field(i).Type
	}
	return t
}

func hasOption(opts, name string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == name {
			return true
		}
	}
	return false
}

// isValidTag is encoding/json's: a tag name with other characters is
// ignored.
func isValidTag(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}

// isZeroFunc is how encoding/json decides omitzero for a field of type t
// that has an IsZero method; nil means reflect's IsZero.
func isZeroFunc(t reflect.Type) func(reflect.Value) bool {
	type isZeroer interface{ IsZero() bool }
	switch {
	case t.Kind() == reflect.Interface && t.Implements(isZeroerType):
		return func(v reflect.Value) bool {
			return v.IsNil() || (v.Elem().Kind() == reflect.Pointer && v.Elem().IsNil()) || v.Interface().(isZeroer).IsZero()
		}
	case t.Kind() == reflect.Pointer && t.Implements(isZeroerType):
		return func(v reflect.Value) bool { return v.IsNil() || v.Interface().(isZeroer).IsZero() }
	case t.Implements(isZeroerType):
		return func(v reflect.Value) bool { return v.Interface().(isZeroer).IsZero() }
	case reflect.PointerTo(t).Implements(isZeroerType):
		return func(v reflect.Value) bool {
			if !v.CanAddr() {
				v2 := reflect.New(v.Type()).Elem()
				v2.Set(v)
				v = v2
			}
			return v.Addr().Interface().(isZeroer).IsZero()
		}
	}
	return nil
}

// isEmptyValue is encoding/json's test for omitempty.
func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

func (t *jsonTree) addStruct(e *typeEncoder, v reflect.Value) (int32, bool) {
	base := len(t.members)
	defer func() { t.members = t.members[:base] }()
fields:
	for i := range e.fields {
		f := &e.fields[i]
		fv := v
		for _, j := range f.index {
			if fv.Kind() == reflect.Pointer {
				if fv.IsNil() {
					continue fields
				}
				fv = fv.Elem()
			}
			fv = fv.Field(j)
		}
		if f.omitEmpty && isEmptyValue(fv) ||
			f.omitZero && (f.isZero == nil && fv.IsZero() || f.isZero != nil && f.isZero(fv)) {
			continue
		}
		val, ok := f.enc.value(t, fv)
		if !ok {
			return 0, false
		}
		t.members = append(t.members, jsonMember{key: f.name, word: f.word, v: val})
	}
	return t.addMembers(base)
}

func (t *jsonTree) addMap(e *typeEncoder, v reflect.Value) (int32, bool) {
	if v.IsNil() {
		return t.add(jsonNode{kind: jsonNull, text: "null"}), true
	}
	base := len(t.members)
	defer func() { t.members = t.members[:base] }()
	it := v.MapRange()
	var k, val reflect.Value
	if e.iterInPlace {
		// Iterator.Key and Value copy each entry to the heap.
		k, val = reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
	}
	for it.Next() {
		if e.iterInPlace {
			k.SetIterKey(it)
			val.SetIterValue(it)
		} else {
			k, val = it.Key(), it.Value()
		}
		key, ok := mapKey(k)
		if !ok || !utf8.ValidString(key) {
			return 0, false
		}
		n, ok := e.elem.value(t, val)
		if !ok {
			return 0, false
		}
		t.members = append(t.members, jsonMember{key: key, v: n})
	}
	return t.addMembers(base)
}

// addrSensitive reports whether encoding/json encodes values of type t
// differently when they are addressable: when a pointer method (MarshalJSON
// or MarshalText) of t or of a struct field or array element in it would
// be used. Map entries are not addressable.
func addrSensitive(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return false
	}
	seen[t] = true
	if t.Kind() != reflect.Pointer && !t.Implements(marshalerType) && !t.Implements(textMarshalerType) &&
		(reflect.PointerTo(t).Implements(marshalerType) || reflect.PointerTo(t).Implements(textMarshalerType)) {
		return true
	}
	switch t.Kind() {
	case reflect.Array:
		return addrSensitive(t.Elem(), seen)
	case reflect.Struct:
		for i := range t.NumField() {
			if addrSensitive(t.Field(i).Type, seen) {
				return true
			}
		}
	}
	return false
}

func (t *jsonTree) addStringMap(m map[string]string) (int32, bool) {
	if m == nil {
		return t.add(jsonNode{kind: jsonNull, text: "null"}), true
	}
	base := len(t.members)
	defer func() { t.members = t.members[:base] }()
	for k, v := range m {
		if !utf8.ValidString(v) || !utf8.ValidString(k) {
			return 0, false // encoding/json replaces each bad byte
		}
		t.members = append(t.members, jsonMember{key: k, v: t.add(jsonNode{kind: jsonString, text: v})})
	}
	return t.addMembers(base)
}

// mapKey is encoding/json's resolveKeyName.
func mapKey(k reflect.Value) (string, bool) {
	if k.Kind() == reflect.String {
		return k.String(), true
	}
	if tm, ok := reflect.TypeAssert[encoding.TextMarshaler](k); ok {
		if k.Kind() == reflect.Pointer && k.IsNil() {
			return "", true
		}
		b, err := tm.MarshalText()
		return string(b), err == nil
	}
	switch k.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(k.Int(), 10), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(k.Uint(), 10), true
	}
	return "", false
}

func (t *jsonTree) addArray(e *typeEncoder, v reflect.Value) (int32, bool) {
	base := len(t.items)
	defer func() { t.items = t.items[:base] }()
	for i := range v.Len() {
		item, ok := e.elem.value(t, v.Index(i))
		if !ok {
			return 0, false
		}
		t.items = append(t.items, item)
	}
	lo := int32(len(t.kids))
	t.kids = append(t.kids, t.items[base:]...)
	return t.add(jsonNode{kind: jsonArray, lo: lo, hi: int32(len(t.kids))}), true
}

// addMarshaler adds what v's MarshalJSON writes.
func (t *jsonTree) addMarshaler(v reflect.Value) (int32, bool) {
	if v.Kind() == reflect.Pointer && v.IsNil() {
		return t.add(jsonNode{kind: jsonNull, text: "null"}), true
	}
	m, ok := reflect.TypeAssert[json.Marshaler](v)
	if !ok {
		return 0, false
	}
	b, err := m.MarshalJSON()
	if err != nil || !json.Valid(b) {
		return 0, false
	}
	return t.addJSON(string(b))
}

func (t *jsonTree) addTextMarshaler(v reflect.Value) (int32, bool) {
	if v.Kind() == reflect.Pointer && v.IsNil() {
		return t.add(jsonNode{kind: jsonNull, text: "null"}), true
	}
	m, ok := reflect.TypeAssert[encoding.TextMarshaler](v)
	if !ok {
		return 0, false
	}
	b, err := m.MarshalText()
	if err != nil || !utf8.Valid(b) {
		return 0, false
	}
	return t.add(jsonNode{kind: jsonString, text: string(b)}), true
}

// addJSON parses the JSON text s into the tree.
func (t *jsonTree) addJSON(s string) (int32, bool) {
	src := t.src
	defer func() { t.src = src }()
	t.src = s
	n, end, err := t.value(0, 0, "")
	if err != nil || t.skipSpace(end) != len(s) {
		return 0, false
	}
	return n, true
}
