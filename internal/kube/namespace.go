package kube

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EnsureNamespace creates namespace name with labels unless it exists. An existing namespace
// is left as it is, labels included: it may belong to the platform team, and Berth needs
// no right to change it.
func (c *Cluster) EnsureNamespace(ctx context.Context, name string, labels map[string]string) error {
	err := c.retry(ctx, "get namespace "+name, func(ctx context.Context) error {
		_, err := c.core.Namespaces().Get(ctx, name, metav1.GetOptions{})
		return err
	})
	if err == nil {
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("get namespace %s: %w", name, err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	err = c.retry(ctx, "create namespace "+name, func(ctx context.Context) error {
		_, err := c.core.Namespaces().Create(ctx, ns, metav1.CreateOptions{FieldManager: FieldManager})
		return err
	})
	// Another deploy to the same environment may have created it meanwhile.
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	return nil
}
