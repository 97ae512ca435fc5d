package service

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/manifest"
	"github.com/berth-dev/berth/internal/store"
)

// Live looks at what runs in a cluster; internal/kube's Pool is one.
type Live interface {
	// LiveApp reports the Deployment's rollout and pods, and how the live objects differ
	// from desired.
	LiveApp(ctx context.Context, env berth.Environment, namespace, deployment string, desired []*unstructured.Unstructured) (berth.LiveApp, error)
}

// SetLive connects the cluster reader that Status uses.
func (s *Service) SetLive(l Live) { s.live = l }

// Remover deletes what Berth applied for an app in an environment; internal/kube's Pool is
// one.
type Remover interface {
	// RemoveApp deletes the objects matching selector in namespace, and the namespace when
	// Berth created it and nothing else is left; it returns what it deleted.
	RemoveApp(ctx context.Context, env berth.Environment, namespace string, selector map[string]string) ([]string, error)
}

// Claims deletes the PersistentVolumeClaims of deleted volume resources.
type Claims interface {
	DeleteClaim(ctx context.Context, env berth.Environment, namespace, name string) error
}

// SetClaims connects what DeleteResource deletes a volume resource's claim with.
func (s *Service) SetClaims(c Claims) { s.claims = c }

// SetRemover connects what DeleteApp removes an app's workloads with.
func (s *Service) SetRemover(r Remover) { s.remover = r }

// EnvStatus is an app in one environment: what Berth last deployed there, and what runs.
type EnvStatus struct {
	Env       string
	Namespace string
	// Current is the last successful deploy; Latest the newest of any state.
	Current, Latest *berth.Deploy
	Live            *berth.LiveApp
	// Error says why the live state could not be read.
	Error string
}

// Status compares, per environment the app was deployed to (or only env), the deployed
// revision with what runs: replicas, pods and drift.
func (s *Service) Status(ctx context.Context, p *authz.Principal, team, app, env string) ([]EnvStatus, error) {
	if err := authz.Check(p, authz.AppRead, authz.Resource{Team: team}); err != nil {
		return nil, err
	}
	a, err := s.st.App(ctx, team, app)
	if err != nil {
		return nil, storeErr(err)
	}
	envs, err := s.st.Environments(ctx)
	if err != nil {
		return nil, err
	}
	var out []EnvStatus
	for _, e := range envs {
		if env != "" && e.Name != env {
			continue
		}
		deploys, err := s.st.Deploys(ctx, store.DeployFilter{Team: team, App: app, Env: e.Name, Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(deploys) == 0 {
			if env != "" {
				return nil, fmt.Errorf("%s/%s was never deployed to %s: %w", team, app, env, berth.ErrNotFound)
			}
			continue
		}
		es := EnvStatus{Env: e.Name, Namespace: e.Namespace(team, app), Latest: &deploys[0]}
		cur, err := s.st.LastSucceeded(ctx, a.ID, e.Name, 0)
		switch {
		case errors.Is(err, berth.ErrNotFound):
			es.Error = "no successful deploy yet"
		case err != nil:
			return nil, err
		default:
			es.Current = &cur
			es.Live, es.Error = s.readLive(ctx, e, es.Namespace, app, cur)
		}
		out = append(out, es)
	}
	if env != "" && len(out) == 0 {
		return nil, fmt.Errorf("environment %s: %w", env, berth.ErrNotFound)
	}
	return out, nil
}

func (s *Service) readLive(ctx context.Context, env berth.Environment, namespace, app string, cur berth.Deploy) (*berth.LiveApp, string) {
	if s.live == nil {
		return nil, "this server does not read clusters"
	}
	objs, err := s.st.Objects(ctx, cur.ObjectsDigest)
	if err != nil {
		return nil, err.Error()
	}
	desired, err := manifest.DecodeStored(objs)
	if err != nil {
		return nil, err.Error()
	}
	live, err := s.live.LiveApp(ctx, env, namespace, app, desired)
	if err != nil {
		return nil, err.Error()
	}
	return &live, ""
}
