package kube

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// ObjectRef names one object. Versions are left out on purpose: an object is the same
// whichever API version it is read through.
type ObjectRef struct {
	Group, Kind, Namespace, Name string
}

func (r ObjectRef) String() string {
	if r.Group == "" {
		return r.Kind + "/" + r.Name
	}
	return r.Kind + "." + r.Group + "/" + r.Name
}

// RefOf returns the reference of obj, which must have its apiVersion and kind set.
func RefOf(obj runtime.Object) (ObjectRef, error) {
	gvk := obj.GetObjectKind().GroupVersionKind()
	if gvk.Kind == "" {
		return ObjectRef{}, errors.New("object has no kind set")
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return ObjectRef{}, err
	}
	return ObjectRef{Group: gvk.Group, Kind: gvk.Kind, Namespace: m.GetNamespace(), Name: m.GetName()}, nil
}

// ownedKinds are the kinds the manifest renderer produces: the only ones Inventory lists
// and Prune may delete.
var ownedKinds = []struct {
	kind string
	gvr  schema.GroupVersionResource
}{
	{"Deployment", schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}},
	{"Service", schema.GroupVersionResource{Version: "v1", Resource: "services"}},
	{"Ingress", schema.GroupVersionResource{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"}},
	{"HorizontalPodAutoscaler", schema.GroupVersionResource{Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"}},
	{"PodDisruptionBudget", schema.GroupVersionResource{Group: "policy", Version: "v1", Resource: "poddisruptionbudgets"}},
	{"ServiceAccount", schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}},
	{"ConfigMap", schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}},
	{"Secret", schema.GroupVersionResource{Version: "v1", Resource: "secrets"}},
}

// owned is an inventoried object with what deleting it safely needs.
type owned struct {
	ref ObjectRef
	gvr schema.GroupVersionResource
	uid types.UID
}

// Inventory lists the objects in namespace, of the kinds Berth renders, that carry
// LabelManagedBy=ManagedBy and every label of selector (typically LabelName and LabelEnv),
// leaving out those already being deleted. The result is sorted by kind and name.
func (c *Cluster) Inventory(ctx context.Context, namespace string, selector map[string]string) ([]ObjectRef, error) {
	objs, err := c.inventory(ctx, namespace, selector)
	if err != nil {
		return nil, err
	}
	refs := make([]ObjectRef, len(objs))
	for i, o := range objs {
		refs[i] = o.ref
	}
	return refs, nil
}

func (c *Cluster) inventory(ctx context.Context, namespace string, selector map[string]string) ([]owned, error) {
	set := maps.Clone(selector)
	if set == nil {
		set = map[string]string{}
	}
	set[LabelManagedBy] = ManagedBy
	sel, err := labels.ValidatedSelectorFromSet(set)
	if err != nil {
		return nil, fmt.Errorf("inventory of %s: selector: %w", namespace, err)
	}
	// Metadata only: Secrets' data never needs to leave the API server for this.
	opts := metav1.ListOptions{LabelSelector: sel.String()}
	var out []owned
	for _, k := range ownedKinds {
		var list *metav1.PartialObjectMetadataList
		err := c.retry(ctx, "list "+k.gvr.Resource, func(ctx context.Context) error {
			var err error
			list, err = c.meta.Resource(k.gvr).Namespace(namespace).List(ctx, opts)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("inventory of %s: list %s: %w", namespace, k.gvr.Resource, err)
		}
		for _, item := range list.Items {
			if item.DeletionTimestamp != nil {
				continue
			}
			out = append(out, owned{
				ref: ObjectRef{Group: k.gvr.Group, Kind: k.kind, Namespace: item.Namespace, Name: item.Name},
				gvr: k.gvr, uid: item.UID,
			})
		}
	}
	slices.SortFunc(out, func(a, b owned) int {
		return cmp.Or(cmp.Compare(a.ref.Kind, b.ref.Kind), cmp.Compare(a.ref.Group, b.ref.Group), cmp.Compare(a.ref.Name, b.ref.Name))
	})
	return out, nil
}

// Prune deletes the objects Inventory(ctx, namespace, selector) lists that keep does not
// name, and returns them. Objects without LabelManagedBy=ManagedBy are never touched. keep
// is matched by group, kind and name (its namespaces are ignored: everything is in
// namespace). selector must name the app and environment (LabelName and LabelEnv), so a
// mistake cannot prune a whole namespace. Objects deleted meanwhile by someone else are
// skipped; one recreated meanwhile under the same name is left alone.
func (c *Cluster) Prune(ctx context.Context, namespace string, selector map[string]string, keep []ObjectRef) ([]ObjectRef, error) {
	if selector[LabelName] == "" || selector[LabelEnv] == "" {
		return nil, fmt.Errorf("prune %s: the selector must set %s and %s, got %v", namespace, LabelName, LabelEnv, selector)
	}
	objs, err := c.inventory(ctx, namespace, selector)
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	keepSet := map[ObjectRef]bool{}
	for _, r := range keep {
		r.Namespace = ""
		keepSet[r] = true
	}
	var deleted []ObjectRef
	for _, o := range objs {
		key := o.ref
		key.Namespace = ""
		if keepSet[key] {
			continue
		}
		uid := o.uid
		// The UID precondition makes sure the object deleted is the one listed as Berth's.
		opts := metav1.DeleteOptions{
			Preconditions:     &metav1.Preconditions{UID: &uid},
			PropagationPolicy: new(metav1.DeletePropagationBackground),
		}
		err := c.retry(ctx, "delete "+o.ref.String(), func(ctx context.Context) error {
			return c.meta.Resource(o.gvr).Namespace(namespace).Delete(ctx, o.ref.Name, opts)
		})
		switch {
		case apierrors.IsNotFound(err), apierrors.IsConflict(err):
			continue
		case err != nil:
			return deleted, fmt.Errorf("prune %s in %s: %w", o.ref, namespace, err)
		}
		deleted = append(deleted, o.ref)
	}
	return deleted, nil
}
