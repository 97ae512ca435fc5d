package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
)

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// DryRun asks the API server to validate and admit without persisting.
	DryRun bool
	// Force takes ownership of fields another field manager set.
	Force bool
}

// FieldConflict is a field of the applied object that another field manager owns.
type FieldConflict struct {
	// Manager is the other field manager, such as "kubectl-edit" or "kubectl-scale".
	Manager string
	// Field is the field's path, such as ".spec.replicas".
	Field string
}

// ApplyError is the refusal of one object, by Apply's checks or by the API server.
type ApplyError struct {
	Kind, Namespace, Name string
	// Conflicts lists the fields other managers own when the server refused the apply
	// because of them; Apply with Force takes them over.
	Conflicts []FieldConflict
	Err       error
}

func (e *ApplyError) Error() string {
	prefix := fmt.Sprintf("apply %s %s/%s", e.Kind, e.Namespace, e.Name)
	if len(e.Conflicts) == 0 {
		return fmt.Sprintf("%s: %v", prefix, e.Err)
	}
	fields := make([]string, len(e.Conflicts))
	for i, c := range e.Conflicts {
		fields[i] = fmt.Sprintf("%s (owned by %q)", c.Field, c.Manager)
	}
	return fmt.Sprintf("%s: another field manager changed fields Berth sets: %s; "+
		"put the change into the app's manifest, or deploy with --force-conflicts to overwrite it",
		prefix, strings.Join(fields, ", "))
}

func (e *ApplyError) Unwrap() error { return e.Err }

// Apply server-side applies each object into namespace, in order, as field manager
// FieldManager, and returns the objects as the server stored (or, with DryRun, would store)
// them. Transient API errors are retried; a refusal stops Apply with an *ApplyError, and the
// objects before it stay applied.
//
// Every object must carry Berth's labels — LabelManagedBy=ManagedBy, LabelName and LabelEnv —
// because Inventory and Prune find Berth's objects by them: Apply refuses the whole list,
// before changing anything, when one lacks them.
func (c *Cluster) Apply(ctx context.Context, namespace string, objs []runtime.Object, o ApplyOptions) ([]*unstructured.Unstructured, error) {
	us := make([]*unstructured.Unstructured, len(objs))
	for i, obj := range objs {
		u, err := toUnstructured(obj)
		if err != nil {
			return nil, fmt.Errorf("apply object %d: %w", i, err)
		}
		if err := checkLabels(u.GetLabels()); err != nil {
			return nil, &ApplyError{Kind: u.GetKind(), Namespace: namespace, Name: u.GetName(), Err: err}
		}
		us[i] = u
	}
	out := make([]*unstructured.Unstructured, 0, len(us))
	for _, u := range us {
		got, err := c.applyOne(ctx, namespace, u, o)
		if err != nil {
			return out, err
		}
		out = append(out, got)
	}
	return out, nil
}

func (c *Cluster) applyOne(ctx context.Context, namespace string, u *unstructured.Unstructured, o ApplyOptions) (*unstructured.Unstructured, error) {
	gvk := u.GroupVersionKind()
	fail := func(err error) error {
		return &ApplyError{Kind: gvk.Kind, Namespace: u.GetNamespace(), Name: u.GetName(), Conflicts: conflicts(err), Err: err}
	}
	ri, namespaced, err := c.resourceFor(ctx, gvk, namespace)
	if err != nil {
		return nil, fail(err)
	}
	if namespaced {
		u.SetNamespace(namespace)
	}
	data, err := json.Marshal(u)
	if err != nil {
		return nil, fail(err)
	}
	po := metav1.PatchOptions{FieldManager: FieldManager, Force: &o.Force}
	if o.DryRun {
		po.DryRun = []string{metav1.DryRunAll}
	}
	var got *unstructured.Unstructured
	err = c.retry(ctx, "apply "+gvk.Kind+" "+u.GetName(), func(ctx context.Context) error {
		var err error
		got, err = ri.Patch(ctx, u.GetName(), types.ApplyPatchType, data, po)
		return err
	})
	if err != nil {
		return nil, fail(err)
	}
	return got, nil
}

// resourceFor finds the API resource of gvk, scoped to namespace when it is namespaced.
func (c *Cluster) resourceFor(ctx context.Context, gvk schema.GroupVersionKind, namespace string) (dynamic.ResourceInterface, bool, error) {
	var m *meta.RESTMapping
	err := c.retry(ctx, "discover "+gvk.String(), func(context.Context) error {
		var err error
		m, err = c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if meta.IsNoMatchError(err) {
			// The cached discovery may predate a CRD; ask once more before giving up.
			c.mapper.Reset()
			m, err = c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		}
		return err
	})
	if err != nil {
		return nil, false, err
	}
	if m.Scope.Name() != meta.RESTScopeNameNamespace {
		return c.dyn.Resource(m.Resource), false, nil
	}
	if namespace == "" {
		return nil, false, errors.New("no namespace given for a namespaced object")
	}
	return c.dyn.Resource(m.Resource).Namespace(namespace), true, nil
}

func checkLabels(labels map[string]string) error {
	var missing []string
	if labels[LabelManagedBy] != ManagedBy {
		missing = append(missing, LabelManagedBy+"="+ManagedBy)
	}
	for _, l := range []string{LabelName, LabelEnv} {
		if labels[l] == "" {
			missing = append(missing, l)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing label %s: Berth applies only objects it can find again to prune (render them with berth)",
			strings.Join(missing, ", "))
	}
	return nil
}

var conflictManager = regexp.MustCompile(`conflict with "([^"]*)"`)

// conflicts extracts the fields and managers of a server-side apply conflict.
func conflicts(err error) []FieldConflict {
	if !apierrors.IsConflict(err) {
		return nil
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) || status.Status().Details == nil {
		return nil
	}
	var out []FieldConflict
	for _, cause := range status.Status().Details.Causes {
		if cause.Type != metav1.CauseTypeFieldManagerConflict {
			continue
		}
		fc := FieldConflict{Field: cause.Field, Manager: cause.Message}
		if m := conflictManager.FindStringSubmatch(cause.Message); m != nil {
			fc.Manager = m[1]
		}
		out = append(out, fc)
	}
	return out
}

func toUnstructured(obj runtime.Object) (*unstructured.Unstructured, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		u = u.DeepCopy()
		if u.GetKind() == "" || u.GetAPIVersion() == "" {
			return nil, errors.New("object has no apiVersion/kind set")
		}
		return u, nil
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
