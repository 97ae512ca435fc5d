package pgadmin

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestMajorVersion(t *testing.T) {
	for in, want := range map[string]int{
		"pg_dump (PostgreSQL) 17.2 (Debian 17.2-1.pgdg120+1)\n": 17,
		"pg_restore (PostgreSQL) 15.8\n":                        15,
		"pg_dump (PostgreSQL) 9.6.24\n":                         9,
		"pg_dump (PostgreSQL) 18beta1\n":                        18,
		"pg_dump (PostgreSQL) 19devel\n":                        19,
		"pg_dump 17.2\n":                                        0,
		"":                                                      0,
	} {
		if got, ok := majorVersion(in); got != want || ok != (want != 0) {
			t.Errorf("majorVersion(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
}

// TestFindToolsPicksNewest lays out fake programs as Debian does, plus a newer pair on PATH.
func TestFindToolsPicksNewest(t *testing.T) {
	root := t.TempDir()
	fake := func(dir, version string) string {
		t.Helper()
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"pg_dump", "pg_restore"} {
			script := "#!/bin/sh\necho '" + name + " (PostgreSQL) " + version + "'\n"
			if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	lib := filepath.Join(root, "lib")
	fake(filepath.Join(lib, "13", "bin"), "13.20")
	v16 := fake(filepath.Join(lib, "16", "bin"), "16.6")
	fake(filepath.Join(lib, "9.6", "bin"), "9.6.24")
	wrapper := fake(filepath.Join(root, "usr", "bin"), "16.6") // Debian's wrapper: same version, found later
	newer := fake(filepath.Join(root, "opt", "bin"), "17.2")
	ctx := t.Context()

	for _, tc := range []struct {
		name, path, wantDir string
		wantVersion         int
	}{
		{"versioned directories", "", v16, 16},
		{"the wrapper loses a tie", wrapper, v16, 16},
		{"newer on PATH", strings.Join([]string{"relative/bin", wrapper, newer}, string(os.PathListSeparator)), newer, 17},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := findTools(ctx, lib, tc.path)
			if err != nil {
				t.Fatal(err)
			}
			want := Tools{Dump: filepath.Join(tc.wantDir, "pg_dump"), Restore: filepath.Join(tc.wantDir, "pg_restore"), Version: tc.wantVersion}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("findTools (-want +got):\n%s", diff)
			}
		})
	}

	_, err := findTools(ctx, filepath.Join(root, "nothing"), filepath.Join(root, "empty"))
	want := "pg_dump not found: install PostgreSQL's client programs (Debian: postgresql-client)"
	if err == nil || err.Error() != want {
		t.Errorf("findTools without programs: %v, want %q", err, want)
	}
}

func TestToolEnv(t *testing.T) {
	for _, v := range []string{"PGHOST", "PGSSLMODE", "PGSSLROOTCERT", "PGPASSWORD", "PGTARGETSESSIONATTRS", "PGOPTIONS"} {
		t.Setenv(v, "")
	}
	base := []string{"LC_ALL=C", "PGAPPNAME=berth-backup", "PGGSSENCMODE=disable"}
	a, ca := New(nil), writeCA(t)
	for _, tc := range []struct {
		name, dsn string
		env       map[string]string // Berth's own environment
		want      []string          // besides base
	}{
		{
			name: "URL",
			dsn:  "postgres://admin:s3cr%40t@db.example:6432/postgres?sslmode=verify-full&sslrootcert=" + ca + "&application_name=other",
			want: []string{"PGHOST=db.example", "PGPORT=6432", "PGUSER=admin", "PGPASSWORD=s3cr@t", "PGDATABASE=app",
				"PGCONNECT_TIMEOUT=10", "PGSSLMODE=verify-full", "PGSSLROOTCERT=" + ca},
		},
		{
			name: "keyword/value",
			dsn:  `host=db.example user='ad min' password='it\'s \\ \'quoted\'' dbname=postgres connect_timeout=3 sslmode=disable options='-c work_mem=64MB'`,
			want: []string{"PGHOST=db.example", "PGPORT=5432", "PGUSER=ad min", `PGPASSWORD=it's \ 'quoted'`, "PGDATABASE=app",
				"PGCONNECT_TIMEOUT=3", "PGSSLMODE=disable", "PGOPTIONS=-c work_mem=64MB"},
		},
		{
			name: "hosts, prefer",
			dsn:  "postgres://admin@a.example:5433,b.example:5434/postgres?target_session_attrs=read-write",
			want: []string{"PGHOST=a.example,b.example", "PGPORT=5433,5434", "PGUSER=admin", "PGDATABASE=app",
				"PGCONNECT_TIMEOUT=10", "PGTARGETSESSIONATTRS=read-write"},
		},
		{
			name: "what pgx took from the environment",
			dsn:  "postgres://admin:pw@db.example/postgres",
			env:  map[string]string{"PGSSLMODE": "require", "PGSSLROOTCERT": ca, "PGHOST": "elsewhere"},
			want: []string{"PGHOST=db.example", "PGPORT=5432", "PGUSER=admin", "PGPASSWORD=pw", "PGDATABASE=app",
				"PGCONNECT_TIMEOUT=10", "PGSSLMODE=require", "PGSSLROOTCERT=" + ca},
		},
		{
			name: "the DSN wins over the environment",
			dsn:  "postgres://admin:pw@db.example/postgres?ssl=true",
			env:  map[string]string{"PGSSLMODE": "disable"},
			want: []string{"PGHOST=db.example", "PGPORT=5432", "PGUSER=admin", "PGPASSWORD=pw", "PGDATABASE=app",
				"PGCONNECT_TIMEOUT=10", "PGSSLMODE=require"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			env, secrets, err := a.toolEnv(tc.dsn, "app")
			if err != nil {
				t.Fatal(err)
			}
			want := append(slices.Clone(base), tc.want...)
			slices.Sort(want)
			slices.Sort(env)
			if diff := cmp.Diff(want, env); diff != "" {
				t.Errorf("toolEnv (-want +got):\n%s", diff)
			}
			for _, e := range env {
				if p, ok := strings.CutPrefix(e, "PGPASSWORD="); ok && !slices.Contains(secrets, p) {
					t.Errorf("secrets %q lack the password %q", secrets, p)
				}
			}
		})
	}
}

func TestRunTool(t *testing.T) {
	dir := t.TempDir()
	script := func(name, body string) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return path
	}
	env := []string{"PGPASSWORD=Tool-Secret-1234", "SECRET=Tool-Secret-1234"}
	secrets := []string{"Tool-Secret-1234"}

	// Only what it was given reaches the program, and its output streams to stdout.
	t.Setenv("PGHOST", "inherited")
	var out strings.Builder
	if err := runTool(t.Context(), script("env", "env"), nil, env, nil, &out, secrets, nil); err != nil {
		t.Fatal(err)
	}
	got := strings.Fields(out.String())
	if !slices.Contains(got, env[0]) || !slices.Contains(got, env[1]) || strings.Contains(out.String(), "PGHOST") {
		t.Errorf("the program's environment is %q, want %q", got, env)
	}

	// A failure quotes the end of stderr, masked.
	noisy := script("noisy", `i=0; while [ $i -lt 500 ]; do echo "line $i of noise" >&2; i=$((i+1)); done
echo "pg_restore: error: could not connect with $SECRET" >&2; exit 1`)
	err := runTool(t.Context(), noisy, nil, env, nil, nil, secrets, nil)
	if err == nil || !strings.HasSuffix(err.Error(), "pg_restore: error: could not connect with *****") ||
		!strings.Contains(err.Error(), "noisy: exit status 1: ...") || len(err.Error()) > toolStderrMax+100 {
		t.Errorf("runTool: %v, want the masked end of stderr", err)
	}

	// ctx ends the program.
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = runTool(ctx, script("slow", "exec sleep 30"), nil, env, nil, nil, secrets, nil)
	if err == nil || !strings.Contains(err.Error(), "slow: context deadline exceeded") || time.Since(start) > 5*time.Second {
		t.Errorf("runTool with a deadline: %v after %v", err, time.Since(start))
	}
}

func TestTailWriter(t *testing.T) {
	w := &tailWriter{max: 8}
	w.Write([]byte("abc"))
	if got := w.String(); got != "abc" {
		t.Errorf("tail = %q", got)
	}
	w.Write([]byte("defghij"))
	if got := w.String(); got != "...cdefghij" {
		t.Errorf("tail = %q", got)
	}
	w.Write([]byte("0123456789xyz"))
	if got := w.String(); got != "...56789xyz" {
		t.Errorf("tail = %q", got)
	}
}

// writeCA writes a self-signed CA certificate, which pgx reads for sslrootcert, and
// returns its path.
func writeCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
