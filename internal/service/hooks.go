package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/forge"
	"github.com/berth-dev/berth/internal/store"
)

// ErrBodyTooLarge refuses a request body over its limit, unread past it.
var ErrBodyTooLarge = errors.New("request body too large")

// HookReceipt says what Berth did with a webhook delivery.
type HookReceipt struct {
	Forge    berth.Forge
	Delivery string
	Event    berth.GitEvent
	// Jobs are the jobs queued, one per connected app the delivery's signature verified for;
	// none when Berth does not act on the event (Ignored says why).
	Jobs []berth.GitJob
	// Envs are the environments whose platform repository (GitOps output) the delivery's
	// signature verified for, when it closed a pull request there: their pull requests
	// are looked at now.
	Envs    []string
	Ignored string
}

// SetGitOpsNotifier connects what looks at the pull requests of GitOps output (the
// engine's watcher) when a platform repository's webhook says one was closed; without
// one, they are found by polling.
func (s *Service) SetGitOpsNotifier(n Notifier) { s.notifyGitOps = n }

func (s *Service) notifyPullRequests() {
	if s.notifyGitOps != nil {
		s.notifyGitOps.Notify()
	}
}

// hookRefusal is a delivery refused for its credentials: ErrUnauthenticated, with its own
// message (not the API token's).
type hookRefusal struct{ msg string }

func (e *hookRefusal) Error() string        { return e.msg }
func (e *hookRefusal) Is(target error) bool { return target == berth.ErrUnauthenticated }

func refusedf(format string, args ...any) error { return &hookRefusal{fmt.Sprintf(format, args...)} }

// hookActor is who a webhook's audit events name: the forge, as signed by a connection's
// secret; it holds no role, and the connection made by a team admin is its authority.
func hookActor(f berth.Forge) *authz.Principal { return &authz.Principal{Name: "webhook:" + string(f)} }

// ReceiveHook takes a forge's webhook delivery: headers h and body, read here to at most
// forge.MaxBody. It is the one way in for deliveries, of app repositories and of the
// platform repositories of GitOps output alike:
//
//  1. a body over the limit is refused (ErrBodyTooLarge), unread past it;
//  2. the signature must be the HMAC-SHA256 of the body, compared in constant time, with
//     the secret of a connection of the repository the body names, or with the webhook
//     secret of an environment whose GitOps output goes to it; none verifies:
//     berth.ErrUnauthenticated;
//  3. an event Berth does not act on is answered and nothing is written: of a platform
//     repository, Berth acts only on a closed pull request (merged or not);
//  4. otherwise the delivery id is taken (a replay: berth.ErrConflict), a job queued per
//     app whose secret verified, and the delivery audited per app and per environment, in
//     one transaction, so the work is done once even when the server dies right after
//     answering. A closed pull request of a platform repository then wakes the watcher
//     of GitOps pull requests, which asks the forge what became of each: the body says
//     when to look, never what is there.
//
// Refusals change nothing but the audit log, where each is a denied hook.receive.
func (s *Service) ReceiveHook(ctx context.Context, f berth.Forge, h http.Header, body io.Reader) (HookReceipt, error) {
	out := HookReceipt{Forge: f}
	if !f.Valid() {
		return out, fmt.Errorf("no webhook endpoint for forge %q (there are /hooks/gitea and /hooks/github): %w", f, berth.ErrNotFound)
	}
	p := hookActor(f)
	deny := func(repo, why string, err error) error {
		target := "hook:" + string(f)
		if repo != "" {
			target += ":" + repo
		}
		s.audit(ctx, p, &change{action: "hook.receive", target: target,
			details: map[string]any{"delivery": out.Delivery, "refused": why}}, berth.OutcomeDenied)
		return err
	}
	raw, err := io.ReadAll(io.LimitReader(body, forge.MaxBody+1))
	if err != nil {
		return out, fmt.Errorf("read webhook body: %w", err)
	}
	if len(raw) > forge.MaxBody {
		return out, deny("", "body over the limit", fmt.Errorf("a webhook body is at most %d bytes: %w", forge.MaxBody, ErrBodyTooLarge))
	}
	d, err := forge.ReadDelivery(f, h)
	if len(d.ID) <= 200 {
		out.Delivery = d.ID
	}
	if err != nil {
		return out, deny("", "bad headers", refusedf("%s webhook: %v", f, err))
	}
	repo, err := forge.RepoName(raw)
	if err != nil {
		return out, deny("", "no repository", refusedf("%s webhook: %v", f, err))
	}
	if _, err := berth.RepoOf("https://forge/" + repo); err != nil {
		return out, deny("", "bad repository name", refusedf("%s webhook: the body's repository is not OWNER/NAME", f))
	}
	conns, err := s.st.RepoConnections(ctx, f, repo)
	if err != nil {
		return out, storeErr(err)
	}
	var apps []berth.AppRepo
	for _, c := range conns {
		sec, err := s.st.RepoSecrets(ctx, c.Team, c.App)
		if err != nil {
			return out, storeErr(err)
		}
		if d.Verify(raw, sec.HookSecret) {
			apps = append(apps, c)
		}
	}
	platforms, err := s.st.GitOpsHookSecrets(ctx, f, repo)
	if err != nil {
		return out, storeErr(err)
	}
	var envs []string
	for _, ps := range platforms {
		if d.Verify(raw, ps.Secret) {
			envs = append(envs, ps.Env)
		}
	}
	if len(apps) == 0 && len(envs) == 0 {
		return out, deny(repo, "signature", refusedf("%s webhook for %s: the signature matches the secret of no app connected to it, "+
			"nor of an environment publishing to it", f, repo))
	}
	ev, err := d.Parse(raw)
	if err != nil {
		// Signed, so the forge's own doing: say so, and change nothing.
		return out, invalid("body", "%s %s delivery: %v", f, d.Event, err)
	}
	ev.Repo = repo
	out.Event = ev
	if !ev.Acts() {
		apps = nil
	}
	platform := envs
	if ev.Kind != berth.GitPullRequest || ev.Action != "closed" {
		envs = nil
	}
	if len(apps) == 0 && len(envs) == 0 {
		switch {
		case ev.Deleted:
			out.Ignored = "the push deleted " + ev.Ref
		case !ev.Acts() || len(platform) == 0:
			out.Ignored = fmt.Sprintf("Berth does not act on %s %s events", f, d.Event)
		default:
			out.Ignored = fmt.Sprintf("%s is the platform repository of %s, where Berth acts only on closed pull requests",
				repo, strings.Join(platform, ", "))
		}
		return out, nil
	}
	err = s.st.Tx(ctx, func(tx *store.Tx) error {
		sum := sha256.Sum256(raw)
		if err := tx.TakeDelivery(ctx, f, d.ID, hex.EncodeToString(sum[:])); err != nil {
			return err
		}
		for _, a := range apps {
			j, err := tx.EnqueueGitJob(ctx, a.Team, a.App, f, d.ID, ev)
			if err != nil {
				return err
			}
			out.Jobs = append(out.Jobs, j)
			c := change{action: "hook.receive", target: berth.AppTarget(a.Team, a.App, ""), team: a.Team, app: a.App,
				details: map[string]any{"delivery": d.ID, "event": string(ev.Kind), "ref": ev.Ref, "sha": ev.SHA, "pr": ev.PR, "job": j.ID}}
			if _, err := tx.AppendAudit(ctx, s.event(ctx, p, &c, berth.OutcomeSuccess)); err != nil {
				return err
			}
		}
		for _, env := range envs {
			c := change{action: "hook.receive", target: "env/" + env,
				details: map[string]any{"delivery": d.ID, "event": string(ev.Kind), "action": ev.Action, "repo": repo, "pr": ev.PR}}
			if _, err := tx.AppendAudit(ctx, s.event(ctx, p, &c, berth.OutcomeSuccess)); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, berth.ErrConflict) {
		return HookReceipt{Forge: f, Delivery: out.Delivery}, deny(repo, "replayed delivery", err)
	}
	if err != nil {
		return HookReceipt{Forge: f, Delivery: out.Delivery}, storeErr(err)
	}
	out.Envs = envs
	if len(out.Jobs) > 0 {
		s.notifyGit()
	}
	if len(envs) > 0 {
		s.notifyPullRequests()
	}
	return out, nil
}
