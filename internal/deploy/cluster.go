package deploy

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/smoke"
)

// Cluster is what the engine needs from a Kubernetes cluster; internal/kube's
// EnvCluster is one.
type Cluster interface {
	EnsureNamespace(ctx context.Context, name string, labels map[string]string) error
	// Apply server-side applies objs into namespace; force takes over fields other
	// managers own.
	Apply(ctx context.Context, namespace string, objs []*unstructured.Unstructured, force bool) error
	// Prune deletes berth-owned objects matching selector that are not in keep, and
	// returns what it deleted (kind/name).
	Prune(ctx context.Context, namespace string, selector map[string]string, keep []*unstructured.Unstructured) ([]string, error)
	// WaitRollout watches a Deployment until it is available, fails, or timeout passes,
	// calling progress on every change.
	WaitRollout(ctx context.Context, namespace, deployment string, timeout time.Duration, progress func(berth.RolloutStatus)) error
	// Drifted says where the live objects differ from objs (OBJECT PATH), nothing when
	// they are as objs say: what a deploy whose objects another applies waits for.
	Drifted(ctx context.Context, namespace string, objs []*unstructured.Unstructured) ([]string, error)
	// HTTP and Command run smoke checks: a request to a Service, a command's Job.
	smoke.Target
}

// Clusters finds the cluster of an environment; cmd/berth wires internal/kube's Pool.
type Clusters func(ctx context.Context, env berth.Environment) (Cluster, error)
