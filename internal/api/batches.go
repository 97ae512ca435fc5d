package api

import (
	"net/http"
	"strconv"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/sse"
)

func batchID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "id", Message: "batch id must be a positive number"}
	}
	return id, nil
}

// streamBatch sends a batch's deploys as server-sent events: event "deploy" (data: a
// Deploy) as each one ends, those already ended first, then one "batch" event (data: a
// List of every deploy of the batch, in the order they were queued), and ends. Like the
// deploy stream, it polls the store, so it works whichever replicas run the deploys.
func (s *Server) streamBatch(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	id, err := batchID(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if _, err := s.svc.BatchDeploys(ctx, p, id); err != nil {
		return err
	}
	stream := sse.Start(w)
	gone := false // the client went away
	ds, err := s.svc.FollowBatch(ctx, p, id, func(d berth.Deploy) error {
		err := stream.Send("deploy", apiv1.FromDeploy(d))
		gone = err != nil
		return err
	})
	switch {
	case err == nil:
		_ = stream.Send("batch", list(ds, apiv1.FromDeploy))
	case !gone && ctx.Err() == nil:
		s.log.WarnContext(ctx, "stream batch", "batch", id, "err", err)
	}
	return nil // the response has started: errors end the stream
}
