package pgadmin_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/pgadmin"
)

func TestCheck(t *testing.T) {
	s := newServer(t)
	addr := fmt.Sprintf("127.0.0.1:%d", s.port)
	for _, tc := range []struct {
		name, attrs string // attrs "-" means the admin role, "super" the superuser
		wantErr     string
	}{
		{"superuser", "super", ""},
		{"admin", "-", ""},
		{"nocreaterole", "CREATEDB", `may not create roles (ALTER ROLE "%s" CREATEROLE)`},
		{"nocreatedb", "CREATEROLE", `may not create databases (ALTER ROLE "%s" CREATEDB)`},
		{"neither", "", `may not create databases or roles (ALTER ROLE "%s" CREATEDB CREATEROLE)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dsn, role := s.admin, s.db+"_"+tc.name
			switch tc.attrs {
			case "super":
				dsn = s.super
			case "-":
			default:
				dsn = s.role(t, role, tc.attrs)
			}
			info, err := pgadmin.New(nil).Check(t.Context(), dsn)
			if tc.wantErr != "" {
				want := "check postgres on " + addr + ": role " + role + " " + fmt.Sprintf(tc.wantErr, role)
				if err == nil || err.Error() != want {
					t.Fatalf("Check: %v, want error %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if info.Version == "" || info.Host != "127.0.0.1" || info.Port != s.port {
				t.Errorf("Check = %+v, want a version and 127.0.0.1:%d", info, s.port)
			}
		})
	}
}

// TestEnsureLifecycle creates, uses, re-ensures, rotates and drops one app's database.
func TestEnsureLifecycle(t *testing.T) {
	s := newServer(t)
	a := pgadmin.New(nil)
	ctx := t.Context()
	d := s.database(t, "notes")
	exists := func(want bool) {
		t.Helper()
		if got, err := a.Exists(ctx, s.admin, d); err != nil || got != want {
			t.Fatalf("Exists = %v, %v; want %v", got, err, want)
		}
	}
	ensure := func(d pgadmin.Database, wantCreated bool) {
		t.Helper()
		res, err := a.Ensure(ctx, s.admin, d)
		if err != nil {
			t.Fatal(err)
		}
		if res.Created != wantCreated {
			t.Fatalf("Ensure: Created = %v, want %v", res.Created, wantCreated)
		}
	}
	// query runs statements as d's role in its database and returns the last one's value.
	query := func(d pgadmin.Database, sql ...string) string {
		t.Helper()
		c, err := s.connect(t, d.Name, d)
		if err != nil {
			t.Fatalf("connect as %s: %v", d.Role, err)
		}
		for _, stmt := range sql[:len(sql)-1] {
			if _, err := c.Exec(ctx, stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		var out string
		if err := c.QueryRow(ctx, sql[len(sql)-1]).Scan(&out); err != nil {
			t.Fatalf("%s: %v", sql[len(sql)-1], err)
		}
		return out
	}

	exists(false)
	ensure(d, true)
	exists(true)
	if got := query(d, "CREATE TABLE notes (body text)", "INSERT INTO notes VALUES ('hello')", "SELECT body FROM notes"); got != "hello" {
		t.Fatalf("notes hold %q, want hello", got)
	}

	ensure(d, false)
	if got := query(d, "SELECT body FROM notes"); got != "hello" {
		t.Fatalf("after a second Ensure, notes hold %q, want hello", got)
	}

	rotated := d
	rotated.Password = newPassword(t)
	ensure(rotated, false)
	if _, err := s.connect(t, d.Name, d); pgCode(err) != "28P01" {
		t.Fatalf("connect with the old password: %v, want invalid_password (28P01)", err)
	}
	if got := query(rotated, "SELECT body FROM notes"); got != "hello" {
		t.Fatalf("after rotation, notes hold %q, want hello", got)
	}

	if err := a.Drop(ctx, s.admin, rotated); err != nil {
		t.Fatal(err)
	}
	exists(false)
	if got := query(pgadmin.Database{Name: s.db, Role: "postgres"},
		fmt.Sprintf("SELECT count(*)::text FROM pg_roles WHERE rolname = '%s'", d.Role)); got != "0" {
		t.Errorf("after Drop, %s roles named %s, want none", got, d.Role)
	}
	if err := a.Drop(ctx, s.admin, rotated); err != nil {
		t.Fatalf("second Drop: %v", err)
	}
}

// TestEnsureIsolation checks that an app's role reaches its own database only.
func TestEnsureIsolation(t *testing.T) {
	s := newServer(t)
	a := pgadmin.New(nil)
	alpha, beta := s.database(t, "alpha"), s.database(t, "beta")
	for _, d := range []pgadmin.Database{alpha, beta} {
		if _, err := a.Ensure(t.Context(), s.admin, d); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		as   pgadmin.Database
		db   string
		want string // SQLSTATE, "" for success
	}{
		{alpha, alpha.Name, ""},
		{beta, beta.Name, ""},
		{alpha, beta.Name, "42501"}, // insufficient_privilege
		{beta, alpha.Name, "42501"},
	} {
		t.Run(tc.as.Role+"->"+tc.db, func(t *testing.T) {
			if _, err := s.connect(t, tc.db, tc.as); pgCode(err) != tc.want || (tc.want == "" && err != nil) {
				t.Errorf("connect: %v, want SQLSTATE %q", err, tc.want)
			}
		})
	}
}

// TestEnsureConcurrent runs two Ensure calls of the same database at once.
func TestEnsureConcurrent(t *testing.T) {
	s := newServer(t)
	a := pgadmin.New(nil)
	d := s.database(t, "race")
	var (
		wg      sync.WaitGroup
		results [2]pgadmin.EnsureResult
		errs    [2]error
	)
	for i := range results {
		wg.Go(func() { results[i], errs[i] = a.Ensure(t.Context(), s.admin, d) })
	}
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		t.Fatal(err)
	}
	if results[0].Created == results[1].Created {
		t.Errorf("Created = %v and %v, want exactly one true", results[0].Created, results[1].Created)
	}
	if _, err := s.connect(t, d.Name, d); err != nil {
		t.Errorf("connect: %v", err)
	}
}

func TestEnsureRefuses(t *testing.T) {
	s := newServer(t)
	a := pgadmin.New(nil)
	good := s.database(t, "refuse")
	for _, tc := range []struct {
		name string
		edit func(*pgadmin.Database)
		want string
	}{
		{"empty password", func(d *pgadmin.Database) { d.Password = "" }, "password has 0 characters"},
		{"short password", func(d *pgadmin.Database) { d.Password = "Short-Secret" }, "password has 12 characters"},
		{"long password", func(d *pgadmin.Database) { d.Password = strings.Repeat("Long-Secret", 12) }, "password has 132 characters"},
		{"quote", func(d *pgadmin.Database) { d.Password = "Quote-Secret-'; DROP ROLE x; --" }, "character 14 is not one of"},
		{"backslash", func(d *pgadmin.Database) { d.Password = `Backslash-Secret\'` }, "character 17 is not one of"},
		{"NUL", func(d *pgadmin.Database) { d.Password = "Nul-Secret-\x00-padding" }, "character 12 is not one of"},
		{"non-ASCII", func(d *pgadmin.Database) { d.Password = "Ünïcode-Secret-padding" }, "character 1 is not one of"},
		{"empty name", func(d *pgadmin.Database) { d.Name = "" }, "database name is empty"},
		{"empty role", func(d *pgadmin.Database) { d.Role = "" }, "role name is empty"},
		{"long name", func(d *pgadmin.Database) { d.Name = strings.Repeat("n", 64) }, "longer than PostgreSQL's 63 bytes"},
		{"NUL in role", func(d *pgadmin.Database) { d.Role = "ro\x00le" }, "holds a NUL byte"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := good
			tc.edit(&d)
			_, err := a.Ensure(t.Context(), s.admin, d)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Ensure: %v, want an error saying %q", err, tc.want)
			}
			if d.Password != "" && strings.Contains(err.Error(), d.Password) {
				t.Errorf("error %q holds the password", err)
			}
		})
	}
	if ok, err := a.Exists(t.Context(), s.admin, good); err != nil || ok {
		t.Errorf("after refusals, Exists = %v, %v; want false", ok, err)
	}

	// A role of the same name that may do more than log in is not an app's to take.
	taken := s.database(t, "taken")
	s.exec(t, "CREATE ROLE "+taken.Role+" CREATEDB")
	want := "role " + taken.Role + " exists and may do more than log in"
	if _, err := a.Ensure(t.Context(), s.super, taken); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Ensure over a role with CREATEDB: %v, want an error saying %q", err, want)
	}
}

// TestErrorsHideSecrets forces failures with passwords around and looks for them in every
// error of the chain.
func TestErrorsHideSecrets(t *testing.T) {
	s := newServer(t)
	a := pgadmin.New(nil)
	const adminSecret = "Wrong-Admin-Secret-4711"
	wrongAdmin := pgadmin.URL(s.host, s.port, s.db, s.db+"_admin", adminSecret, sslDisable)
	noCreateRole := s.role(t, s.db+"_weak", "CREATEDB")
	d := s.database(t, "secret")
	reserved := d
	reserved.Role = "pg_" + s.team

	for _, tc := range []struct {
		name string
		call func(context.Context) error
	}{
		{"Check with a wrong password", func(ctx context.Context) error { _, err := a.Check(ctx, wrongAdmin); return err }},
		{"Ensure with a wrong password", func(ctx context.Context) error { _, err := a.Ensure(ctx, wrongAdmin, d); return err }},
		{"Exists with a wrong password", func(ctx context.Context) error { _, err := a.Exists(ctx, wrongAdmin, d); return err }},
		{"Drop with a wrong password", func(ctx context.Context) error { return a.Drop(ctx, wrongAdmin, d) }},
		{"Ensure without CREATEROLE", func(ctx context.Context) error { _, err := a.Ensure(ctx, noCreateRole, d); return err }},
		{"Ensure of a reserved role name", func(ctx context.Context) error { _, err := a.Ensure(ctx, s.admin, reserved); return err }},
		{"Ensure with a cancelled context", func(ctx context.Context) error {
			ctx, cancel := context.WithCancel(ctx)
			cancel()
			_, err := a.Ensure(ctx, s.admin, d)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(t.Context())
			if err == nil {
				t.Fatal("no error")
			}
			for _, secret := range []string{adminSecret, "pw-" + s.db + "_weak", d.Password} {
				if e := holding(err, secret); e != nil {
					t.Errorf("error %q holds a password (in %q)", err, e)
				}
			}
		})
	}
}

// holding returns the first error of err's chain whose message holds secret, or nil.
func holding(err error, secret string) error {
	if err == nil {
		return nil
	}
	if strings.Contains(err.Error(), secret) {
		return err
	}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		return holding(u.Unwrap(), secret)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			if h := holding(e, secret); h != nil {
				return h
			}
		}
	}
	return nil
}

// TestConnectTimeout points the admin at a server that accepts connections and never answers.
func TestConnectTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	a := pgadmin.New(nil)
	a.ConnectTimeout = 100 * time.Millisecond
	port := ln.Addr().(*net.TCPAddr).Port
	start := time.Now()
	_, err = a.Check(t.Context(), pgadmin.URL("127.0.0.1", port, "db", "admin", "Timeout-Secret", sslDisable))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Check: %v, want a deadline exceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("Check took %v with a connect timeout of %v", elapsed, a.ConnectTimeout)
	}
}
