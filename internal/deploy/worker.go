package deploy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// Options tune a Worker.
type Options struct {
	// Workers is how many deploys this process runs at once.
	Workers int
	// Lease is how long a claim lasts without renewal; renewed every Lease/3.
	Lease time.Duration
	// Poll is how often idle workers look for queued deploys when not woken.
	Poll time.Duration
	// DefaultTimeout bounds a rollout when the deploy sets none.
	DefaultTimeout time.Duration
	// MaxAttempts fails a deploy that has been claimed this many times (its workers keep
	// dying on it) instead of trying forever.
	MaxAttempts int
	// Databases makes the databases of postgres resources; without it they fail the deploy.
	Databases Databases
	// Images looks images up; with it, a deploy from git waits up to ImageWait (0: 5
	// minutes) for its images to be in their registries before applying.
	Images    Images
	ImageWait time.Duration
	// GitOps writes the objects of deploys to environments with GitOps output; without
	// it their deploys fail, saying so.
	GitOps GitOps
	// Rules hands each deploy's alert rules to the Prometheus watching its environment;
	// without it the rules stay in the app's rules ConfigMap only.
	Rules Rules
	// AlertScale divides the time windows of rendered alert rules (manifest.RenderOptions):
	// 0 for real ones; tests shorten them.
	AlertScale float64
}

// check fills in the tunings `berth server` has no flags for and refuses the others when
// unset: their defaults are the flags' (internal/cli), written once.
func (o *Options) check() error {
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	switch {
	case o.Workers < 0:
		return fmt.Errorf("deploy engine: %d workers", o.Workers)
	case o.Lease <= 0:
		return fmt.Errorf("deploy engine: lease %v must be positive", o.Lease)
	case o.DefaultTimeout <= 0:
		return fmt.Errorf("deploy engine: default rollout timeout %v must be positive", o.DefaultTimeout)
	}
	return nil
}

// Engine runs deploys.
type Engine struct {
	st       *store.Store
	clusters Clusters
	log      *slog.Logger
	o        Options
	id       string
	wake     chan struct{}
	// prWake wakes WatchPullRequests (NotifyPullRequests).
	prWake chan struct{}
}

// New returns an Engine. Its workers are named after the host and process, so leases say
// who holds them.
func New(st *store.Store, clusters Clusters, log *slog.Logger, o Options) (*Engine, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return &Engine{st: st, clusters: clusters, log: log, o: o,
		id: fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b)), wake: make(chan struct{}, 1),
		prWake: make(chan struct{}, 1)}, nil
}

// Notify wakes an idle worker: a deploy was queued.
func (e *Engine) Notify() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Run runs the workers until ctx ends. A deploy in flight when ctx ends is left running
// with its lease; another worker, here after a restart or in another replica, resumes it.
func (e *Engine) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for i := range e.o.Workers {
		wg.Go(func() { e.loop(ctx, fmt.Sprintf("%s/%d", e.id, i)) })
	}
	wg.Wait()
}

func (e *Engine) loop(ctx context.Context, owner string) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-e.wake:
		}
		for ctx.Err() == nil {
			d, ok, err := e.st.ClaimDeploy(ctx, owner, e.o.Lease)
			if err != nil {
				if ctx.Err() == nil {
					e.log.Error("claim deploy", "err", err)
				}
				break
			}
			if !ok {
				break
			}
			e.runLeased(ctx, d, owner)
			// Finishing may have unblocked the next deploy of the app; wake a sibling.
			e.Notify()
		}
		t.Reset(e.o.Poll)
	}
}

// runLeased runs d while renewing its lease; losing the lease cancels the run.
func (e *Engine) runLeased(ctx context.Context, d berth.Deploy, owner string) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		t := time.NewTicker(e.o.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := e.st.RenewLease(ctx, d.ID, owner, e.o.Lease); err != nil {
					if ctx.Err() == nil {
						e.log.Warn("lost deploy lease", "deploy", d.ID, "err", err)
						cancel(err)
					}
					return
				}
			}
		}
	}()
	log := e.log.With("deploy", d.ID, "team", d.Team, "app", d.App, "env", d.Env, "kind", d.Kind, "attempt", d.Attempts)
	log.Info("deploy started")
	r := run{e: e, d: d, owner: owner, log: log}
	var out outcome
	if d.Attempts > e.o.MaxAttempts {
		out = outcome{state: berth.DeployFailed, reason: fmt.Sprintf("gave up after %d attempts: the workers running it kept stopping", d.Attempts-1)}
	} else {
		out = r.execute(ctx)
	}
	if out.abandon || ctx.Err() != nil {
		// Shutdown or lost lease: the deploy is not ours to finish. Whoever holds it next
		// resumes from the start, which is safe (render is pure, apply idempotent).
		log.Info("deploy interrupted", "cause", context.Cause(ctx))
		return
	}
	if err := r.finish(context.WithoutCancel(ctx), out); err != nil && !errors.Is(err, berth.ErrLeaseLost) {
		log.Error("finish deploy", "err", err)
	}
}
