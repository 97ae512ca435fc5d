package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/service"
)

func (s *Server) connectRepo(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var in apiv1.ConnectRepo
	if err := decode(w, r, &in); err != nil {
		return err
	}
	conn, err := s.svc.ConnectRepo(r.Context(), p, service.ConnectRequest{Team: r.PathValue("team"), App: r.PathValue("app"),
		Forge: berth.Forge(in.Forge), URL: in.URL, Path: in.Path, Branch: in.Branch, Token: in.Token,
		CreateWebhook: in.CreateWebhook, HookURL: in.HookURL})
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, apiv1.Connection{Repo: apiv1.FromAppRepo(conn.Repo), HookSecret: conn.HookSecret, HookURL: conn.HookURL})
}

func (s *Server) getAppRepo(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	repo, err := s.svc.AppRepo(r.Context(), p, r.PathValue("team"), r.PathValue("app"))
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, apiv1.FromAppRepo(repo))
}

func (s *Server) disconnectRepo(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	if err := s.svc.DisconnectRepo(r.Context(), p, r.PathValue("team"), r.PathValue("app")); err != nil {
		return err
	}
	return ok(w, http.StatusNoContent, nil)
}

// hookReadTimeout bounds the reading of a webhook's body.
const hookReadTimeout = 10 * time.Second

// receiveHook takes a forge's webhook delivery: no Berth token, the signature is the
// credential (service.ReceiveHook checks it). The work is queued, not done: 202.
func (s *Server) receiveHook(w http.ResponseWriter, r *http.Request, _ *authz.Principal) error {
	// Nobody is authenticated yet: the body comes in 10 seconds or not at all.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(hookReadTimeout))
	rc, err := s.svc.ReceiveHook(r.Context(), berth.Forge(r.PathValue("forge")), r.Header, r.Body)
	if err != nil {
		return err
	}
	out := apiv1.HookReceipt{Delivery: rc.Delivery, Event: string(rc.Event.Kind), Repo: rc.Event.Repo, Ref: rc.Event.Ref,
		SHA: rc.Event.SHA, PR: rc.Event.PR, Jobs: []int64{}, Envs: rc.Envs, Ignored: rc.Ignored}
	for _, j := range rc.Jobs {
		out.Jobs = append(out.Jobs, j.ID)
	}
	return ok(w, http.StatusAccepted, out)
}

func (s *Server) listGitJobs(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	limit := 50
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "limit", Message: "limit must be 1 to 1000"}
		}
		limit = n
	}
	js, err := s.svc.GitJobs(r.Context(), p, r.PathValue("team"), r.PathValue("app"), limit)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, list(js, apiv1.FromGitJob))
}
