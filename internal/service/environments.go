package service

import (
	"context"
	"os"
	"slices"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// DefaultNamespaceTemplate puts each team's apps of an environment in one namespace.
const DefaultNamespaceTemplate = "{team}-{env}"

// ListEnvironments returns every environment; any signed-in user may see them.
func (s *Service) ListEnvironments(ctx context.Context, p *authz.Principal) ([]berth.Environment, error) {
	if err := authz.Check(p, authz.EnvList, authz.Resource{}); err != nil {
		return nil, err
	}
	return s.st.Environments(ctx)
}

// GetEnvironment returns one environment.
func (s *Service) GetEnvironment(ctx context.Context, p *authz.Principal, name string) (berth.Environment, error) {
	if err := authz.Check(p, authz.EnvList, authz.Resource{}); err != nil {
		return berth.Environment{}, err
	}
	e, err := s.st.Environment(ctx, name)
	return e, storeErr(err)
}

// CreateEnvironment defines a deploy target (global admins only). The kubeconfig is a path
// on the server's machine, which must exist; its content is never stored or returned.
func (s *Service) CreateEnvironment(ctx context.Context, p *authz.Principal, e berth.Environment) (berth.Environment, error) {
	if e.NamespaceTemplate == "" {
		e.NamespaceTemplate = DefaultNamespaceTemplate
	}
	var out berth.Environment
	c := change{action: "env.create", target: "env/" + e.Name, details: map[string]any{
		"protected": e.Protected, "inCluster": e.InCluster, "namespaceTemplate": e.NamespaceTemplate}}
	err := s.mutate(ctx, p, &c, allowed(p, authz.EnvManage, authz.Resource{}), func(tx *store.Tx) (err error) {
		switch {
		case e.InCluster && e.Kubeconfig != "":
			return invalid("kubeconfig", "give a kubeconfig or in-cluster, not both")
		case !e.InCluster && e.Kubeconfig == "":
			return invalid("kubeconfig", "required unless the environment is in-cluster")
		case e.Kubeconfig != "":
			if _, err := os.Stat(e.Kubeconfig); err != nil {
				return invalid("kubeconfig", "%s is not readable on the server: %v", e.Kubeconfig, pathErr(err))
			}
		}
		if out, err = tx.CreateEnvironment(ctx, berth.Environment{
			Name: e.Name, Kubeconfig: e.Kubeconfig, Context: e.Context, InCluster: e.InCluster,
			NamespaceTemplate: e.NamespaceTemplate, Protected: e.Protected,
		}); err != nil {
			return err
		}
		for _, u := range e.AllowedDeployers {
			if err := tx.AllowDeployer(ctx, e.Name, u); err != nil {
				return err
			}
		}
		out.AllowedDeployers = slices.Sorted(slices.Values(e.AllowedDeployers))
		return nil
	})
	return out, err
}

// DeleteEnvironment removes an environment from Berth; nothing in its cluster is touched.
func (s *Service) DeleteEnvironment(ctx context.Context, p *authz.Principal, name string) error {
	c := change{action: "env.delete", target: "env/" + name}
	return s.mutate(ctx, p, &c, allowed(p, authz.EnvManage, authz.Resource{}),
		func(tx *store.Tx) error {
			if err := stillDeployed(ctx, tx, berth.Scope{Env: name}, "environment "+name); err != nil {
				return err
			}
			return tx.DeleteEnvironment(ctx, name)
		})
}

func pathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
