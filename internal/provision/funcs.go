package provision

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"regexp"
	"strings"
	"text/template"
)

// funcs are the functions templates may call: the names and argument orders of the sprig
// functions score-k8s's provisioners use, written here so that nothing reads the
// environment, files or the network (sprig's env and expandenv would).
func funcs() template.FuncMap {
	return template.FuncMap{
		"default": func(def, v any) any {
			if empty(v) {
				return def
			}
			return v
		},
		"dig":        dig,
		"quote":      func(v any) string { return fmt.Sprintf("%q", str(v)) },
		"squote":     func(v any) string { return "'" + strings.ReplaceAll(str(v), "'", "''") + "'" },
		"lower":      strings.ToLower,
		"upper":      strings.ToUpper,
		"trim":       strings.TrimSpace,
		"trimPrefix": func(p, s string) string { return strings.TrimPrefix(s, p) },
		"trimSuffix": func(p, s string) string { return strings.TrimSuffix(s, p) },
		"replace":    func(old, new, s string) string { return strings.ReplaceAll(s, old, new) },
		"contains":   func(sub, s string) bool { return strings.Contains(s, sub) },
		"hasPrefix":  func(p, s string) bool { return strings.HasPrefix(s, p) },
		"hasSuffix":  func(p, s string) bool { return strings.HasSuffix(s, p) },
		"b64enc":     func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
		"b64dec":     b64dec,
		"randAlpha":  func(n int) (string, error) { return random(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") },
		"randAlphaNum": func(n int) (string, error) {
			return random(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
		},
		"randNumeric": func(n int) (string, error) { return random(n, "0123456789") },
		"substr":      substr,
		"splitList":   func(sep, s string) []string { return strings.Split(s, sep) },
		"join":        join,
		"first":       func(l []any) any { return at(l, 0) },
		"last":        func(l []any) any { return at(l, len(l)-1) },
		"list":        func(v ...any) []any { return v },
		"dict":        dict,
		"toJson":      toJSON,
		"fail":        func(msg string) (string, error) { return "", errors.New(msg) },
		"regexMatch":  regexMatch,
		"add":         func(a, b int) int { return a + b },
		"cat": func(v ...any) string {
			parts := make([]string, 0, len(v))
			for _, x := range v {
				if x != nil {
					parts = append(parts, str(x))
				}
			}
			return strings.Join(parts, " ")
		},
	}
}

func empty(v any) bool {
	if v == nil {
		return true
	}
	r := reflect.ValueOf(v)
	switch r.Kind() {
	case reflect.String, reflect.Map, reflect.Slice, reflect.Array:
		return r.Len() == 0
	case reflect.Bool:
		return !r.Bool()
	case reflect.Int, reflect.Int64, reflect.Int32:
		return r.Int() == 0
	case reflect.Float64:
		return r.Float() == 0
	}
	return false
}

func str(v any) string {
	if v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// dig walks nested maps: dig "a" "b" DEFAULT MAP.
func dig(args ...any) (any, error) {
	if len(args) < 3 {
		return nil, errors.New("dig needs keys, a default and a map")
	}
	m, ok := args[len(args)-1].(map[string]any)
	def := args[len(args)-2]
	if !ok {
		if args[len(args)-1] == nil {
			return def, nil
		}
		return nil, fmt.Errorf("dig: the last argument is %T, not a map", args[len(args)-1])
	}
	var cur any = m
	for _, k := range args[:len(args)-2] {
		mm, ok := cur.(map[string]any)
		if !ok {
			return def, nil
		}
		if cur, ok = mm[str(k)]; !ok {
			return def, nil
		}
	}
	return cur, nil
}

func b64dec(s string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	return string(b), err
}

// maxRandom bounds the random strings a template may ask for.
const maxRandom = 1024

func random(n int, alphabet string) (string, error) {
	if n < 0 || n > maxRandom {
		return "", fmt.Errorf("random strings are 0 to %d characters long, not %d", maxRandom, n)
	}
	b := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range b {
		k, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", err
		}
		b[i] = alphabet[k.Int64()]
	}
	return string(b), nil
}

func substr(start, end int, s string) string {
	if start < 0 {
		start = 0
	}
	if end < 0 || end > len(s) {
		end = len(s)
	}
	if start > end {
		return ""
	}
	return s[start:end]
}

func join(sep string, v any) string {
	r := reflect.ValueOf(v)
	if r.Kind() != reflect.Slice && r.Kind() != reflect.Array {
		return str(v)
	}
	parts := make([]string, r.Len())
	for i := range parts {
		parts[i] = str(r.Index(i).Interface())
	}
	return strings.Join(parts, sep)
}

func at(l []any, i int) any {
	if i < 0 || i >= len(l) {
		return nil
	}
	return l[i]
}

func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, errors.New("dict needs key and value pairs")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		m[str(kv[i])] = kv[i+1]
	}
	return m, nil
}

func toJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

func regexMatch(re, s string) (bool, error) {
	r, err := regexp.Compile(re)
	if err != nil {
		return false, err
	}
	return r.MatchString(s), nil
}
