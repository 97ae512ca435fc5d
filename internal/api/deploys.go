package api

import (
	"net/http"
	"strconv"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/service"
	"github.com/berth-dev/berth/internal/sse"
)

func (s *Server) deployRoutes() []route {
	const v1 = "/api/v1"
	return []route{
		{method: "POST", path: v1 + "/deploys", id: "createDeploy", summary: "Queue a deploy of a manifest or a stored revision (deployers)",
			auth: true, body: apiv1.CreateDeploy{}, response: apiv1.Deploy{}, status: 201, handle: s.createDeploy},
		{method: "GET", path: v1 + "/deploys/{id}", id: "getDeploy", summary: "One deploy",
			auth: true, response: apiv1.Deploy{}, handle: s.getDeploy},
		{method: "GET", path: v1 + "/deploys/{id}/events", id: "listDeployEvents", summary: "A deploy's progress events (?after=ID)",
			auth: true, query: []string{"after"}, response: apiv1.List[apiv1.DeployEvent]{}, handle: s.listDeployEvents},
		{method: "GET", path: v1 + "/deploys/{id}/stream", id: "streamDeploy", summary: "A deploy's progress as server-sent events, until it ends",
			auth: true, stream: true, handle: s.streamDeploy},
		{method: "GET", path: v1 + "/deploys/{id}/objects", id: "getDeployObjects", summary: "The exact Kubernetes objects a deploy applied",
			auth: true, response: []map[string]any{}, handle: s.getDeployObjects},
		{method: "GET", path: v1 + "/teams/{team}/apps/{app}/deploys", id: "listDeploys", summary: "An app's deploy history, newest first (?env=)",
			auth: true, query: []string{"env", "limit"}, response: apiv1.List[apiv1.Deploy]{}, handle: s.listDeploys},
		{method: "POST", path: v1 + "/teams/{team}/apps/{app}/rollback", id: "rollback", summary: "Re-apply an earlier successful deploy's objects (deployers)",
			auth: true, body: apiv1.Rollback{}, response: apiv1.Deploy{}, status: 201, handle: s.rollback},
		{method: "POST", path: v1 + "/teams/{team}/apps/{app}/smoke", id: "runSmoke",
			summary: "Run the smoke tests of the revision that runs in env now against it, without a deploy (deployers)",
			auth:    true, body: apiv1.RunSmoke{}, response: apiv1.SmokeRun{}, handle: s.runSmoke},
		{method: "GET", path: v1 + "/teams/{team}/apps/{app}/status", id: "appStatus", summary: "Deployed revision against what runs, per environment: replicas, pods, drift (?env=)",
			auth: true, query: []string{"env"}, response: apiv1.AppStatus{}, handle: s.appStatus},
		{method: "POST", path: v1 + "/teams/{team}/redeploy", id: "redeployTeam", summary: "Redeploy every app of a team (deployers)",
			auth: true, body: apiv1.RedeployTeam{}, response: apiv1.List[apiv1.Deploy]{}, status: 201, handle: s.redeployTeam},
		{method: "GET", path: v1 + "/batches/{id}/stream", id: "streamBatch", summary: "A team redeploy's deploys (batchId) as server-sent events: a deploy event as each one ends, then a batch event with all of them",
			auth: true, stream: true, handle: s.streamBatch},
		{method: "POST", path: v1 + "/teams/{team}/apps/{app}/promotions", id: "promote",
			summary: "Deploy to an environment what runs in another: its revision, args and image digests (deployers); into a protected environment it awaits approval",
			auth:    true, body: apiv1.Promote{}, response: apiv1.Deploy{}, status: 201, handle: s.promote},
		{method: "GET", path: v1 + "/approvals", id: "listApprovals", summary: "Deploys awaiting approval, oldest first (?team= ?env=)",
			auth: true, query: []string{"team", "env"}, response: apiv1.List[apiv1.Approval]{}, handle: s.listApprovals},
		{method: "POST", path: v1 + "/deploys/{id}/approve", id: "approveDeploy",
			summary: "Approve a deploy awaiting approval, with a reason (team admins and the environment's allowed deployers, not its requester)",
			auth:    true, body: apiv1.Decision{}, response: apiv1.Deploy{}, handle: s.decide(berth.Approved)},
		{method: "POST", path: v1 + "/deploys/{id}/reject", id: "rejectDeploy",
			summary: "Reject a deploy awaiting approval, with a reason: it fails (team admins and the environment's allowed deployers, not its requester)",
			auth:    true, body: apiv1.Decision{}, response: apiv1.Deploy{}, handle: s.decide(berth.Rejected)},
		{method: "GET", path: v1 + "/deploys/{id}/rollback", id: "getDeployRollback", summary: "The automatic rollback queued when the deploy failed (404 when there is none)",
			auth: true, response: apiv1.Deploy{}, handle: s.getDeployRollback},
	}
}

func deployID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "id", Message: "deploy id must be a positive number"}
	}
	return id, nil
}

func (s *Server) createDeploy(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var in apiv1.CreateDeploy
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.TimeoutSeconds < 0 || in.TimeoutSeconds > 3600 {
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "timeoutSeconds", Message: "timeoutSeconds must be 0 (the server's default) to 3600"}
	}
	d, err := s.svc.CreateDeploy(r.Context(), p, service.DeployRequest{
		Team: in.Team, App: in.App, Env: in.Env, Manifest: in.Manifest, ManifestName: in.ManifestName, Revision: in.Revision, Set: in.Set,
		Options: berth.DeployOptions{ForceConflicts: in.ForceConflicts, NoAutoRollback: in.NoAutoRollback, TimeoutSeconds: in.TimeoutSeconds,
			Refresh: in.Refresh, Emergency: in.Emergency},
	})
	if err != nil {
		return err
	}
	return ok(w, http.StatusCreated, apiv1.FromDeploy(d))
}

func (s *Server) getDeploy(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	id, err := deployID(r)
	if err != nil {
		return err
	}
	d, err := s.svc.GetDeploy(r.Context(), p, id)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, apiv1.FromDeploy(d))
}

func (s *Server) listDeployEvents(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	id, err := deployID(r)
	if err != nil {
		return err
	}
	var after int64
	if v := r.URL.Query().Get("after"); v != "" {
		if after, err = strconv.ParseInt(v, 10, 64); err != nil {
			return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "after", Message: "after must be an event id"}
		}
	}
	_, evs, err := s.svc.DeployEvents(r.Context(), p, id, after)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, list(evs, apiv1.FromDeployEvent))
}

// streamDeploy sends the deploy's events as server-sent events (event: progress, data: a
// DeployEvent), then one "deploy" event with the final deploy, and ends. It polls the
// store, so it works whichever replica runs the deploy.
func (s *Server) streamDeploy(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	id, err := deployID(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if _, err := s.svc.GetDeploy(ctx, p, id); err != nil {
		return err
	}
	stream := sse.Start(w)
	gone := false // the client went away
	d, err := s.svc.FollowDeploy(ctx, p, id, 0, func(ev berth.DeployEvent) error {
		err := stream.Send("progress", apiv1.FromDeployEvent(ev))
		gone = err != nil
		return err
	})
	switch {
	case err == nil:
		_ = stream.Send("deploy", apiv1.FromDeploy(d))
	case !gone && ctx.Err() == nil:
		s.log.WarnContext(ctx, "stream deploy", "deploy", id, "err", err)
	}
	return nil // the response has started: errors end the stream
}

func (s *Server) getDeployObjects(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	id, err := deployID(r)
	if err != nil {
		return err
	}
	objs, err := s.svc.DeployObjects(r.Context(), p, id)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(objs)
	return err
}

func (s *Server) listDeploys(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	limit := 50
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "limit", Message: "limit must be 1 to 1000"}
		}
		limit = n
	}
	ds, err := s.svc.History(r.Context(), p, r.PathValue("team"), r.PathValue("app"), r.URL.Query().Get("env"), limit)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, list(ds, apiv1.FromDeploy))
}

func (s *Server) rollback(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var in apiv1.Rollback
	if err := decode(w, r, &in); err != nil {
		return err
	}
	d, err := s.svc.RollbackWith(r.Context(), p, r.PathValue("team"), r.PathValue("app"), in.Env, in.To, in.Emergency)
	if err != nil {
		return err
	}
	return ok(w, http.StatusCreated, apiv1.FromDeploy(d))
}

func (s *Server) redeployTeam(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var in apiv1.RedeployTeam
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.Concurrency < 0 || in.Concurrency > 100 {
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "concurrency", Message: "concurrency must be 1 to 100"}
	}
	ds, err := s.svc.RedeployTeam(r.Context(), p, service.RedeployRequest{Team: r.PathValue("team"), Env: in.Env,
		Exclude: in.Exclude, Refresh: in.Refresh, Concurrency: in.Concurrency, Emergency: in.Emergency})
	if err != nil {
		return err
	}
	return ok(w, http.StatusCreated, list(ds, apiv1.FromDeploy))
}

func (s *Server) appStatus(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	team, app := r.PathValue("team"), r.PathValue("app")
	envs, err := s.svc.Status(r.Context(), p, team, app, r.URL.Query().Get("env"))
	if err != nil {
		return err
	}
	out := apiv1.AppStatus{Team: team, App: app, Envs: []apiv1.EnvStatus{}}
	for _, e := range envs {
		es := apiv1.EnvStatus{Env: e.Env, Namespace: e.Namespace, Error: e.Error}
		if e.Current != nil {
			d := apiv1.FromDeploy(*e.Current)
			es.Current = &d
		}
		if e.Latest != nil {
			d := apiv1.FromDeploy(*e.Latest)
			es.Latest = &d
		}
		if l := e.Live; l != nil {
			la := apiv1.LiveApp{Phase: l.Phase, Message: l.Message, Desired: l.Desired, Updated: l.Updated, Ready: l.Ready,
				Available: l.Available, Images: l.Images, Pods: []apiv1.LivePod{}, Drift: []apiv1.DriftItem{}}
			for _, p := range l.Pods {
				la.Pods = append(la.Pods, apiv1.LivePod{Name: p.Name, Phase: p.Phase, Ready: p.Ready, Current: p.Current, Restarts: p.Restarts, Reason: p.Reason})
			}
			for _, d := range l.Drift {
				la.Drift = append(la.Drift, apiv1.DriftItem{Object: d.Object, Path: d.Path, Desired: d.Desired, Live: d.Live})
			}
			es.Live = &la
		}
		out.Envs = append(out.Envs, es)
	}
	return ok(w, http.StatusOK, out)
}

func (s *Server) promote(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var in apiv1.Promote
	if err := decode(w, r, &in); err != nil {
		return err
	}
	if in.TimeoutSeconds < 0 || in.TimeoutSeconds > 3600 {
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Field: "timeoutSeconds", Message: "timeoutSeconds must be 0 (the server's default) to 3600"}
	}
	d, err := s.svc.Promote(r.Context(), p, service.PromoteRequest{Team: r.PathValue("team"), App: r.PathValue("app"),
		From: in.From, To: in.To, Options: berth.DeployOptions{NoAutoRollback: in.NoAutoRollback, TimeoutSeconds: in.TimeoutSeconds,
			Emergency: in.Emergency}})
	if err != nil {
		return err
	}
	return ok(w, http.StatusCreated, apiv1.FromDeploy(d))
}

func (s *Server) listApprovals(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	q := r.URL.Query()
	ds, as, err := s.svc.Approvals(r.Context(), p, q.Get("team"), q.Get("env"))
	if err != nil {
		return err
	}
	out := apiv1.List[apiv1.Approval]{Items: make([]apiv1.Approval, 0, len(ds))}
	for i := range ds {
		out.Items = append(out.Items, apiv1.FromApproval(ds[i], as[i]))
	}
	return ok(w, http.StatusOK, out)
}

func (s *Server) decide(decision string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
		id, err := deployID(r)
		if err != nil {
			return err
		}
		var in apiv1.Decision
		if err := decode(w, r, &in); err != nil {
			return err
		}
		d, err := s.svc.Decide(r.Context(), p, id, decision, in.Reason)
		if err != nil {
			return err
		}
		return ok(w, http.StatusOK, apiv1.FromDeploy(d))
	}
}
