package manifest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Error is one problem in a manifest, at a position in its file.
type Error struct {
	File string
	Line int // 1-based; 0 when the position is unknown
	Col  int // 1-based; 0 when the column is unknown
	Path string
	Msg  string
	Hint string
}

// Error formats the problem as file:line:col: path: message (hint).
func (e Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Col > 0 {
			fmt.Fprintf(&b, ":%d", e.Col)
		}
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Hint != "" {
		b.WriteString(" (")
		b.WriteString(e.Hint)
		b.WriteString(")")
	}
	return b.String()
}

// Errors is every problem found in a manifest, sorted by position. Callers
// detect invalid input with errors.As(err, new(*manifest.Errors)).
type Errors struct {
	List []Error
}

// Error returns one line per problem.
func (e *Errors) Error() string {
	lines := make([]string, len(e.List))
	for i, err := range e.List {
		lines[i] = err.Error()
	}
	return strings.Join(lines, "\n")
}

// maxErrors caps the problems kept: aliases can repeat one bad node a
// million times, and nobody reads past the first screenful anyway.
const maxErrors = 200

// errorList collects errors while decoding; dedupes because environment
// passes revisit base nodes and would report their problems again.
type errorList struct {
	list    []Error
	seen    map[Error]bool
	dropped int
	adds    int
}

func (l *errorList) add(e Error) {
	l.adds++
	if l.seen == nil {
		l.seen = map[Error]bool{}
	}
	if l.seen[e] {
		return
	}
	l.seen[e] = true
	if len(l.list) >= maxErrors {
		l.dropped++
		return
	}
	l.list = append(l.list, e)
}

func (l *errorList) has(e Error) bool { return l.seen[e] }

// count is how many problems were added, repeated and dropped ones
// included: a caller can tell whether a step found any.
func (l *errorList) count() int { return l.adds }

func (l *errorList) err() error {
	if len(l.list) == 0 {
		return nil
	}
	list := slices.Clone(l.list)
	slices.SortStableFunc(list, func(a, b Error) int {
		return cmp.Or(
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Col, b.Col),
			cmp.Compare(a.Path, b.Path),
			cmp.Compare(a.Msg, b.Msg),
		)
	})
	if l.dropped > 0 {
		file := list[0].File
		list = append(list, Error{File: file, Msg: fmt.Sprintf("and %d more problems", l.dropped), Hint: "fix the ones above first"})
	}
	return &Errors{List: list}
}
