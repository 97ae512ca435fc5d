package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/service"
)

// keepAlive is how long a log stream stays silent before it sends an empty line, which
// keeps proxies from closing an idle stream and tells the server whether the client is
// still there.
const keepAlive = 30 * time.Second

// streamLogs answers an app's logs in an environment as newline-delimited JSON
// (apiv1.LogRecord), following them with ?follow=true until the client goes away. The
// request is checked before the answer starts (400, 403, 404); a failure after that —
// the cluster cannot be reached, say — is the stream's last record, {time, error}.
func (s *Server) streamLogs(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	req, err := logRequest(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	run, err := s.svc.OpenLogs(ctx, p, req)
	if err != nil {
		return err
	}
	rc := http.NewResponseController(w)
	// A follow stream lasts as long as the client wants: no write deadline may cut it.
	_ = rc.SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Accel-Buffering", "no") // proxies must not buffer it
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()

	lw := &lineWriter{w: w, rc: rc, enc: json.NewEncoder(w)}
	lw.enc.SetEscapeHTML(false)
	stopKeepAlive := lw.keepAlive(keepAlive)
	err = run(ctx, func(rec berth.LogRecord) error { return lw.write(apiv1.FromLogRecord(rec)) })
	stopKeepAlive()
	if err != nil && ctx.Err() == nil && !lw.broken() {
		msg := err.Error()
		if !errors.Is(err, berth.ErrNotFound) && !errors.Is(err, berth.ErrUnavailable) {
			s.log.WarnContext(ctx, "log stream", "team", req.Team, "app", req.App, "env", req.Env, "request_id", requestID(ctx), "err", err)
		}
		_ = lw.write(apiv1.LogRecord{Time: time.Now().UTC(), Error: msg})
	}
	return nil // the answer has started: errors end the stream
}

// logRequest reads the query of a logs request, naming the parameter that is wrong.
func logRequest(r *http.Request) (service.LogRequest, error) {
	q := r.URL.Query()
	req := service.LogRequest{Team: r.PathValue("team"), App: r.PathValue("app"), Env: r.PathValue("env"),
		Pod: q.Get("pod"), Container: q.Get("container"), Tail: -1}
	var err error
	if req.Follow, err = boolQuery(r, "follow"); err != nil {
		return req, err
	}
	if req.Previous, err = boolQuery(r, "previous"); err != nil {
		return req, err
	}
	if req.Since, err = sinceQuery(r, time.Now()); err != nil {
		return req, err
	}
	if v := q.Get("tail"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > berth.MaxLogTail {
			return req, &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "tail",
				Message: fmt.Sprintf("tail must be a number of lines from 0 to %d, not %q", berth.MaxLogTail, v)}
		}
		req.Tail = n
	}
	return req, nil
}

// sinceQuery reads the optional ?since=: a duration back from now (10m, 24h) or an RFC 3339
// time. The message says what came and what would do.
func sinceQuery(r *http.Request, now time.Time) (time.Time, error) {
	v := r.URL.Query().Get("since")
	if v == "" {
		return time.Time{}, nil
	}
	bad := func(why string) error {
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "since",
			Message: fmt.Sprintf("since %q: %s; use a duration back from now such as 10m or 24h, or an RFC 3339 time such as 2026-03-14T15:09:26Z", cutValue(v), why)}
	}
	if d, err := time.ParseDuration(v); err == nil {
		if d < 0 {
			return time.Time{}, bad("a negative duration is in the future")
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, bad("not a duration or a time")
	}
	return t, nil
}

// cutValue keeps an echoed query value short.
func cutValue(v string) string {
	if len(v) > 64 {
		return v[:64] + "..."
	}
	return v
}

// lineWriter writes JSON values one per line, flushing each, from the stream and from its
// keep-alive timer.
type lineWriter struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	enc *json.Encoder

	mu     sync.Mutex
	last   time.Time
	failed bool // a write failed: the client went away
}

func (lw *lineWriter) write(v any) error {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	err := lw.enc.Encode(v)
	if err == nil {
		err = lw.rc.Flush()
	}
	lw.last = time.Now()
	lw.failed = lw.failed || err != nil
	return err
}

func (lw *lineWriter) broken() bool {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return lw.failed
}

// keepAlive writes an empty line whenever the stream was silent for every; the returned
// func stops it.
func (lw *lineWriter) keepAlive(every time.Duration) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every / 2)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			lw.mu.Lock()
			if time.Since(lw.last) >= every && !lw.failed {
				_, err := lw.w.Write([]byte("\n"))
				if err == nil {
					err = lw.rc.Flush()
				}
				lw.failed = err != nil
				lw.last = time.Now()
			}
			lw.mu.Unlock()
		}
	})
	return func() { close(done); wg.Wait() }
}
