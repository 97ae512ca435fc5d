package probe

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"

	"github.com/berth-dev/berth/internal/store/pgtest"
)

// agentSteps are the steps Run reports, in order.
var agentSteps = []string{StepDNS, StepHTTP, StepCredentials, StepDatabase, StepObjectStore, StepQueue}

// logLine is a line of Run's log: timestamp, step, status, duration, and the rest.
var logLine = regexp.MustCompile(`^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) ([a-z]+) (ok|FAILED) ([0-9.]+(?:µs|ms|s|m\S*))(?: (.*))?$`)

// checkLog holds the log to one timestamped line per step of r, in order, saying what the
// step says.
func checkLog(t *testing.T, log string, r Report) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(log, "\n"), "\n")
	if len(lines) != len(r.Steps) {
		t.Fatalf("%d log lines for %d steps:\n%s", len(lines), len(r.Steps), log)
	}
	for i, line := range lines {
		s := r.Steps[i]
		m := logLine.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("log line %d is not `TIME STEP ok|FAILED DURATION TEXT`: %q", i+1, line)
			continue
		}
		status, text := "ok", s.Detail
		if !s.OK {
			status, text = "FAILED", s.Error
		}
		want := []string{s.Started.Format("2006-01-02T15:04:05.000Z"), s.Name, status, formatDuration(s.Duration), text}
		if diff := cmp.Diff(want, m[1:]); diff != "" {
			t.Errorf("log line %d (-want +got):\n%s", i+1, diff)
		}
	}
}

// checkSecrets fails the test if any secret shows in the log or the report.
func checkSecrets(t *testing.T, log string, r Report, secrets ...string) {
	t.Helper()
	js, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if s == "" {
			t.Fatal("an empty secret to look for")
		}
		if strings.Contains(log, s) {
			t.Errorf("the log shows a secret (%.6s...):\n%s", s, log)
		}
		if strings.Contains(string(js), s) {
			t.Errorf("the report shows a secret (%.6s...): %s", s, js)
		}
	}
}

func names(steps []Step) []string {
	out := []string{}
	for _, s := range steps {
		out = append(out, s.Name)
	}
	return out
}

// TestRunPasses: against real services every step passes, says what it checked, and
// leaves nothing behind; the log has a line per step and no secret.
func TestRunPasses(t *testing.T) {
	env := newEnvironment(t)
	var log bytes.Buffer
	r := Run(t.Context(), env.Config, &log)
	t.Logf("log:\n%s", log.String())

	if diff := cmp.Diff(agentSteps, names(r.Steps)); diff != "" {
		t.Fatalf("steps (-want +got):\n%s", diff)
	}
	if f := r.Failed(); len(f) != 0 {
		t.Fatalf("failed: %s", r.Summary())
	}
	if r.Run != 7 || r.Env != "staging" {
		t.Errorf("report of run %d, env %q; want 7, staging", r.Run, r.Env)
	}
	for i, s := range r.Steps {
		if s.Started.IsZero() || s.Duration <= 0 || s.Error != "" {
			t.Errorf("step %s: started %v, took %v, error %q", s.Name, s.Started, s.Duration, s.Error)
		}
		if i > 0 && s.Started.Before(r.Steps[i-1].Started.Add(r.Steps[i-1].Duration)) {
			t.Errorf("step %s started before %s ended", s.Name, r.Steps[i-1].Name)
		}
	}
	detail := map[string]string{}
	for _, s := range r.Steps {
		detail[s.Name] = s.Detail
	}
	if got := detail[StepCredentials]; got != env.ServiceAccount {
		t.Errorf("credentials detail %q, want the service account %q", got, env.ServiceAccount)
	}
	for step, want := range map[string]*regexp.Regexp{
		StepDNS:         regexp.MustCompile(`^localhost -> .*(127\.0\.0\.1|::1)`),
		StepHTTP:        regexp.MustCompile(`^GET http://127\.0\.0\.1:\d+/healthz -> 200 OK$`),
		StepDatabase:    regexp.MustCompile(`^insert, read back, delete in berth_probe on postgres 127\.0\.0\.1:\d+/berth_test_\d+ as postgres$`),
		StepObjectStore: regexp.MustCompile(`^put, get, delete s3://probes/berth-probe/p[a-z2-7]{26} at http://127\.0\.0\.1:\d+$`),
		StepQueue:       regexp.MustCompile(`^publish, consume on berth\.probe\.p[a-z2-7]{26} at nats://127\.0\.0\.1:\d+$`),
	} {
		if !want.MatchString(detail[step]) {
			t.Errorf("%s detail %q does not match %s", step, detail[step], want)
		}
	}
	if s := r.Summary(); !regexp.MustCompile(`^6 steps passed in [0-9.]+(µs|ms|s)$`).MatchString(s) {
		t.Errorf("summary %q", s)
	}
	checkLog(t, log.String(), r)
	checkSecrets(t, log.String(), r, env.Config.S3SecretKey, env.Config.QueueToken, env.KubeToken, env.Config.Token)

	// Nothing is left behind: no row, no object.
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, env.Config.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var rows int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM berth_probe`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 0 {
		t.Errorf("%d rows left in berth_probe", rows)
	}
	for o := range env.S3.Client(t).ListObjects(ctx, "probes", minio.ListObjectsOptions{Recursive: true}) {
		t.Errorf("object left in the bucket: %s (%v)", o.Key, o.Err)
	}

	// A second run finds the table made by the first.
	if r := Run(t.Context(), env.Config, nil); len(r.Failed()) != 0 {
		t.Errorf("second run: %s", r.Summary())
	}
}

// TestQueueOutage: with the queue server stopped exactly the queue step fails, naming the
// queue; once it is back, the next run passes.
func TestQueueOutage(t *testing.T) {
	env := newEnvironment(t)
	env.NATS.Stop()
	var log bytes.Buffer
	r := Run(t.Context(), env.Config, &log)
	t.Logf("log:\n%s", log.String())

	failed := r.Failed()
	if diff := cmp.Diff([]string{StepQueue}, names(failed)); diff != "" {
		t.Fatalf("failed steps (-want +got):\n%s\nlog:\n%s", diff, log.String())
	}
	if want := "queue " + env.NATS.URL + ": connect: nats: no servers available for connection (dial tcp " + strings.TrimPrefix(env.NATS.URL, "nats://") + ": connect: connection refused)"; failed[0].Error != want {
		t.Errorf("queue error\n got %q\nwant %q", failed[0].Error, want)
	}
	if got, want := r.Summary(), "queue failed: "+failed[0].Error; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
	checkLog(t, log.String(), r)
	checkSecrets(t, log.String(), r, env.Config.QueueToken)

	env.NATS.Resume()
	if r := Run(t.Context(), env.Config, nil); len(r.Failed()) != 0 {
		t.Errorf("after the queue is back: %s", r.Summary())
	}
}

// TestDatabaseWrongPassword: a wrong password fails the database step alone, and shows
// neither in its error nor in the log, while the right one passes.
func TestDatabaseWrongPassword(t *testing.T) {
	pgtest.RequirePasswords(t)
	env := newEnvironment(t)
	ctx := t.Context()

	// A role of its own owning the test's database, as the provisioner would make it.
	admin, err := pgx.Connect(ctx, env.Config.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	u, err := url.Parse(env.Config.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	db := strings.TrimPrefix(u.Path, "/")
	role := "probe_" + strings.ToLower(rand.Text())
	password := "Right-" + rand.Text()
	for _, q := range []string{
		fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD '%s'`, role, password),
		fmt.Sprintf(`ALTER DATABASE %s OWNER TO %s`, db, role),
	} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, env.Config.DatabaseURL)
		if err != nil {
			t.Logf("drop role %s: %v", role, err)
			return
		}
		defer conn.Close(ctx)
		for _, q := range []string{`ALTER DATABASE ` + db + ` OWNER TO postgres`, `DROP OWNED BY ` + role, `DROP ROLE ` + role} {
			if _, err := conn.Exec(ctx, q); err != nil {
				t.Logf("%s: %v", q, err)
			}
		}
	})
	dsn := func(password string) string {
		v := *u
		v.User = url.UserPassword(role, password)
		return v.String()
	}

	c := env.Config
	c.DatabaseURL = dsn(password)
	if r := Run(ctx, c, nil); len(r.Failed()) != 0 {
		t.Fatalf("with the right password: %s", r.Summary())
	}

	for _, wrong := range []string{
		"Wrong-" + rand.Text(),
		// Characters a URL escapes, which the error could show in either form.
		"Wr0ng/p@ss word:" + rand.Text(),
	} {
		c.DatabaseURL = dsn(wrong)
		var log bytes.Buffer
		r := Run(ctx, c, &log)
		t.Logf("log:\n%s", log.String())
		failed := r.Failed()
		if diff := cmp.Diff([]string{StepDatabase}, names(failed)); diff != "" {
			t.Fatalf("failed steps (-want +got):\n%s", diff)
		}
		if !strings.Contains(failed[0].Error, "password authentication failed") {
			t.Errorf("database error %q does not say the password was refused", failed[0].Error)
		}
		checkLog(t, log.String(), r)
		checkSecrets(t, log.String(), r, wrong, url.QueryEscape(wrong), url.PathEscape(wrong))
	}
}

// TestRunNotConfigured: a step whose settings are missing fails, naming the variable.
func TestRunNotConfigured(t *testing.T) {
	var log bytes.Buffer
	r := Run(t.Context(), Config{Server: "http://berth.invalid", Token: "probe-token", Run: 1, Env: "dev"}, &log)
	got := map[string]string{}
	for _, s := range r.Steps {
		got[s.Name] = s.Error
	}
	want := map[string]string{
		StepDNS:         "not configured: BERTH_PROBE_DNS_NAME is empty",
		StepHTTP:        "not configured: BERTH_PROBE_HTTP_URL is empty",
		StepCredentials: "not configured: KUBERNETES_SERVICE_HOST is empty (not running in a pod?)",
		StepDatabase:    "not configured: BERTH_PROBE_DATABASE_URL is empty",
		StepObjectStore: "not configured: BERTH_PROBE_S3_ENDPOINT is empty",
		StepQueue:       "not configured: BERTH_PROBE_QUEUE_URL is empty",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(agentSteps, names(r.Failed())); diff != "" {
		t.Errorf("failed steps (-want +got):\n%s", diff)
	}
	checkLog(t, log.String(), r)

	// One missing setting of several fails the step as well.
	c := Config{S3Endpoint: "http://127.0.0.1:1", S3Bucket: "b", S3AccessKey: "a"}
	if s := runStep(t.Context(), c, newScrubber(c), StepObjectStore, checkObjectStore); s.Error != "not configured: BERTH_PROBE_S3_SECRET_KEY is empty" {
		t.Errorf("object store without a secret key: %q", s.Error)
	}
}

// TestHTTPStep: an answer other than 2xx fails, quoting the status and the body's start; a
// server slower than the step's timeout fails in that time; a password in the URL stays out.
func TestHTTPStep(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/down":
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("down for\nmaintenance " + strings.Repeat("x", maxBody)))
		case "/slow":
			<-release
		}
	}))
	defer srv.Close()
	defer close(release)

	for _, tc := range []struct {
		name, url string
		want      *regexp.Regexp
	}{
		{"5xx", srv.URL + "/down", regexp.MustCompile(`^GET http://127\.0\.0\.1:\d+/down: 503 Service Unavailable: down for maintenance x{179}\.\.\.$`)},
		{"timeout", srv.URL + "/slow", regexp.MustCompile(`^GET http://127\.0\.0\.1:\d+/slow: context deadline exceeded \(the step timed out after 300ms\)$`)},
		{"password", strings.Replace(srv.URL, "http://", "http://me:Pa55-secret@", 1) + "/down", regexp.MustCompile(`^GET http://me:xxxxx@127\.0\.0\.1:\d+/down: 503 `)},
		{"not a URL", "probe.svc:80", regexp.MustCompile(`^BERTH_PROBE_HTTP_URL: "probe.svc:80" is not an http\(s\):// URL$`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{HTTPURL: tc.url, StepTimeout: 300 * time.Millisecond}
			start := time.Now()
			s := runStep(t.Context(), c, newScrubber(c), StepHTTP, checkHTTP)
			if s.OK || !tc.want.MatchString(s.Error) {
				t.Errorf("ok %v, error %q; want it to match %s", s.OK, s.Error, tc.want)
			}
			if strings.Contains(s.Error, "Pa55-secret") {
				t.Errorf("the error shows the password: %q", s.Error)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("took %s with a 300ms timeout", took)
			}
		})
	}
}

// TestCredentialsRefused: a token the API server does not take, or none, fails the step
// without showing the token.
func TestCredentialsRefused(t *testing.T) {
	var c Config
	serviceAccount(t, &c)
	c.StepTimeout = 10 * time.Second
	bogus := "eyJhbGciOiJSUzI1NiJ9.bogus." + rand.Text()

	for _, tc := range []struct {
		name  string
		token *string // nil: no token file
		want  *regexp.Regexp
	}{
		{"bogus token", &bogus, regexp.MustCompile(`^API server https://127\.0\.0\.1:\d+: self-subject review: Unauthorized$`)},
		{"no token file", nil, regexp.MustCompile(`^service account token: open .*/missing: no such file or directory$`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := c
			if tc.token != nil {
				if err := os.WriteFile(c.KubeTokenFile, []byte(*tc.token+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			} else {
				c.KubeTokenFile = filepath.Join(t.TempDir(), "missing")
			}
			s := runStep(t.Context(), c, newScrubber(c), StepCredentials, checkCredentials)
			if s.OK || !tc.want.MatchString(s.Error) {
				t.Errorf("ok %v, error %q; want it to match %s", s.OK, s.Error, tc.want)
			}
			if strings.Contains(s.Error, bogus) {
				t.Errorf("the error shows the token: %q", s.Error)
			}
		})
	}
}

// TestStepPanics: a check that panics fails its step; the run goes on.
func TestStepPanics(t *testing.T) {
	s := runStep(t.Context(), Config{}, newScrubber(Config{}), "boom", func(context.Context, Config, *scrubber) (string, error) {
		var m map[string]int
		m["x"]++
		return "unreachable", nil
	})
	if s.OK || s.Error != "panic: assignment to entry in nil map" || s.Detail != "" {
		t.Errorf("step %+v", s)
	}
}
