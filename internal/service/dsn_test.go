package service

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// TestRedactDSN: the display form of a DSN keeps everything but its secrets, split the
// way pgx splits it, whatever characters the password holds; pgx reads the display form
// as the same connection without a password.
func TestRedactDSN(t *testing.T) {
	for _, c := range []struct {
		name, dsn, want string
		password        string // as pgx reads it from dsn
	}{
		{"url", "postgres://berth:s3cret@db.internal:5432/postgres?sslmode=require",
			"postgres://berth@db.internal:5432/postgres?sslmode=require", "s3cret"},
		{"postgresql scheme", "postgresql://berth:s3cret@db/postgres", "postgresql://berth@db/postgres", "s3cret"},
		{"url without password", "postgres://berth@db:5432/postgres", "postgres://berth@db:5432/postgres", ""},
		{"url without user info", "postgres://db:5432/postgres?sslmode=disable", "postgres://db:5432/postgres?sslmode=disable", ""},
		{"url, escaped specials", "postgres://berth:p%40ss%2Fw%3Ard%3F%23%26%27%22@db:5432/postgres?sslmode=disable",
			"postgres://berth@db:5432/postgres?sslmode=disable", `p@ss/w:rd?#&'"`},
		{"url, a colon and quotes in the password", `postgres://berth:pa:ss'"wd@db/postgres`,
			"postgres://berth@db/postgres", `pa:ss'"wd`},
		{"url, password only", "postgres://:s3cret@db/postgres", "postgres://db/postgres", "s3cret"},
		{"url, password parameter", "postgres://berth@db/postgres?sslmode=disable&password=s3cret&application_name=berth",
			"postgres://berth@db/postgres?sslmode=disable&application_name=berth", "s3cret"},
		{"url, escaped password parameter", "postgres://db/postgres?pass%77ord=p%26ss",
			"postgres://db/postgres", "p&ss"},
		{"url, several hosts", "postgres://berth:s3cret@db1:5432,db2:5433/postgres?target_session_attrs=read-write",
			"postgres://berth@db1:5432,db2:5433/postgres?target_session_attrs=read-write", "s3cret"},
		{"url, ipv6", "postgres://berth:s3cret@[::1]:5432/postgres", "postgres://berth@[::1]:5432/postgres", "s3cret"},

		{"keyword/value", "host=db.internal port=5432 user=berth password=s3cret dbname=postgres sslmode=require",
			"host=db.internal port=5432 user=berth dbname=postgres sslmode=require", "s3cret"},
		{"keyword/value, quoted with spaces and quotes", `host=db user=berth password='it\'s a "secret" \\ too' dbname=postgres`,
			"host=db user=berth dbname=postgres", `it's a "secret" \ too`},
		{"keyword/value, escaped space", `password=p\ w\=x host=db`, "host=db", `p w=x`},
		{"keyword/value, spaces around =", "host = db password = 'x y' user= berth", "host=db user=berth", "x y"},
		{"keyword/value, password first and last", "password=first-pw host=db password=last-pw", "host=db", "last-pw"},
		{"keyword/value, specials", `host=db password=p@ss:w/rd?#&%41 user=berth`, "host=db user=berth", `p@ss:w/rd?#&%41`},
		{"keyword/value, quoted values kept", `host=db application_name='my app' password=''`,
			`host=db application_name='my app'`, ""},
		{"keyword/value, ssl key password", "host=db sslpassword=keypass user=berth", "host=db user=berth", ""},
		{"keyword/value, tabs and newlines", "host=db\n\tpassword=s3cret\tuser=berth\n", "host=db user=berth", "s3cret"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, secrets, err := redactDSN(c.dsn)
			if err != nil {
				t.Fatalf("redactDSN: %v", err)
			}
			if got != c.want {
				t.Errorf("display %q, want %q", got, c.want)
			}
			cfg, err := pgx.ParseConfig(c.dsn)
			if err != nil {
				t.Fatalf("pgx cannot parse the test's DSN: %v", err)
			}
			if cfg.Password != c.password {
				t.Fatalf("pgx reads password %q, the test says %q", cfg.Password, c.password)
			}
			if c.password != "" {
				if strings.Contains(got, c.password) {
					t.Errorf("display %q holds the password", got)
				}
				if msg := scrub("failed: "+c.password, secrets); strings.Contains(msg, c.password) {
					t.Errorf("scrub left the password: %q", msg)
				}
			}
			shown, err := pgx.ParseConfig(got)
			if err != nil {
				t.Fatalf("pgx cannot parse the display form: %v", err)
			}
			if shown.Password != "" || shown.Host != cfg.Host || shown.Port != cfg.Port || shown.Database != cfg.Database || shown.User != cfg.User {
				t.Errorf("display reads as %s@%s:%d/%s (password %q), the DSN as %s@%s:%d/%s", shown.User, shown.Host, shown.Port,
					shown.Database, shown.Password, cfg.User, cfg.Host, cfg.Port, cfg.Database)
			}
		})
	}
}

// TestRedactDSNRefuses what it cannot split safely, without quoting it.
func TestRedactDSNRefuses(t *testing.T) {
	for _, dsn := range []string{
		"",
		"   ",
		"s3cret",
		"host=db password='unterminated s3cret",
		"host=db password='s3cret\\",
		"POSTGRES://u:s3cret@db/postgres?sslmode=disable", // not a URL to pgx: one odd keyword
		"host=db my_password=s3cret",
		"postgres://db/postgres?db_password=s3cret",
		"postgres://db/postgres?pass%zzword=s3cret",
		"host=db\x00password=s3cret",
	} {
		_, _, err := redactDSN(dsn)
		if err == nil {
			t.Errorf("redactDSN(%q) succeeded", dsn)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("redactDSN(%q): error quotes the secret: %v", dsn, err)
		}
	}
}
