package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// testConfig is a normal configuration, as loadConfig makes it from an empty environment.
func testConfig() config {
	return config{port: "8080", version: "1.2.3", hostname: "hello-7d9f-abcde", upstreamTimeout: upstreamTimeout}
}

// get requests path from h and returns the status, Content-Type and body.
func get(t *testing.T, h http.Handler, path string) (int, string, string) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(body)
}

type response struct {
	Status      int
	ContentType string
	Body        string
}

func TestRoutes(t *testing.T) {
	normal := testConfig()
	notReady := testConfig()
	notReady.fail = failReady
	smokeFails := testConfig()
	smokeFails.fail = failSmoke
	for _, tc := range []struct {
		name string
		cfg  config
		path string
		want response
	}{
		{"greeting", normal, "/", response{200, "text/plain; charset=utf-8", "hello from berth\n"}},
		{"info", normal, "/info", response{200, "application/json", `{"version":"1.2.3","hostname":"hello-7d9f-abcde"}` + "\n"}},
		{"liveness", normal, "/healthz", response{200, "text/plain; charset=utf-8", "ok\n"}},
		{"readiness", normal, "/ready", response{200, "text/plain; charset=utf-8", "ready\n"}},
		{"no upstream", normal, "/upstream", response{404, "text/plain; charset=utf-8",
			"no upstream: start hello with HELLO_UPSTREAM set to the URL GET /upstream should call\n"}},
		{"unknown path", normal, "/nope", response{404, "text/plain; charset=utf-8", "404 page not found\n"}},
		{"never ready", notReady, "/ready", response{503, "text/plain; charset=utf-8", "not ready: HELLO_FAIL=ready\n"}},
		{"never ready but alive", notReady, "/healthz", response{200, "text/plain; charset=utf-8", "ok\n"}},
		{"never ready still greets", notReady, "/", response{200, "text/plain; charset=utf-8", "hello from berth\n"}},
		{"smoke", normal, "/smoke", response{200, "text/plain; charset=utf-8", "smoke ok: version 1.2.3\n"}},
		{"smoke fails", smokeFails, "/smoke", response{500, "text/plain; charset=utf-8", "smoke test failing on purpose: HELLO_FAIL=smoke (version 1.2.3)\n"}},
		{"smoke fails but ready", smokeFails, "/ready", response{200, "text/plain; charset=utf-8", "ready\n"}},
		{"fail", normal, "/fail", response{500, "text/plain; charset=utf-8", "failing on purpose: GET /fail always answers 500\n"}},
		{"slow", normal, "/slow?ms=20", response{200, "text/plain; charset=utf-8", "slow ok: 20 ms\n"}},
		{"slow without ms", normal, "/slow", response{400, "text/plain; charset=utf-8", "want ?ms=N, a delay from 0 to 5000 milliseconds\n"}},
		{"too slow", normal, "/slow?ms=5001", response{400, "text/plain; charset=utf-8", "want ?ms=N, a delay from 0 to 5000 milliseconds\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, ct, body := get(t, newHandler(tc.cfg), tc.path)
			if diff := cmp.Diff(tc.want, response{status, ct, body}); diff != "" {
				t.Errorf("GET %s (-want +got):\n%s", tc.path, diff)
			}
		})
	}
}

func TestUpstream(t *testing.T) {
	users := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/users":
			w.WriteHeader(http.StatusCreated)
			fmt.Fprint(w, "alice, bob")
		case "/big":
			fmt.Fprint(w, strings.Repeat("x", 10<<20))
		case "/slow":
			<-r.Context().Done() // until hello gives up
		case "/broken":
			http.Error(w, "database is down", http.StatusInternalServerError)
		}
	}))
	defer users.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + l.Addr().String() + "/users"
	l.Close()

	for _, tc := range []struct {
		name, upstream string
		timeout        time.Duration
		status         int
		want           upstreamResult
		wantErr        string
	}{
		{name: "answer", upstream: users.URL + "/users", status: 200,
			want: upstreamResult{URL: users.URL + "/users", Status: 201, Body: "alice, bob"}},
		{name: "first bytes only", upstream: users.URL + "/big", status: 200,
			want: upstreamResult{URL: users.URL + "/big", Status: 200, Body: strings.Repeat("x", upstreamBodyMax)}},
		{name: "error status", upstream: users.URL + "/broken", status: 200,
			want: upstreamResult{URL: users.URL + "/broken", Status: 500, Body: "database is down\n"}},
		{name: "down", upstream: down, status: 502,
			want: upstreamResult{URL: down}, wantErr: "connection refused"},
		{name: "too slow", upstream: users.URL + "/slow", timeout: 100 * time.Millisecond, status: 502,
			want: upstreamResult{URL: users.URL + "/slow"}, wantErr: "Client.Timeout exceeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			u, err := url.Parse(tc.upstream)
			if err != nil {
				t.Fatal(err)
			}
			cfg.upstream = u
			if tc.timeout != 0 {
				cfg.upstreamTimeout = tc.timeout
			}
			status, ct, body := get(t, newHandler(cfg), "/upstream")
			var got upstreamResult
			if err := json.Unmarshal([]byte(body), &got); err != nil || ct != "application/json" {
				t.Fatalf("GET /upstream: %s %q, not JSON: %v", ct, body, err)
			}
			if !strings.Contains(got.Error, tc.wantErr) || (tc.wantErr == "") != (got.Error == "") {
				t.Errorf("error %q, want one saying %q", got.Error, tc.wantErr)
			}
			got.Error = ""
			if diff := cmp.Diff(tc.want, got); diff != "" || status != tc.status {
				t.Errorf("GET /upstream = %d, want %d; body (-want +got):\n%s", status, tc.status, diff)
			}
		})
	}
}

func TestMetricsCountRequestsByRouteAndCode(t *testing.T) {
	srv := httptest.NewServer(newHandler(testConfig()))
	defer srv.Close()
	for _, path := range []string{"/", "/", "/info", "/upstream", "/no/such/path", "/nor/this"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	resp, err := http.Post(srv.URL+"/info", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	status, _, body := get(t, srv.Config.Handler, "/metrics")
	if status != 200 {
		t.Fatalf("GET /metrics = %d", status)
	}
	for _, line := range []string{
		`hello_http_requests_total{code="200",route="/"} 2`,
		`hello_http_requests_total{code="200",route="/info"} 1`,
		`hello_http_requests_total{code="404",route="/upstream"} 1`,
		`hello_http_requests_total{code="404",route="other"} 2`,
		`hello_http_requests_total{code="405",route="other"} 1`,
		`hello_http_request_duration_seconds_count{code="200",route="/"} 2`,
		`hello_http_request_duration_seconds_bucket{code="200",route="/info",le="+Inf"} 1`,
		`go_goroutines `,
		`process_resident_memory_bytes `,
	} {
		if !strings.Contains(body, "\n"+line) {
			t.Errorf("/metrics has no line %q", line)
		}
	}
}

func TestLoadConfig(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	users, _ := url.Parse("http://users/api?x=1")
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    config
		wantErr string
	}{
		{"defaults", nil, config{port: "8080", version: "dev", hostname: host, upstreamTimeout: upstreamTimeout}, ""},
		{"everything", map[string]string{"PORT": "9090", "VERSION": "1.1.0", "HELLO_FAIL": "ready", "HELLO_UPSTREAM": "http://users/api?x=1"},
			config{port: "9090", version: "1.1.0", hostname: host, fail: failReady, upstream: users, upstreamTimeout: upstreamTimeout}, ""},
		{"crash", map[string]string{"HELLO_FAIL": "crash"},
			config{port: "8080", version: "dev", hostname: host, fail: failCrash, upstreamTimeout: upstreamTimeout}, ""},
		{"unknown failure", map[string]string{"HELLO_FAIL": "sometimes"}, config{},
			"HELLO_FAIL=sometimes: want ready (never ready), crash (exit at start), smoke (GET /smoke answers 500) or nothing"},
		{"upstream without scheme", map[string]string{"HELLO_UPSTREAM": "users/api"}, config{},
			"HELLO_UPSTREAM=users/api: want an http:// or https:// URL, e.g. http://users/api"},
		{"upstream of another scheme", map[string]string{"HELLO_UPSTREAM": "ftp://users/"}, config{},
			"HELLO_UPSTREAM=ftp://users/: want an http:// or https:// URL, e.g. http://users/api"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := loadConfig(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(config{})); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

// The process as Kubernetes runs it: the built binary.

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// helloBinary builds this command once per test binary.
func helloBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hello-test-")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "hello")
		out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binary != "" {
		os.RemoveAll(filepath.Dir(binary))
	}
	os.Exit(code)
}

// logLine is a line of hello's JSON log.
type logLine struct {
	Level string `json:"level"`
	Msg   string `json:"msg"`
	Err   string `json:"err"`
	Addr  string `json:"addr"`
}

func TestProcessExitsAtStartWhenToldOrMisconfigured(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
		want logLine
	}{
		{"HELLO_FAIL=crash", []string{"HELLO_FAIL=crash"}, logLine{Level: "ERROR", Msg: "hello stopped", Err: "HELLO_FAIL=crash: crashing on purpose"}},
		{"unknown HELLO_FAIL", []string{"HELLO_FAIL=maybe"}, logLine{Level: "ERROR", Msg: "hello stopped",
			Err: "HELLO_FAIL=maybe: want ready (never ready), crash (exit at start), smoke (GET /smoke answers 500) or nothing"}},
		{"bad HELLO_UPSTREAM", []string{"HELLO_UPSTREAM=users"}, logLine{Level: "ERROR", Msg: "hello stopped",
			Err: "HELLO_UPSTREAM=users: want an http:// or https:// URL, e.g. http://users/api"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(helloBinary(t))
			cmd.Env = append(os.Environ(), append([]string{"PORT=0"}, tc.env...)...)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("exit: %v, want exit status 1; stderr:\n%s", err, stderr.String())
			}
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			var got logLine
			if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &got) != nil {
				t.Fatalf("stderr is not one JSON log line:\n%s", stderr.String())
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("log line (-want +got):\n%s", diff)
			}
		})
	}
}

func TestProcessServesAndStopsOnSIGTERM(t *testing.T) {
	cmd := exec.Command(helloBinary(t))
	cmd.Env = append(os.Environ(), "PORT=0", "VERSION=9.9.9")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stderr)
	if !sc.Scan() {
		t.Fatalf("no log line: %v", sc.Err())
	}
	var started logLine
	if err := json.Unmarshal(sc.Bytes(), &started); err != nil || started.Msg != "hello listening" {
		t.Fatalf("first log line %q (%v), want hello listening", sc.Text(), err)
	}
	_, port, err := net.SplitHostPort(started.Addr)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://127.0.0.1:" + port + "/info")
	if err != nil {
		t.Fatal(err)
	}
	var got info
	err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&got)
	resp.Body.Close()
	if err != nil || got.Version != "9.9.9" || got.Hostname == "" {
		t.Errorf("GET /info: %+v, %v; want version 9.9.9 and a hostname", got, err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() { // drain the log until the process closes it
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("after SIGTERM: %v, want exit status 0", err)
	}
}

func TestCheck(t *testing.T) {
	ok := httptest.NewServer(newHandler(testConfig()))
	defer ok.Close()
	broken := testConfig()
	broken.fail = failSmoke
	bad := httptest.NewServer(newHandler(broken))
	defer bad.Close()
	for _, tc := range []struct {
		name, target string
		paths        []string
		code         int
		out          []string
	}{
		{"passes", ok.URL, []string{"/smoke", "/info"}, 0, []string{"/smoke: 200 OK", "smoke ok: version 1.2.3", `"version":"1.2.3"`}},
		{"fails on a 500", bad.URL, []string{"/info", "/smoke"}, 1, []string{"/smoke: 500 Internal Server Error", "HELLO_FAIL=smoke"}},
		{"fails on a 404", ok.URL + "/", []string{"/nope"}, 1, []string{"/nope: 404 Not Found"}},
		{"no paths", ok.URL, nil, 2, []string{"usage: hello check PATH"}},
		{"no target", "", []string{"/smoke"}, 2, []string{`TARGET_URL="": want the app's URL`}},
		{"relative path", ok.URL, []string{"smoke"}, 2, []string{"smoke: want a path starting with /"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			if code := check(tc.paths, tc.target, &out); code != tc.code {
				t.Errorf("exit %d, want %d\n%s", code, tc.code, out.String())
			}
			for _, w := range tc.out {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

// TestCheckRetriesWhenNoAnswerComes: a request that gets no answer in time is tried again;
// the answer that then comes decides.
func TestCheckRetriesWhenNoAnswerComes(t *testing.T) {
	var calls atomic.Int32
	slowOnce := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			<-r.Context().Done() // the first request gets no answer
			return
		}
		fmt.Fprintln(w, "smoke ok")
	}))
	defer slowOnce.Close()
	defer func(timeout, backoff time.Duration) { checkTimeout, checkBackoff = timeout, backoff }(checkTimeout, checkBackoff)
	checkTimeout, checkBackoff = 200*time.Millisecond, time.Millisecond
	var out strings.Builder
	if code := check([]string{"/smoke"}, slowOnce.URL, &out); code != 0 || calls.Load() != 2 ||
		!strings.Contains(out.String(), "attempt 1 of 5, trying again") || !strings.Contains(out.String(), "200 OK") {
		t.Errorf("exit %d after %d calls:\n%s", code, calls.Load(), out.String())
	}
}
