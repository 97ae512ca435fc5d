// Package api serves Berth's REST API under /api/v1, with /healthz, /readyz and /metrics.
// Handlers return errors; one adapter turns them into JSON responses, so what the client
// sees (status, code, message, field) is decided in one place and server faults are logged.
package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/service"
)

// Server is the HTTP face of the service.
type Server struct {
	svc     *service.Service
	log     *slog.Logger
	routes  []route
	mux     *http.ServeMux
	metrics *metrics
	// Ready reports whether the server can take traffic (store reachable); /readyz asks it.
	ready func(context.Context) error
}

// RouteInfo names one API route, for tests that must cover them all.
type RouteInfo struct {
	Method, Path, ID string
	// Auth: the route needs a Berth token (webhooks carry a signature instead).
	Auth bool
}

// Routes lists the API's routes.
func (s *Server) Routes() []RouteInfo {
	out := make([]RouteInfo, len(s.routes))
	for i, rt := range s.routes {
		out[i] = RouteInfo{Method: rt.method, Path: rt.path, ID: rt.id, Auth: rt.auth}
	}
	return out
}

// handlerFunc is a route's handler; p is nil on routes without auth.
type handlerFunc func(w http.ResponseWriter, r *http.Request, p *authz.Principal) error

type route struct {
	method, path string
	id, summary  string
	// auth routes need a valid token; global is an action checked at the route for every
	// caller (team-scoped actions are checked by the service against the loaded resource).
	auth     bool
	global   authz.Action
	body     any
	response any
	status   int
	query    []string
	hidden   bool
	// stream routes answer text/event-stream instead of JSON; ndjson routes a stream of
	// newline-delimited JSON values, each a response.
	stream bool
	ndjson bool
	handle handlerFunc
}

// New returns a Server for svc. ready is polled by /readyz.
func New(svc *service.Service, log *slog.Logger, reg prometheus.Registerer, ready func(context.Context) error) *Server {
	s := &Server{svc: svc, log: log, mux: http.NewServeMux(), metrics: newMetrics(reg), ready: ready}
	s.routes = append(append(append(append(s.apiRoutes(), s.deployRoutes()...), s.settingsRoutes()...), s.provisionerRoutes()...),
		s.resourceRoutes()...)
	s.routes = append(append(append(s.routes, s.previewRoutes()...), s.trainRoutes()...), s.gitOpsRoutes()...)
	s.routes = append(s.routes, s.backupRoutes()...)
	for i := range s.routes {
		if s.routes[i].status == 0 {
			s.routes[i].status = http.StatusOK
		}
	}
	for _, rt := range s.routes {
		s.mux.Handle(rt.method+" "+rt.path, s.adapt(rt))
	}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := s.ready(r.Context()); err != nil {
			log.WarnContext(r.Context(), "not ready", "err", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	if g, ok := reg.(prometheus.Gatherer); ok {
		s.mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	}
	s.mux.HandleFunc("GET /api/v1/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.openAPI())
	})
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, s.log, errorf(http.StatusNotFound, "not_found", "no route %s %s", r.Method, r.URL.Path))
	})
	return s
}

// Mount serves h for the requests no API route matches, such as the dashboard at "/". It
// runs inside Handler, so those requests get request ids and panic recovery too.
func (s *Server) Mount(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Handler returns the root handler: request ids and panic recovery around the mux.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		r = r.WithContext(service.WithRequestID(context.WithValue(r.Context(), requestIDKey{}, id), id))
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(r.Context(), "panic", "request_id", id, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				writeError(w, r, s.log, fmt.Errorf("panic: %v", v))
			}
		}()
		// A query the server cannot parse whole (bad escapes, or more parameters than
		// net/url takes) would otherwise reach handlers as a partial one, dropping filters.
		if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
			writeError(w, r, s.log, &Error{Status: http.StatusBadRequest, Code: "invalid_query",
				Message: "the query string cannot be parsed: " + queryProblem(err)})
			return
		}
		s.mux.ServeHTTP(w, r)
	})
}

// queryProblem says what is wrong with a query string without echoing it whole.
func queryProblem(err error) string {
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	return msg
}

// adapt turns a route into an http.Handler: metrics, authentication, the route-level
// authorization check, then the handler, with any error written by writeError.
func (s *Server) adapt(rt route) http.Handler {
	label := rt.method + " " + rt.path
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			status := strconv.Itoa(sw.status)
			s.metrics.requests.WithLabelValues(label, status).Inc()
			s.metrics.latency.WithLabelValues(label, status).Observe(time.Since(start).Seconds())
		}()
		var p *authz.Principal
		if rt.auth {
			var err error
			p, err = s.svc.Authenticate(r.Context(), bearer(r))
			if err != nil {
				writeError(sw, r, s.log, err)
				return
			}
			if rt.global != "" {
				if err := authz.Check(p, rt.global, authz.Resource{}); err != nil {
					if rt.method != http.MethodGet {
						s.svc.AuditDenied(r.Context(), p, string(rt.global), r.URL.Path)
					}
					writeError(sw, r, s.log, err)
					return
				}
			}
		}
		if err := rt.handle(sw, r, p); err != nil {
			writeError(sw, r, s.log, err)
		}
	})
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if scheme, tok, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(tok)
	}
	return ""
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Flush lets streaming handlers (server-sent events) flush through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type requestIDKey struct{}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

func newRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "berth_http_requests_total", Help: "API requests by route and status.",
		}, []string{"route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "berth_http_request_duration_seconds", Help: "API request latency by route and status.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "status"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}
