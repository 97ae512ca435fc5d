// Command hello is the example app that `make run` deploys with examples/hello/berth.yaml:
// an HTTP service on $PORT that answers "hello from berth" on /, with what a platform's
// tests need around it — liveness (/healthz) and readiness (/ready) probes, Prometheus
// /metrics, /info with its version and host, a call to a dependency (/upstream) — and ways
// to fail on purpose (HELLO_FAIL). See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	// `hello check PATH` is the app's smoke test, run by a deploy as a command check.
	if len(os.Args) > 1 && os.Args[1] == "check" {
		os.Exit(check(os.Args[2:], os.Getenv("TARGET_URL"), os.Stdout))
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(log); err != nil {
		log.Error("hello stopped", "err", err)
		os.Exit(1)
	}
}

// config is what the environment sets.
type config struct {
	// port is where to listen ($PORT, default 8080).
	port string
	// version is shown by /info ($VERSION, default "dev").
	version string
	// hostname is shown by /info: the pod's name on Kubernetes.
	hostname string
	// fail is how to fail on purpose ($HELLO_FAIL): "" not at all, failReady or failCrash.
	fail string
	// upstream is what GET /upstream calls ($HELLO_UPSTREAM); nil when unset.
	upstream *url.URL
	// upstreamTimeout bounds a call to upstream.
	upstreamTimeout time.Duration
}

// The values of HELLO_FAIL.
const (
	// failReady makes /ready answer 503 forever: the pod runs but never becomes ready.
	failReady = "ready"
	// failCrash makes the process exit 1 as soon as it starts.
	failCrash = "crash"
	// failSmoke makes /smoke answer 500: the pods are live and ready, and the smoke tests
	// of a deploy fail.
	failSmoke = "smoke"
)

// upstreamTimeout is how long GET /upstream waits for the dependency.
const upstreamTimeout = 5 * time.Second

// errCrash is the error HELLO_FAIL=crash ends the process with.
var errCrash = errors.New("HELLO_FAIL=crash: crashing on purpose")

// loadConfig reads the configuration from getenv, refusing values it does not know: a
// mistyped HELLO_FAIL or HELLO_UPSTREAM should stop the app, not be ignored.
func loadConfig(getenv func(string) string) (config, error) {
	c := config{port: getenv("PORT"), version: getenv("VERSION"), fail: getenv("HELLO_FAIL"), upstreamTimeout: upstreamTimeout}
	if c.port == "" {
		c.port = "8080"
	}
	if c.version == "" {
		c.version = "dev"
	}
	switch c.fail {
	case "", failReady, failCrash, failSmoke:
	default:
		return c, fmt.Errorf("HELLO_FAIL=%s: want %s (never ready), %s (exit at start), %s (GET /smoke answers 500) or nothing", c.fail, failReady, failCrash, failSmoke)
	}
	if raw := getenv("HELLO_UPSTREAM"); raw != "" {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return c, fmt.Errorf("HELLO_UPSTREAM=%s: want an http:// or https:// URL, e.g. http://users/api", raw)
		}
		c.upstream = u
	}
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	c.hostname = host
	return c, nil
}

func run(log *slog.Logger) error {
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		return err
	}
	if cfg.fail == failCrash {
		return errCrash
	}
	// Kubernetes stops a pod with SIGTERM: finish the requests in flight, then exit.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	l, err := net.Listen("tcp", ":"+cfg.port)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: newHandler(cfg), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	log.Info("hello listening", "addr", l.Addr().String(), "version", cfg.version, "fail", cfg.fail, "upstream", urlString(cfg.upstream))
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func urlString(u *url.URL) string {
	if u == nil {
		return ""
	}
	return u.Redacted()
}
