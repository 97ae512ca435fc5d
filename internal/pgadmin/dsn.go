package pgadmin

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// URL returns the postgres:// URL of database db on host:port for user with password;
// port 0 leaves the port out, query (often sslmode) may be nil.
func URL(host string, port int, db, user, password string, query url.Values) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(user, password),
		Host:     host,
		Path:     "/" + db,
		RawPath:  "/" + url.PathEscape(db), // escapes a '/' in the name too
		RawQuery: encodeQuery(query),
	}
	switch {
	case port != 0:
		u.Host = net.JoinHostPort(host, strconv.Itoa(port))
	case strings.Contains(host, ":"):
		u.Host = "[" + host + "]"
	}
	return u.String()
}

// encodeQuery is query.Encode with spaces as %20: libpq, and pgx that parses URLs like it,
// read a '+' as itself.
func encodeQuery(query url.Values) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(query)) {
		for _, v := range query[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(escape(k) + "=" + escape(v))
		}
	}
	return b.String()
}

func escape(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

// ParseDSN returns the first host and port of a PostgreSQL URL or keyword/value string.
func ParseDSN(dsn string) (host string, port int, err error) {
	cfg, err := parseConfig(dsn)
	if err != nil {
		return "", 0, err
	}
	return cfg.Host, int(cfg.Port), nil
}

// parseConfig parses dsn with pgx, with errors that never quote it: pgx's hide the
// password only on a best-effort basis, and the url.Error inside them quotes the URL's
// pieces (in "postgres://u:secret/db@host" the password reads as the port).
func parseConfig(dsn string) (*pgx.ConnConfig, error) {
	if strings.TrimSpace(dsn) == "" {
		// pgx would take the empty string for "everything from PG* variables".
		return nil, errors.New("postgres DSN is empty")
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres DSN: cannot parse: %s", parseReason(err))
	}
	return cfg, nil
}

// parseReason returns the fixed message of pgx's ParseConfigError ("invalid port",
// "failed to parse as URL"), without the connection string and the error it wraps.
func parseReason(err error) string {
	const unknown = "not a PostgreSQL URL or keyword/value string"
	var pe *pgconn.ParseConfigError
	if !errors.As(err, &pe) {
		return unknown
	}
	msg := pe.Error() // "cannot parse `REDACTED DSN`: MESSAGE (WRAPPED)"
	if inner := pe.Unwrap(); inner != nil {
		msg = strings.TrimSuffix(msg, " ("+inner.Error()+")")
	}
	i := strings.LastIndex(msg, "`: ")
	if i < 0 {
		return unknown
	}
	return msg[i+len("`: "):]
}
