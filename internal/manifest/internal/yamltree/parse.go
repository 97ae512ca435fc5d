package yamltree

import (
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Parse parses data, one YAML document whose root is a mapping, into the
// node tree yaml.v3 would build for it, or returns ok == false when data
// uses YAML it does not read.
//
// yaml.v3 reads about 20 MB/s, which made parsing the manifest cost more
// than rendering and encoding it. This parser reads the YAML people write
// manifests in: block mappings and sequences, flow collections and plain
// or quoted scalars on one line, literal and folded block scalars, and
// comments. Anything else (anchors, aliases, tags, merge keys, explicit
// documents, multi-line flow collections and scalars, tabs, carriage
// returns, invalid YAML) is left to yaml.v3, which also words the errors.
// Nodes carry what a decoder reads (kind, tag, value, style, line,
// column, content) but no comments. Without aliases, every node of the
// tree has one parent.
//
// The rules mirror yaml.v3's scanner and parser (scannerc.go, parserc.go);
// FuzzYAMLParser checks that whenever this parser answers, yaml.v3 builds
// the same tree.
//
// The nodes live in the arena until it is released.
func (a *Arena[E]) Parse(data []byte) (root *yaml.Node, ok bool) {
	return parse(data, &a.trees)
}

func parse(data []byte, arena *trees) (root *yaml.Node, ok bool) {
	ascii, ok := fastYAMLInput(data)
	if !ok {
		return nil, false
	}
	p := &yamlParser{src: string(data), ascii: ascii, arena: arena}
	defer func() {
		if r := recover(); r != nil {
			if _, fallback := r.(yamlFallback); !fallback {
				panic(r)
			}
			root, ok = nil, false
		}
	}()
	return p.document(), true
}

// yamlFallback is the panic that unwinds the parser when the input is not
// in the subset it reads.
type yamlFallback struct{}

func fallback() { panic(yamlFallback{}) }

// fastYAMLInput reports whether data has only characters the parser
// handles: printable ASCII, newlines, and UTF-8 that yaml.v3 accepts and
// treats as ordinary text (no byte order marks, no Unicode line breaks),
// and whether it is all ASCII.
func fastYAMLInput(data []byte) (ascii, ok bool) {
	ascii = true
	for i := 0; i < len(data); {
		c := data[i]
		if c < utf8.RuneSelf {
			if c < ' ' && c != '\n' || c == 0x7F {
				return false, false
			}
			i++
			continue
		}
		ascii = false
		r, w := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && w == 1, r < 0xA0, r == 0x2028, r == 0x2029, r == 0xFEFF,
			r > 0xD7FF && r < 0xE000, r > 0xFFFD && r < 0x10000:
			return false, false
		}
		i += w
	}
	return ascii, true
}

type yamlParser struct {
	src    string
	ascii  bool // columns are byte offsets
	pos    int
	line   int // 0-based line of pos
	lineAt int // offset where that line starts
	depth  int

	arena *trees
	stack []*yaml.Node // children of collections being parsed
}

// maxFastDepth bounds nesting; deeper documents go to yaml.v3.
const maxFastDepth = 64

func (p *yamlParser) node(kind yaml.Kind, tag, value string, style yaml.Style, line, col int) *yaml.Node {
	// Manifests have a node per 6 to 8 bytes.
	n := &p.arena.nodes.take(1, max(64, len(p.src)/6))[0]
	*n = yaml.Node{Kind: kind, Tag: tag, Value: value, Style: style, Line: line + 1, Column: col + 1}
	return n
}

// content moves the children pushed since base into n.Content.
func (p *yamlParser) content(n *yaml.Node, base int) {
	kids := p.stack[base:]
	n.Content = p.arena.kids.take(len(kids), max(64, len(p.src)/8))
	copy(n.Content, kids)
	p.stack = p.stack[:base]
}

func (p *yamlParser) at(i int) byte {
	if i < len(p.src) {
		return p.src[i]
	}
	return 0
}

func (p *yamlParser) eof() bool { return p.pos >= len(p.src) }

// col is the column of pos in characters, as yaml.v3 counts them.
func (p *yamlParser) col() int {
	if p.ascii {
		return p.pos - p.lineAt
	}
	return utf8.RuneCountInString(p.src[p.lineAt:p.pos])
}

// blankz is yaml.v3's is_blankz for the characters that reach the parser.
func blankz(c byte) bool { return c == ' ' || c == '\n' || c == 0 }

func (p *yamlParser) skipSpaces() {
	for p.at(p.pos) == ' ' {
		p.pos++
	}
}

func (p *yamlParser) newline() {
	p.pos++
	p.line++
	p.lineAt = p.pos
}

// lineEnd consumes the rest of the line after a value: spaces and a
// comment. Anything else is not in the subset (or not YAML).
func (p *yamlParser) lineEnd() {
	start := p.pos
	p.skipSpaces()
	switch p.at(p.pos) {
	case 0:
		return
	case '\n':
		p.newline()
		return
	case '#':
		if p.pos > start {
			p.skipComment()
			return
		}
	}
	fallback()
}

func (p *yamlParser) skipComment() {
	if i := strings.IndexByte(p.src[p.pos:], '\n'); i >= 0 {
		p.pos += i
		p.newline()
	} else {
		p.pos = len(p.src)
	}
}

// skipToContent moves from a position with only spaces before it on its
// line to the first character of the next line with content, skipping
// blank and comment lines. It returns false at the end of the input.
func (p *yamlParser) skipToContent() bool {
	for {
		p.skipSpaces()
		switch p.at(p.pos) {
		case 0:
			return false
		case '\n':
			p.newline()
		case '#':
			p.skipComment()
		default:
			if p.pos == p.lineAt {
				// Directives and document markers.
				rest := p.src[p.pos:]
				if rest[0] == '%' || (strings.HasPrefix(rest, "---") || strings.HasPrefix(rest, "...")) && blankz(p.at(p.pos+3)) {
					fallback()
				}
			}
			return true
		}
	}
}

// isBlockEntry reports whether pos is at a block sequence's "- ".
func (p *yamlParser) isBlockEntry() bool {
	return p.at(p.pos) == '-' && blankz(p.at(p.pos+1))
}

func (p *yamlParser) enter() {
	p.depth++
	if p.depth > maxFastDepth {
		fallback()
	}
}

func (p *yamlParser) leave() { p.depth-- }

func (p *yamlParser) document() *yaml.Node {
	if !p.skipToContent() || p.pos != p.lineAt {
		fallback() // empty, or starting indented: leave it to yaml.v3
	}
	root := p.blockNode(-1)
	if root.Kind != yaml.MappingNode || p.skipToContent() {
		fallback()
	}
	return root
}

// blockNode parses the block node at pos, the first character of a line's
// content or of what follows "- ". indent is the indentation of the
// enclosing block collection, yaml.v3's parser.indent. It returns with pos
// at the next content or at the end of the input.
func (p *yamlParser) blockNode(indent int) *yaml.Node {
	if p.isBlockEntry() {
		return p.blockSequence(p.col(), false)
	}
	n, key := p.token(indent)
	if key {
		return p.blockMapping(n)
	}
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
		p.lineEnd()
		p.skipToContent()
	}
	return n
}

// blockMapping parses a block mapping whose first key, key, has been
// read; pos is at the ':' after it.
func (p *yamlParser) blockMapping(key *yaml.Node) *yaml.Node {
	p.enter()
	defer p.leave()
	c := key.Column - 1
	m := p.node(yaml.MappingNode, "!!map", "", 0, key.Line-1, c)
	base := len(p.stack)
	for {
		// pos is at the ':' after the key.
		p.pos++
		colonLine, colonEnd := p.line, p.col()
		p.stack = append(p.stack, key, p.mappingValue(c, colonLine, colonEnd))
		if p.eof() || p.col() < c {
			break
		}
		if p.col() > c || p.isBlockEntry() {
			fallback()
		}
		var isKey bool
		key, isKey = p.token(c)
		if !isKey {
			fallback()
		}
	}
	p.content(m, base)
	return m
}

// mappingValue parses the value after "key:" in a block mapping at column
// c; the ':' ended at colonEnd.
func (p *yamlParser) mappingValue(c, colonLine, colonEnd int) *yaml.Node {
	p.skipSpaces()
	if ch := p.at(p.pos); ch == 0 || ch == '\n' || ch == '#' {
		p.lineEnd()
		switch {
		case !p.skipToContent():
		case p.col() > c:
			return p.blockNode(c)
		case p.col() == c && p.isBlockEntry():
			return p.blockSequence(c, true)
		}
		// yaml.v3 puts an empty value right after the ':'.
		return p.node(yaml.ScalarNode, "!!null", "", 0, colonLine, colonEnd)
	}
	if p.isBlockEntry() {
		fallback() // "key: - item" is an error
	}
	n, key := p.token(c)
	if key {
		fallback() // "key: other: value" is an error
	}
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
		p.lineEnd()
		p.skipToContent()
	}
	return n
}

// blockSequence parses the block sequence whose first "- " is at pos, in
// column c. An indentless sequence ("key:" followed by "- item" at the
// key's column) ends at the first line that is not an item.
func (p *yamlParser) blockSequence(c int, indentless bool) *yaml.Node {
	p.enter()
	defer p.leave()
	s := p.node(yaml.SequenceNode, "!!seq", "", 0, p.line, c)
	base := len(p.stack)
	for {
		p.pos++ // the '-'
		p.skipSpaces()
		if ch := p.at(p.pos); ch == 0 || ch == '\n' || ch == '#' {
			// The item starts on a later line.
			p.lineEnd()
			if !p.skipToContent() || p.col() <= c {
				fallback() // an empty item
			}
		} else if p.isBlockEntry() {
			fallback() // "- - item"
		}
		p.stack = append(p.stack, p.blockNode(c))
		if p.eof() || p.col() < c {
			break
		}
		if p.col() > c {
			fallback()
		}
		if !p.isBlockEntry() {
			if indentless {
				break
			}
			fallback()
		}
	}
	p.content(s, base)
	return s
}

// token reads the node starting at pos that is not a block collection: a
// scalar, a flow collection or a block scalar. key reports that it is
// followed by ": ", making it a block mapping's key; pos is then at the
// ':'. indent is yaml.v3's parser.indent, which block scalars need.
func (p *yamlParser) token(indent int) (n *yaml.Node, key bool) {
	line, col, start := p.line, p.col(), p.pos
	switch ch := p.at(p.pos); ch {
	case '"', '\'':
		n = p.quoted(ch)
	case '{', '[':
		n = p.flowCollection()
	case '|', '>':
		return p.blockScalar(indent), false
	case '-':
		if blankz(p.at(p.pos + 1)) {
			fallback()
		}
		n = p.plain(false)
	case '?', ':', ',', ']', '}', '#', '&', '*', '!', '%', '@', '`':
		fallback()
	default:
		n = p.plain(false)
	}
	n.Line, n.Column = line+1, col+1
	end := p.pos
	p.skipSpaces()
	if p.at(p.pos) != ':' || !blankz(p.at(p.pos+1)) {
		p.pos = end
		return n, false
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!merge" || p.pos-start > 1000 {
		// Collections as keys, merge keys and keys past yaml.v3's
		// 1024-character limit.
		fallback()
	}
	return n, true
}

// plain reads a plain scalar on one line.
func (p *yamlParser) plain(flow bool) *yaml.Node {
	src := p.src
	start, end, i := p.pos, p.pos, p.pos
	for {
		// A run of non-blank characters: it ends at a blank, at ": ",
		// and in flow context at a flow indicator.
	run:
		for ; i < len(src); i++ {
			switch src[i] {
			case ' ', '\n':
				break run
			case ':':
				if i+1 == len(src) || src[i+1] == ' ' || src[i+1] == '\n' {
					break run
				}
			case '?':
				if flow {
					fallback()
				}
			case ',', '[', ']', '{', '}':
				if flow {
					break run
				}
			}
		}
		end = i
		// Spaces, then more of the scalar unless what follows ends it.
		q := i
		for q < len(src) && src[q] == ' ' {
			q++
		}
		if q == i || q == len(src) {
			break
		}
		if c := src[q]; c == '\n' || c == '#' || c == ':' && blankz(p.at(q+1)) ||
			flow && strings.IndexByte(",?[]{}", c) >= 0 {
			break
		}
		i = q
	}
	p.pos = end
	if end == start {
		fallback()
	}
	value := src[start:end]
	if flow {
		// A plain scalar that goes on past the line is multi-line.
		if q := p.skipTo(end); p.at(q) == '\n' || p.at(q) == 0 {
			fallback()
		}
	}
	tag := "!!merge"
	if value != "<<" {
		tag = plainTag(value)
	}
	return p.node(yaml.ScalarNode, tag, value, 0, 0, 0)
}

func (p *yamlParser) skipTo(i int) int {
	for p.at(i) == ' ' {
		i++
	}
	return i
}

// quoted reads a single- or double-quoted scalar on one line.
func (p *yamlParser) quoted(q byte) *yaml.Node {
	p.pos++
	start := p.pos
	var b []byte // nil until an escape makes the value differ from the source
	for {
		c := p.at(p.pos)
		switch {
		case c == 0 || c == '\n':
			fallback() // multi-line, or unterminated
		case c == q && q == '\'' && p.at(p.pos+1) == '\'':
			if b == nil {
				b = append(b, p.src[start:p.pos]...)
			}
			b = append(b, '\'')
			p.pos += 2
			continue
		case c == q:
			value := p.src[start:p.pos]
			if b != nil {
				value = string(b)
			}
			p.pos++
			style := yaml.DoubleQuotedStyle
			if q == '\'' {
				style = yaml.SingleQuotedStyle
			}
			return p.node(yaml.ScalarNode, "!!str", value, style, 0, 0)
		case c == '\\' && q == '"':
			if b == nil {
				b = append(b, p.src[start:p.pos]...)
			}
			b = p.escape(b)
			continue
		}
		if b != nil {
			b = append(b, c)
		}
		p.pos++
	}
}

// escape decodes the escape sequence at pos, as yaml.v3 does.
func (p *yamlParser) escape(b []byte) []byte {
	e := p.at(p.pos + 1)
	p.pos += 2
	n := 0
	switch e {
	case '0':
		return append(b, 0)
	case 'a':
		return append(b, '\a')
	case 'b':
		return append(b, '\b')
	case 't':
		return append(b, '\t')
	case 'n':
		return append(b, '\n')
	case 'v':
		return append(b, '\v')
	case 'f':
		return append(b, '\f')
	case 'r':
		return append(b, '\r')
	case 'e':
		return append(b, 0x1b)
	case ' ', '"', '\'', '\\':
		return append(b, e)
	case 'N':
		return append(b, "\u0085"...)
	case '_':
		return append(b, "\u00a0"...)
	case 'L':
		return append(b, "\u2028"...)
	case 'P':
		return append(b, "\u2029"...)
	case 'x':
		n = 2
	case 'u':
		n = 4
	case 'U':
		n = 8
	default:
		fallback() // unknown escapes are errors; '\' before a line break folds lines
	}
	if p.pos+n > len(p.src) {
		fallback()
	}
	v := 0
	for _, c := range []byte(p.src[p.pos : p.pos+n]) {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 + int(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 + int(c-'a'+10)
		case c >= 'A' && c <= 'F':
			v = v<<4 + int(c-'A'+10)
		default:
			fallback()
		}
	}
	if v >= 0xD800 && v <= 0xDFFF || v > 0x10FFFF {
		fallback()
	}
	p.pos += n
	return utf8.AppendRune(b, rune(v))
}

// flowCollection reads a flow mapping or sequence on one line.
func (p *yamlParser) flowCollection() *yaml.Node {
	p.enter()
	defer p.leave()
	open := p.at(p.pos)
	kind, tag, closing := yaml.SequenceNode, "!!seq", byte(']')
	if open == '{' {
		kind, tag, closing = yaml.MappingNode, "!!map", '}'
	}
	n := p.node(kind, tag, "", yaml.FlowStyle, 0, 0)
	base := len(p.stack)
	p.pos++
	p.flowSpaces()
	if p.at(p.pos) == closing {
		p.pos++
		return n
	}
	for {
		item := p.flowNode()
		p.flowSpaces()
		colon := p.at(p.pos) == ':'
		if colon != (kind == yaml.MappingNode) {
			fallback() // a key without a value, or a pair in a sequence
		}
		if colon {
			if item.Kind != yaml.ScalarNode || item.Tag == "!!merge" || p.at(p.pos+1) != ' ' {
				fallback()
			}
			p.pos++
			p.flowSpaces()
			p.stack = append(p.stack, item, p.flowNode())
			p.flowSpaces()
		} else {
			p.stack = append(p.stack, item)
		}
		switch p.at(p.pos) {
		case ',':
			p.pos++
			p.flowSpaces()
			if p.at(p.pos) == closing {
				fallback() // a trailing comma
			}
			continue
		case closing:
			p.pos++
			p.content(n, base)
			return n
		}
		fallback()
	}
}

// flowSpaces skips spaces inside a flow collection, which must not end
// the line or hold a comment.
func (p *yamlParser) flowSpaces() {
	p.skipSpaces()
	if c := p.at(p.pos); c == '\n' || c == 0 || c == '#' {
		fallback()
	}
}

func (p *yamlParser) flowNode() *yaml.Node {
	line, col := p.line, p.col()
	var n *yaml.Node
	switch ch := p.at(p.pos); ch {
	case '"', '\'':
		n = p.quoted(ch)
	case '{', '[':
		n = p.flowCollection()
	case '-':
		if blankz(p.at(p.pos + 1)) {
			fallback()
		}
		n = p.plain(true)
	case '?', ':', ',', ']', '}', '#', '&', '*', '!', '%', '@', '`', '|', '>':
		fallback()
	default:
		n = p.plain(true)
	}
	n.Line, n.Column = line+1, col+1
	return n
}

// blockScalar reads a literal (|) or folded (>) block scalar; it is
// yaml_parser_scan_block_scalar. indent is the enclosing block
// collection's indentation. It returns with pos at the first line after
// the scalar's content.
func (p *yamlParser) blockScalar(indent int) *yaml.Node {
	line, col := p.line, p.col()
	literal := p.at(p.pos) == '|'
	p.pos++
	chomping, increment := 0, 0
	for range 2 {
		switch c := p.at(p.pos); {
		case (c == '+' || c == '-') && chomping == 0:
			chomping = 1
			if c == '-' {
				chomping = -1
			}
		case c >= '1' && c <= '9' && increment == 0:
			increment = int(c - '0')
		case c == '0' && increment == 0:
			fallback() // an indentation indicator of 0 is an error
		default:
			continue
		}
		p.pos++
	}
	p.skipSpaces()
	if p.at(p.pos) == '#' {
		for c := p.at(p.pos); c != '\n' && c != 0; c = p.at(p.pos) {
			p.pos++
		}
	}
	switch p.at(p.pos) {
	case '\n':
		p.newline()
	case 0:
	default:
		fallback()
	}

	blockIndent := 0
	if increment > 0 {
		if indent >= 0 {
			blockIndent = indent + increment
		} else {
			blockIndent = increment
		}
	}
	var s, leadingBreak, trailingBreaks []byte
	trailingBreaks = p.blockScalarBreaks(&blockIndent, indent, trailingBreaks)
	leadingBlank := false
	for p.pos-p.lineAt == blockIndent && !p.eof() {
		trailingBlank := p.at(p.pos) == ' '
		if !literal && !leadingBlank && !trailingBlank && len(leadingBreak) > 0 && leadingBreak[0] == '\n' {
			if len(trailingBreaks) == 0 {
				s = append(s, ' ')
			}
		} else {
			s = append(s, leadingBreak...)
		}
		leadingBreak = leadingBreak[:0]
		s = append(s, trailingBreaks...)
		trailingBreaks = trailingBreaks[:0]
		leadingBlank = p.at(p.pos) == ' '
		end := strings.IndexByte(p.src[p.pos:], '\n')
		if end < 0 {
			s = append(s, p.src[p.pos:]...)
			p.pos = len(p.src)
			break
		}
		s = append(s, p.src[p.pos:p.pos+end]...)
		p.pos += end
		p.newline()
		leadingBreak = append(leadingBreak, '\n')
		trailingBreaks = p.blockScalarBreaks(&blockIndent, indent, trailingBreaks)
	}
	if chomping != -1 {
		s = append(s, leadingBreak...)
	}
	if chomping == 1 {
		s = append(s, trailingBreaks...)
	}
	style := yaml.LiteralStyle
	if !literal {
		style = yaml.FoldedStyle
	}
	n := p.node(yaml.ScalarNode, "!!str", string(s), style, line, col)
	// yaml.v3 stops inside the first line after the scalar, past
	// indentation; the rest of the parser starts there too.
	p.skipToContent()
	return n
}

// blockScalarBreaks is yaml_parser_scan_block_scalar_breaks: it eats
// indentation and empty lines, and settles the scalar's indentation if no
// indicator gave it. Columns here are byte offsets: only spaces come
// before them.
func (p *yamlParser) blockScalarBreaks(blockIndent *int, indent int, breaks []byte) []byte {
	maxIndent := 0
	for {
		for (*blockIndent == 0 || p.pos-p.lineAt < *blockIndent) && p.at(p.pos) == ' ' {
			p.pos++
		}
		maxIndent = max(maxIndent, p.pos-p.lineAt)
		if p.at(p.pos) != '\n' {
			break
		}
		p.newline()
		breaks = append(breaks, '\n')
	}
	if *blockIndent == 0 {
		*blockIndent = max(maxIndent, indent+1, 1)
	}
	return breaks
}
