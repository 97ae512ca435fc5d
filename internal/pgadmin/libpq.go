package pgadmin

import (
	"errors"
	"math"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// toolAppName is the application_name of pg_dump's and pg_restore's connections.
const toolAppName = "berth-backup"

// forwardedSettings are the settings of a DSN, besides those ParseConfig resolves into
// fields, that shape how pgx connects and that libpq reads from the same environment
// variables: pgx took each from the DSN, else from the variable.
var forwardedSettings = []struct{ key, env string }{
	{"sslmode", "PGSSLMODE"},
	{"sslrootcert", "PGSSLROOTCERT"},
	{"sslcert", "PGSSLCERT"},
	{"sslkey", "PGSSLKEY"},
	{"sslcertmode", "PGSSLCERTMODE"},
	{"sslsni", "PGSSLSNI"},
	{"sslnegotiation", "PGSSLNEGOTIATION"},
	{"target_session_attrs", "PGTARGETSESSIONATTRS"},
	{"channel_binding", "PGCHANNELBINDING"},
	{"require_auth", "PGREQUIREAUTH"},
}

// toolEnv returns the whole environment of a libpq program (pg_dump, pg_restore) that
// connects to database on the server of dsn as Berth's own connections do, and the
// secrets it holds. The password goes in PGPASSWORD, never on a command line, which ps
// shows to everyone; nothing is inherited, so that the PG* variables of Berth's own
// environment cannot send the program elsewhere than pgx went.
//
// Not carried over: a service file's settings, sslpassword (libpq reads it from no
// variable) and run-time parameters other than options.
func (a *Admin) toolEnv(dsn, database string) (env, secrets []string, err error) {
	cfg, err := parseConfig(dsn)
	if err != nil {
		return nil, nil, err
	}
	settings, err := dsnSettings(dsn)
	if err != nil {
		return nil, nil, errors.New("postgres DSN: cannot parse")
	}
	// The hosts in pgx's order, once each: sslmode=prefer and allow make two tries per host.
	var hosts, ports []string
	seen := map[string]bool{}
	add := func(host string, port uint16) {
		if k := host + "\x00" + strconv.Itoa(int(port)); !seen[k] {
			seen[k] = true
			hosts, ports = append(hosts, host), append(ports, strconv.Itoa(int(port)))
		}
	}
	add(cfg.Host, cfg.Port)
	for _, f := range cfg.Fallbacks {
		add(f.Host, f.Port)
	}
	timeout := cfg.ConnectTimeout
	if timeout == 0 {
		timeout = a.ConnectTimeout
		if timeout <= 0 {
			timeout = DefaultConnectTimeout
		}
	}
	env = []string{
		"LC_ALL=C", // messages in English, as the rest of Berth's errors
		"PGHOST=" + strings.Join(hosts, ","),
		"PGPORT=" + strings.Join(ports, ","),
		"PGUSER=" + cfg.User,
		"PGDATABASE=" + database,
		"PGAPPNAME=" + toolAppName,
		// libpq counts whole seconds and takes less than 2 for 2.
		"PGCONNECT_TIMEOUT=" + strconv.Itoa(max(2, int(math.Ceil(timeout.Seconds())))),
		// pgx never encrypts with GSSAPI; libpq would try first whenever it finds a ticket.
		"PGGSSENCMODE=disable",
	}
	if cfg.Password != "" {
		env = append(env, "PGPASSWORD="+cfg.Password)
		secrets = append(secrets, cfg.Password)
	}
	for _, s := range forwardedSettings {
		v, ok := settings[s.key]
		if !ok {
			v = os.Getenv(s.env)
		}
		if v != "" {
			env = append(env, s.env+"="+v)
		}
	}
	if opts := cfg.RuntimeParams["options"]; opts != "" {
		env = append(env, "PGOPTIONS="+opts)
	}
	return env, secrets, nil
}

// dsnSettings returns the settings that dsn itself holds, read as libpq reads them (the
// last of repeated keys wins); only those of forwardedSettings are used, and dsn has
// already been parsed by pgx.
func dsnSettings(dsn string) (map[string]string, error) {
	settings := map[string]string{}
	if rest, ok := strings.CutPrefix(dsn, "postgresql://"); ok || strings.HasPrefix(dsn, "postgres://") {
		if !ok {
			rest = strings.TrimPrefix(dsn, "postgres://")
		}
		// As libpq, the user info ends at an '@' before the first '/'; the query follows
		// the first '?' after it.
		if i := strings.IndexAny(rest, "@/"); i >= 0 && rest[i] == '@' {
			rest = rest[i+1:]
		}
		_, query, _ := strings.Cut(rest, "?")
		values, err := url.ParseQuery(query)
		if err != nil {
			return nil, err
		}
		for k, v := range values {
			settings[k] = v[len(v)-1]
		}
		if _, ok := settings["sslmode"]; !ok && settings["ssl"] == "true" {
			settings["sslmode"] = "require" // pgx's alias
		}
		return settings, nil
	}
	s := dsn
	for {
		s = strings.TrimLeft(s, " \t\n\r\v\f")
		if s == "" {
			return settings, nil
		}
		key, rest, ok := strings.Cut(s, "=")
		if !ok {
			return nil, errors.New("invalid keyword/value")
		}
		key = strings.TrimSpace(key)
		s = strings.TrimLeft(rest, " \t\n\r\v\f")
		var val strings.Builder
		quoted := strings.HasPrefix(s, "'")
		if quoted {
			s = s[1:]
		}
		i := 0
		for ; i < len(s); i++ {
			c := s[i]
			if quoted && c == '\'' || !quoted && strings.IndexByte(" \t\n\r\v\f", c) >= 0 {
				break
			}
			if c == '\\' {
				if i++; i == len(s) {
					break
				}
				c = s[i]
			}
			val.WriteByte(c)
		}
		if quoted {
			if i == len(s) {
				return nil, errors.New("unterminated quoted string")
			}
			i++
		}
		s = s[i:]
		settings[key] = val.String()
	}
}
