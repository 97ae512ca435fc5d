package manifest

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// badChar finds the first character of data that YAML refuses: a byte
// that is not UTF-8, or a character YAML text can't hold, such as NUL.
// yaml.v3 refuses them without a position; badChar positions them as
// yaml.v3 positions everything else, lines and columns counted in
// characters from 1.
func badChar(file string, data []byte) (Error, bool) {
	if bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF}) {
		return Error{}, false // UTF-16, which yaml.v3 reads and positions itself
	}
	i := 0
	if bytes.HasPrefix(data, []byte("\uFEFF")) {
		i = 3 // a byte order mark is no character of the text
	}
	line, col := 1, 1
	for i < len(data) {
		r, w := rune(data[i]), 1
		if r >= utf8.RuneSelf {
			r, w = utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && w == 1 {
				return Error{File: file, Line: line, Col: col, Msg: fmt.Sprintf("invalid UTF-8: byte 0x%02X", data[i]), Hint: "a manifest is UTF-8 text"}, true
			}
		}
		if !yamlChar(r) {
			return Error{File: file, Line: line, Col: col, Msg: fmt.Sprintf("control character %U is not allowed", r),
				Hint: fmt.Sprintf(`YAML text takes tabs, line breaks and printable characters; in a double-quoted string write \u%04X`, r)}, true
		}
		i += w
		switch r {
		case '\r':
			if i < len(data) && data[i] == '\n' {
				i++
			}
			fallthrough
		case '\n', 0x85, 0x2028, 0x2029: // YAML 1.1's line breaks
			line, col = line+1, 1
		default:
			col++
		}
	}
	return Error{}, false
}

// yamlChar reports whether r may appear in YAML text (YAML 1.1's
// c-printable, as yaml.v3 reads it).
func yamlChar(r rune) bool {
	switch {
	case r == '\t', r == '\n', r == '\r', r >= 0x20 && r <= 0x7E, r == 0x85:
		return true
	case r >= 0xA0 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	return false
}
