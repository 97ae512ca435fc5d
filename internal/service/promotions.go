package service

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// PromoteRequest asks to deploy to environment To what runs in From.
type PromoteRequest struct {
	Team, App string
	From, To  string
	Options   berth.DeployOptions
	// Source, when set, is the deploy to promote (a tag's, for a git rule): it must have
	// succeeded in From. 0 is the app's last successful deploy there.
	Source int64
	// train is the train run that asks for it (its train is the authority), and queued
	// records its car in the transaction that queues it.
	train  int64
	queued func(tx *store.Tx, d berth.Deploy) error
}

// Promote deploys to req.To what runs in req.From: the revision and args of the app's last
// successful deploy there, its images pinned to the digests that deploy found (deployers of
// the team). Into a protected environment the promotion waits, in state awaiting-approval,
// for one of its allowed deployers other than the requester to approve it (Approve).
func (s *Service) Promote(ctx context.Context, p *authz.Principal, req PromoteRequest) (berth.Deploy, error) {
	return s.promote(ctx, p, req, 0)
}

// promote queues a promotion, by p; a git job's (job != 0) is the connection's doing, and
// needs no role of p.
func (s *Service) promote(ctx context.Context, p *authz.Principal, req PromoteRequest, job int64) (berth.Deploy, error) {
	switch {
	case req.From == "" || req.To == "":
		return berth.Deploy{}, invalid("env", "name the environment to promote from and the one to promote to")
	case req.From == req.To:
		return berth.Deploy{}, invalid("to", "promoting %s to itself: name another environment", req.From)
	case req.Options.Refresh:
		return berth.Deploy{}, invalid("refresh", "a promotion deploys what runs in %s as it runs; it does not refresh", req.From)
	}
	if _, err := s.st.Environment(ctx, req.From); err != nil {
		return berth.Deploy{}, storeErr(err)
	}
	to, err := s.st.Environment(ctx, req.To)
	if err != nil {
		return berth.Deploy{}, storeErr(err)
	}
	c := change{action: "deploy.promote", target: berth.AppTarget(req.Team, req.App, req.To), team: req.Team, app: req.App,
		details: map[string]any{"from": req.From, "to": req.To}}
	if job != 0 {
		c.details["job"] = job
	}
	if req.train != 0 {
		c.details["trainRun"] = req.train
	}
	allow := func() error {
		if job != 0 || req.train != 0 {
			return nil
		}
		if to.Protected { // the approver is checked when approving
			return authz.Check(p, authz.AppDeploy, authz.Resource{Team: req.Team})
		}
		return checkDeploy(p, req.Team, to)
	}
	var d berth.Deploy
	err = s.mutate(ctx, p, &c, allow, func(tx *store.Tx) error {
		app, err := tx.App(ctx, req.Team, req.App)
		if err != nil {
			return err
		}
		var src berth.Deploy
		if req.Source != 0 {
			if src, err = tx.Deploy(ctx, req.Source); err != nil {
				return err
			}
			if src.AppID != app.ID || src.Env != req.From || src.State != berth.DeploySucceeded {
				return invalid("source", "deploy %d is not a successful deploy of %s/%s in %s", src.ID, req.Team, req.App, req.From)
			}
		} else {
			src, err = tx.LastSucceeded(ctx, app.ID, req.From, 0)
			if errors.Is(err, berth.ErrNotFound) {
				return invalid("from", "%s/%s has no successful deploy in %s to promote", req.Team, req.App, req.From)
			}
			if err != nil {
				return err
			}
		}
		r, err := tx.Revision(ctx, req.Team, req.App, src.Revision)
		if err != nil {
			return err
		}
		if err := checkRender(ctx, tx, req.Team, req.App, req.To, "berth.yaml", r.Manifest, src.Args); err != nil {
			return err
		}
		d, err = tx.EnqueueDeploy(ctx, berth.NewDeploy{Team: req.Team, App: req.App, Env: req.To, Revision: src.Revision,
			Kind: berth.KindPromotion, Args: maps.Clone(src.Args), Options: req.Options, CreatedBy: p.Name,
			PromotedFrom: src.ID, Images: src.Images, AwaitApproval: to.Protected})
		c.details["source"], c.details["revision"], c.details["deploy"] = src.ID, src.Revision, d.ID
		c.details["awaitingApproval"] = to.Protected
		if err == nil && req.queued != nil {
			err = req.queued(tx, d)
		}
		return err
	})
	if err == nil && !to.Protected {
		s.notifyWorkers()
	}
	return d, err
}

// PromoteFromGit queues the promotion a git rule asks for after a tag's deploy succeeded
// (tags.promote): the connection is its authority; into a protected environment it waits
// for an approval like any other.
func (s *Service) PromoteFromGit(ctx context.Context, f berth.Forge, job int64, req PromoteRequest) (berth.Deploy, error) {
	return s.promote(ctx, hookActor(f), req, job)
}

// maxReason bounds an approval's reason.
const maxReason = 1000

// Decide approves or rejects (decision berth.Approved or berth.Rejected) a deploy awaiting
// approval, with a reason: only an admin of its team or an allowed deployer of its
// environment may, and never the one who asked for it. An approved deploy is queued; a
// rejected one fails with the reason. The decision, its author and reason are audited.
func (s *Service) Decide(ctx context.Context, p *authz.Principal, id int64, decision, reason string) (berth.Deploy, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case decision != berth.Approved && decision != berth.Rejected:
		return berth.Deploy{}, invalid("decision", "%q: want approved or rejected", decision)
	case reason == "":
		return berth.Deploy{}, invalid("reason", "required: say why, for the audit log")
	case len(reason) > maxReason:
		return berth.Deploy{}, invalid("reason", "at most %d bytes", maxReason)
	}
	d, err := s.st.Deploy(ctx, id)
	if err != nil {
		return berth.Deploy{}, storeErr(err)
	}
	env, err := s.st.Environment(ctx, d.Env)
	if err != nil {
		return berth.Deploy{}, storeErr(err)
	}
	action := "deploy.approve"
	if decision == berth.Rejected {
		action = "deploy.reject"
	}
	c := change{action: action, target: berth.AppTarget(d.Team, d.App, d.Env), team: d.Team, app: d.App,
		details: map[string]any{"deploy": d.ID, "reason": reason, "requestedBy": d.CreatedBy}}
	allow := func() error {
		if err := checkDeploy(p, d.Team, env); err != nil {
			return err
		}
		if p != nil && p.Name == d.CreatedBy {
			return &authz.Denied{Action: authz.AppDeploy, Team: d.Team,
				Reason: fmt.Sprintf("%s asked for deploy %d: another allowed deployer approves it", p.Name, d.ID)}
		}
		return nil
	}
	var out berth.Deploy
	err = s.mutate(ctx, p, &c, allow, func(tx *store.Tx) (err error) {
		if decision == berth.Approved {
			// A freeze that began while it waited holds it, unless it was asked for as an
			// emergency (audited when it was).
			if _, err := tx.CheckFreeze(ctx, d); err != nil {
				return err
			}
		}
		if out, err = tx.DecideApproval(ctx, id, decision, p.Name, reason); err != nil {
			return err
		}
		// An event, so whoever follows the deploy (its chat message) sees the decision.
		_, err = tx.AddDeployEvent(ctx, berth.DeployEvent{DeployID: id, Phase: decision, Message: decision + " by " + p.Name + ": " + reason})
		return err
	})
	if err == nil && decision == berth.Approved {
		s.notifyWorkers()
	}
	return out, err
}

// Approval returns the approval a deploy awaits or had (viewers of its team).
func (s *Service) Approval(ctx context.Context, p *authz.Principal, d berth.Deploy) (berth.Approval, error) {
	if err := authz.Check(p, authz.AppRead, authz.Resource{Team: d.Team}); err != nil {
		return berth.Approval{}, err
	}
	a, err := s.st.Approval(ctx, d.ID)
	return a, storeErr(err)
}

// MayDecide reports (nil, or why not) whether p may approve or reject d: what the
// dashboard asks before offering the buttons; Decide asks again.
func (s *Service) MayDecide(ctx context.Context, p *authz.Principal, d berth.Deploy) error {
	if err := s.MayDeploy(ctx, p, d.Team, d.Env); err != nil {
		return err
	}
	if p != nil && p.Name == d.CreatedBy {
		return &authz.Denied{Action: authz.AppDeploy, Team: d.Team, Reason: "you asked for it: another allowed deployer approves it"}
	}
	return nil
}

// Approvals lists the deploys awaiting approval that p may see (viewers of their team),
// of team and env when given, oldest first.
func (s *Service) Approvals(ctx context.Context, p *authz.Principal, team, env string) ([]berth.Deploy, []berth.Approval, error) {
	ds, err := s.st.Deploys(ctx, store.DeployFilter{Team: team, Env: env, States: []berth.DeployState{berth.DeployAwaiting}, Limit: 500})
	if err != nil {
		return nil, nil, storeErr(err)
	}
	var out []berth.Deploy
	var as []berth.Approval
	for i := len(ds) - 1; i >= 0; i-- {
		d := ds[i]
		if authz.Check(p, authz.AppRead, authz.Resource{Team: d.Team}) != nil {
			continue
		}
		a, err := s.st.Approval(ctx, d.ID)
		if err != nil {
			return nil, nil, storeErr(err)
		}
		out, as = append(out, d), append(as, a)
	}
	return out, as, nil
}
