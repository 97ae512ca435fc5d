package kube_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/berth-dev/berth/internal/kube"
	"github.com/berth-dev/berth/internal/kubetest"
)

func TestInventoryAndPrune(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	cs, ns := kubetest.Namespace(t)
	ctx := context.Background()

	web := app{name: "web", env: "staging", image: "registry.example.com/web:1", replicas: 1}
	rev1 := append(web.objects(), web.secret("web-secrets", map[string]string{"TOKEN": "s3cret"}), web.configMap("web-extra", nil))
	mustApply(t, c, ns, rev1...)
	// The same app in another environment, and another app: not in web/staging's inventory.
	prod := web
	prod.env = "production"
	mustApply(t, c, ns, prod.configMap("web-prod-extra", nil))
	api := app{name: "api", env: "staging", image: "registry.example.com/api:1", replicas: 1}
	mustApply(t, c, ns, api.configMap("api-extra", nil))
	// Not Berth's, though it looks like it: same name pattern and app labels, no managed-by.
	unrelated := web.configMap("web-extra-unrelated", nil)
	delete(unrelated.Labels, kube.LabelManagedBy)
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, unrelated, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Managed by another tool with the same app labels.
	helm := web.configMap("web-extra-helm", nil)
	helm.Labels[kube.LabelManagedBy] = "Helm"
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, helm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	ref := func(group, kind, name string) kube.ObjectRef {
		return kube.ObjectRef{Group: group, Kind: kind, Namespace: ns, Name: name}
	}
	got, err := c.Inventory(ctx, ns, web.selector())
	if err != nil {
		t.Fatal(err)
	}
	want := []kube.ObjectRef{
		ref("", "ConfigMap", "web-extra"), ref("", "ConfigMap", "web-files"),
		ref("apps", "Deployment", "web"), ref("", "Secret", "web-secrets"),
		ref("", "Service", "web"), ref("", "ServiceAccount", "web"),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("inventory (-want +got):\n%s", diff)
	}

	// Revision 2 no longer renders web-extra nor the secret.
	rev2 := web.objects()
	keep := refsOf(t, rev2)
	deleted, err := c.Prune(ctx, ns, web.selector(), keep)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]kube.ObjectRef{ref("", "ConfigMap", "web-extra"), ref("", "Secret", "web-secrets")}, deleted); diff != "" {
		t.Errorf("pruned (-want +got):\n%s", diff)
	}
	cms, err := cs.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, cm := range cms.Items {
		if cm.Name != "kube-root-ca.crt" {
			left = append(left, cm.Name)
		}
	}
	if diff := cmp.Diff([]string{"api-extra", "web-extra-helm", "web-extra-unrelated", "web-files", "web-prod-extra"}, left); diff != "" {
		t.Errorf("config maps left (-want +got):\n%s", diff)
	}
	if _, err := cs.CoreV1().Secrets(ns).Get(ctx, "web-secrets", metav1.GetOptions{}); err == nil {
		t.Error("the secret is still there")
	}

	// Pruning again finds nothing to do.
	deleted, err = c.Prune(ctx, ns, web.selector(), keep)
	if err != nil || len(deleted) != 0 {
		t.Errorf("second prune = %v, %v; want nothing", deleted, err)
	}
}

func TestPruneRefusesABroadSelector(t *testing.T) {
	c := newCluster(t)
	_, ns := kubetest.Namespace(t)
	for _, sel := range []map[string]string{nil, {kube.LabelName: "web"}, {kube.LabelEnv: "staging"}} {
		if _, err := c.Prune(context.Background(), ns, sel, nil); err == nil || !strings.Contains(err.Error(), "must set") {
			t.Errorf("Prune with selector %v = %v, want a refusal", sel, err)
		}
	}
}

func refsOf(t *testing.T, objs []runtime.Object) []kube.ObjectRef {
	t.Helper()
	var refs []kube.ObjectRef
	for _, o := range objs {
		r, err := kube.RefOf(o)
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, r)
	}
	return refs
}

func TestRefOf(t *testing.T) {
	a := app{name: "web", env: "staging", image: "x", replicas: 1}
	r, err := kube.RefOf(a.deployment())
	if err != nil || r != (kube.ObjectRef{Group: "apps", Kind: "Deployment", Name: "web"}) || r.String() != "Deployment.apps/web" {
		t.Errorf("RefOf = %+v (%s), %v", r, r, err)
	}
	if _, err := kube.RefOf(&corev1.ConfigMap{}); err == nil {
		t.Error("RefOf an object without a kind succeeded")
	}
}
