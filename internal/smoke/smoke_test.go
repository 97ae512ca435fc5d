package smoke

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/manifest"
)

// server is a Target whose HTTP checks go to a real HTTP server and whose commands are
// answered by cmd.
type server struct {
	url string
	cmd func(job string) (CommandResult, error)

	mu   sync.Mutex
	jobs []string
}

func (s *server) HTTP(ctx context.Context, r HTTPRequest) (HTTPResponse, error) {
	req, err := http.NewRequestWithContext(ctx, r.Method, s.url+r.Path, nil)
	if err != nil {
		return HTTPResponse{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return HTTPResponse{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	return HTTPResponse{Status: resp.StatusCode, Body: body}, err
}

func (s *server) Command(_ context.Context, r CommandRequest) (CommandResult, error) {
	s.mu.Lock()
	s.jobs = append(s.jobs, r.Job.Name)
	s.mu.Unlock()
	return s.cmd(r.Job.Name)
}

func newServer(t *testing.T) *server {
	mux := http.NewServeMux()
	var flaky int
	var mu sync.Mutex
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\nversion 1.2\n") })
	mux.HandleFunc("GET /fail", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "boom: password=hunter22 leaked\nsecond line\nthird\nfourth", 500)
	})
	mux.HandleFunc("GET /flaky", func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if flaky++; flaky < 3 {
			http.Error(w, "warming up", 503)
			return
		}
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	mux.HandleFunc("POST /created", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(201) })
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return &server{url: ts.URL, cmd: func(string) (CommandResult, error) { return CommandResult{}, nil }}
}

func httpStep(c manifest.SmokeCheck) Step {
	if c.Expect == 0 {
		c.Expect = 200
	}
	if c.Retries == 0 {
		c.Retries = -1
	}
	return Step{Check: c, HTTP: HTTPRequest{Method: c.HTTPMethod(), Path: c.Path}}
}

func noSleep(context.Context, time.Duration) error { return nil }

func TestRunPassesAndJudges(t *testing.T) {
	s := newServer(t)
	run := Run{Sleep: noSleep, Steps: []Step{
		httpStep(manifest.SmokeCheck{Path: "/ok", Contains: "version", Matches: `version \d+\.\d+`}),
		httpStep(manifest.SmokeCheck{Name: "create", Path: "/created", Method: "POST", Expect: 201}),
		httpStep(manifest.SmokeCheck{Path: "/flaky"}),
	}}
	got := run.Do(t.Context(), s)
	if !got.Passed || len(got.Results) != 3 {
		t.Fatalf("run %+v", got)
	}
	if r := got.Results[0]; r.Name != "GET /ok" || r.Status != 200 || r.Attempts != 1 || r.Excerpt != "ok\nversion 1.2" || r.Kind != berth.SmokeHTTP {
		t.Errorf("first %+v", r)
	}
	if r := got.Results[1]; r.Name != "create" || r.Status != 201 {
		t.Errorf("second %+v", r)
	}
	if r := got.Results[2]; r.Attempts != 3 || !r.Passed {
		t.Errorf("flaky check passes on its third attempt: %+v", r)
	}
	if !strings.HasPrefix(Summary(got), "3 smoke tests passed in ") {
		t.Errorf("summary %q", Summary(got))
	}
}

func TestRunFailsWithReasonAndRedacts(t *testing.T) {
	s := newServer(t)
	var heard []berth.SmokeResult
	var slept []time.Duration
	run := Run{
		Steps: []Step{
			httpStep(manifest.SmokeCheck{Path: "/ok"}),
			httpStep(manifest.SmokeCheck{Path: "/fail"}),
			httpStep(manifest.SmokeCheck{Path: "/ok"}),
		},
		Redact:   func(s string) string { return strings.ReplaceAll(s, "hunter22", "(redacted)") },
		Progress: func(r berth.SmokeResult) { heard = append(heard, r) },
		Sleep:    func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil },
	}
	got := run.Do(t.Context(), s)
	if got.Passed || len(got.Results) != 2 || got.Skipped != 1 || len(heard) != 2 {
		t.Fatalf("run %+v heard %d", got, len(heard))
	}
	r := got.Results[1]
	if r.Passed || r.Status != 500 || r.Attempts != 3 || r.Detail != "got 500, want 200" {
		t.Errorf("failed check %+v", r)
	}
	if strings.Contains(r.Excerpt, "hunter22") || !strings.Contains(r.Excerpt, "password=(redacted)") {
		t.Errorf("excerpt %q", r.Excerpt)
	}
	if want := []time.Duration{500 * time.Millisecond, time.Second}; len(slept) != 2 || slept[0] != want[0] || slept[1] != want[1] {
		t.Errorf("backoff %v, want %v", slept, want)
	}
	want := `smoke test "GET /fail" failed: got 500, want 200 (3 attempts): boom: password=(redacted) leaked | second line | third`
	if Reason(got) != want {
		t.Errorf("reason\n got %q\nwant %q", Reason(got), want)
	}
}

func TestRunBodyChecks(t *testing.T) {
	s := newServer(t)
	for _, c := range []struct {
		check  manifest.SmokeCheck
		detail string
	}{
		{manifest.SmokeCheck{Path: "/ok", Contains: "nope", Retries: 0}, `got 200, but the body does not contain "nope"`},
		{manifest.SmokeCheck{Path: "/ok", Matches: `^v\d`, Retries: 0}, `got 200, but the body does not match "^v\\d"`},
	} {
		st := httpStep(c.check)
		st.Check.Retries = 0
		got := Run{Sleep: noSleep, Steps: []Step{st}}.Do(t.Context(), s)
		if got.Passed || got.Results[0].Detail != c.detail || got.Results[0].Attempts != 1 {
			t.Errorf("%+v: %+v", c.check, got.Results)
		}
	}
}

func TestRunTimeoutsAndBudget(t *testing.T) {
	s := newServer(t)
	st := httpStep(manifest.SmokeCheck{Path: "/slow", Timeout: 50 * time.Millisecond})
	st.Check.Retries = 0
	got := Run{Sleep: noSleep, Steps: []Step{st}}.Do(t.Context(), s)
	if got.Passed || got.Results[0].Detail != "no answer within 50ms" {
		t.Errorf("attempt timeout: %+v", got.Results)
	}
	st = httpStep(manifest.SmokeCheck{Path: "/slow", Timeout: time.Minute})
	got = Run{Budget: 100 * time.Millisecond, Steps: []Step{st, httpStep(manifest.SmokeCheck{Path: "/ok"})}}.Do(t.Context(), s)
	if got.Passed || got.Skipped != 1 || !strings.Contains(got.Results[0].Detail, "the smoke budget of 100ms ran out") || got.Results[0].Attempts != 1 {
		t.Errorf("budget: %+v", got)
	}
	if got.Duration > 30*time.Second {
		t.Errorf("budget of 100ms took %s", got.Duration)
	}
}

func TestRunCommands(t *testing.T) {
	s := newServer(t)
	calls := 0
	s.cmd = func(job string) (CommandResult, error) {
		calls++
		switch {
		case strings.HasSuffix(job, "-1") && calls == 1:
			return CommandResult{}, errors.New("image pull failed")
		case strings.Contains(job, "bad"):
			return CommandResult{ExitCode: 1, Log: []byte(strings.Repeat("line\n", 30) + "FAIL: /info answered 500\n")}, nil
		}
		return CommandResult{Log: []byte("all good")}, nil
	}
	step := func(name string) Step {
		return Step{Check: manifest.SmokeCheck{Command: []string{"/check"}, Retries: 1},
			Job: func(attempt int) *batchv1.Job {
				return &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name + "-" + string(rune('0'+attempt))}}
			}}
	}
	got := Run{Sleep: noSleep, Steps: []Step{step("good"), step("bad")}}.Do(t.Context(), s)
	if got.Passed || len(got.Results) != 2 {
		t.Fatalf("%+v", got)
	}
	if r := got.Results[0]; !r.Passed || r.Attempts != 2 || r.Kind != berth.SmokeCommand || r.Excerpt != "all good" {
		t.Errorf("retried command %+v", r)
	}
	r := got.Results[1]
	if r.Passed || r.ExitCode != 1 || r.Detail != "exit code 1" || !strings.HasSuffix(r.Excerpt, "FAIL: /info answered 500") || strings.Count(r.Excerpt, "\n") != excerptLines-1 {
		t.Errorf("failed command %+v", r)
	}
	if want := []string{"good-1", "good-2", "bad-1", "bad-2"}; strings.Join(s.jobs, ",") != strings.Join(want, ",") {
		t.Errorf("jobs %v, want a name per attempt %v", s.jobs, want)
	}
}

func TestExcerptBounds(t *testing.T) {
	long := strings.Repeat("é", 2000)
	if e := excerpt(long, false); len(e) > excerptBytes || !strings.HasPrefix(long, e) {
		t.Errorf("head excerpt %d bytes", len(e))
	}
	if e := excerpt(long, true); len(e) > excerptBytes || !strings.HasSuffix(long, e) {
		t.Errorf("tail excerpt %d bytes", len(e))
	}
	if e := excerpt("a\xffb", false); e != "a?b" {
		t.Errorf("invalid UTF-8 kept: %q", e)
	}
	if f := firstLines(strings.Repeat("ü", 400), 3); len(f) > 300 || !strings.HasSuffix(f, "...") {
		t.Errorf("first lines %d bytes", len(f))
	}
}
