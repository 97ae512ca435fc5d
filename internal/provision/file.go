// Package provision reads platform provisioner files and runs their templates: the model of
// score-k8s's template provisioners, so a platform team can offer any resource type
// (redis, amqp, s3 ...) without Berth's code. A file is a YAML list; for a resource, the
// first entry whose type (and class and id, when the entry sets them) match provisions it.
//
// Templates are Go text/templates over data only: the functions are Berth's own small set
// (no environment, file or network access), each result is bounded, and a file is checked
// when it is set, with errors that say file:line:column.
//
// It also holds Berth's built-in provisioners (builtin.go) and the resolver that turns
// provisioned outputs into rendered values (resolve.go).
//
// The package is pure: it renders, it never talks to a cluster or a database.
package provision

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"

	"go.yaml.in/yaml/v3"

	"github.com/berth-dev/berth/internal/manifest"
)

// MaxFileSize bounds a provisioner file.
const MaxFileSize = 1 << 20

// File is a parsed provisioner file.
type File struct {
	Name         string
	Provisioners []*Provisioner
}

// Provisioner is one entry of a file.
type Provisioner struct {
	// URI names the provisioner (optional; score-k8s files carry one).
	URI         string
	Type        string
	Class       string // empty: any class
	ID          string // empty: any id
	Description string
	// SupportedParams, when set, are the only params a resource may give the entry;
	// ExpectedOutputs are outputs a run must produce. Both show in `berth provisioners show`.
	SupportedParams []string
	ExpectedOutputs []string
	// Secrets are the output keys whose values are secret: they reach pods as Secret
	// references only, and are never shown.
	Secrets []string

	init, state, shared, outputs, manifests *tmpl
	line, column                            int
}

// Where is the entry's position in its file, as file:line:column.
func (p *Provisioner) Where(file string) string {
	return fmt.Sprintf("%s:%d:%d", file, p.line, p.column)
}

type tmpl struct {
	field        string
	line, column int
	t            *template.Template
}

// Error is one problem in a file, at a position.
type Error struct {
	File         string
	Line, Column int
	Path         string // e.g. [0].outputs
	Msg          string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s: %s", e.File, e.Line, e.Column, e.Path, e.Msg)
}

// Errors are all the problems found in a file, in order.
type Errors []*Error

func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

var (
	typePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,61}[A-Za-z0-9]$`)
	idPattern   = regexp.MustCompile(`^[a-z0-9]+(?:-+[a-z0-9]+)*(?:\.[a-z0-9]+(?:-+[a-z0-9]+)*)*$`)
	keyPattern  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)
	// yaml errors name a line.
	yamlLine = regexp.MustCompile(`line (\d+)`)
	// text/template errors name the template and a line inside it.
	templateLine = regexp.MustCompile(`^template: [^:]*:(\d+):(?:(\d+):)? ?`)
)

// Parse reads and checks a provisioner file: every field known, types and ids well formed,
// every template valid with the functions Berth offers.
func Parse(name string, data []byte) (*File, error) {
	if len(data) > MaxFileSize {
		return nil, Errors{{File: name, Line: 1, Column: 1, Path: "file", Msg: fmt.Sprintf("is %d bytes; the limit is %d", len(data), MaxFileSize)}}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		line := 1
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
		return nil, Errors{{File: name, Line: line, Column: 1, Path: "file", Msg: "is not YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	f := &File{Name: name}
	lines := strings.Split(string(data), "\n")
	var errs Errors
	fail := func(n *yaml.Node, path, msg string) {
		errs = append(errs, &Error{File: name, Line: n.Line, Column: n.Column, Path: path, Msg: msg})
	}
	if len(doc.Content) == 0 {
		return f, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.SequenceNode {
		fail(root, "file", "must be a list of provisioners (- type: redis ...)")
		return nil, errs
	}
	for i, entry := range root.Content {
		at := fmt.Sprintf("[%d]", i)
		if entry.Kind != yaml.MappingNode {
			fail(entry, at, "must be a map with at least type")
			continue
		}
		p := &Provisioner{line: entry.Line, column: entry.Column}
		seen := map[string]bool{}
		for j := 0; j+1 < len(entry.Content); j += 2 {
			k, v := entry.Content[j], entry.Content[j+1]
			path := at + "." + k.Value
			if seen[k.Value] {
				fail(k, path, "is set twice")
				continue
			}
			seen[k.Value] = true
			str := func() string {
				if v.Kind != yaml.ScalarNode {
					fail(v, path, "must be a string")
					return ""
				}
				return v.Value
			}
			list := func() []string {
				if v.Kind != yaml.SequenceNode {
					fail(v, path, "must be a list of strings")
					return nil
				}
				var out []string
				for n, item := range v.Content {
					if item.Kind != yaml.ScalarNode || !keyPattern.MatchString(item.Value) {
						fail(item, fmt.Sprintf("%s[%d]", path, n), "must be a key such as password")
						continue
					}
					out = append(out, item.Value)
				}
				return out
			}
			switch k.Value {
			case "uri":
				p.URI = str()
			case "type":
				p.Type = str()
			case "class":
				p.Class = str()
			case "id":
				p.ID = str()
			case "description":
				p.Description = str()
			case "supported_params":
				p.SupportedParams = list()
			case "expected_outputs":
				p.ExpectedOutputs = list()
			case "secrets":
				p.Secrets = list()
			case "init", "state", "shared", "outputs", "manifests":
				src := str()
				t, err := parseTemplate(k.Value, src)
				if err != nil {
					line, col := templatePosition(lines, v, err)
					errs = append(errs, &Error{File: name, Line: line, Column: col, Path: path, Msg: cleanTemplateError(err)})
					continue
				}
				tp := &tmpl{field: k.Value, line: v.Line, column: v.Column, t: t}
				switch k.Value {
				case "init":
					p.init = tp
				case "state":
					p.state = tp
				case "shared":
					p.shared = tp
				case "outputs":
					p.outputs = tp
				case "manifests":
					p.manifests = tp
				}
			default:
				fail(k, path, "unknown field (known: uri, type, class, id, description, supported_params, expected_outputs, secrets, init, state, shared, outputs, manifests)")
			}
		}
		switch {
		case !seen["type"]:
			fail(entry, at+".type", "required (the resource type it provisions, e.g. redis)")
		case !typePattern.MatchString(p.Type):
			fail(valueNode(entry, "type"), at+".type", "must be 2-63 letters, digits and '-', starting and ending with a letter or digit")
		}
		if p.Class != "" && !typePattern.MatchString(p.Class) {
			fail(valueNode(entry, "class"), at+".class", "must be 2-63 letters, digits and '-', starting and ending with a letter or digit")
		}
		if p.ID != "" && !idPattern.MatchString(p.ID) {
			fail(valueNode(entry, "id"), at+".id", "must be lowercase letters, digits, '-' and '.', e.g. shared-cache")
		}
		f.Provisioners = append(f.Provisioners, p)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return f, nil
}

// Match finds the first provisioner for a resource, and says which types the file knows
// when none matches.
func (f *File) Match(typ, class, id string) (*Provisioner, error) {
	for _, p := range f.Provisioners {
		if p.Type == typ && (p.Class == "" || p.Class == class) && (p.ID == "" || p.ID == id) {
			return p, nil
		}
	}
	return nil, &NoProvisionerError{Type: typ, Class: class, Known: f.Types()}
}

// Types lists the types the file provisions, in file order, once each.
func (f *File) Types() []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range f.Provisioners {
		if !seen[p.Type] {
			seen[p.Type] = true
			out = append(out, p.Type)
		}
	}
	return out
}

// NoProvisionerError says nothing provisions a resource in an environment.
type NoProvisionerError struct {
	Type, Class string
	Env         string   // "" when only a file was searched
	Known       []string // the types that are provisioned there
	Reason      string   // why a known type is not provisioned, when it is
}

func (e *NoProvisionerError) Error() string {
	what := "type " + e.Type
	if e.Class != "" {
		what += " (class " + e.Class + ")"
	}
	where := ""
	if e.Env != "" {
		where = " in environment " + e.Env
	}
	if e.Reason != "" {
		return "no provisioner for resource " + what + where + ": " + e.Reason
	}
	known := "none"
	if len(e.Known) > 0 {
		known = strings.Join(e.Known, ", ")
	}
	msg := "no provisioner for resource " + what + where + "; known: " + known
	if s := manifest.Suggest(e.Type, e.Known); s != "" {
		msg += " (did you mean " + s + "?)"
	}
	if e.Env != "" {
		msg += "; a platform admin adds one with `berth provisioners set --env " + e.Env + " -f FILE` (docs/manifest.md, \"Platform provisioner files\")"
	}
	return msg
}

func valueNode(m *yaml.Node, key string) *yaml.Node {
	for j := 0; j+1 < len(m.Content); j += 2 {
		if m.Content[j].Value == key {
			return m.Content[j+1]
		}
	}
	return m
}

// templatePosition turns a template error's line into the file's line and column: a block
// scalar's text starts on the line after its indicator, at that line's indentation. An
// unclosed action is reported where it started.
func templatePosition(lines []string, v *yaml.Node, err error) (int, int) {
	m := templateLine.FindStringSubmatch(err.Error())
	if m == nil {
		return v.Line, v.Column
	}
	n, _ := strconv.Atoi(m[1])
	if s := startedAt.FindStringSubmatch(err.Error()); s != nil {
		n, _ = strconv.Atoi(s[1])
	}
	if v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) == 0 {
		return v.Line + n - 1, v.Column
	}
	line := v.Line + n
	col := v.Column
	if line-1 < len(lines) {
		text := lines[line-1]
		col = len(text) - len(strings.TrimLeft(text, " ")) + 1
	}
	return line, col
}

var startedAt = regexp.MustCompile(`started at [^:]*:(\d+)`)

func cleanTemplateError(err error) string {
	return "template: " + templateLine.ReplaceAllString(err.Error(), "")
}

func parseTemplate(name, src string) (*template.Template, error) {
	t, err := template.New(name).Option("missingkey=zero").Funcs(funcs()).Parse(src)
	if err != nil {
		return nil, err
	}
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			if err := checkRanges(tt.Tree, tt.Tree.Root); err != nil {
				return nil, err
			}
		}
	}
	return t, nil
}

// checkRanges refuses a range over a number (`range 1000000000`, `range add ...`, `range
// len ...`): a loop that long writes nothing the result limit could stop. Ranges over lists
// and maps are bounded by the data.
func checkRanges(tree *parse.Tree, n parse.Node) error {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := checkRanges(tree, c); err != nil {
				return err
			}
		}
	case *parse.RangeNode:
		for _, cmd := range n.Pipe.Cmds {
			for _, arg := range cmd.Args {
				_, isNumber := arg.(*parse.NumberNode)
				id, isIdent := arg.(*parse.IdentifierNode)
				if isNumber || isIdent && (id.Ident == "add" || id.Ident == "len") {
					loc, _ := tree.ErrorContext(n)
					return fmt.Errorf("template: %s: range over a number is not allowed; range over a list or map of the data", loc)
				}
			}
		}
		if err := checkRanges(tree, n.List); err != nil {
			return err
		}
		return checkRanges(tree, n.ElseList)
	case *parse.IfNode:
		if err := checkRanges(tree, n.List); err != nil {
			return err
		}
		return checkRanges(tree, n.ElseList)
	case *parse.WithNode:
		if err := checkRanges(tree, n.List); err != nil {
			return err
		}
		return checkRanges(tree, n.ElseList)
	}
	return nil
}

var errTooLarge = errors.New("the template's result is over 256 KiB")

// limitedBuffer fails writes past its limit, so a template cannot grow without bound.
type limitedBuffer struct {
	bytes.Buffer
	limit int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.limit {
		return 0, errTooLarge
	}
	return b.Buffer.Write(p)
}
