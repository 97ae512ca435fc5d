package pgadmin_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/berth-dev/berth/internal/pgadmin"
)

func TestURL(t *testing.T) {
	type conn struct {
		Host, Database, User, Password, App string
		Port                                uint16
	}
	for _, tc := range []struct {
		name, host, db, user, password string
		port                           int
		query                          url.Values
		wantURL                        string // "" skips the comparison
	}{
		{name: "plain", host: "127.0.0.1", port: 5432, db: "demo_notes_dev_db", user: "demo_notes_dev_db", password: "pw",
			query: sslDisable, wantURL: "postgres://demo_notes_dev_db:pw@127.0.0.1:5432/demo_notes_dev_db?sslmode=disable"},
		{name: "no query", host: "db.example", port: 6543, db: "d", user: "u", password: "p", wantURL: "postgres://u:p@db.example:6543/d"},
		{name: "no port", host: "db.example", db: "d", user: "u", password: "p", wantURL: "postgres://u:p@db.example/d"},
		{name: "odd characters", host: "db.example", port: 5432, db: "a/b c?d#e", user: "us@r:x/y", password: "p@ss:w/rd?#%&'\"",
			query: url.Values{"sslmode": {"require"}, "application_name": {"berth x"}}},
		{name: "IPv6", host: "::1", port: 5433, db: "d", user: "u", password: "p", wantURL: "postgres://u:p@[::1]:5433/d"},
		{name: "IPv6 without port", host: "::1", db: "d", user: "u", password: "p", wantURL: "postgres://u:p@[::1]/d"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := pgadmin.URL(tc.host, tc.port, tc.db, tc.user, tc.password, tc.query)
			if tc.wantURL != "" && u != tc.wantURL {
				t.Errorf("URL = %s, want %s", u, tc.wantURL)
			}
			cfg, err := pgx.ParseConfig(u)
			if err != nil {
				t.Fatalf("pgx cannot parse %s: %v", u, err)
			}
			port := uint16(tc.port)
			if port == 0 {
				port = 5432
			}
			got := conn{cfg.Host, cfg.Database, cfg.User, cfg.Password, cfg.RuntimeParams["application_name"], cfg.Port}
			want := conn{tc.host, tc.db, tc.user, tc.password, tc.query.Get("application_name"), port}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("pgx reads %s differently (-want +got):\n%s", u, diff)
			}
		})
	}
}

func TestParseDSN(t *testing.T) {
	for _, tc := range []struct {
		dsn      string
		wantHost string
		wantPort int
	}{
		{"postgres://berth_admin:pw@db.example:6543/postgres?sslmode=require", "db.example", 6543},
		{"postgresql://db.example/postgres", "db.example", 5432},
		{"host=10.0.0.7 port=5433 user=berth_admin password=pw dbname=postgres", "10.0.0.7", 5433},
	} {
		t.Run(tc.dsn, func(t *testing.T) {
			host, port, err := pgadmin.ParseDSN(tc.dsn)
			if err != nil || host != tc.wantHost || port != tc.wantPort {
				t.Errorf("ParseDSN = %q, %d, %v; want %q, %d", host, port, err, tc.wantHost, tc.wantPort)
			}
		})
	}
}

// TestParseDSNHidesPassword gives malformed DSNs holding a password: pgx's own errors may
// quote them.
func TestParseDSNHidesPassword(t *testing.T) {
	const secret = "Hunter2-Secret"
	for _, dsn := range []string{
		"postgres://admin:" + secret + "/db@host",       // the password reads as a port
		"postgres://admin:" + secret + "%zz@host/db",    // a bad escape
		"postgres://admin:" + secret + "@host:99999/db", // a port out of range
		"postgres://admin:" + secret + "@[::1/db",       // an unclosed bracket
		"postgres://admin:" + secret + "@host/db?sslmode=" + secret,
		"host=db.example password=" + secret + " port=notaport",
		"host=db.example password='" + secret, // an unclosed quote
		"password=" + secret + " connect_timeout=" + secret,
	} {
		t.Run(dsn, func(t *testing.T) {
			_, _, err := pgadmin.ParseDSN(dsn)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), "postgres DSN: cannot parse: ") {
				t.Errorf("error %q, want it to start with %q", err, "postgres DSN: cannot parse: ")
			}
			if h := holding(err, secret); h != nil {
				t.Errorf("error %q holds the password", h)
			}
			t.Log(err)
		})
	}
	if _, _, err := pgadmin.ParseDSN(" "); err == nil || err.Error() != "postgres DSN is empty" {
		t.Errorf("ParseDSN of a blank DSN: %v, want %q", err, "postgres DSN is empty")
	}
}
