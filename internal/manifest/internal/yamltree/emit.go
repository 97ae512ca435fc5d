package yamltree

import (
	"strings"
	"unicode/utf8"
)

// yamlEmitter writes jsonTrees as a YAML stream byte for byte the way
// yaml.v3's Encoder (indent 2, no line wrapping) writes the same values as
// nodes tagged !!map, !!seq, !!str, !!int, !!float, !!bool and !!null.
// That output is what berth render has always printed and what the golden
// files hold; going through yaml.v3 cost ten times the rest of a render.
//
// The code is a port of the parts of yaml.v3's emitter (emitterc.go) that
// such values reach, keeping its state variables and its quirks; the
// function names say which part each mirrors. Values it does not port
// (keys that need the "? " form, numbers yaml.v3 would tag explicitly)
// make fits report false, and the caller uses yaml.v3 itself.
// TestYAMLEmitterMatchesYAMLv3 and FuzzYAMLEmitter hold the two together.
type yamlEmitter struct {
	out []byte

	column     int  // in characters, not bytes
	whitespace bool // the last character written was whitespace
	indention  bool // only indentation has been written on this line
	indent     int
	indents    []int
	docs       int
}

// bestIndent is yaml.v3's Encoder.SetIndent(2).
const bestIndent = 2

// maxSimpleKey is the longest key yaml.v3 writes as "key: value".
const maxSimpleKey = 128

// reset starts a new stream written to out, keeping the indent stack's
// memory (yaml_emitter_emit_stream_start).
func (e *yamlEmitter) reset(out []byte) {
	*e = yamlEmitter{out: out, indents: e.indents[:0], indent: -1, whitespace: true, indention: true}
}

// fits reports whether the emitter writes node n exactly as yaml.v3 would.
func (e *yamlEmitter) fits(t *jsonTree, n int32) bool {
	node := &t.nodes[n]
	switch node.kind {
	case jsonObject:
		for i := node.lo; i < node.hi; i += 2 {
			k := &t.nodes[t.kids[i]]
			if k.kind != jsonWord && (len(k.text) > maxSimpleKey || hasBreak(k.text)) || !e.fits(t, t.kids[i+1]) {
				return false
			}
		}
	case jsonArray:
		for _, c := range t.kids[node.lo:node.hi] {
			if !e.fits(t, c) {
				return false
			}
		}
	case jsonNumber:
		want := "!!int"
		if strings.ContainsAny(node.text, ".eE") {
			want = "!!float"
		}
		return plainTag(node.text) == want
	}
	return true
}

func hasBreak(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\n' || c == '\r':
			return true
		case c >= utf8.RuneSelf:
			// The other breaks are NEL, LS and PS.
			return strings.Contains(s[i:], "\u0085") || strings.Contains(s[i:], "\u2028") || strings.Contains(s[i:], "\u2029")
		}
	}
	return false
}

// document writes root as the next document of the stream.
func (e *yamlEmitter) document(t *jsonTree, root int32) {
	// yaml_emitter_emit_document_start: every document after the first
	// is explicit.
	if e.docs > 0 {
		e.writeIndent()
		e.writeIndicator("---", true, false, false)
		e.writeIndent()
	}
	e.docs++
	e.node(t, root, false, false)
	// yaml_emitter_emit_document_end, implicit. The stream end writes
	// nothing: yaml.v3's Encoder.Close clears open_ended before it.
	e.writeIndent()
}

// node is yaml_emitter_emit_node. inSeq says the parent is a block
// sequence item, which is all the state stack is consulted for.
func (e *yamlEmitter) node(t *jsonTree, n int32, inSeq, simpleKey bool) {
	node := &t.nodes[n]
	switch node.kind {
	case jsonObject:
		if node.lo == node.hi {
			e.emptyFlow("{", "}")
			return
		}
		// yaml_emitter_emit_block_mapping_key / _value
		e.increaseIndent(false, inSeq)
		for i := node.lo; i < node.hi; i += 2 {
			e.writeIndent()
			e.node(t, t.kids[i], false, true)
			e.writeIndicator(":", false, false, false)
			e.node(t, t.kids[i+1], false, false)
		}
		e.popIndent()
	case jsonArray:
		if node.lo == node.hi {
			e.emptyFlow("[", "]")
			return
		}
		// yaml_emitter_emit_block_sequence_item
		e.increaseIndent(false, inSeq)
		for _, c := range t.kids[node.lo:node.hi] {
			e.writeIndent()
			e.writeIndicator("-", true, false, true)
			e.node(t, c, true, false)
		}
		e.popIndent()
	default:
		e.scalar(node, inSeq, simpleKey)
	}
}

// emptyFlow writes an empty mapping or sequence, which yaml.v3 always
// writes in flow style.
func (e *yamlEmitter) emptyFlow(open, closing string) {
	e.writeIndicator(open, true, true, false)
	e.writeIndicator(closing, false, false, false)
}

// increaseIndent is yaml_emitter_increase_indent_compact without compact
// sequences.
func (e *yamlEmitter) increaseIndent(flow, inSeq bool) {
	e.indents = append(e.indents, e.indent)
	switch {
	case e.indent < 0:
		if flow {
			e.indent = bestIndent
		} else {
			e.indent = 0
		}
	case inSeq:
		// The first indent inside a sequence only skips the "- ".
		e.indent += 2
	default:
		e.indent = bestIndent * ((e.indent + bestIndent) / bestIndent)
	}
}

func (e *yamlEmitter) popIndent() {
	e.indent = e.indents[len(e.indents)-1]
	e.indents = e.indents[:len(e.indents)-1]
}

type scalarStyle uint8

const (
	plainStyle scalarStyle = iota
	singleQuotedStyle
	doubleQuotedStyle
	literalStyle
)

// scalar is the ScalarNode case of yaml.v3's encoder.node followed by
// yaml_emitter_emit_scalar.
func (e *yamlEmitter) scalar(node *jsonNode, inSeq, simpleKey bool) {
	value := node.text
	if node.kind == jsonWord {
		// Plain, single-line: the indentation scalar pushes is not used.
		e.writePlain(value, true)
		return
	}
	str := node.kind == jsonString
	word := isWord(value)
	style := plainStyle
	switch {
	case str && !word && strings.Contains(value, "\n"):
		style = literalStyle
	case str && plainTag(value) != "!!str":
		// A string that would read back as a number, bool or null.
		style = doubleQuotedStyle
	}
	var a scalarAnalysis
	if word {
		a = analyzeWord(value)
	} else {
		a = analyzeScalar(value)
	}
	style = a.selectStyle(style, simpleKey)
	e.increaseIndent(true, inSeq)
	switch style {
	case plainStyle:
		e.writePlain(value, word)
	case singleQuotedStyle:
		e.writeSingleQuoted(value)
	case doubleQuotedStyle:
		e.writeDoubleQuoted(value)
	case literalStyle:
		e.writeLiteral(value)
	}
	e.popIndent()
}

// plainWord reports whether the emitter writes s plain and on one line,
// as a key or a value: the cases scalar decides by looking at s.
func plainWord(s string) bool {
	return isWord(s) && plainTag(s) == "!!str" && analyzeWord(s).selectStyle(plainStyle, true) == plainStyle &&
		analyzeWord(s).selectStyle(plainStyle, false) == plainStyle && len(s) <= maxSimpleKey
}

// scalarAnalysis is the part of yaml_emitter_analyze_scalar's result that
// style selection reads.
// (flow_plain_allowed is left out: only empty collections are written in
// flow context.)
type scalarAnalysis struct {
	empty, multiline                                     bool
	blockPlainAllowed, singleQuotedAllowed, blockAllowed bool
}

// analyzeScalar is yaml_emitter_analyze_scalar in unicode mode, for block
// context.
func analyzeScalar(value string) scalarAnalysis {
	if len(value) == 0 {
		return scalarAnalysis{empty: true, blockPlainAllowed: true, singleQuotedAllowed: true}
	}
	if isWord(value) {
		return analyzeWord(value)
	}
	return analyzeText(value)
}

// analyzeText is analyzeScalar for any non-empty value.
func analyzeText(value string) scalarAnalysis {
	var (
		blockIndicators, lineBreaks, specialCharacters, tabCharacters                    bool
		leadingSpace, leadingBreak, trailingSpace, trailingBreak, breakSpace, spaceBreak bool
		previousSpace, previousBreak                                                     bool
	)
	if strings.HasPrefix(value, "---") || strings.HasPrefix(value, "...") {
		blockIndicators = true
	}
	precededByWhitespace := true
	for i, w := 0, 0; i < len(value); i += w {
		c := value[i]
		var brk, printable, blankz bool
		if c < 0x80 {
			// The character classes below, inlined for ASCII: this loop
			// sees every byte the encoder writes.
			w = 1
			brk = c == '\r' || c == '\n'
			printable = c == '\n' || c >= 0x20 && c <= 0x7E
			blankz = c == ' ' || c == '\t' || brk || c == 0
		} else {
			w = max(width(c), 1) // invalid UTF-8 cannot come out of encoding/json
			brk = isBreak(value, i)
			printable = isPrintable(value, i)
			blankz = brk
		}
		followedByWhitespace := i+w >= len(value) || value[i+w] == ' ' || value[i+w] == '\t'
		if i == 0 {
			switch c {
			case '#', ',', '[', ']', '{', '}', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`':
				blockIndicators = true
			case '?', ':', '-':
				blockIndicators = blockIndicators || followedByWhitespace
			}
		} else {
			switch c {
			case ':':
				blockIndicators = blockIndicators || followedByWhitespace
			case '#':
				blockIndicators = blockIndicators || precededByWhitespace
			}
		}
		if c == '\t' {
			tabCharacters = true
		} else if !printable {
			specialCharacters = true
		}
		switch {
		case c == ' ':
			if i == 0 {
				leadingSpace = true
			}
			if i+w == len(value) {
				trailingSpace = true
			}
			if previousBreak {
				breakSpace = true
			}
			previousSpace, previousBreak = true, false
		case brk:
			lineBreaks = true
			if i == 0 {
				leadingBreak = true
			}
			if i+w == len(value) {
				trailingBreak = true
			}
			if previousSpace {
				spaceBreak = true
			}
			previousSpace, previousBreak = false, true
		default:
			previousSpace, previousBreak = false, false
		}
		precededByWhitespace = blankz
	}
	a := scalarAnalysis{multiline: lineBreaks, blockPlainAllowed: true, singleQuotedAllowed: true, blockAllowed: true}
	if leadingSpace || leadingBreak || trailingSpace || trailingBreak {
		a.blockPlainAllowed = false
	}
	if trailingSpace {
		a.blockAllowed = false
	}
	if breakSpace {
		a.blockPlainAllowed, a.singleQuotedAllowed = false, false
	}
	if spaceBreak || tabCharacters || specialCharacters {
		a.blockPlainAllowed, a.singleQuotedAllowed = false, false
	}
	if spaceBreak || specialCharacters {
		a.blockAllowed = false
	}
	if lineBreaks {
		a.blockPlainAllowed = false
	}
	if blockIndicators {
		a.blockPlainAllowed = false
	}
	return a
}

// isWord reports whether s is printable ASCII without spaces, like nearly
// every value in a rendered object (names, paths, quantities).
func isWord(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return s != ""
}

// analyzeWord is analyzeScalar for a non-empty word: without spaces and
// breaks, only the block indicator rules apply, and a character is
// followed by whitespace only at the end of the word.
func analyzeWord(value string) scalarAnalysis {
	a := scalarAnalysis{blockPlainAllowed: true, singleQuotedAllowed: true, blockAllowed: true}
	switch value[0] {
	case '#', ',', '[', ']', '{', '}', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`':
		a.blockPlainAllowed = false
	case '?', ':', '-':
		a.blockPlainAllowed = len(value) > 1
	}
	if len(value) > 1 && value[len(value)-1] == ':' || strings.HasPrefix(value, "---") || strings.HasPrefix(value, "...") {
		a.blockPlainAllowed = false
	}
	return a
}

// selectStyle is yaml_emitter_select_scalar_style for an untagged scalar
// in block context (flow context only ever holds empty collections here).
func (a scalarAnalysis) selectStyle(style scalarStyle, simpleKey bool) scalarStyle {
	if simpleKey && a.multiline {
		style = doubleQuotedStyle
	}
	if style == plainStyle {
		if !a.blockPlainAllowed || a.empty && simpleKey {
			style = singleQuotedStyle
		}
	}
	if style == singleQuotedStyle && !a.singleQuotedAllowed {
		style = doubleQuotedStyle
	}
	if style == literalStyle && (!a.blockAllowed || simpleKey) {
		style = doubleQuotedStyle
	}
	return style
}

// put is put: one ASCII character.
func (e *yamlEmitter) put(c byte) {
	e.out = append(e.out, c)
	e.column++
}

// putBreak is put_break.
func (e *yamlEmitter) putBreak() {
	e.out = append(e.out, '\n')
	e.column = 0
	e.indention = true
}

// write is write: copies the character at value[i] and returns its width.
func (e *yamlEmitter) write(value string, i int) int {
	w := max(width(value[i]), 1)
	e.out = append(e.out, value[i:min(i+w, len(value))]...)
	e.column++
	return w
}

// writeBreak is write_break.
func (e *yamlEmitter) writeBreak(value string, i int) int {
	if value[i] == '\n' {
		e.putBreak()
		return 1
	}
	w := e.write(value, i)
	e.column = 0
	e.indention = true
	return w
}

// writeIndent is yaml_emitter_write_indent (no foot comments).
func (e *yamlEmitter) writeIndent() {
	indent := max(e.indent, 0)
	if !e.indention || e.column > indent || (e.column == indent && !e.whitespace) {
		e.putBreak()
	}
	if n := indent - e.column; n > 0 {
		e.out = append(e.out, spaces[:min(n, len(spaces))]...)
		for range n - len(spaces) {
			e.out = append(e.out, ' ')
		}
		e.column = indent
	}
	e.whitespace = true
}

const spaces = "                                                                "

// writeIndicator is yaml_emitter_write_indicator.
func (e *yamlEmitter) writeIndicator(indicator string, needWhitespace, isWhitespace, isIndention bool) {
	if needWhitespace && !e.whitespace {
		e.put(' ')
	}
	e.out = append(e.out, indicator...)
	e.column += len(indicator)
	e.whitespace = isWhitespace
	e.indention = e.indention && isIndention
}

// writePlain is yaml_emitter_write_plain_scalar without line wrapping.
// A plain scalar never has line breaks (analyzeScalar rules them out), so
// it is written in one piece. ascii says value is ASCII.
func (e *yamlEmitter) writePlain(value string, ascii bool) {
	if len(value) > 0 && !e.whitespace {
		e.put(' ')
	}
	e.out = append(e.out, value...)
	if ascii {
		e.column += len(value)
	} else {
		e.column += utf8.RuneCountInString(value)
	}
	if len(value) > 0 {
		e.whitespace = false
	}
	e.indention = false
}

// writeSingleQuoted is yaml_emitter_write_single_quoted_scalar without
// line wrapping.
func (e *yamlEmitter) writeSingleQuoted(value string) {
	e.writeIndicator("'", true, false, false)
	breaks := false
	for i := 0; i < len(value); {
		switch {
		case value[i] == ' ':
			i += e.write(value, i)
		case isBreak(value, i):
			if !breaks && value[i] == '\n' {
				e.putBreak()
			}
			i += e.writeBreak(value, i)
			breaks = true
		default:
			if breaks {
				e.writeIndent()
			}
			if value[i] == '\'' {
				e.put('\'')
			}
			i += e.write(value, i)
			e.indention = false
			breaks = false
		}
	}
	e.writeIndicator("'", false, false, false)
	e.whitespace = false
	e.indention = false
}

// writeDoubleQuoted is yaml_emitter_write_double_quoted_scalar without
// line wrapping.
func (e *yamlEmitter) writeDoubleQuoted(value string) {
	e.writeIndicator(`"`, true, false, false)
	if isQuotable(value) {
		e.out = append(e.out, value...)
		e.column += len(value)
		e.writeIndicator(`"`, false, false, false)
		e.whitespace = false
		e.indention = false
		return
	}
	// yaml.v3's is_bom looks at the start of the value, not at i, so a
	// value starting with a BOM has every character escaped.
	bom := strings.HasPrefix(value, "\uFEFF")
	for i := 0; i < len(value); {
		c := value[i]
		if !isPrintable(value, i) || bom || isBreak(value, i) || c == '"' || c == '\\' {
			r, w := utf8.DecodeRuneInString(value[i:])
			i += w
			e.put('\\')
			switch r {
			case 0x00:
				e.put('0')
			case 0x07:
				e.put('a')
			case 0x08:
				e.put('b')
			case 0x09:
				e.put('t')
			case 0x0A:
				e.put('n')
			case 0x0b:
				e.put('v')
			case 0x0c:
				e.put('f')
			case 0x0d:
				e.put('r')
			case 0x1b:
				e.put('e')
			case 0x22:
				e.put('"')
			case 0x5c:
				e.put('\\')
			case 0x85:
				e.put('N')
			case 0xA0:
				e.put('_')
			case 0x2028:
				e.put('L')
			case 0x2029:
				e.put('P')
			default:
				digits := 8
				switch {
				case r <= 0xFF:
					e.put('x')
					digits = 2
				case r <= 0xFFFF:
					e.put('u')
					digits = 4
				default:
					e.put('U')
				}
				for k := (digits - 1) * 4; k >= 0; k -= 4 {
					e.put("0123456789ABCDEF"[(r>>uint(k))&0x0F])
				}
			}
			continue
		}
		i += e.write(value, i)
	}
	e.writeIndicator(`"`, false, false, false)
	e.whitespace = false
	e.indention = false
}

// isQuotable reports whether s is printable ASCII that needs no escapes
// between double quotes.
func isQuotable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' || c > '~' || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// writeLiteral is yaml_emitter_write_literal_scalar with
// yaml_emitter_write_block_scalar_hints.
func (e *yamlEmitter) writeLiteral(value string) {
	e.writeIndicator("|", true, false, false)
	if value[0] == ' ' || isBreak(value, 0) {
		e.writeIndicator(string(rune('0'+bestIndent)), false, false, false)
	}
	chomp := ""
	i := lastChar(value, len(value))
	switch {
	case !isBreak(value, i):
		chomp = "-"
	case i == 0, isBreak(value, lastChar(value, i)):
		chomp = "+"
	}
	if chomp != "" {
		e.writeIndicator(chomp, false, false, false)
	}
	e.putBreak() // yaml_emitter_process_line_comment_linebreak
	e.whitespace = true
	breaks := true
	for i := 0; i < len(value); {
		if isBreak(value, i) {
			i += e.writeBreak(value, i)
			breaks = true
			continue
		}
		if breaks {
			e.writeIndent()
		}
		i += e.write(value, i)
		e.indention = false
		breaks = false
	}
}

// lastChar returns the start of the character before end.
func lastChar(s string, end int) int {
	i := end - 1
	for i > 0 && s[i]&0xC0 == 0x80 {
		i--
	}
	return i
}

// The character classes of yaml.v3's yamlprivateh.go, over strings and
// safe at the end of one.

func at(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return 0
}

func width(b byte) int {
	switch {
	case b&0x80 == 0x00:
		return 1
	case b&0xE0 == 0xC0:
		return 2
	case b&0xF0 == 0xE0:
		return 3
	case b&0xF8 == 0xF0:
		return 4
	}
	return 0
}

func isBlank(s string, i int) bool { c := at(s, i); return c == ' ' || c == '\t' }

func isBreak(s string, i int) bool {
	c := at(s, i)
	return c == '\r' || c == '\n' ||
		c == 0xC2 && at(s, i+1) == 0x85 ||
		c == 0xE2 && at(s, i+1) == 0x80 && (at(s, i+2) == 0xA8 || at(s, i+2) == 0xA9)
}

func isBlankz(s string, i int) bool {
	return isBlank(s, i) || isBreak(s, i) || at(s, i) == 0
}

func isPrintable(s string, i int) bool {
	c, c1, c2 := at(s, i), at(s, i+1), at(s, i+2)
	return c == 0x0A ||
		c >= 0x20 && c <= 0x7E ||
		c == 0xC2 && c1 >= 0xA0 ||
		c > 0xC2 && c < 0xED ||
		c == 0xED && c1 < 0xA0 ||
		c == 0xEE ||
		c == 0xEF && !(c1 == 0xBB && c2 == 0xBF) && !(c1 == 0xBF && (c2 == 0xBE || c2 == 0xBF))
}
