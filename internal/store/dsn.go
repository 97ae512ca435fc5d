package store

import (
	"fmt"
	"net/url"
	"strings"
)

// parseDSN tells which database dsn names: a PostgreSQL URL, or a SQLite file path with an
// optional sqlite:// or sqlite: prefix. For SQLite, target is the file path.
func parseDSN(dsn string) (kind, target string, err error) {
	switch {
	case dsn == "":
		return "", "", fmt.Errorf("database DSN is empty: give a SQLite file path or a postgres:// URL")
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		if _, err := url.Parse(dsn); err != nil {
			// url.Error quotes the URL, password included: say only what is wrong.
			return "", "", fmt.Errorf("database DSN is not a valid postgres:// URL")
		}
		return DialectPostgres, dsn, nil
	}
	path, ok := strings.CutPrefix(dsn, "sqlite://")
	if !ok {
		path, _ = strings.CutPrefix(dsn, "sqlite:")
	}
	switch {
	case strings.Contains(path, "://"):
		return "", "", fmt.Errorf("database DSN %q: unsupported scheme (want a SQLite file path, sqlite://PATH or postgres://...)", dsn)
	case path == "":
		return "", "", fmt.Errorf("database DSN %q: SQLite file path is empty", dsn)
	case path == ":memory:" || strings.HasPrefix(path, "file:"):
		return "", "", fmt.Errorf("database DSN %q: give a plain file path; in-memory and URI SQLite databases are not supported (the store keeps separate read and write connections)", dsn)
	case strings.ContainsAny(path, "?#"):
		return "", "", fmt.Errorf("database DSN %q: SQLite file path must not contain '?' or '#'", dsn)
	}
	return DialectSQLite, path, nil
}

// redactURL returns a PostgreSQL URL without its password, for error messages.
func redactURL(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://(unparsable)"
	}
	return u.Redacted()
}

// SQLiteFile returns the file a DSN names when it names a SQLite database, so that callers
// can prepare its directory; PostgreSQL URLs and invalid DSNs report false.
func SQLiteFile(dsn string) (string, bool) {
	kind, path, err := parseDSN(dsn)
	if err != nil || kind != DialectSQLite {
		return "", false
	}
	return path, true
}
