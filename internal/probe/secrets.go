package probe

import (
	"cmp"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// redacted replaces a secret in what the probe shows.
const redacted = "REDACTED"

// scrubber removes a run's secrets from the text of errors and details: passwords in URLs
// and DSNs, tokens, the S3 secret key, and the service account's token once read. Libraries
// quote what they were given in their errors, and a URL with a password can come back
// whole from a failed dial.
type scrubber struct {
	secrets []string // longest first, so that a secret containing another goes whole
}

// kvPassword finds a password in a keyword/value DSN ("host=db password=s3cret").
var kvPassword = regexp.MustCompile(`password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)`)

func newScrubber(c Config) *scrubber {
	s := &scrubber{}
	s.add(c.Token, c.S3SecretKey, c.QueueToken)
	for _, u := range []string{c.Server, c.HTTPURL, c.DatabaseURL, c.QueueURL, c.S3Endpoint} {
		s.add(urlSecrets(u)...)
	}
	// NATS takes a token as the user of its URL (nats://TOKEN@host).
	if u, err := url.Parse(c.QueueURL); err == nil && u.User != nil {
		if _, ok := u.User.Password(); !ok {
			s.add(u.User.Username())
		}
	}
	for _, m := range kvPassword.FindAllStringSubmatch(c.DatabaseURL, -1) {
		s.add(m[1], strings.Trim(m[1], "'"))
	}
	if c.DatabaseURL != "" {
		// pgx takes the password from the DSN, $PGPASSWORD or a .pgpass file.
		if pc, err := pgconn.ParseConfig(c.DatabaseURL); err == nil {
			s.add(pc.Password)
		}
	}
	return s
}

// urlSecrets returns the password and the password query parameter of a URL, if any.
func urlSecrets(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	var out []string
	if p, ok := u.User.Password(); ok {
		out = append(out, p)
	}
	out = append(out, u.Query()["password"]...)
	return out
}

// add makes each non-empty secret, as is and as URLs escape it, one to remove.
func (s *scrubber) add(secrets ...string) {
	for _, v := range secrets {
		if v == "" {
			continue
		}
		for _, form := range []string{v, url.QueryEscape(v), url.PathEscape(v), strings.TrimPrefix(url.UserPassword("", v).String(), ":")} {
			if !slices.Contains(s.secrets, form) {
				s.secrets = append(s.secrets, form)
			}
		}
	}
	slices.SortStableFunc(s.secrets, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
}

// scrub returns text without the secrets.
func (s *scrubber) scrub(text string) string {
	for _, v := range s.secrets {
		text = strings.ReplaceAll(text, v, redacted)
	}
	return text
}

// userinfoPassword finds the password of a URL that url.Parse refuses.
var userinfoPassword = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*://[^/@:]*:)[^@]*@`)

// redactURL returns raw with the password of its user info, if any, replaced by xxxxx.
func redactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Redacted()
	}
	return userinfoPassword.ReplaceAllString(raw, "${1}xxxxx@")
}
