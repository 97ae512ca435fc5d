// Package kube is Berth's adapter to one Kubernetes cluster, through client-go: it creates
// namespaces, server-side applies rendered objects (field manager "berth"), tracks
// Deployment rollouts with watches, lists and prunes the objects Berth owns, and reports
// live status and drift. Every call takes a context first and retries transient API errors
// (429, 5xx, timeouts, refused connections) with capped, jittered exponential backoff.
package kube

import (
	"fmt"
	"log/slog"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
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
	cs      kubernetes.Interface
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
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
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
		cs:      cs,
		dyn:     dyn,
		meta:    md,
		mapper:  restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc)),
		backoff: o.Backoff.withDefaults(),
		log:     log,
	}, nil
}
