package store

import (
	"encoding/hex"
	"strings"
	"unicode"

	"github.com/berth-dev/berth/internal/berth"
)

// validateText checks a free-form identifier such as a user or token name: not empty, at
// most max bytes, no spaces or control characters.
func validateText(field, s string, max int) error {
	switch {
	case s == "":
		return invalid(field, "must not be empty")
	case len(s) > max:
		return invalid(field, "is longer than %d bytes", max)
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == unicode.ReplacementChar {
			return invalid(field, "%q must not contain spaces or control characters", s)
		}
	}
	return nil
}

// validateSHA256 checks that s looks like a lower-case hex SHA-256, so that nothing else —
// a token secret above all — is ever written where a hash belongs.
func validateSHA256(field, s string) error {
	if len(s) != 64 || strings.ToLower(s) != s {
		return invalid(field, "must be a lower-case hex SHA-256 (64 characters)")
	}
	if _, err := hex.DecodeString(s); err != nil {
		return invalid(field, "must be a lower-case hex SHA-256 (64 characters)")
	}
	return nil
}

// validateNamespaceTemplate checks that t only uses the known placeholders and that a
// namespace made from it with valid names is itself a DNS-1123 label.
func validateNamespaceTemplate(t string) error {
	if t == "" {
		return invalid("namespace_template", "must not be empty")
	}
	rest := t
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return invalid("namespace_template", "%q has an unclosed '{'", t)
		}
		switch p := rest[i+1 : i+j]; p {
		case "team", "env", "app":
		default:
			return invalid("namespace_template", "%q uses unknown placeholder {%s} (known: {team}, {env}, {app})", t, p)
		}
		rest = rest[i+j+1:]
	}
	sample := strings.NewReplacer("{team}", "t", "{env}", "e", "{app}", "a").Replace(t)
	if err := berth.ValidateName("namespace_template", sample); err != nil {
		return invalid("namespace_template", "%q does not make a DNS-1123 label (lower-case letters, digits, '-')", t)
	}
	return nil
}

// validateProse checks free text such as a reason: not empty, at most max bytes, valid
// UTF-8 without control characters (spaces are fine).
func validateProse(field, s string, max int) error {
	switch {
	case strings.TrimSpace(s) == "":
		return invalid(field, "must not be empty")
	case len(s) > max:
		return invalid(field, "is longer than %d bytes", max)
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return invalid(field, "must be text without control characters")
		}
	}
	return nil
}
