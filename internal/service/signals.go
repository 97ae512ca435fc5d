package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/manifest"
)

// SignalReader reads apps' golden signals from the Prometheus watching the environments;
// internal/prom's Client is one.
type SignalReader interface {
	// Signals reads the series q asks for, in berth.SignalNames order.
	Signals(ctx context.Context, q berth.SignalQuery) ([]berth.Series, error)
}

// SetSignals connects the Prometheus AppSignals reads from.
func (s *Service) SetSignals(r SignalReader) { s.signals = r }

// errNoPrometheus says the server reads no metrics; it matches berth.ErrUnavailable.
var errNoPrometheus = &unavailable{errors.New("this server has no Prometheus: start it with --prometheus-url")}

// AppSignals reads the golden signals of team's app in env over the last since (0: one
// hour): latency, traffic and errors when the revision running there declares its request
// metrics, CPU and memory against its containers' limits in any case. The caller may read
// the app's team (viewers and up); the app must have a successful deploy in env.
func (s *Service) AppSignals(ctx context.Context, p *authz.Principal, team, app, env string, since time.Duration) (berth.Signals, error) {
	if err := authz.Check(p, authz.AppRead, authz.Resource{Team: team}); err != nil {
		return berth.Signals{}, err
	}
	if since == 0 {
		since = berth.DefaultSignalsSince
	}
	switch {
	case env == "":
		return berth.Signals{}, invalid("env", "required: name the environment")
	case since < berth.MinSignalsSince || since > berth.MaxSignalsSince:
		return berth.Signals{}, invalid("since", "must be from 1m to 7d, not %s", since)
	}
	a, err := s.st.App(ctx, team, app)
	if err != nil {
		return berth.Signals{}, storeErr(err)
	}
	e, err := s.st.Environment(ctx, env)
	if err != nil {
		return berth.Signals{}, storeErr(err)
	}
	cur, err := s.st.LastSucceeded(ctx, a.ID, env, 0)
	if errors.Is(err, berth.ErrNotFound) {
		return berth.Signals{}, fmt.Errorf("%s/%s has no successful deploy in %s: nothing runs there to measure: %w", team, app, env, berth.ErrNotFound)
	}
	if err != nil {
		return berth.Signals{}, err
	}
	if s.signals == nil {
		return berth.Signals{}, errNoPrometheus
	}
	rev, err := s.st.Revision(ctx, team, app, cur.Revision)
	if err != nil {
		return berth.Signals{}, err
	}
	m, err := manifest.Parse("berth.yaml", []byte(rev.Manifest))
	if err != nil {
		return berth.Signals{}, fmt.Errorf("revision %d of %s/%s: %w", rev.Number, team, app, err)
	}
	m = m.ForEnv(e.Section())

	end := s.now()
	step := berth.SignalStep(since)
	q := berth.SignalQuery{Team: team, App: app, Env: env, Namespace: e.Namespace(team, app),
		Start: end.Add(-since), End: end, Step: step}
	for name := range m.Containers {
		q.Containers = append(q.Containers, name)
	}
	slices.Sort(q.Containers)
	q.CPULimit, q.MemoryLimit = podLimits(m)
	if mt := m.Metrics; mt != nil {
		q.Requests, q.Duration = mt.RequestsMetric(), mt.DurationMetric()
	}
	series, err := s.signals.Signals(ctx, q)
	if err != nil {
		// The Prometheus is down or refused the queries: what the client sees, as the
		// server is not in a state to answer.
		return berth.Signals{}, &unavailable{fmt.Errorf("signals of %s/%s in %s: %w", team, app, env, err)}
	}
	return berth.Signals{Team: team, App: app, Env: env, End: end, Since: since, Step: step, Series: series}, nil
}

// podLimits are a pod's CPU (cores) and memory (bytes) limits: the sums over its
// containers when every one has a limit (else the pod has none), 0 otherwise. A limit
// written with a placeholder (${args.cpu}) counts as none: only the rendered objects know
// its value.
func podLimits(m *manifest.Manifest) (cpu, memory float64) {
	cpuSet, memSet := true, true
	for _, c := range m.Containers {
		ccpu, cmem := c.Limits()
		cpu, memory = cpu+ccpu, memory+float64(cmem)
		cpuSet, memSet = cpuSet && ccpu > 0, memSet && cmem > 0
	}
	if !cpuSet {
		cpu = 0
	}
	if !memSet {
		memory = 0
	}
	return cpu, memory
}
