package yamltree

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonTree is a JSON value held in a flat arena, with the members of every
// object sorted by key: what Encoder writes out as YAML. addObject
// (objtree.go) builds it from a typed API object the way encoding/json
// would write it; parse reads encoding/json's own output, for the values
// addObject leaves to it. Either replaces the map[string]any and yaml.Node
// trees that used to sit between the typed objects and the YAML, which
// cost more than the rest of a render together.
type jsonTree struct {
	src   string
	nodes []jsonNode
	kids  []int32 // children of containers; objects hold key, value, key, value...

	// Scratch for containers under construction, reused across objects.
	members []jsonMember
	items   []int32
	text    []byte
	depth   int // of the value addObject is adding
}

type jsonKind uint8

const (
	jsonNull jsonKind = iota
	jsonBool
	jsonNumber
	jsonString
	jsonWord // a string yamlEmitter writes plain, known when the tree is built
	jsonObject
	jsonArray
)

type jsonNode struct {
	kind   jsonKind
	text   string // scalars as written, strings unescaped
	lo, hi int32  // containers: children are kids[lo:hi]
}

type jsonMember struct {
	key  string
	word bool // key is a jsonWord
	v    int32
}

// reset makes the tree read src; the arena's memory is reused.
func (t *jsonTree) reset(src string) {
	t.src = src
	// Rendered objects have a node per 10 to 15 bytes of JSON; sizing the
	// arena for that up front saves growing it as it fills.
	if n := len(src) / 8; cap(t.nodes) < n {
		t.nodes = make([]jsonNode, 0, n)
		t.kids = make([]int32, 0, n)
	}
	t.nodes = t.nodes[:0]
	t.kids = t.kids[:0]
}

// parse reads the object in t.src, leaving out its top-level field skip
// (the status that typed API objects always carry). It returns the root's
// index. The input is encoding/json's own output, so a syntax error is a
// bug; duplicate keys, which encoding/json never writes, are an error too
// because a map would keep only one of them.
func (t *jsonTree) parse(skip string) (int32, error) {
	root, pos, err := t.value(0, 0, skip)
	if err != nil {
		return 0, err
	}
	for pos < len(t.src) && isJSONSpace(t.src[pos]) {
		pos++
	}
	if pos != len(t.src) {
		return 0, fmt.Errorf("json: trailing data at offset %d", pos)
	}
	return root, nil
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

func (t *jsonTree) skipSpace(pos int) int {
	for pos < len(t.src) && isJSONSpace(t.src[pos]) {
		pos++
	}
	return pos
}

func (t *jsonTree) add(n jsonNode) int32 {
	t.nodes = append(t.nodes, n)
	return int32(len(t.nodes) - 1)
}

func (t *jsonTree) value(pos, depth int, skip string) (int32, int, error) {
	pos = t.skipSpace(pos)
	if pos >= len(t.src) {
		return 0, pos, fmt.Errorf("json: unexpected end of input")
	}
	if depth > 10000 {
		return 0, pos, fmt.Errorf("json: nested too deeply")
	}
	switch c := t.src[pos]; {
	case c == '{':
		return t.object(pos+1, depth, skip)
	case c == '[':
		return t.array(pos+1, depth)
	case c == '"':
		s, end, err := t.str(pos)
		if err != nil {
			return 0, end, err
		}
		return t.add(jsonNode{kind: jsonString, text: s}), end, nil
	case c == 't' && strings.HasPrefix(t.src[pos:], "true"):
		return t.add(jsonNode{kind: jsonBool, text: "true"}), pos + 4, nil
	case c == 'f' && strings.HasPrefix(t.src[pos:], "false"):
		return t.add(jsonNode{kind: jsonBool, text: "false"}), pos + 5, nil
	case c == 'n' && strings.HasPrefix(t.src[pos:], "null"):
		return t.add(jsonNode{kind: jsonNull, text: "null"}), pos + 4, nil
	case c == '-' || c >= '0' && c <= '9':
		end := pos + 1
		for end < len(t.src) && strings.IndexByte("0123456789+-.eE", t.src[end]) >= 0 {
			end++
		}
		return t.add(jsonNode{kind: jsonNumber, text: t.src[pos:end]}), end, nil
	default:
		return 0, pos, fmt.Errorf("json: unexpected %q at offset %d", c, pos)
	}
}

func (t *jsonTree) object(pos, depth int, skip string) (int32, int, error) {
	base := len(t.members)
	defer func() { t.members = t.members[:base] }()
	pos = t.skipSpace(pos)
	if pos < len(t.src) && t.src[pos] == '}' {
		pos++
	} else {
		for {
			pos = t.skipSpace(pos)
			if pos >= len(t.src) || t.src[pos] != '"' {
				return 0, pos, fmt.Errorf("json: expected a key at offset %d", pos)
			}
			key, end, err := t.str(pos)
			if err != nil {
				return 0, end, err
			}
			pos = t.skipSpace(end)
			if pos >= len(t.src) || t.src[pos] != ':' {
				return 0, pos, fmt.Errorf("json: expected ':' at offset %d", pos)
			}
			v, end, err := t.value(pos+1, depth+1, "")
			if err != nil {
				return 0, end, err
			}
			if skip == "" || key != skip {
				t.members = append(t.members, jsonMember{key: key, v: v})
			}
			pos = t.skipSpace(end)
			if pos < len(t.src) && t.src[pos] == ',' {
				pos++
				continue
			}
			if pos < len(t.src) && t.src[pos] == '}' {
				pos++
				break
			}
			return 0, pos, fmt.Errorf("json: expected ',' or '}' at offset %d", pos)
		}
	}
	n, ok := t.addMembers(base)
	if !ok {
		return 0, pos, fmt.Errorf("json: duplicate key")
	}
	return n, pos, nil
}

// addMembers adds the object whose members were pushed on t.members since
// base, sorted by key. It reports false for a duplicate key.
func (t *jsonTree) addMembers(base int) (int32, bool) {
	ms := t.members[base:]
	slices.SortFunc(ms, func(a, b jsonMember) int { return strings.Compare(a.key, b.key) })
	lo := int32(len(t.kids))
	for i := range ms {
		if i > 0 && ms[i].key == ms[i-1].key {
			return 0, false
		}
		kind := jsonString
		if ms[i].word {
			kind = jsonWord
		}
		k := t.add(jsonNode{kind: kind, text: ms[i].key})
		t.kids = append(t.kids, k, ms[i].v)
	}
	return t.add(jsonNode{kind: jsonObject, lo: lo, hi: int32(len(t.kids))}), true
}

func (t *jsonTree) array(pos, depth int) (int32, int, error) {
	base := len(t.items)
	defer func() { t.items = t.items[:base] }()
	pos = t.skipSpace(pos)
	if pos < len(t.src) && t.src[pos] == ']' {
		pos++
	} else {
		for {
			v, end, err := t.value(pos, depth+1, "")
			if err != nil {
				return 0, end, err
			}
			t.items = append(t.items, v)
			pos = t.skipSpace(end)
			if pos < len(t.src) && t.src[pos] == ',' {
				pos++
				continue
			}
			if pos < len(t.src) && t.src[pos] == ']' {
				pos++
				break
			}
			return 0, pos, fmt.Errorf("json: expected ',' or ']' at offset %d", pos)
		}
	}
	lo := int32(len(t.kids))
	t.kids = append(t.kids, t.items[base:]...)
	return t.add(jsonNode{kind: jsonArray, lo: lo, hi: int32(len(t.kids))}), pos, nil
}

// str reads the string literal at pos (its opening quote). Strings without
// escapes, nearly all of them, are slices of the source and cost nothing.
func (t *jsonTree) str(pos int) (string, int, error) {
	i := pos + 1
	for i < len(t.src) {
		switch c := t.src[i]; {
		case c == '"':
			return t.src[pos+1 : i], i + 1, nil
		case c == '\\':
			return t.unescape(pos)
		case c < 0x20:
			return "", i, fmt.Errorf("json: control character in string at offset %d", i)
		}
		i++
	}
	return "", i, fmt.Errorf("json: unterminated string at offset %d", pos)
}

// unescape decodes a string literal with escapes the way encoding/json
// does, lone surrogates becoming U+FFFD.
func (t *jsonTree) unescape(pos int) (string, int, error) {
	b := t.text[:0]
	defer func() { t.text = b[:0] }()
	i := pos + 1
	for i < len(t.src) {
		c := t.src[i]
		switch {
		case c == '"':
			return string(b), i + 1, nil
		case c < 0x20:
			return "", i, fmt.Errorf("json: control character in string at offset %d", i)
		case c != '\\':
			b = append(b, c)
			i++
			continue
		}
		if i+1 >= len(t.src) {
			break
		}
		switch e := t.src[i+1]; e {
		case '"', '\\', '/':
			b = append(b, e)
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r, ok := hex4(t.src, i+2)
			if !ok {
				return "", i, fmt.Errorf("json: bad \\u escape at offset %d", i)
			}
			i += 6
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(t.src, i+2); ok && i+1 < len(t.src) && t.src[i] == '\\' && t.src[i+1] == 'u' {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						b = utf8.AppendRune(b, d)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			b = utf8.AppendRune(b, r)
			continue
		default:
			return "", i, fmt.Errorf("json: bad escape at offset %d", i)
		}
		i += 2
	}
	return "", i, fmt.Errorf("json: unterminated string at offset %d", pos)
}

func hex4(s string, at int) (rune, bool) {
	if at+4 > len(s) {
		return 0, false
	}
	v, err := strconv.ParseUint(s[at:at+4], 16, 32)
	return rune(v), err == nil
}
