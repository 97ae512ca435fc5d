package yamltree

import (
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// How yaml.v3 resolves and decodes plain scalars, without its reflection
// and regular expressions for the values manifests and rendered objects
// hold: the parser tags plain scalars, the emitter quotes strings that
// would read back as something else, and decoders read numbers and
// booleans.

// Int is n.Decode into an int64, without yaml.v3's reflection for the
// plain decimal numbers manifests hold.
func Int(n *yaml.Node) (int64, error) {
	if n.Style == 0 && isSmallInt(n.Value) {
		return strconv.ParseInt(n.Value, 10, 64)
	}
	var v int64
	err := n.Decode(&v)
	return v, err
}

// Bool is n.Decode into a bool, without reflection for the words a plain
// YAML boolean is written as.
func Bool(n *yaml.Node) (bool, error) {
	if n.Style == 0 {
		switch n.Value {
		case "true", "True", "TRUE":
			return true, nil
		case "false", "False", "FALSE":
			return false, nil
		}
	}
	var v bool
	err := n.Decode(&v)
	return v, err
}

// plainTag is the tag yaml.v3 resolves an unquoted scalar to. The cases
// decided here are those of yaml.v3's resolve that need no parsing: a
// first character without a hint, and the hint that only looks words up.
func plainTag(s string) string {
	if s == "" {
		return "!!null"
	}
	switch s[0] {
	case '+', '-', '.', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		if isSmallInt(s) {
			return "!!int"
		}
		n := yaml.Node{Kind: yaml.ScalarNode, Value: s}
		return n.ShortTag()
	case '<':
		if s == "<<" { // the merge key: yaml.v3 (since v3.0.6) quotes it as a string
			return "!!merge"
		}
	case 'y', 'Y', 'n', 'N', 't', 'T', 'f', 'F', 'o', 'O', '~':
		switch s {
		case "true", "True", "TRUE", "false", "False", "FALSE":
			return "!!bool"
		case "null", "Null", "NULL", "~":
			return "!!null"
		}
	}
	return "!!str"
}

// isSmallInt reports whether s is a decimal integer, as encoding/json
// writes them, small enough that strconv.ParseInt takes it.
func isSmallInt(s string) bool {
	digits := strings.TrimPrefix(s, "-")
	if digits == "" || len(digits) > 18 || digits[0] == '0' && len(digits) > 1 {
		return false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return false
		}
	}
	return true
}
