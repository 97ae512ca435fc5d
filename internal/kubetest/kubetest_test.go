package kubetest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/berth-dev/berth/internal/kubetest"
)

func TestMain(m *testing.M) { kubetest.Main(m) }

// TestDeploymentLifecycle proves the cluster runs real controllers: a Deployment becomes
// available, scales, and goes away with its pods.
func TestDeploymentLifecycle(t *testing.T) {
	cs, ns := kubetest.Namespace(t)
	ctx := context.Background()
	labels := map[string]string{"app": "smoke"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "smoke", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "example.com/smoke:1"}}},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	available := func(want int32) func(context.Context) error {
		return func(ctx context.Context) error {
			got, err := cs.AppsV1().Deployments(ns).Get(ctx, "smoke", metav1.GetOptions{})
			if err != nil {
				return err
			}
			s := got.Status
			if s.ObservedGeneration != got.Generation || s.AvailableReplicas != want || s.UpdatedReplicas != want {
				return fmt.Errorf("generation %d/%d, available %d, updated %d, want %d",
					s.ObservedGeneration, got.Generation, s.AvailableReplicas, s.UpdatedReplicas, want)
			}
			pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=smoke"})
			if err != nil {
				return err
			}
			ready := 0
			for _, p := range pods.Items {
				for _, c := range p.Status.Conditions {
					if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue && p.DeletionTimestamp == nil {
						ready++
					}
				}
			}
			if ready != int(want) {
				return fmt.Errorf("%d ready pods, want %d", ready, want)
			}
			return nil
		}
	}
	kubetest.Eventually(t, 60*time.Second, available(3))

	scale, err := cs.AppsV1().Deployments(ns).GetScale(ctx, "smoke", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	scale.Spec.Replicas = 5
	if _, err := cs.AppsV1().Deployments(ns).UpdateScale(ctx, "smoke", scale, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubetest.Eventually(t, 60*time.Second, available(5))

	if err := cs.AppsV1().Deployments(ns).Delete(ctx, "smoke", metav1.DeleteOptions{PropagationPolicy: ptr.To(metav1.DeletePropagationForeground)}); err != nil {
		t.Fatal(err)
	}
	kubetest.Eventually(t, 60*time.Second, func(ctx context.Context) error {
		_, err := cs.AppsV1().Deployments(ns).Get(ctx, "smoke", metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("deployment still there (err %v)", err)
		}
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=smoke"})
		if err != nil {
			return err
		}
		if len(pods.Items) != 0 {
			return fmt.Errorf("%d pods left", len(pods.Items))
		}
		return nil
	})
}
