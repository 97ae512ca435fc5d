package kube

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/manifest"
	"github.com/berth-dev/berth/internal/smoke"
)

// Pool hands out the cluster of each environment: one client per environment, built on
// first use from the environment's kubeconfig and context (or in-cluster config) and kept,
// so its discovery cache and rate limiter are shared by every deploy and status read. An
// environment whose connection settings change gets a new client.
type Pool struct {
	log   *slog.Logger
	qps   float32
	burst int

	mu    sync.Mutex
	byEnv map[string]pooled
}

type pooled struct {
	key string // how the client was built, to notice edits
	c   *EnvCluster
}

// NewPool returns an empty pool whose clients use qps and burst (0: client-go's defaults).
func NewPool(log *slog.Logger, qps float32, burst int) *Pool {
	return &Pool{log: log, qps: qps, burst: burst, byEnv: map[string]pooled{}}
}

// For returns the cluster of env.
func (p *Pool) For(_ context.Context, env berth.Environment) (*EnvCluster, error) {
	key := fmt.Sprintf("%s|%s|%t", env.Kubeconfig, env.Context, env.InCluster)
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.byEnv[env.Name]; ok && c.key == key {
		return c.c, nil
	}
	var cfg *rest.Config
	var err error
	if env.InCluster {
		cfg, err = rest.InClusterConfig()
	} else {
		cfg, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
			&clientcmd.ClientConfigLoadingRules{ExplicitPath: env.Kubeconfig},
			&clientcmd.ConfigOverrides{CurrentContext: env.Context}).ClientConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("cluster config: %w", err)
	}
	c, err := New(cfg, Options{QPS: p.qps, Burst: p.burst, Logger: p.log})
	if err != nil {
		return nil, err
	}
	ec := &EnvCluster{c: c}
	p.byEnv[env.Name] = pooled{key: key, c: ec}
	return ec, nil
}

// LiveApp reads, in env's cluster, a Deployment's status and how the live objects differ
// from desired.
func (p *Pool) LiveApp(ctx context.Context, env berth.Environment, namespace, deployment string, desired []*unstructured.Unstructured) (berth.LiveApp, error) {
	c, err := p.For(ctx, env)
	if err != nil {
		return berth.LiveApp{}, err
	}
	return c.LiveApp(ctx, namespace, deployment, desired)
}

// RemoveApp deletes, in env's cluster, what Berth applied for an app in namespace, and
// the namespace when Berth created it and it is left empty; it returns what it deleted.
func (p *Pool) RemoveApp(ctx context.Context, env berth.Environment, namespace string, selector map[string]string) ([]string, error) {
	c, err := p.For(ctx, env)
	if err != nil {
		return nil, err
	}
	refs, err := c.c.RemoveApp(ctx, namespace, selector)
	names := make([]string, len(refs))
	for i, r := range refs {
		names[i] = r.String()
	}
	return names, err
}

// DeleteClaim deletes a PersistentVolumeClaim in env's cluster (a deleted volume resource's).
func (p *Pool) DeleteClaim(ctx context.Context, env berth.Environment, namespace, name string) error {
	c, err := p.For(ctx, env)
	if err != nil {
		return err
	}
	return c.c.DeleteClaim(ctx, namespace, name)
}

// EnvCluster is one environment's cluster, with the operations of a deploy and of a status
// read in the domain's terms: stored objects in, names and rollout states out.
type EnvCluster struct{ c *Cluster }

// EnsureNamespace creates namespace with labels unless it exists.
func (e *EnvCluster) EnsureNamespace(ctx context.Context, name string, labels map[string]string) error {
	return e.c.EnsureNamespace(ctx, name, labels)
}

// Apply server-side applies objs into namespace; force takes over fields other managers
// own.
func (e *EnvCluster) Apply(ctx context.Context, namespace string, objs []*unstructured.Unstructured, force bool) error {
	_, err := e.c.Apply(ctx, namespace, runtimeObjects(objs), ApplyOptions{Force: force})
	return err
}

// Prune deletes Berth-owned objects matching selector that are not in keep, and returns
// what it deleted (kind/name).
func (e *EnvCluster) Prune(ctx context.Context, namespace string, selector map[string]string, keep []*unstructured.Unstructured) ([]string, error) {
	refs := make([]ObjectRef, 0, len(keep))
	for _, o := range keep {
		r, err := RefOf(o)
		if err != nil {
			return nil, err
		}
		r.Namespace = namespace
		refs = append(refs, r)
	}
	deleted, err := e.c.Prune(ctx, namespace, selector, refs)
	names := make([]string, len(deleted))
	for i, d := range deleted {
		names[i] = d.String()
	}
	return names, err
}

// WaitRollout watches a Deployment until it is available, fails, or timeout passes,
// calling progress on every change.
func (e *EnvCluster) WaitRollout(ctx context.Context, namespace, deployment string, timeout time.Duration, progress func(berth.RolloutStatus)) error {
	_, err := e.c.WaitRollout(ctx, namespace, deployment, RolloutOptions{Timeout: timeout, Progress: func(s RolloutStatus) {
		progress(rolloutStatus(s.Phase, s.Message, s.Desired, s.Updated, s.Ready, s.Available))
	}})
	return err
}

// Drifted says where the live objects differ from objs (OBJECT PATH), nothing when they
// are as objs say.
func (e *EnvCluster) Drifted(ctx context.Context, namespace string, objs []*unstructured.Unstructured) ([]string, error) {
	drift, err := e.c.Drift(ctx, namespace, runtimeObjects(objs))
	out := make([]string, len(drift))
	for i, d := range drift {
		out[i] = strings.TrimSpace(d.Object.String() + " " + d.Path)
	}
	return out, err
}

// LiveApp reads a Deployment's status and how the live objects differ from desired.
func (e *EnvCluster) LiveApp(ctx context.Context, namespace, deployment string, desired []*unstructured.Unstructured) (berth.LiveApp, error) {
	st, err := e.c.Status(ctx, namespace, deployment)
	if err != nil {
		return berth.LiveApp{}, err
	}
	drift, err := e.c.Drift(ctx, namespace, runtimeObjects(desired))
	if err != nil {
		return berth.LiveApp{}, err
	}
	out := berth.LiveApp{RolloutStatus: rolloutStatus(st.Phase, st.Message, st.Desired, st.Updated, st.Ready, st.Available),
		Images: st.Images}
	for _, p := range st.Pods {
		out.Pods = append(out.Pods, berth.LivePod{Name: p.Name, Phase: p.Phase, Reason: p.Reason, Ready: p.Ready,
			Current: p.Current, Restarts: int(p.Restarts)})
	}
	for _, d := range drift {
		out.Drift = append(out.Drift, berth.DriftItem{Object: d.Object.String(), Path: d.Path, Desired: d.Desired, Live: d.Live})
	}
	return out, nil
}

func rolloutStatus(phase RolloutPhase, msg string, desired, updated, ready, available int32) berth.RolloutStatus {
	return berth.RolloutStatus{Phase: strings.ToLower(string(phase)), Message: msg, Desired: int(desired),
		Updated: int(updated), Ready: int(ready), Available: int(available)}
}

func runtimeObjects(objs []*unstructured.Unstructured) []runtime.Object {
	out := make([]runtime.Object, len(objs))
	for i, o := range objs {
		out[i] = o
	}
	return out
}

// HTTP sends one request of an HTTP smoke check through the API server's service proxy.
func (e *EnvCluster) HTTP(ctx context.Context, r smoke.HTTPRequest) (smoke.HTTPResponse, error) {
	return e.c.HTTP(ctx, r)
}

// Command runs a command smoke check's Job to its end.
func (e *EnvCluster) Command(ctx context.Context, r smoke.CommandRequest) (smoke.CommandResult, error) {
	return e.c.Command(ctx, r)
}

// RuleConfigMaps returns the rule files of the apps of env on its cluster, by namespace
// and app: the data of the ConfigMaps labelled manifest.LabelPrometheusRules (every
// namespace's, of env's apps), under manifest.RulesConfigMapKey.
func (p *Pool) RuleConfigMaps(ctx context.Context, env berth.Environment) (map[[2]string][]byte, error) {
	c, err := p.For(ctx, env)
	if err != nil {
		return nil, err
	}
	sel := manifest.LabelPrometheusRules + "=true," + manifest.LabelEnv + "=" + env.Name + "," + manifest.LabelManagedBy + "=" + manifest.ManagedBy
	out := map[[2]string][]byte{}
	opts := metav1.ListOptions{LabelSelector: sel, Limit: 500}
	for {
		list, err := c.c.core.ConfigMaps("").List(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("list the rules ConfigMaps of %s: %w", env.Name, err)
		}
		for _, cm := range list.Items {
			app := cm.Labels[manifest.LabelName]
			if data := cm.Data[manifest.RulesConfigMapKey]; app != "" && data != "" {
				out[[2]string{cm.Namespace, app}] = []byte(data)
			}
		}
		if list.Continue == "" {
			return out, nil
		}
		opts.Continue = list.Continue
	}
}
