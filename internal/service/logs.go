package service

import (
	"context"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/manifest"
	"github.com/berth-dev/berth/internal/store"
)

// Logs streams what an app's pods write and what the cluster says about its objects;
// internal/kube's Pool is one.
type Logs interface {
	// AppLogs sends the logs of the pods q selects in namespace of env's cluster, and the
	// events of the objects q.Events accepts, to emit in time order, until they end (or,
	// with q.Follow, until ctx ends).
	AppLogs(ctx context.Context, env berth.Environment, namespace string, q berth.LogQuery, emit func(berth.LogRecord) error) error
}

// SetLogs connects what OpenLogs streams logs with.
func (s *Service) SetLogs(l Logs) { s.logs = l }

// LogRequest asks for an app's logs in one environment.
type LogRequest struct {
	Team, App, Env string
	// Pod and Container narrow the stream to one pod, one container.
	Pod, Container string
	// Since starts at this time; Tail with each container's last Tail lines (and the
	// newest Tail events). Tail below 0 is the default: berth.DefaultLogTail lines, or
	// every line since Since (up to berth.MaxLogTail).
	Since time.Time
	Tail  int
	// Previous reads the previous instance of each container (the one that crashed).
	Previous bool
	// Follow goes on with new lines, new pods and new events until the stream's context
	// ends or the server shuts down.
	Follow bool
}

// LogStream runs an opened log stream, calling emit with each record; see OpenLogs.
type LogStream func(ctx context.Context, emit func(berth.LogRecord) error) error

// dnsName is what pod and container names are: DNS labels and subdomains.
var dnsName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`)

// OpenLogs checks a request for an app's logs — the caller may read the app's team
// (viewers and up), the app was deployed to the environment, the request is in bounds —
// and returns the stream, which reads the cluster only when run. Errors of the cluster
// come from the stream: a client has its answer started by then.
func (s *Service) OpenLogs(ctx context.Context, p *authz.Principal, req LogRequest) (LogStream, error) {
	switch {
	case req.Tail > berth.MaxLogTail:
		return nil, invalid("tail", "at most %d lines per container, not %d", berth.MaxLogTail, req.Tail)
	case req.Previous && req.Follow:
		return nil, invalid("previous", "the previous instance of a container writes nothing more: it cannot be followed (drop follow)")
	case req.Pod != "" && !dnsName.MatchString(req.Pod):
		return nil, invalid("pod", "%q is not a pod name", req.Pod)
	case req.Container != "" && !dnsName.MatchString(req.Container):
		return nil, invalid("container", "%q is not a container name", req.Container)
	}
	env, ns, err := s.deployedApp(ctx, p, req.Team, req.App, req.Env)
	if err != nil {
		return nil, err
	}
	tail := req.Tail
	if tail < 0 {
		tail = berth.DefaultLogTail
		if !req.Since.IsZero() {
			tail = berth.MaxLogTail
		}
	}
	apps, err := s.namespaceApps(ctx, env, ns)
	if err != nil {
		return nil, err
	}
	q := berth.LogQuery{
		Selector: map[string]string{manifest.LabelName: req.App, manifest.LabelEnv: req.Env, manifest.LabelManagedBy: manifest.ManagedBy},
		Pod:      req.Pod, Container: req.Container, Since: req.Since, Tail: tail, Previous: req.Previous, Follow: req.Follow,
		Events: func(object string) bool { return berth.ObjectApp(object, apps) == req.App },
	}
	return func(ctx context.Context, emit func(berth.LogRecord) error) error {
		if s.logs == nil {
			return fmt.Errorf("this server does not read clusters: %w", berth.ErrUnavailable)
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			select {
			case <-s.streams.done():
				cancel()
			case <-ctx.Done():
			}
		}()
		if err := s.logs.AppLogs(ctx, env, ns, q, emit); err != nil {
			return fmt.Errorf("logs of %s/%s in %s: %w", req.Team, req.App, req.Env, err)
		}
		return nil
	}, nil
}

// deployedApp checks that p may read team's app and that it was deployed to env, and
// returns env and the app's namespace there.
func (s *Service) deployedApp(ctx context.Context, p *authz.Principal, team, app, env string) (berth.Environment, string, error) {
	if err := authz.Check(p, authz.AppRead, authz.Resource{Team: team}); err != nil {
		return berth.Environment{}, "", err
	}
	if env == "" {
		return berth.Environment{}, "", invalid("env", "required: name the environment")
	}
	if _, err := s.st.App(ctx, team, app); err != nil {
		return berth.Environment{}, "", storeErr(err)
	}
	e, err := s.st.Environment(ctx, env)
	if err != nil {
		return berth.Environment{}, "", storeErr(err)
	}
	ds, err := s.st.Deploys(ctx, store.DeployFilter{Team: team, App: app, Env: env, Limit: 1})
	if err != nil {
		return berth.Environment{}, "", err
	}
	if len(ds) == 0 {
		return berth.Environment{}, "", fmt.Errorf("%s/%s was never deployed to %s: %w", team, app, env, berth.ErrNotFound)
	}
	return e, e.Namespace(team, app), nil
}

// namespaceApps are the names of the apps deployed into namespace of env: those an event's
// object may belong to (see berth.ObjectApp).
func (s *Service) namespaceApps(ctx context.Context, env berth.Environment, namespace string) ([]string, error) {
	latest, err := s.st.LatestDeploys(ctx, "", false)
	if err != nil {
		return nil, err
	}
	var apps []string
	for _, d := range latest {
		if d.Env == env.Name && env.Namespace(d.Team, d.App) == namespace {
			apps = append(apps, d.App)
		}
	}
	return apps, nil
}

// EndStreams ends the log streams that follow, now and from now on: the server calls it
// when it shuts down, as those streams would otherwise hold the shutdown up until its
// timeout.
func (s *Service) EndStreams() { s.streams.stop() }

// stopper is closed once, to end streams; its zero value is open.
type stopper struct {
	mu sync.Mutex
	ch chan struct{}
}

func (st *stopper) done() <-chan struct{} {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.chanLocked()
}

func (st *stopper) stop() {
	st.mu.Lock()
	defer st.mu.Unlock()
	ch := st.chanLocked()
	select {
	case <-ch:
	default:
		close(ch)
	}
}

func (st *stopper) chanLocked() chan struct{} {
	if st.ch == nil {
		st.ch = make(chan struct{})
	}
	return st.ch
}
