package web

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/service"
	"github.com/berth-dev/berth/internal/sse"
)

// appPageEvents is how many of an app's kept Kubernetes events its page lists.
const appPageEvents = 50

// appEvents returns the newest kept Kubernetes events of an app, newest first, for its page.
func (h *Handler) appEvents(ctx context.Context, p *authz.Principal, team, app string) ([]berth.ClusterEvent, error) {
	evs, err := h.svc.ClusterEvents(ctx, p, service.ClusterEventQuery{Team: team, App: app, Limit: appPageEvents})
	slices.Reverse(evs)
	return evs, err
}

// appLogs streams an app's logs in one environment to its page (server-sent events: "log"
// with an apiv1.LogRecord, and "failure" with the message that ended the stream), following
// them until the page goes away: the API's log stream, for the session's user. A browser
// that reconnects sends the id of the last record it got (its time, in nanoseconds since
// the epoch), and the stream goes on after it.
func (h *Handler) appLogs(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	req := service.LogRequest{Team: r.PathValue("team"), App: r.PathValue("app"), Env: r.PathValue("env"),
		Pod: r.URL.Query().Get("pod"), Tail: berth.DefaultLogTail, Follow: true}
	if last, err := strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64); err == nil && last > 0 {
		req.Since, req.Tail = time.Unix(0, last+1), -1
	}
	ctx := r.Context()
	run, err := h.svc.OpenLogs(ctx, p, req)
	if err != nil {
		return err
	}
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{}) // it lasts as long as the page
	stream := sse.Start(w)
	sent := false
	err = run(ctx, func(rec berth.LogRecord) error {
		sent = true
		return stream.SendID(rec.Time.UnixNano(), "log", apiv1.FromLogRecord(rec))
	})
	if err != nil && ctx.Err() == nil {
		if !sent {
			h.log.InfoContext(ctx, "dashboard log stream", "path", r.URL.Path, "err", err)
		}
		_ = stream.Send("failure", map[string]string{"message": err.Error()})
	}
	return nil
}
