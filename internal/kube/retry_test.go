package kube_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/berth-dev/berth/internal/kube"
)

// fakeAPI answers each request with the next scripted status code for its method, and
// records the calls. It stands in for an API server that is overloaded or failing, which a
// real one cannot be made to be on demand.
type fakeAPI struct {
	mu     sync.Mutex
	script map[string][]int
	calls  []string
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	codes := f.script[r.Method]
	code := http.StatusInternalServerError
	if len(codes) > 0 {
		code = codes[0]
		if len(codes) > 1 {
			f.script[r.Method] = codes[1:]
		}
	}
	f.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if code < 300 {
		ns := corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}
		_ = json.NewEncoder(w).Encode(ns)
		return
	}
	_ = json.NewEncoder(w).Encode(metav1.Status{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Status"},
		Status:   metav1.StatusFailure, Code: int32(code), Reason: reasonFor(code), Message: http.StatusText(code),
	})
}

func reasonFor(code int) metav1.StatusReason {
	switch code {
	case http.StatusNotFound:
		return metav1.StatusReasonNotFound
	case http.StatusForbidden:
		return metav1.StatusReasonForbidden
	case http.StatusTooManyRequests:
		return metav1.StatusReasonTooManyRequests
	case http.StatusServiceUnavailable:
		return metav1.StatusReasonServiceUnavailable
	case http.StatusGatewayTimeout:
		return metav1.StatusReasonTimeout
	}
	return metav1.StatusReasonInternalError
}

func (f *fakeAPI) recorded() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

var fastBackoff = kube.Backoff{Initial: time.Millisecond, Max: 4 * time.Millisecond, Attempts: 5}

func TestRetriesTransientErrors(t *testing.T) {
	const get, post = "GET /api/v1/namespaces/team-a", "POST /api/v1/namespaces"
	tests := []struct {
		name      string
		script    map[string][]int
		wantCalls []string
		wantErr   string // "" for success
	}{
		{
			name:      "overloaded, then failing, then fine",
			script:    map[string][]int{"GET": {429, 503, 504, 200}},
			wantCalls: []string{get, get, get, get},
		},
		{
			name:      "created after a server error",
			script:    map[string][]int{"GET": {404}, "POST": {500, 201}},
			wantCalls: []string{get, post, post},
		},
		{
			name:      "gives up after its attempts",
			script:    map[string][]int{"GET": {503}},
			wantCalls: []string{get, get, get, get, get},
			wantErr:   "gave up after 5 attempts",
		},
		{
			name:      "refusals are not retried",
			script:    map[string][]int{"GET": {403}},
			wantCalls: []string{get},
			wantErr:   "get namespace team-a: Forbidden",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &fakeAPI{script: tt.script}
			srv := httptest.NewServer(api)
			defer srv.Close()
			c, err := kube.New(&rest.Config{Host: srv.URL}, kube.Options{Backoff: fastBackoff})
			if err != nil {
				t.Fatal(err)
			}
			err = c.EnsureNamespace(context.Background(), "team-a", nil)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("EnsureNamespace: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("EnsureNamespace = %v, want an error with %q", err, tt.wantErr)
			}
			if got := api.recorded(); strings.Join(got, "\n") != strings.Join(tt.wantCalls, "\n") {
				t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.wantCalls, "\n"))
			}
		})
	}
}

func TestRetriesRefusedConnections(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	c, err := kube.New(&rest.Config{Host: "http://" + addr}, kube.Options{Backoff: fastBackoff})
	if err != nil {
		t.Fatal(err)
	}
	err = c.EnsureNamespace(context.Background(), "team-a", nil)
	if err == nil || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "gave up after 5 attempts") {
		t.Fatalf("EnsureNamespace = %v, want connection refused, retried", err)
	}
}

// Retries stop when the caller's context ends, however long the backoff.
func TestRetriesStopWithTheContext(t *testing.T) {
	api := &fakeAPI{script: map[string][]int{"GET": {503}}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	c, err := kube.New(&rest.Config{Host: srv.URL}, kube.Options{Backoff: kube.Backoff{Initial: time.Hour, Max: time.Hour, Attempts: 100}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	begin := time.Now()
	err = c.EnsureNamespace(ctx, "team-a", nil)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "ServiceUnavailable") && !strings.Contains(err.Error(), "Service Unavailable") {
		t.Errorf("EnsureNamespace = %v, want the last API error and the context's", err)
	}
	if took := time.Since(begin); took > 2*time.Second {
		t.Errorf("took %s after the context ended", took)
	}
	if n := len(api.recorded()); n != 1 {
		t.Errorf("%d calls, want 1", n)
	}
}

func TestOptionsLimitTheRequestRate(t *testing.T) {
	api := &fakeAPI{script: map[string][]int{"GET": {200}}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	c, err := kube.New(&rest.Config{Host: srv.URL}, kube.Options{QPS: 20, Burst: 1})
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	for range 5 {
		if err := c.EnsureNamespace(context.Background(), "team-a", nil); err != nil {
			t.Fatal(err)
		}
	}
	// The first request is free; four more at 20 per second take 200 ms.
	if took := time.Since(begin); took < 150*time.Millisecond {
		t.Errorf("5 requests at 20 QPS took %s", took)
	}
}
