// Package kube is Berth's adapter to a Kubernetes cluster through client-go: server-side
// apply of rendered objects (field manager "berth"), and later rollout watches, inventory
// and prune.
package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// FieldManager is the name Berth's changes carry in managedFields.
const FieldManager = "berth"

// Cluster applies objects to one Kubernetes cluster.
type Cluster struct {
	dyn    dynamic.Interface
	mapper meta.RESTMapper
}

// New returns a Cluster for cfg.
func New(cfg *rest.Config) (*Cluster, error) {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Cluster{dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}, nil
}

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// DryRun asks the API server to validate and admit without persisting.
	DryRun bool
	// Force takes ownership of fields another field manager set.
	Force bool
}

// ApplyError is the API server's refusal of one object.
type ApplyError struct {
	Kind, Namespace, Name string
	Err                   error
}

func (e *ApplyError) Error() string {
	msg := fmt.Sprintf("apply %s %s/%s: %v", e.Kind, e.Namespace, e.Name, e.Err)
	if apierrors.IsConflict(e.Err) {
		msg += " (another field manager owns these fields: resolve it, or force with --force-conflicts)"
	}
	return msg
}

func (e *ApplyError) Unwrap() error { return e.Err }

// Apply server-side applies each object into namespace, in order, and returns the objects
// as the server stored (or, with DryRun, would store) them.
func (c *Cluster) Apply(ctx context.Context, namespace string, objs []runtime.Object, o ApplyOptions) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, obj := range objs {
		u, err := toUnstructured(obj)
		if err != nil {
			return out, err
		}
		gvk := u.GroupVersionKind()
		m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return out, &ApplyError{Kind: gvk.Kind, Namespace: namespace, Name: u.GetName(), Err: err}
		}
		var ri dynamic.ResourceInterface = c.dyn.Resource(m.Resource)
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			u.SetNamespace(namespace)
			ri = c.dyn.Resource(m.Resource).Namespace(namespace)
		}
		data, err := json.Marshal(u)
		if err != nil {
			return out, err
		}
		po := metav1.PatchOptions{FieldManager: FieldManager, Force: &o.Force}
		if o.DryRun {
			po.DryRun = []string{metav1.DryRunAll}
		}
		got, err := ri.Patch(ctx, u.GetName(), types.ApplyPatchType, data, po)
		if err != nil {
			return out, &ApplyError{Kind: gvk.Kind, Namespace: u.GetNamespace(), Name: u.GetName(), Err: err}
		}
		out = append(out, got)
	}
	return out, nil
}

func toUnstructured(obj runtime.Object) (*unstructured.Unstructured, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return u.DeepCopy(), nil
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	if u.GetKind() == "" || u.GetAPIVersion() == "" {
		return nil, errors.New("object has no apiVersion/kind set")
	}
	return u, nil
}
