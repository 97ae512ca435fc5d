package service

import (
	"context"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

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
	if e.PreviewOf != "" {
		c.details["previewOf"] = e.PreviewOf
	}
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
			NamespaceTemplate: e.NamespaceTemplate, Protected: e.Protected, Scheduling: e.Scheduling, PreviewOf: e.PreviewOf,
		}); err != nil {
			return err
		}
		// Only once the store took them: a denied or refused call records none of its input.
		if len(out.Scheduling.NodeSelector) > 0 {
			c.details["nodeSelector"] = nodeSelectorDetail(out.Scheduling.NodeSelector)
		}
		if len(out.Scheduling.Tolerations) > 0 {
			c.details["tolerations"] = tolerationsDetail(out.Scheduling.Tolerations)
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

// EnvironmentChange is what UpdateEnvironment changes. Each field that is not nil replaces
// the environment's value (an empty one removes it); a nil field leaves it as it is.
type EnvironmentChange struct {
	NodeSelector *map[string]string
	Tolerations  *[]berth.Toleration
	// BaseDomain is the domain dns and route resources get host names under.
	BaseDomain *string
	// StorageClass is what volume resources claim from.
	StorageClass *string
}

// UpdateEnvironment changes an environment's scheduling defaults, base domain and storage
// class (global admins). Apps get them at their next deploy that renders the app;
// rollbacks and redeploys without refresh re-apply what an earlier deploy applied, as they
// do with config.
func (s *Service) UpdateEnvironment(ctx context.Context, p *authz.Principal, name string, ch EnvironmentChange) (berth.Environment, error) {
	var out berth.Environment
	c := change{action: "env.update", target: "env/" + name, details: map[string]any{}}
	err := s.mutate(ctx, p, &c, allowed(p, authz.EnvManage, authz.Resource{}), func(tx *store.Tx) (err error) {
		if ch.NodeSelector == nil && ch.Tolerations == nil && ch.BaseDomain == nil && ch.StorageClass == nil {
			return invalid("nodeSelector", "nothing to change: give nodeSelector, tolerations, baseDomain or storageClass")
		}
		if ch.BaseDomain != nil || ch.StorageClass != nil {
			cur, err := tx.Environment(ctx, name)
			if err != nil {
				return err
			}
			domain, class := cur.BaseDomain, cur.StorageClass
			if ch.BaseDomain != nil {
				domain = *ch.BaseDomain
				c.details["baseDomain"] = domain
			}
			if ch.StorageClass != nil {
				class = *ch.StorageClass
				c.details["storageClass"] = class
			}
			if err := tx.SetEnvironmentDomains(ctx, name, domain, class); err != nil {
				return err
			}
		}
		if ch.NodeSelector != nil {
			if err := tx.SetNodeSelector(ctx, name, *ch.NodeSelector); err != nil {
				return err
			}
			c.details["nodeSelector"] = nodeSelectorDetail(*ch.NodeSelector)
		}
		if ch.Tolerations != nil {
			if err := tx.SetTolerations(ctx, name, *ch.Tolerations); err != nil {
				return err
			}
			c.details["tolerations"] = tolerationsDetail(*ch.Tolerations)
		}
		out, err = tx.Environment(ctx, name)
		return err
	})
	return out, err
}

// nodeSelectorDetail is a node selector for an audit event: a JSON object, {} for none.
func nodeSelectorDetail(sel map[string]string) map[string]string {
	out := make(map[string]string, len(sel))
	maps.Copy(out, sel)
	return out
}

// tolerationsDetail is tolerations for an audit event, in kubectl's notation: a JSON
// array, [] for none.
func tolerationsDetail(ts []berth.Toleration) []string {
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.String())
	}
	return out
}

// DeleteEnvironment removes an environment from Berth; nothing in its cluster is touched.
func (s *Service) DeleteEnvironment(ctx context.Context, p *authz.Principal, name string) error {
	c := change{action: "env.delete", target: "env/" + name}
	return s.mutate(ctx, p, &c, allowed(p, authz.EnvManage, authz.Resource{}),
		func(tx *store.Tx) error {
			if err := stillDeployed(ctx, tx, berth.Scope{Env: name}, "environment "+name); err != nil {
				return err
			}
			// Its resources' records are how Berth finds their data to drop: keep them.
			rs, err := tx.Resources(ctx, berth.ResourceFilter{Env: name})
			if err != nil {
				return err
			}
			if len(rs) > 0 {
				var which []string
				for _, r := range rs {
					which = append(which, r.Team+"/"+r.App+" "+r.Name+" ("+r.Type+", "+string(r.Status)+")")
				}
				return refused("environment %s still has provisioned resources: %s; delete them first (berth resources delete --confirm)",
					name, strings.Join(which, ", "))
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

// FreezeEnvironment freezes env from start to end, saying why (platform admins): no deploy
// goes there then but emergencies (a deploy whose options say why, audited) and automatic
// rollbacks — whether from the API, the CLI, chat, git or a promotion.
func (s *Service) FreezeEnvironment(ctx context.Context, p *authz.Principal, w berth.FreezeWindow) (berth.FreezeWindow, error) {
	c := change{action: "env.freeze", target: "env/" + w.Env, details: map[string]any{"start": w.Start, "end": w.End, "reason": w.Reason}}
	var out berth.FreezeWindow
	err := s.mutate(ctx, p, &c, allowed(p, authz.EnvManage, authz.Resource{}), func(tx *store.Tx) (err error) {
		w.CreatedBy = p.Name
		out, err = tx.AddFreezeWindow(ctx, w)
		c.details["window"] = out.ID
		return err
	})
	return out, err
}

// UnfreezeEnvironment ends freeze window id at once (platform admins), audited.
func (s *Service) UnfreezeEnvironment(ctx context.Context, p *authz.Principal, id int64) (berth.FreezeWindow, error) {
	c := change{action: "env.unfreeze", target: "freeze/" + strconv.FormatInt(id, 10), details: map[string]any{"window": id}}
	var out berth.FreezeWindow
	err := s.mutate(ctx, p, &c, allowed(p, authz.EnvManage, authz.Resource{}), func(tx *store.Tx) (err error) {
		out, err = tx.DeleteFreezeWindow(ctx, id)
		c.target, c.details["env"] = "env/"+out.Env, out.Env
		return err
	})
	return out, err
}

// FreezeWindows lists the freeze windows of env ("" for all) not over yet (anyone signed
// in: who deploys needs to know).
func (s *Service) FreezeWindows(ctx context.Context, p *authz.Principal, env string) ([]berth.FreezeWindow, error) {
	if err := authz.Check(p, authz.EnvList, authz.Resource{}); err != nil {
		return nil, err
	}
	if env != "" {
		if _, err := s.st.Environment(ctx, env); err != nil {
			return nil, storeErr(err)
		}
	}
	ws, err := s.st.FreezeWindows(ctx, env, s.now())
	return ws, storeErr(err)
}
