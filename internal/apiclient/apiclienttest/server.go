// Package apiclienttest is a fake Berth API for tests of its clients, such as the CLI's
// commands. A test registers each request it expects, with the response to give; a request
// that was not expected fails the test at once, and a request that was expected but never
// came fails it when the test ends.
package apiclienttest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
)

// Token is the API token clients of the fake send; the fake fails a request without it.
const Token = "berth_test_0123456789abcdef"

// Server is the fake: an HTTP server that answers only the requests registered with Expect.
type Server struct {
	t   testing.TB
	srv *httptest.Server

	mu    sync.Mutex
	stubs []*Stub
}

// New starts a fake server. The test's cleanup stops it and fails the test for every
// expected request that did not come.
func New(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		s.srv.Close()
		s.verify()
	})
	return s
}

// URL is the fake's base URL.
func (s *Server) URL() string { return s.srv.URL }

// Client returns a client of the fake that sends Token: what a cli.Factory's APIClient
// returns in tests.
func (s *Server) Client() (*apiclient.Client, error) { return apiclient.New(s.srv.URL, Token) }

// Stub is one expected request and the response it gets.
type Stub struct {
	t            testing.TB
	method, path string
	query        url.Values
	body         any // the JSON body expected, decoded; nil: no body
	hasBody      bool

	status      int
	contentType string
	reply       []byte
	came        bool
}

// Expect registers a request: method and target, a path with the query the request must
// carry exactly, if any ("/api/v1/apps?name=web"). A stub answers one request, the first
// unanswered stub that matches; expect a request made twice twice. Without a reply it
// answers 204. Register every stub before the requests start.
func (s *Server) Expect(method, target string) *Stub {
	path, rawQuery, _ := strings.Cut(target, "?")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		s.t.Fatalf("apiclienttest: expect %s %s: %v", method, target, err)
	}
	st := &Stub{t: s.t, method: method, path: path, query: q, status: http.StatusNoContent}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stubs = append(s.stubs, st)
	return st
}

// WithBody expects the request to carry v as its JSON body, compared as JSON values (so
// field order and omitted empty fields do not matter).
func (st *Stub) WithBody(v any) *Stub {
	data, err := json.Marshal(v)
	if err != nil {
		st.t.Fatalf("apiclienttest: %s: body %#v: %v", st, v, err)
	}
	st.body, st.hasBody = decodeJSON(data), true
	return st
}

// Reply answers with status and v as JSON.
func (st *Stub) Reply(status int, v any) *Stub {
	data, err := json.Marshal(v)
	if err != nil {
		st.t.Fatalf("apiclienttest: %s: reply %#v: %v", st, v, err)
	}
	st.status, st.contentType, st.reply = status, "application/json", data
	return st
}

// ReplyError answers with status and the error body the server would send.
func (st *Stub) ReplyError(status int, e apiv1.Error) *Stub { return st.Reply(status, e) }

// Event is one server-sent event: its name and its data, sent as JSON.
type Event struct {
	Name string
	Data any
}

// ReplyEvents answers with a text/event-stream of events, then ends the stream.
func (st *Stub) ReplyEvents(events ...Event) *Stub {
	var b bytes.Buffer
	for _, ev := range events {
		data, err := json.Marshal(ev.Data)
		if err != nil {
			st.t.Fatalf("apiclienttest: %s: event %s: %v", st, ev.Name, err)
		}
		fmt.Fprintf(&b, "event: %s\ndata: %s\n\n", ev.Name, data)
	}
	st.status, st.contentType, st.reply = http.StatusOK, "text/event-stream", b.Bytes()
	return st
}

func (st *Stub) String() string {
	target := st.path
	if len(st.query) > 0 {
		target += "?" + st.query.Encode()
	}
	return st.method + " " + target
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		s.t.Errorf("apiclienttest: read the body of %s %s: %v", r.Method, r.URL, err)
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+Token {
		s.t.Errorf("apiclienttest: %s %s has Authorization %q, want the fake's token", r.Method, r.URL, got)
	}
	st := s.match(r)
	if st == nil {
		s.t.Errorf("apiclienttest: unexpected request %s %s %s\n  still expected: %s", r.Method, r.URL, data, s.pending())
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotImplemented)
		json.NewEncoder(w).Encode(apiv1.Error{Code: "unexpected", Message: "apiclienttest: unexpected request " + r.Method + " " + r.URL.String()})
		return
	}
	switch {
	case !st.hasBody && len(data) > 0:
		s.t.Errorf("apiclienttest: %s sent body %s, expected none", st, data)
	case st.hasBody && r.Header.Get("Content-Type") != "application/json":
		s.t.Errorf("apiclienttest: %s sent Content-Type %q, want application/json", st, r.Header.Get("Content-Type"))
	case st.hasBody:
		if diff := cmp.Diff(st.body, decodeJSON(data)); diff != "" {
			s.t.Errorf("apiclienttest: %s body (-want +got):\n%s", st, diff)
		}
	}
	if st.contentType != "" {
		w.Header().Set("Content-Type", st.contentType)
	}
	w.WriteHeader(st.status)
	w.Write(st.reply)
}

// match takes the first stub not yet used with the request's method, path and query.
func (s *Server) match(r *http.Request) *Stub {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.stubs {
		if !st.came && st.method == r.Method && st.path == r.URL.Path && st.query.Encode() == r.URL.Query().Encode() {
			st.came = true
			return st
		}
	}
	return nil
}

func (s *Server) pending() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, st := range s.stubs {
		if !st.came {
			out = append(out, st.String())
		}
	}
	if len(out) == 0 {
		return "nothing"
	}
	return strings.Join(out, ", ")
}

func (s *Server) verify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.stubs {
		if !st.came {
			s.t.Errorf("apiclienttest: expected request %s never came", st)
		}
	}
}

// decodeJSON decodes data into plain values for comparison; what is not JSON stays text.
func decodeJSON(data []byte) any {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return string(data)
	}
	return v
}
