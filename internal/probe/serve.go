package probe

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"time"
)

// The agent answers its own HTTP step: the probe Service in front of its pod sends the
// step's GET back to it, through the cluster's Service routing.

// Handler answers every GET with 200 "berth probe ok".
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "berth probe ok\n")
	})
}

// Serve listens on addr and serves Handler until ctx ends; it returns once the listener is
// open, with a channel that gets the server's error (nil after ctx ended).
func Serve(ctx context.Context, addr string) (<-chan error, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: Handler(), ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() {
		err := srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		done <- err
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	return done, nil
}

// AwaitService waits, up to timeout, until HTTPURL answers a GET with 2xx once: a new pod
// is reachable through its Service only after its readiness reaches the Service's
// endpoints, which is the cluster's start-up, not the HTTP step's time. It reports whether
// the Service answered; the HTTP step then says why not, if it still does not.
func AwaitService(ctx context.Context, c Config, timeout time.Duration) bool {
	if c.HTTPURL == "" {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.HTTPURL, nil)
		if err != nil {
			return false
		}
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
			resp.Body.Close()
			if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
				return true
			}
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
}
