package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// upstreamBodyMax is how much of the dependency's answer GET /upstream shows.
const upstreamBodyMax = 512

// maxSlow bounds the delay GET /slow?ms=N takes, in milliseconds.
const maxSlow = 5000

// newHandler serves hello's routes, each counted and timed in /metrics.
func newHandler(cfg config) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	client := &http.Client{Timeout: cfg.upstreamTimeout}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "hello from berth")
	})
	mux.HandleFunc("GET /info", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, info{Version: cfg.version, Hostname: cfg.hostname})
	})
	// Liveness: the process serves HTTP. HELLO_FAIL=ready does not touch it, so a pod that
	// is never ready is not restarted either.
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, _ *http.Request) {
		if cfg.fail == failReady {
			http.Error(w, "not ready: HELLO_FAIL=ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	// The smoke test's route: what a deploy's smoke tests call to see the version answers.
	mux.HandleFunc("GET /smoke", func(w http.ResponseWriter, _ *http.Request) {
		if cfg.fail == failSmoke {
			http.Error(w, "smoke test failing on purpose: HELLO_FAIL=smoke (version "+cfg.version+")", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "smoke ok: version %s\n", cfg.version)
	})
	// Errors and latency on request, for the golden signals and alerts (berth metrics): a
	// load generator mixes these into its traffic.
	mux.HandleFunc("GET /fail", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "failing on purpose: GET /fail always answers 500", http.StatusInternalServerError)
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		ms, err := strconv.Atoi(r.URL.Query().Get("ms"))
		if err != nil || ms < 0 || ms > maxSlow {
			http.Error(w, fmt.Sprintf("want ?ms=N, a delay from 0 to %d milliseconds", maxSlow), http.StatusBadRequest)
			return
		}
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
			fmt.Fprintf(w, "slow ok: %d ms\n", ms)
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("GET /upstream", func(w http.ResponseWriter, r *http.Request) {
		if cfg.upstream == nil {
			http.Error(w, "no upstream: start hello with HELLO_UPSTREAM set to the URL GET /upstream should call", http.StatusNotFound)
			return
		}
		res := callUpstream(r.Context(), client, cfg.upstream.String())
		status := http.StatusOK
		if res.Error != "" {
			status = http.StatusBadGateway
		}
		writeJSON(w, status, res)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return instrument(reg, mux)
}

// info is the answer of GET /info.
type info struct {
	Version  string `json:"version"`
	Hostname string `json:"hostname"`
}

// upstreamResult is the answer of GET /upstream: the dependency's status and the start of
// its body, or why it could not be called.
type upstreamResult struct {
	URL    string `json:"url"`
	Status int    `json:"status,omitempty"`
	Body   string `json:"body,omitempty"`
	Error  string `json:"error,omitempty"`
}

// callUpstream GETs url and keeps the first upstreamBodyMax bytes of the answer.
func callUpstream(ctx context.Context, client *http.Client, url string) upstreamResult {
	res := upstreamResult{URL: url}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	resp, err := client.Do(req)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, upstreamBodyMax))
	if err != nil {
		res.Error = "read the answer: " + err.Error()
		return res
	}
	res.Status, res.Body = resp.StatusCode, string(body)
	return res
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
