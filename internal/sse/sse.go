// Package sse writes server-sent events (text/event-stream): the API's deploy stream and
// the dashboard's live progress both use it.
package sse

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// Stream is a started event stream.
type Stream struct {
	w       http.ResponseWriter
	flusher http.Flusher
}

// Start writes the event-stream headers and status 200; after it, errors can only end the
// stream.
func Start(w http.ResponseWriter) *Stream {
	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no") // proxies must not buffer it
	w.WriteHeader(http.StatusOK)
	if flusher != nil {
		flusher.Flush()
	}
	return &Stream{w: w, flusher: flusher}
}

// Send writes one event whose data is v as JSON, and flushes it. An error means the
// client went away.
func (s *Stream) Send(event string, v any) error { return s.SendID(0, event, v) }

// SendID is Send with the event's id (when not 0): a browser that reconnects sends the
// last id it saw in the Last-Event-ID header, so the stream can resume after it.
func (s *Stream) SendID(id int64, event string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if id != 0 {
		if _, err := fmt.Fprintf(s.w, "id: %d\n", id); err != nil {
			return err
		}
	}
	if _, err := fmt.Fprintf(s.w, "event: %s\ndata: %s\n\n", event, data); err != nil {
		return err
	}
	if s.flusher != nil {
		s.flusher.Flush()
	}
	return nil
}
