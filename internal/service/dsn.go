package service

import (
	"errors"
	"net/url"
	"regexp"
	"strings"
)

// DSN redaction
//
// An environment's PostgreSQL DSN is sealed in the store; people see it without its
// password. The DSN is split the way pgx (and libpq) split it, so that what counts as the
// password there is what is taken out here: in a URL, what follows the first ':' of the
// user info (up to the first '@' before any '/') and the query parameters password and
// sslpassword; in a keyword/value string, the values of password and sslpassword, quoted
// or not. Everything else is kept as written.

// secretDSNKeys are the DSN parameters that hold secrets: the role's password, and the
// password of the client certificate's key.
var secretDSNKeys = map[string]bool{"password": true, "sslpassword": true}

// dsnKeyword is what a keyword of a keyword/value DSN may be: libpq's are lowercase
// letters and '_'. Anything else is refused rather than shown, since it may be a password
// in the wrong place ("POSTGRES://u:pw@h/db?sslmode=disable" parses as one odd keyword).
var dsnKeyword = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// errDSN says a DSN cannot be read; it never quotes the DSN.
var errDSN = errors.New("not a PostgreSQL URL (postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=...) or keyword/value string (host=... user=... password=...)")

// redactDSN returns dsn without its secrets, and those secrets (decoded, as pgx would send
// them) so that messages can be scrubbed of them. Its error never quotes dsn.
func redactDSN(dsn string) (display string, secrets []string, err error) {
	if strings.TrimSpace(dsn) == "" || strings.IndexByte(dsn, 0) >= 0 {
		return "", nil, errDSN
	}
	for _, scheme := range []string{"postgresql://", "postgres://"} {
		if rest, ok := strings.CutPrefix(dsn, scheme); ok {
			return redactURL(scheme, rest)
		}
	}
	return redactKeywordValue(dsn)
}

func redactURL(scheme, rest string) (string, []string, error) {
	var secrets []string
	var b strings.Builder
	b.WriteString(scheme)
	// As libpq: the user info ends at the first '@' before any '/'.
	if i := strings.IndexAny(rest, "@/"); i >= 0 && rest[i] == '@' {
		user, password, hasPassword := strings.Cut(rest[:i], ":")
		if hasPassword && password != "" {
			secrets = append(secrets, decodeOrRaw(password)...)
		}
		if user != "" {
			b.WriteString(user + "@")
		}
		rest = rest[i+1:]
	}
	// The query starts at the first '?' after the user info: neither hosts, ports nor the
	// database name hold one.
	before, query, hasQuery := strings.Cut(rest, "?")
	b.WriteString(before)
	if !hasQuery {
		return b.String(), secrets, nil
	}
	var kept []string
	for pair := range strings.SplitSeq(query, "&") {
		rawKey, rawValue, _ := strings.Cut(pair, "=")
		key, err := url.PathUnescape(rawKey)
		if err != nil {
			return "", nil, errDSN
		}
		if secretDSNKeys[key] {
			secrets = append(secrets, decodeOrRaw(rawValue)...)
			continue
		}
		if strings.Contains(strings.ToLower(key), "password") {
			// Not a parameter pgx reads as a password, but named like one: keep it out.
			return "", nil, errDSN
		}
		kept = append(kept, pair)
	}
	if len(kept) > 0 {
		b.WriteString("?" + strings.Join(kept, "&"))
	}
	return b.String(), secrets, nil
}

// decodeOrRaw returns the percent-decoded s with s itself, both of which may appear in
// messages.
func decodeOrRaw(s string) []string {
	if d, err := url.PathUnescape(s); err == nil && d != s {
		return []string{s, d}
	}
	return []string{s}
}

// dsnSpace is the whitespace that separates a keyword/value DSN's pairs.
const dsnSpace = " \t\n\r\v\f"

func redactKeywordValue(s string) (string, []string, error) {
	var kept, secrets []string
	s = strings.TrimLeft(s, dsnSpace)
	for s != "" {
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			return "", nil, errDSN
		}
		key := strings.Trim(s[:eq], dsnSpace)
		if !dsnKeyword.MatchString(key) {
			return "", nil, errDSN
		}
		s = strings.TrimLeft(s[eq+1:], dsnSpace)
		var raw, value string
		switch {
		case s == "":
		case s[0] != '\'':
			end := 0
			for ; end < len(s) && !strings.ContainsRune(dsnSpace, rune(s[end])); end++ {
				if s[end] == '\\' {
					end++
					if end == len(s) {
						break
					}
				}
			}
			raw, s = s[:end], s[end:]
			value = unescapeDSNValue(raw)
		default:
			end := 1
			for ; end < len(s) && s[end] != '\''; end++ {
				if s[end] == '\\' {
					end++
				}
			}
			if end >= len(s) {
				return "", nil, errDSN // an unterminated quoted value
			}
			raw, s = s[:end+1], s[end+1:]
			value = unescapeDSNValue(raw[1:end])
		}
		s = strings.TrimLeft(s, dsnSpace)
		if secretDSNKeys[key] {
			if value != "" {
				secrets = append(secrets, value, raw)
			}
			continue
		}
		if strings.Contains(strings.ToLower(key), "password") {
			return "", nil, errDSN
		}
		kept = append(kept, key+"="+raw)
	}
	if len(kept) == 0 {
		return "", nil, errDSN
	}
	return strings.Join(kept, " "), secrets, nil
}

// unescapeDSNValue undoes a keyword/value DSN's backslash escapes as pgx does: a
// backslash keeps the byte after it, and a trailing one is dropped.
func unescapeDSNValue(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			if i++; i == len(s) {
				break
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// scrub replaces each of secrets in msg.
func scrub(msg string, secrets []string) string {
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	return msg
}
