package pgadmin

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// maxIdent is PostgreSQL's identifier limit (NAMEDATALEN - 1): longer names are truncated.
const maxIdent = 63

// hashLen is how many hex digits of SHA-256 end a hashed name: 64 bits, so that nobody can
// pick a team, app or resource name whose hash meets another's.
const hashLen = 16

// Names returns the database and role names of a resource of a team's app in an
// environment: at most 63 bytes of [a-z0-9_] starting with a letter, the same for the
// same inputs and different for different ones.
//
// Parts that are lowercase letters and digits give the plain "team_app_env_resource";
// anything else (a '-', a '_' that would make the join ambiguous, an upper-case letter,
// an empty part, a name too long or starting with PostgreSQL's reserved "pg_") gives the
// sanitized, truncated join followed by "__" and a hash of the inputs. A plain name never
// holds "__", so the two forms never meet.
func Names(team, app, env, resource string) (db, role string) {
	parts := []string{team, app, env, resource}
	name := strings.Join(parts, "_")
	if !plain(parts) || len(name) > maxIdent || strings.HasPrefix(name, "pg_") {
		name = hashed(parts)
	}
	// A role may share its database's name: they live in different catalogs.
	return name, name
}

// plain reports whether every part is non-empty lowercase letters and digits and the
// first starts with a letter.
func plain(parts []string) bool {
	for _, p := range parts {
		if p == "" {
			return false
		}
		for i := 0; i < len(p); i++ {
			if c := p[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
				return false
			}
		}
	}
	c := parts[0][0]
	return c >= 'a' && c <= 'z'
}

func hashed(parts []string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s;", len(p), p) // length-prefixed: no two inputs hash the same text
	}
	sum := hex.EncodeToString(h.Sum(nil))[:hashLen]

	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('_')
		}
		for _, r := range strings.ToLower(p) {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
				b.WriteRune(r)
			} else {
				b.WriteByte('_')
			}
		}
	}
	s := b.String()
	if s[0] < 'a' || s[0] > 'z' || strings.HasPrefix(s, "pg_") {
		s = "b" + s
	}
	if keep := maxIdent - len("__") - hashLen; len(s) > keep {
		s = s[:keep]
	}
	return s + "__" + sum
}
