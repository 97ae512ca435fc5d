package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/internal/pgadmin"
)

// backupNotesManifest is examples/notes as app journal of team shop (so that its database
// is not TestRealNodeResources's, on the same PostgreSQL): a postgres database, and a
// route to it under the environment's base domain.
const backupNotesManifest = `apiVersion: berth.dev/v1
metadata: {name: journal, team: shop}
args: {version: "1"}
containers:
  web:
    image: registry.berth.localhost/notes:${args.version}
    variables:
      DATABASE_URL: ${resources.db.url}
    readinessProbe: {httpGet: {path: /ready, port: 8080}}
service:
  ports: {http: {port: 80, targetPort: 8080}}
resources:
  db: {type: postgres}
  dns: {type: dns}
  web: {type: route, params: {host: "${resources.dns.host}", port: http}}
`

// jobState is what the tests read of a backup or a restore through the API.
type jobState struct {
	ID       int64  `json:"id"`
	State    string `json:"state"`
	Reason   string `json:"reason"`
	Step     string `json:"step"`
	Attempts int    `json:"attempts"`
	Parts    []struct {
		Rows int64 `json:"rows"`
	} `json:"parts"`
}

// TestRealNodeBackups: the example app writes notes through its provisioned database on
// the real node; a backup, the rows deleted, a restore: the app answers with them again.
// A restore over data needs --force and leaves the target as it was without it;
// staging's backup restored into sandbox gives sandbox staging's notes and leaves staging
// alone; restored into qa, where the app never ran, it deploys the backed-up revision there
// first, which provisions the database. Then the server is killed (kill -9) mid-backup and
// mid-restore: after a restart each job ends once, succeeded, and the target holds exactly
// the backup's rows.
func TestRealNodeBackups(t *testing.T) {
	dir := t.TempDir()
	// A short lease: a restarted server resumes the jobs of the killed one 3 s after its
	// last renewal.
	srv := startServer(t, dir, "--deploy-lease", "3s")
	cluster, ns := realNodeShop(t, srv)
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dsn := podReachablePostgres(t, cluster)
	sandboxNS := ns + "-sb"
	qaNS := ns + "-qa"
	base := map[string]string{"staging": ns + ".localhost", "sandbox": "sb." + ns + ".localhost", "qa": "qa." + ns + ".localhost"}
	for _, args := range [][]string{
		{"envs", "create", "sandbox", "--kubeconfig", cluster.Kubeconfig, "--namespace-template", sandboxNS,
			"--node-selector", cluster.Node.Label, "--toleration", cluster.Node.Taint},
		{"envs", "create", "qa", "--kubeconfig", cluster.Kubeconfig, "--namespace-template", qaNS,
			"--node-selector", cluster.Node.Label, "--toleration", cluster.Node.Taint},
		{"envs", "set-postgres", "qa", "--dsn", dsn},
		{"envs", "update", "qa", "--base-domain", base["qa"]},
		{"envs", "set-postgres", "staging", "--dsn", dsn},
		{"envs", "set-postgres", "sandbox", "--dsn", dsn},
		{"envs", "update", "staging", "--base-domain", base["staging"]},
		{"envs", "update", "sandbox", "--base-domain", base["sandbox"]},
		{"dev", "image", "build", filepath.Join(root, "examples", "notes"), "-t", "notes:1", "--state-dir", cluster.State.Dir},
	} {
		if out, code := runBerth(t, srv, args...); code != 0 {
			t.Fatalf("%v: exit %d\n%s", args[:2], code, strings.ReplaceAll(out, dsn, "DSN"))
		}
	}
	t.Cleanup(func() {
		for _, n := range []string{sandboxNS, qaNS} {
			cluster.Client(t).CoreV1().Namespaces().Delete(context.Background(), n, metav1.DeleteOptions{})
		}
	})
	for _, env := range []string{"staging", "sandbox"} {
		if out, code := runBerth(t, srv, "deploy", "-f", writeManifest(t, backupNotesManifest), "--env", env, "--wait"); code != 0 {
			t.Fatalf("deploy to %s: exit %d\n%s", env, code, out)
		}
	}
	url := "http://" + cluster.Node.Ingress + "/notes"
	host := func(env string) string { return "journal.shop." + base[env] }
	write := func(env, body string) {
		t.Helper()
		get(t, "http://"+cluster.Node.Ingress+"/ready", host(env))
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		req.Host = host(env)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST /notes to %s: %s", env, resp.Status)
		}
	}
	// read is what the app answers: the notes' bodies, in order.
	read := func(env string) string {
		t.Helper()
		var notes []struct{ Body string }
		if err := json.Unmarshal([]byte(get(t, url, host(env))), &notes); err != nil {
			t.Fatal(err)
		}
		var bodies []string
		for _, n := range notes {
			bodies = append(bodies, n.Body)
		}
		return strings.Join(bodies, ",")
	}
	database := func(env string) *pgx.Conn {
		t.Helper()
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Database, _ = pgadmin.Names("shop", "journal", env, "db")
		c, err := pgx.ConnectConfig(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		return c
	}
	exec := func(env, sql string) {
		t.Helper()
		c := database(env)
		defer c.Close(t.Context())
		if _, err := c.Exec(t.Context(), sql); err != nil {
			t.Fatalf("%s: %s: %v", env, sql, err)
		}
	}
	count := func(env string) int64 {
		t.Helper()
		c := database(env)
		defer c.Close(t.Context())
		var n int64
		if err := c.QueryRow(t.Context(), "SELECT count(*) FROM notes").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	job := func(srv *serverProc, kind string, id int64) jobState {
		t.Helper()
		var j jobState
		body := apiGet(t, srv, fmt.Sprintf("/api/v1/%ss/%d", kind, id))
		if kind == "backup" {
			var d struct{ Backup jobState }
			if err := json.Unmarshal(body, &d); err != nil {
				t.Fatalf("%s: %s", err, body)
			}
			return d.Backup
		}
		if err := json.Unmarshal(body, &j); err != nil {
			t.Fatalf("%s: %s", err, body)
		}
		return j
	}
	lastID := func(srv *serverProc, kind string) int64 {
		t.Helper()
		var list struct{ Items []jobState }
		if err := json.Unmarshal(apiGet(t, srv, "/api/v1/teams/shop/"+kind+"s?app=journal"), &list); err != nil || len(list.Items) == 0 {
			t.Fatalf("%ss: %v %+v", kind, err, list)
		}
		return list.Items[0].ID
	}
	berth := func(want int, args ...string) string {
		t.Helper()
		out, code := runBerth(t, srv, args...)
		if code != want {
			t.Fatalf("%v: exit %d, want %d\n%s", args, code, want, out)
		}
		return out
	}

	write("staging", "alpha")
	write("staging", "beta")
	out := berth(0, "backup", "full", "--application", "journal", "--environment", "staging", "--wait")
	if !strings.Contains(out, "succeeded") {
		t.Fatalf("backup: %s", out)
	}
	backupID := strconv.FormatInt(lastID(srv, "backup"), 10)
	exec("staging", "DELETE FROM notes")
	if got := read("staging"); got != "" {
		t.Fatalf("after the delete: %q", got)
	}
	berth(0, "restore", "full", "--application", "journal", "--environment", "staging", "--backup-id", backupID, "--wait")
	if got := read("staging"); got != "alpha,beta" {
		t.Fatalf("the app after the restore answers %q", got)
	}

	// Over data, only with --force; refused, the target is as it was.
	write("staging", "gamma")
	out = berth(1, "restore", "full", "--application", "journal", "--environment", "staging", "--backup-id", backupID, "--wait")
	if !strings.Contains(out, "--force") {
		t.Errorf("a restore over data without --force: %s", out)
	}
	if got := read("staging"); got != "alpha,beta,gamma" {
		t.Fatalf("after the refused restore: %q", got)
	}
	berth(0, "restore", "full", "--application", "journal", "--environment", "staging", "--backup-id", backupID, "--force", "--wait")
	if got := read("staging"); got != "alpha,beta" {
		t.Fatalf("after the forced restore: %q", got)
	}

	// Staging's backup into sandbox: sandbox holds staging's notes, staging is unchanged.
	write("sandbox", "sandbox's own")
	write("staging", "delta")
	berth(0, "restore", "full", "--application", "journal", "--environment", "sandbox", "--backup-id", backupID, "--force", "--wait")
	if got := read("sandbox"); got != "alpha,beta" {
		t.Fatalf("sandbox after the restore: %q", got)
	}
	if got := read("staging"); got != "alpha,beta,delta" {
		t.Fatalf("staging after sandbox's restore: %q", got)
	}

	// Into qa, where the app never ran: the restore deploys the backed-up revision there,
	// which provisions its database, then restores into it; the app answers with the notes.
	out = berth(0, "restore", "full", "--application", "journal", "--environment", "qa", "--backup-id", backupID, "--wait")
	if got := read("qa"); got != "alpha,beta" {
		t.Fatalf("qa after a restore that provisioned it: %q\n%s", got, out)
	}

	// kill -9 mid-backup: enough rows for the dump to take a while.
	exec("staging", "INSERT INTO notes (body) SELECT 'bulk note ' || g || repeat('.', 100) FROM generate_series(1, 1500000) g")
	rows := count("staging")
	berth(0, "backup", "full", "--application", "journal", "--environment", "staging")
	big := lastID(srv, "backup")
	waitFor(t, "the backup to run", func() bool { return job(srv, "backup", big).State == "running" })
	srv.kill9(t)
	srv = startServer(t, dir, "--deploy-lease", "3s")
	var b jobState
	waitFor(t, "the interrupted backup to end", func() bool { b = job(srv, "backup", big); return b.State == "succeeded" || b.State == "failed" })
	if b.State != "succeeded" || b.Attempts != 2 || len(b.Parts) != 1 || b.Parts[0].Rows != rows {
		t.Fatalf("the backup a killed server left: %+v (want %d rows)", b, rows)
	}

	// kill -9 mid-restore, into sandbox.
	berth(0, "restore", "full", "--application", "journal", "--environment", "sandbox", "--backup-id", strconv.FormatInt(big, 10), "--force")
	restore := lastID(srv, "restore")
	waitFor(t, "the restore to run", func() bool { return job(srv, "restore", restore).Step == "restoring" })
	srv.kill9(t)
	// Meanwhile, sandbox is untouched.
	if got := read("sandbox"); got != "alpha,beta" {
		t.Fatalf("sandbox while its restore is interrupted: %q", got)
	}
	srv = startServer(t, dir, "--deploy-lease", "3s")
	var r jobState
	waitFor(t, "the interrupted restore to end", func() bool {
		r = job(srv, "restore", restore)
		return r.State == "succeeded" || r.State == "failed"
	})
	if r.State != "succeeded" || r.Attempts != 2 {
		t.Fatalf("the restore a killed server left: %+v", r)
	}
	if n := count("sandbox"); n != rows {
		t.Fatalf("sandbox holds %d rows, the backup %d", n, rows)
	}
	// The restore drops the database it replaced just after it ends.
	c := database("staging")
	left := -1
	waitFor(t, "the replaced databases to go", func() bool {
		if err := c.QueryRow(t.Context(), "SELECT count(*) FROM pg_database WHERE datname ~ '^berth_(restore|drill|replaced)_'").Scan(&left); err != nil {
			t.Fatal(err)
		}
		return left == 0
	})
	// Each job ended once: one audit event of its end.
	var audit struct{ Items []struct{ Action string } }
	if err := json.Unmarshal(apiGet(t, srv, "/api/v1/audit?team=shop&limit=1000"), &audit); err != nil {
		t.Fatal(err)
	}
	ends := map[string]int{}
	for _, e := range audit.Items {
		ends[e.Action]++
	}
	if ends["backup.finish"] != 2 || ends["restore.finish"] != 6 {
		t.Errorf("ends in the audit: %v (want 2 backups and 6 restores)", ends)
	}
}

// waitFor polls cond every 50 ms for up to 3 minutes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
