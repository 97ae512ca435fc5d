package probe

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// reportServer is Berth's server as Send sees it: it checks each request (path, token,
// content type, body) and answers the statuses given, one per request, then 500s.
type reportServer struct {
	t        *testing.T
	token    string
	want     Report
	statuses []int

	mu    sync.Mutex
	calls int
}

func (s *reportServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	call := s.calls
	s.calls++
	s.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != "/api/v1/probes/runs/12/report" {
		s.t.Errorf("request %s %s, want POST /api/v1/probes/runs/12/report", r.Method, r.URL.Path)
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+s.token {
		s.t.Errorf("Authorization %q", got)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		s.t.Errorf("Content-Type %q", ct)
	}
	var got Report
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &got); err != nil {
		s.t.Errorf("body %s: %v", body, err)
	}
	if diff := cmp.Diff(s.want, got); diff != "" {
		s.t.Errorf("report (-want +got):\n%s", diff)
	}
	status := http.StatusInternalServerError
	if call < len(s.statuses) {
		status = s.statuses[call]
	}
	w.WriteHeader(status)
	io.WriteString(w, http.StatusText(status)+" from the server")
}

func TestSend(t *testing.T) {
	report := Report{Run: 12, Env: "production", Steps: []Step{
		{Name: StepDNS, Started: time.Date(2026, 12, 7, 4, 12, 0, 123e6, time.UTC), Duration: 3 * time.Millisecond, OK: true, Detail: "a -> 10.0.0.12"},
		{Name: StepQueue, Started: time.Date(2026, 12, 7, 4, 12, 1, 0, time.UTC), Duration: time.Second, Error: "timeout"},
	}}
	for _, tc := range []struct {
		name     string
		statuses []int
		calls    int
		wantErr  string // "" for success
	}{
		{"accepted", []int{http.StatusNoContent}, 1, ""},
		{"5xx, then accepted", []int{http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusOK}, 3, ""},
		{"4xx is final", []int{http.StatusConflict}, 1, "report run 12 to http://127.0.0.1:PORT/api/v1/probes/runs/12/report (attempt 1 of 4): 409 Conflict: Conflict from the server"},
		{"5xx to the end", nil, 4, "(attempt 4 of 4): 500 Internal Server Error: Internal Server Error from the server"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := &reportServer{t: t, token: "probe-token-secret", want: report, statuses: tc.statuses}
			hs := httptest.NewServer(srv)
			defer hs.Close()
			c := Config{Server: hs.URL + "/", Token: srv.token, RetryWait: time.Millisecond}
			err := Send(t.Context(), c, report)
			if tc.wantErr == "" && err != nil {
				t.Errorf("error: %v", err)
			}
			if tc.wantErr != "" {
				want := strings.ReplaceAll(tc.wantErr, "127.0.0.1:PORT", strings.TrimPrefix(hs.URL, "http://"))
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("error %v, want one saying %q", err, want)
				}
			}
			srv.mu.Lock()
			defer srv.mu.Unlock()
			if srv.calls != tc.calls {
				t.Errorf("%d requests, want %d", srv.calls, tc.calls)
			}
		})
	}
}

// TestSendUnreachable: a server that cannot be reached is tried four times, waiting longer
// each time, and the error keeps the token out.
func TestSendUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := Config{Server: "http://" + addr, Token: "probe-token-secret", RetryWait: 20 * time.Millisecond}
	start := time.Now()
	err = Send(t.Context(), c, Report{Run: 3, Env: "dev"})
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "(attempt 4 of 4)") || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("error %v, want a connection refused on the 4th attempt", err)
	}
	if strings.Contains(err.Error(), c.Token) {
		t.Errorf("the error shows the token: %v", err)
	}
	// Waits of 20, 40 and 80ms.
	if took < 140*time.Millisecond {
		t.Errorf("took %s, less than the waits between attempts", took)
	}

	// A cancelled context stops the retries.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := Send(ctx, c, Report{Run: 3}); err == nil || strings.Contains(err.Error(), "attempt 2") {
		t.Errorf("with a cancelled context: %v, want a failure of the first attempt", err)
	}
}
