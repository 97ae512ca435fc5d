package service

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// ClusterEventQuery selects the stored Kubernetes events of one app.
type ClusterEventQuery struct {
	Team, App string
	// Env, Type and Since narrow the list: one environment, Normal or Warning, last seen
	// at or after Since.
	Env, Type string
	Since     time.Time
	// Limit keeps the newest Limit (0: berth.MaxClusterEvents).
	Limit int
}

// ClusterEvents lists the Kubernetes events Berth kept about an app's objects, oldest
// first (viewers and up of the app's team).
func (s *Service) ClusterEvents(ctx context.Context, p *authz.Principal, q ClusterEventQuery) ([]berth.ClusterEvent, error) {
	if err := authz.Check(p, authz.AppRead, authz.Resource{Team: q.Team}); err != nil {
		return nil, err
	}
	switch q.Type {
	case "", berth.EventNormal, berth.EventWarning:
	default:
		return nil, invalid("type", "%q is not an event type: use Normal or Warning", q.Type)
	}
	if q.Limit < 0 || q.Limit > berth.MaxClusterEvents {
		return nil, invalid("limit", "must be 1 to %d", berth.MaxClusterEvents)
	}
	if _, err := s.st.App(ctx, q.Team, q.App); err != nil {
		return nil, storeErr(err)
	}
	if q.Env != "" {
		if _, err := s.st.Environment(ctx, q.Env); err != nil {
			return nil, storeErr(err)
		}
	}
	return s.st.ClusterEvents(ctx, berth.ClusterEventFilter{Team: q.Team, App: q.App, Env: q.Env, Type: q.Type,
		Since: q.Since, Limit: q.Limit})
}

// DeployClusterEvents lists the Kubernetes events about the app's objects in the deploy's
// environment that happened while the deploy ran — from its start to its end, or to now
// while it runs — oldest first.
func (s *Service) DeployClusterEvents(ctx context.Context, p *authz.Principal, id int64) (berth.Deploy, []berth.ClusterEvent, error) {
	d, err := s.GetDeploy(ctx, p, id)
	if err != nil {
		return berth.Deploy{}, nil, err
	}
	if d.StartedAt.IsZero() {
		return d, nil, nil // queued: nothing happened yet
	}
	until := d.FinishedAt
	if until.IsZero() {
		until = s.now()
	}
	// Most events carry whole seconds: one in the second the deploy started is its own.
	evs, err := s.st.ClusterEvents(ctx, berth.ClusterEventFilter{Team: d.Team, App: d.App, Env: d.Env,
		Since: d.StartedAt.Truncate(time.Second), Until: until})
	return d, evs, err
}

// EventWatcher watches the Kubernetes events of a namespace; internal/kube's Pool is one.
type EventWatcher interface {
	// WatchEvents calls handle with each event in namespace of env's cluster — those there
	// now, then each added or updated — until ctx ends.
	WatchEvents(ctx context.Context, env berth.Environment, namespace string, handle func(berth.ClusterEvent)) error
}

// EventKeeping bounds what KeepClusterEvents keeps, and paces it.
type EventKeeping struct {
	// MaxPerApp is how many events of each app in each environment are kept, the newest.
	MaxPerApp int
	// MaxAge drops events last seen longer ago; 0 keeps them until MaxPerApp newer ones.
	MaxAge time.Duration
	// Every is how often the namespaces to watch are looked up again (10s when zero); old
	// events are pruned every sixth time.
	Every time.Duration
}

// Batches of events are saved together, at most this many or this often.
const (
	eventBatch      = 256
	eventBatchEvery = time.Second
)

// KeepClusterEvents keeps the Kubernetes events of the apps' objects in the store, past
// the cluster's own retention, until ctx ends: it watches the events of every namespace an
// app was deployed into, in each environment's cluster (looked up again every k.Every),
// stores those about an app's objects (see berth.ObjectApp), once per event however often
// it is seen, and bounds them per app and environment by k.MaxPerApp and k.MaxAge. Several
// servers may run it on one database.
func (s *Service) KeepClusterEvents(ctx context.Context, w EventWatcher, k EventKeeping) error {
	if k.MaxPerApp <= 0 {
		return invalid("maxPerApp", "must be positive, not %d", k.MaxPerApp)
	}
	if k.Every <= 0 {
		k.Every = 10 * time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	incoming := make(chan berth.ClusterEvent, eventBatch)
	var running sync.WaitGroup
	defer running.Wait()
	defer cancel()
	running.Go(func() { s.saveClusterEvents(ctx, incoming, k) })

	watches := map[watchKey]*eventWatch{}
	tick := time.NewTicker(k.Every)
	defer tick.Stop()
	for {
		if err := s.reconcileEventWatches(ctx, w, watches, incoming, &running); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "look up the namespaces to watch events in", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// watchKey is one namespace of one environment.
type watchKey struct{ env, namespace string }

// eventWatch is one namespace watched.
type eventWatch struct {
	cancel context.CancelFunc
	done   chan struct{}
	// conn is how the environment's cluster was reached, to restart on a change.
	conn string
	// apps maps the names of the apps deployed into the namespace to their teams.
	apps atomic.Pointer[map[string]string]
}

func envConn(e berth.Environment) string {
	return fmt.Sprintf("%s|%s|%t", e.Kubeconfig, e.Context, e.InCluster)
}

// reconcileEventWatches watches the namespaces apps were deployed into, and only those.
func (s *Service) reconcileEventWatches(ctx context.Context, w EventWatcher, watches map[watchKey]*eventWatch,
	out chan<- berth.ClusterEvent, running *sync.WaitGroup) error {
	envs, err := s.st.Environments(ctx)
	if err != nil {
		return err
	}
	byName := map[string]berth.Environment{}
	for _, e := range envs {
		byName[e.Name] = e
	}
	latest, err := s.st.LatestDeploys(ctx, "", false)
	if err != nil {
		return err
	}
	want := map[watchKey]map[string]string{}
	for _, d := range latest {
		e, ok := byName[d.Env]
		if !ok {
			continue
		}
		key := watchKey{e.Name, e.Namespace(d.Team, d.App)}
		if want[key] == nil {
			want[key] = map[string]string{}
		}
		want[key][d.App] = d.Team
	}
	for key, ew := range watches {
		ended := false
		select {
		case <-ew.done:
			ended = true
		default:
		}
		if _, ok := want[key]; !ok || ended || ew.conn != envConn(byName[key.env]) {
			ew.cancel()
			<-ew.done
			delete(watches, key)
		}
	}
	for _, key := range slices.SortedFunc(maps.Keys(want), func(a, b watchKey) int {
		return cmp.Or(cmp.Compare(a.env, b.env), cmp.Compare(a.namespace, b.namespace))
	}) {
		apps := want[key]
		if ew, ok := watches[key]; ok {
			ew.apps.Store(&apps)
			continue
		}
		env := byName[key.env]
		wctx, cancel := context.WithCancel(ctx)
		ew := &eventWatch{cancel: cancel, done: make(chan struct{}), conn: envConn(env)}
		ew.apps.Store(&apps)
		watches[key] = ew
		running.Go(func() {
			defer close(ew.done)
			err := w.WatchEvents(wctx, env, key.namespace, func(ev berth.ClusterEvent) {
				m := *ew.apps.Load()
				app := berth.ObjectApp(ev.Object, slices.Collect(maps.Keys(m)))
				if app == "" {
					return
				}
				ev.Env, ev.Team, ev.App = key.env, m[app], app
				select {
				case out <- ev:
				case <-wctx.Done():
				}
			})
			if err != nil && wctx.Err() == nil {
				s.log.WarnContext(wctx, "watch events", "env", key.env, "namespace", key.namespace, "err", err)
			}
		})
	}
	return nil
}

// saveClusterEvents stores the events from in in batches, keeping each app's newest
// k.MaxPerApp, and prunes old events now and then, until ctx ends.
func (s *Service) saveClusterEvents(ctx context.Context, in <-chan berth.ClusterEvent, k EventKeeping) {
	var batch []berth.ClusterEvent
	tick := time.NewTicker(eventBatchEvery)
	defer tick.Stop()
	lastPrune := time.Time{}
	save := func() {
		if len(batch) == 0 {
			return
		}
		type app struct{ env, team, name string }
		touched := map[app]bool{}
		for _, ev := range batch {
			touched[app{ev.Env, ev.Team, ev.App}] = true
		}
		err := s.st.Tx(ctx, func(tx *store.Tx) error {
			if _, err := tx.SaveClusterEvents(ctx, batch); err != nil {
				return err
			}
			for a := range touched {
				if _, err := tx.TrimClusterEvents(ctx, a.env, a.team, a.name, k.MaxPerApp); err != nil {
					return err
				}
			}
			return nil
		})
		switch {
		case errors.Is(err, berth.ErrNotFound): // an environment deleted meanwhile
		case err != nil && ctx.Err() == nil:
			s.log.WarnContext(ctx, "save cluster events", "events", len(batch), "err", err)
		}
		batch = batch[:0]
	}
	prune := func() {
		var before time.Time
		if k.MaxAge > 0 {
			before = s.now().Add(-k.MaxAge)
		}
		err := s.st.Tx(ctx, func(tx *store.Tx) error {
			_, err := tx.PruneClusterEvents(ctx, before)
			return err
		})
		if err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "prune cluster events", "err", err)
		}
		lastPrune = s.now()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-in:
			batch = append(batch, ev)
			if len(batch) >= eventBatch {
				save()
			}
		case <-tick.C:
			save()
			if s.now().Sub(lastPrune) >= 6*k.Every {
				prune()
			}
		}
	}
}
