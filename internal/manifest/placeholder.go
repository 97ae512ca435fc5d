package manifest

import (
	"strconv"
	"strings"
)

// segment is one piece of a string field: literal text, or a placeholder
// such as ${resources.db.url} split into its parts.
type segment struct {
	text  string
	parts []string // nil for literal text
	raw   string   // the placeholder as written
}

// allow is the set of placeholder namespaces a field accepts. Fields differ
// because some values can only be references the kubelet resolves (secrets
// in env vars), which cannot be spliced into an image name or a file.
type allow uint8

const (
	allowArgs allow = 1 << iota
	allowMeta
	allowResources
	allowConfig
	allowSecrets
	allowGit

	// Every field that takes args takes git values: both are text given
	// to the render.
	allowPlain = allowArgs | allowMeta | allowGit
	allowText  = allowPlain | allowResources
	allowAll   = allowText | allowConfig | allowSecrets
)

// namespaces lists placeholder namespaces, for hints.
var namespaces = []string{"args", "metadata", "git", "resources", "config", "secrets"}

func (a allow) has(ns string) bool {
	switch ns {
	case "args":
		return a&allowArgs != 0
	case "metadata":
		return a&allowMeta != 0
	case "resources":
		return a&allowResources != 0
	case "config":
		return a&allowConfig != 0
	case "secrets":
		return a&allowSecrets != 0
	case "git":
		return a&allowGit != 0
	}
	return false
}

func (a allow) names() []string {
	var out []string
	for _, ns := range namespaces {
		if a.has(ns) {
			out = append(out, ns)
		}
	}
	return out
}

// templateError is a syntax problem in a string with placeholders.
type templateError struct {
	msg, hint string
}

// parseTemplate splits s into literal text and placeholders. "$${" is a
// literal "${", the escape Score uses.
func parseTemplate(s string) ([]segment, *templateError) {
	segs := make([]segment, 0, 2*strings.Count(s, "${")+1)
	// Literal text is a slice of s, except where an escape drops a '$':
	// then it is built in text.
	var text []byte
	from, escaped := 0, false
	flush := func(to int) {
		switch {
		case escaped:
			text = append(text, s[from:to]...)
			segs = append(segs, segment{text: string(text)})
		case to > from:
			segs = append(segs, segment{text: s[from:to]})
		}
		text, escaped = text[:0], false
	}
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			text = append(text, s[from:i]...)
			text = append(text, "${"...)
			escaped = true
			i += 3
			from = i
		case strings.HasPrefix(s[i:], "${"):
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return nil, &templateError{
					msg:  "unterminated placeholder " + quote(clip(s[i:], 40)),
					hint: "close it with }, or write $${ for a literal ${",
				}
			}
			body := s[i+2 : i+2+end]
			raw := s[i : i+3+end]
			parts := strings.Split(body, ".")
			for _, p := range parts {
				if strings.TrimSpace(p) != p || p == "" {
					return nil, &templateError{
						msg:  "malformed placeholder " + quote(raw),
						hint: "write ${NAMESPACE.NAME} without spaces, e.g. ${args.version}",
					}
				}
			}
			flush(i)
			segs = append(segs, segment{parts: parts, raw: raw})
			i += 3 + end
			from = i
		default:
			i++
		}
	}
	flush(len(s))
	return segs, nil
}

// hasPlaceholder reports whether s has a placeholder or an escape, for fields
// that take no placeholders.
func hasPlaceholder(s string) bool { return strings.Contains(s, "${") }

func quote(s string) string { return strconv.Quote(s) }

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
