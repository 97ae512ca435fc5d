package main

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// instrument counts and times every request by route and status code.
func instrument(reg prometheus.Registerer, next *http.ServeMux) http.Handler {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hello_http_requests_total",
		Help: "HTTP requests served, by route and status code.",
	}, []string{"route", "code"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "hello_http_request_duration_seconds",
		Help:    "Time to serve an HTTP request, by route and status code.",
		Buckets: prometheus.DefBuckets,
	}, []string{"route", "code"})
	reg.MustRegister(requests, duration)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		labels := prometheus.Labels{"route": route(r.Pattern), "code": strconv.Itoa(rec.status)}
		requests.With(labels).Inc()
		duration.With(labels).Observe(time.Since(start).Seconds())
	})
}

// route is the label of a request: the path of the pattern it matched ("/info"), or
// "other" for the rest, so that unknown paths cannot grow the metrics without bound.
// ServeMux sets r.Pattern on the request it was given.
func route(pattern string) string {
	_, path, ok := strings.Cut(pattern, " ")
	if !ok || path == "" {
		return "other"
	}
	return strings.TrimSuffix(path, "{$}")
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer (flushing, deadlines).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
