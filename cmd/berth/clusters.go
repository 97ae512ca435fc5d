package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/kube"
	"github.com/berth-dev/berth/internal/service"
)

// kubeClusters adapts internal/kube to the deploy engine: one client per environment's
// cluster, built on first use and kept, so its discovery cache and rate limiter are shared.
type kubeClusters struct {
	log   *slog.Logger
	qps   float32
	burst int

	mu      sync.Mutex
	byEnv   map[string]*kubeCluster
	configs map[string]string // env -> how its client was built, to notice edits
}

func newKubeClusters(log *slog.Logger, qps float32, burst int) *kubeClusters {
	return &kubeClusters{log: log, qps: qps, burst: burst, byEnv: map[string]*kubeCluster{}, configs: map[string]string{}}
}

// For returns the cluster of env.
func (k *kubeClusters) For(_ context.Context, env berth.Environment) (deploy.Cluster, error) {
	key := fmt.Sprintf("%s|%s|%t", env.Kubeconfig, env.Context, env.InCluster)
	k.mu.Lock()
	defer k.mu.Unlock()
	if c, ok := k.byEnv[env.Name]; ok && k.configs[env.Name] == key {
		return c, nil
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
	c, err := kube.New(cfg, kube.Options{QPS: k.qps, Burst: k.burst, Logger: k.log})
	if err != nil {
		return nil, err
	}
	kc := &kubeCluster{c: c}
	k.byEnv[env.Name], k.configs[env.Name] = kc, key
	return kc, nil
}

// kubeCluster is one cluster, seen through the deploy engine's interface.
type kubeCluster struct{ c *kube.Cluster }

func (k *kubeCluster) EnsureNamespace(ctx context.Context, name string, labels map[string]string) error {
	return k.c.EnsureNamespace(ctx, name, labels)
}

func (k *kubeCluster) Apply(ctx context.Context, namespace string, objs []*unstructured.Unstructured, force bool) error {
	_, err := k.c.Apply(ctx, namespace, runtimeObjects(objs), kube.ApplyOptions{Force: force})
	return err
}

func (k *kubeCluster) Prune(ctx context.Context, namespace string, selector map[string]string, keep []*unstructured.Unstructured) ([]string, error) {
	refs := make([]kube.ObjectRef, 0, len(keep))
	for _, o := range keep {
		r, err := kube.RefOf(o)
		if err != nil {
			return nil, err
		}
		r.Namespace = namespace
		refs = append(refs, r)
	}
	deleted, err := k.c.Prune(ctx, namespace, selector, refs)
	names := make([]string, len(deleted))
	for i, d := range deleted {
		names[i] = d.String()
	}
	return names, err
}

func (k *kubeCluster) WaitRollout(ctx context.Context, namespace, deployment string, timeout time.Duration, progress func(deploy.Progress)) error {
	_, err := k.c.WaitRollout(ctx, namespace, deployment, kube.RolloutOptions{Timeout: timeout, Progress: func(s kube.RolloutStatus) {
		progress(deploy.Progress{Phase: strings.ToLower(string(s.Phase)), Message: s.Message, Desired: int(s.Desired),
			Updated: int(s.Updated), Ready: int(s.Ready), Available: int(s.Available)})
	}})
	return err
}

func runtimeObjects(objs []*unstructured.Unstructured) []runtime.Object {
	out := make([]runtime.Object, len(objs))
	for i, o := range objs {
		out[i] = o
	}
	return out
}

// LiveApp reads a Deployment's status and the drift of the live objects from desired.
func (k *kubeClusters) LiveApp(ctx context.Context, env berth.Environment, namespace, deployment string, desired []byte) (service.LiveApp, error) {
	dc, err := k.For(ctx, env)
	if err != nil {
		return service.LiveApp{}, err
	}
	c := dc.(*kubeCluster).c
	var raw []map[string]any
	if err := json.Unmarshal(desired, &raw); err != nil {
		return service.LiveApp{}, fmt.Errorf("stored objects: %w", err)
	}
	objs := make([]runtime.Object, len(raw))
	for i, o := range raw {
		objs[i] = &unstructured.Unstructured{Object: o}
	}
	st, err := c.Status(ctx, namespace, deployment)
	if err != nil {
		return service.LiveApp{}, err
	}
	drift, err := c.Drift(ctx, namespace, objs)
	if err != nil {
		return service.LiveApp{}, err
	}
	out := service.LiveApp{Phase: strings.ToLower(string(st.Phase)), Message: st.Message, Desired: int(st.Desired),
		Updated: int(st.Updated), Ready: int(st.Ready), Available: int(st.Available), Images: st.Images}
	for _, p := range st.Pods {
		out.Pods = append(out.Pods, service.LivePod{Name: p.Name, Phase: p.Phase, Reason: p.Reason, Ready: p.Ready,
			Current: p.Current, Restarts: int(p.Restarts)})
	}
	for _, d := range drift {
		out.Drift = append(out.Drift, service.DriftItem{Object: d.Object.String(), Path: d.Path, Desired: d.Desired, Live: d.Live})
	}
	return out, nil
}
