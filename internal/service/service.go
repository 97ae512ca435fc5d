// Package service holds Berth's use cases: every request from the API, dashboard, chat or
// webhooks becomes a call here, which checks authorization (through authz), changes the
// store and writes exactly one audit event in the same transaction.
package service

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/seal"
	"github.com/berth-dev/berth/internal/store"
)

// Service is the set of use cases. It uses the store directly rather than through an
// interface: transactions are closures over *store.Tx, and the store is ours, with real
// SQLite and PostgreSQL in every test, so an interface would only add a second copy.
type Service struct {
	st     *store.Store
	log    *slog.Logger
	now    func() time.Time
	notify Notifier
	// hooks registers webhooks; publicURL is where the forges reach this server.
	hooks     Hooks
	publicURL string
	// notifyGitJobs wakes the git job workers when a webhook queued work.
	notifyGitJobs Notifier
	// notifyGitOps wakes the watcher of GitOps pull requests when a platform repository's
	// webhook said one was closed.
	notifyGitOps Notifier
	// notifyTrain wakes the train's scheduler when a departure was delayed or sent off.
	notifyTrain Notifier
	live        Live
	// remover removes what Berth applied for an app from its clusters, when deleting it.
	remover Remover
	// claims deletes the claims of deleted volume resources.
	claims Claims
	// pg checks the PostgreSQL servers registered for environments and drops the
	// databases of deleted postgres resources.
	pg PostgresAdmin
	// smoker runs smoke tests on demand.
	smoker Smoker
	// logs streams apps' logs and cluster events; streams ends those streams when the
	// server shuts down.
	logs    Logs
	streams stopper
	// signals reads apps' golden signals from Prometheus (signals.go).
	signals SignalReader
	// notifyBackups wakes the backup engine when a backup, restore or drill was queued;
	// storeCheck checks backup stores before they are saved.
	notifyBackups Notifier
	storeCheck    BackupStoreChecker
	// notifyProbes wakes the probe runner when a run was queued or its report came in.
	notifyProbes Notifier
	// refusals bounds the audit events of refused chat requests, which anyone on the
	// internet can send.
	refusals refusalLimiter
}

// New returns a Service on st. now is the clock (time.Now outside tests).
func New(st *store.Store, log *slog.Logger, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{st: st, log: log, now: now}
}

// Now is the service's clock: what token expiry and sessions are judged by.
func (s *Service) Now() time.Time { return s.now() }

// change describes a mutating call for its audit event; the transaction may add details
// it learns (a revision number) before the event is written.
type change struct {
	action    string
	target    string
	team, app string
	details   map[string]any
}

// mutate runs one mutating call: the authorization decision, then fn and the call's audit
// event in one transaction. A denial is audited too, in a transaction of its own, since the
// refused change writes nothing else. Invalid input and conflicts write nothing at all.
func (s *Service) mutate(ctx context.Context, p *authz.Principal, c *change, allow func() error, fn func(tx *store.Tx) error) error {
	if err := allow(); err != nil {
		var denied *authz.Denied
		if errors.As(err, &denied) {
			s.audit(ctx, p, c, berth.OutcomeDenied)
		}
		return err
	}
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		_, err := tx.AppendAudit(ctx, s.event(ctx, p, c, berth.OutcomeSuccess))
		return err
	})
	return storeErr(err)
}

// AuditDenied records a mutating call refused before it reached a use case (by the
// route-level check of an entry point).
func (s *Service) AuditDenied(ctx context.Context, p *authz.Principal, action, target string) {
	s.audit(ctx, p, &change{action: action, target: target}, berth.OutcomeDenied)
}

func (s *Service) audit(ctx context.Context, p *authz.Principal, c *change, outcome berth.Outcome) {
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		_, err := tx.AppendAudit(ctx, s.event(ctx, p, c, outcome))
		return err
	})
	if err != nil {
		s.log.ErrorContext(ctx, "write audit event", "action", c.action, "target", c.target, "outcome", outcome, "err", err)
	}
}

func (s *Service) event(ctx context.Context, p *authz.Principal, c *change, outcome berth.Outcome) berth.AuditEvent {
	actor := "system"
	if p != nil {
		actor = p.Name
	}
	return berth.AuditEvent{
		Actor: actor, Action: c.action, Target: c.target, Team: c.team, App: c.app,
		RequestID: requestIDFrom(ctx), Outcome: outcome, Details: c.details,
	}
}

// storeErr marks the store's secrets-key problems (no key, or another one) as
// berth.ErrUnavailable, keeping their message; every other error of the store already
// wraps the domain's sentinels.
func storeErr(err error) error {
	var wrongKey *seal.WrongKeyError
	if errors.Is(err, seal.ErrNoKey) || errors.As(err, &wrongKey) {
		return &unavailable{err}
	}
	return err
}

// unavailable keeps a key problem's message under berth.ErrUnavailable.
type unavailable struct{ err error }

func (u *unavailable) Error() string   { return u.err.Error() }
func (u *unavailable) Unwrap() []error { return []error{berth.ErrUnavailable, u.err} }

func allowed(p *authz.Principal, a authz.Action, r authz.Resource) func() error {
	return func() error { return authz.Check(p, a, r) }
}
