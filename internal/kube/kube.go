// Package kube is Berth's adapter to one Kubernetes cluster, through client-go: it creates
// namespaces, server-side applies rendered objects (field manager "berth"), tracks
// Deployment rollouts with watches, lists and prunes the objects Berth owns, and reports
// live status and drift. Every call takes a context first and retries transient API errors
// (429, 5xx, timeouts, refused connections) with capped, jittered exponential backoff.
package kube

import (
	"errors"
	"fmt"
	"log/slog"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	appsv1client "k8s.io/client-go/kubernetes/typed/apps/v1"
	batchv1client "k8s.io/client-go/kubernetes/typed/batch/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/util/flowcontrol"
)

// FieldManager is the name Berth's changes carry in managedFields.
const FieldManager = "berth"

// Labels every object Berth applies carries (the manifest renderer sets them); Inventory and
// Prune find Berth's objects by them.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelName      = "app.kubernetes.io/name"
	LabelEnv       = "berth.dev/env"
	// ManagedBy is LabelManagedBy's value on Berth's objects.
	ManagedBy = "berth"
)

// Default client rate limits, used when neither Options nor the rest.Config set one.
// client-go's own default (5 QPS) would make a team redeploy crawl.
const (
	DefaultQPS   = 50
	DefaultBurst = 100
)

// Options tune a Cluster. The zero value is ready to use.
type Options struct {
	// QPS and Burst limit the client's request rate. Zero keeps the rest.Config's value, or
	// DefaultQPS and DefaultBurst when it has none.
	QPS   float32
	Burst int
	// Backoff paces retries of transient API errors; zero fields take DefaultBackoff's.
	Backoff Backoff
	// Logger receives one line per retried request; nil discards them.
	Logger *slog.Logger
}

// Cluster is one Kubernetes cluster. It is safe for concurrent use.
type Cluster struct {
	core  corev1client.CoreV1Interface
	apps  appsv1client.AppsV1Interface
	batch batchv1client.BatchV1Interface
	// proxy is the client of the API server's service proxy (smoke checks).
	proxy   *serviceProxy
	dyn     dynamic.Interface
	meta    metadata.Interface
	mapper  meta.ResettableRESTMapper
	backoff Backoff
	log     *slog.Logger
}

// New returns a Cluster that talks to the API server cfg describes. It makes no request.
func New(cfg *rest.Config, o Options) (*Cluster, error) {
	cfg = rest.CopyConfig(cfg)
	switch {
	case o.QPS > 0:
		cfg.QPS = o.QPS
	case cfg.QPS == 0:
		cfg.QPS = DefaultQPS
	}
	switch {
	case o.Burst > 0:
		cfg.Burst = o.Burst
	case cfg.Burst == 0:
		cfg.Burst = DefaultBurst
	}
	typed, err := typedClients(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	proxy, err := newServiceProxy(cfg)
	if err != nil {
		return nil, fmt.Errorf("service proxy client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	md, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("metadata client: %w", err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("discovery client: %w", err)
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Cluster{
		core:    typed.core,
		apps:    typed.apps,
		batch:   typed.batch,
		proxy:   proxy,
		dyn:     dyn,
		meta:    md,
		mapper:  restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc)),
		backoff: o.Backoff.withDefaults(),
		log:     log,
	}, nil
}

// typed are the clients of the API groups Berth reads typed objects from.
type typed struct {
	core  corev1client.CoreV1Interface
	apps  appsv1client.AppsV1Interface
	batch batchv1client.BatchV1Interface
}

// typedClients returns clients of the API groups Berth reads typed objects from. They
// share one connection pool and one rate limit, as a kubernetes.Clientset's groups do; the
// Clientset itself is not used because it links in every API group's client, which would
// slow a cold build of berth (see deps_test.go).
func typedClients(cfg *rest.Config) (typed, error) {
	cfg = rest.CopyConfig(cfg)
	if cfg.UserAgent == "" {
		cfg.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	if cfg.RateLimiter == nil && cfg.QPS > 0 {
		if cfg.Burst <= 0 {
			return typed{}, errors.New("burst must be positive when QPS is set")
		}
		cfg.RateLimiter = flowcontrol.NewTokenBucketRateLimiter(cfg.QPS, cfg.Burst)
	}
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return typed{}, err
	}
	var t typed
	if t.core, err = corev1client.NewForConfigAndClient(cfg, hc); err != nil {
		return typed{}, err
	}
	if t.apps, err = appsv1client.NewForConfigAndClient(cfg, hc); err != nil {
		return typed{}, err
	}
	if t.batch, err = batchv1client.NewForConfigAndClient(cfg, hc); err != nil {
		return typed{}, err
	}
	return t, nil
}
