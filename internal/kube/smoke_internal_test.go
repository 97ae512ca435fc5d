package kube

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/berth-dev/berth/internal/smoke"
)

// TestSmokeHTTPNeverFollowsRedirects: an app answering its smoke path with a redirect gets
// that answer judged; Berth's credentials never go where it points.
func TestSmokeHTTPNeverFollowsRedirects(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		if r.Header.Get("Authorization") != "" {
			t.Errorf("the redirect carried credentials to another host")
		}
	}))
	defer other.Close()
	// The API server's proxy passes the app's redirect through as it is.
	apiserver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/steal", http.StatusFound)
	}))
	defer apiserver.Close()
	c, err := New(&rest.Config{Host: apiserver.URL, BearerToken: "berth-cluster-token"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.HTTP(t.Context(), smoke.HTTPRequest{Namespace: "ns", Service: "web", Port: "http", Method: "GET", Path: "/health"})
	if err != nil || resp.Status != http.StatusFound {
		t.Fatalf("answer %d, %v; want the 302 itself", resp.Status, err)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Fatalf("the redirect was followed %d times", n)
	}
}

func TestLastBytes(t *testing.T) {
	var log strings.Builder
	for i := range 5000 {
		log.WriteString(strings.Repeat("x", 50) + " line " + strings.Repeat("y", i%7) + "\n")
	}
	log.WriteString("FAIL: the last line\n")
	got := lastBytes(strings.NewReader(log.String()), 1024)
	if len(got) > 1024 || !bytes.HasSuffix(got, []byte("FAIL: the last line\n")) || !bytes.HasPrefix(got, []byte(strings.Repeat("x", 50))) {
		t.Errorf("kept %d bytes: %q...", len(got), got[:min(60, len(got))])
	}
	if got := lastBytes(strings.NewReader("short\n"), 1024); string(got) != "short\n" {
		t.Errorf("short log: %q", got)
	}
}
