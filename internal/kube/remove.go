package kube

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RemoveApp deletes every object Berth applied for one app in one environment in
// namespace (selector as for Prune: it must name the app and environment), then the
// namespace itself when Berth created it (it carries LabelManagedBy=ManagedBy) and nothing
// else is left in it (no PersistentVolumeClaim either: claims hold data). It returns what
// it deleted, the namespace last.
func (c *Cluster) RemoveApp(ctx context.Context, namespace string, selector map[string]string) ([]ObjectRef, error) {
	deleted, err := c.Prune(ctx, namespace, selector, nil)
	if err != nil {
		return deleted, fmt.Errorf("remove app: %w", err)
	}
	gone, err := c.deleteNamespaceIfUnused(ctx, namespace)
	if gone {
		deleted = append(deleted, ObjectRef{Kind: "Namespace", Name: namespace})
	}
	return deleted, err
}

// deleteNamespaceIfUnused deletes namespace if Berth created it and holds nothing but what
// Kubernetes puts in every namespace and Berth's own objects on their way out.
func (c *Cluster) deleteNamespaceIfUnused(ctx context.Context, namespace string) (bool, error) {
	var ns *corev1.Namespace
	err := c.retry(ctx, "get namespace "+namespace, func(ctx context.Context) error {
		var err error
		ns, err = c.core.Namespaces().Get(ctx, namespace, metav1.GetOptions{})
		return err
	})
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("get namespace %s: %w", namespace, err)
	case ns.Labels[LabelManagedBy] != ManagedBy || ns.DeletionTimestamp != nil:
		return false, nil
	}
	for _, k := range ownedKinds {
		var list *metav1.PartialObjectMetadataList
		err := c.retry(ctx, "list "+k.gvr.Resource, func(ctx context.Context) error {
			var err error
			list, err = c.meta.Resource(k.gvr).Namespace(namespace).List(ctx, metav1.ListOptions{})
			return err
		})
		if err != nil {
			return false, fmt.Errorf("namespace %s: list %s: %w", namespace, k.gvr.Resource, err)
		}
		for _, o := range list.Items {
			builtin := k.kind == "ConfigMap" && o.Name == "kube-root-ca.crt" || k.kind == "ServiceAccount" && o.Name == "default"
			if o.DeletionTimestamp == nil && !builtin {
				return false, nil // someone else's, or another app's
			}
		}
	}
	// Claims hold data: the volume resources of this app (orphaned, kept until `berth
	// resources delete --confirm`) or of others. A namespace with one stays.
	var claims *corev1.PersistentVolumeClaimList
	err = c.retry(ctx, "list persistentvolumeclaims", func(ctx context.Context) error {
		var err error
		claims, err = c.core.PersistentVolumeClaims(namespace).List(ctx, metav1.ListOptions{Limit: 1})
		return err
	})
	if err != nil {
		return false, fmt.Errorf("namespace %s: list persistentvolumeclaims: %w", namespace, err)
	}
	if len(claims.Items) > 0 {
		return false, nil
	}
	var pods *corev1.PodList
	err = c.retry(ctx, "list pods", func(ctx context.Context) error {
		var err error
		pods, err = c.core.Pods(namespace).List(ctx, metav1.ListOptions{})
		return err
	})
	if err != nil {
		return false, fmt.Errorf("namespace %s: list pods: %w", namespace, err)
	}
	for _, p := range pods.Items {
		if p.Labels[LabelManagedBy] != ManagedBy && p.DeletionTimestamp == nil {
			return false, nil
		}
	}
	uid := ns.UID
	err = c.retry(ctx, "delete namespace "+namespace, func(ctx context.Context) error {
		return c.core.Namespaces().Delete(ctx, namespace, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("delete namespace %s: %w", namespace, err)
	}
	return true, nil
}

// DeleteClaim deletes the PersistentVolumeClaim name in namespace, and with it, by its
// storage class's reclaim policy, the volume's data. One already gone is no error.
func (c *Cluster) DeleteClaim(ctx context.Context, namespace, name string) error {
	err := c.retry(ctx, "delete persistentvolumeclaim "+name, func(ctx context.Context) error {
		return c.core.PersistentVolumeClaims(namespace).Delete(ctx, name, metav1.DeleteOptions{})
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete persistentvolumeclaim %s/%s: %w", namespace, name, err)
	}
	return nil
}
