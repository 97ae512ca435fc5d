package kube_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/berth-dev/berth/internal/kube"
	"github.com/berth-dev/berth/internal/kubetest"
	"github.com/berth-dev/berth/internal/manifest/manifesttest"
)

func TestDrift(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	cs, ns := kubetest.Namespace(t)
	ctx := context.Background()
	a := app{name: "web", env: "staging", image: "registry.example.com/web:1", replicas: 2,
		vars: map[string]string{"LOG_LEVEL": "info"}}
	desired := append(a.objects(), a.secret("web-secrets", map[string]string{"TOKEN": "s3cret"}))
	mustApply(t, c, ns, desired...)

	// Right after the apply, defaults and status filled in by the cluster are no drift.
	items, err := c.Drift(ctx, ns, desired)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 0 {
		t.Fatalf("drift right after apply: %+v", items)
	}

	// kubectl scale, kubectl edit of an env var and of the secret, a label someone added,
	// a deleted service.
	scaleDeployment(t, cs, ns, "web", 5)
	editDeployment(t, cs, ns, "web", func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.Containers[0].Env[0].Value = "debug"
		d.Labels["extra"] = "by-hand"
	})
	s, err := cs.CoreV1().Secrets(ns).Get(ctx, "web-secrets", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Data["TOKEN"] = []byte("leaked")
	if _, err := cs.CoreV1().Secrets(ns).Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := cs.CoreV1().Services(ns).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	items, err = c.Drift(ctx, ns, desired)
	if err != nil {
		t.Fatal(err)
	}
	ref := func(group, kind, name string) kube.ObjectRef {
		return kube.ObjectRef{Group: group, Kind: kind, Namespace: ns, Name: name}
	}
	want := []kube.DriftItem{
		{Object: ref("", "Service", "web"), Desired: kube.Present, Live: kube.Missing},
		{Object: ref("apps", "Deployment", "web"), Path: ".spec.replicas", Desired: "2", Live: "5"},
		{Object: ref("apps", "Deployment", "web"), Path: ".spec.template.spec.containers[name=web].env[name=LOG_LEVEL].value", Desired: "info", Live: "debug"},
		{Object: ref("", "Secret", "web-secrets"), Path: ".data.TOKEN", Desired: kube.Redacted, Live: kube.Redacted},
	}
	if diff := cmp.Diff(want, items); diff != "" {
		t.Errorf("drift (-want +got):\n%s", diff)
	}
	for _, it := range items {
		if strings.Contains(it.Desired+it.Live, "s3cret") || strings.Contains(it.Desired+it.Live, "leaked") {
			t.Errorf("drift reveals a secret: %+v", it)
		}
	}

	// A field Berth sets, removed by hand, is drift too.
	editDeployment(t, cs, ns, "web", func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Env = nil })
	items, err = c.Drift(ctx, ns, []runtime.Object{a.deployment()})
	if err != nil {
		t.Fatal(err)
	}
	want = []kube.DriftItem{
		{Object: ref("apps", "Deployment", "web"), Path: ".spec.replicas", Desired: "2", Live: "5"},
		{Object: ref("apps", "Deployment", "web"), Path: ".spec.template.spec.containers[name=web].env", Desired: `[{"name":"LOG_LEVEL","value":"info"}]`, Live: kube.Missing},
	}
	if diff := cmp.Diff(want, items); diff != "" {
		t.Errorf("drift after removing env (-want +got):\n%s", diff)
	}
}

// Whatever the renderer produces shows no drift right after it is applied: the fields the
// API server defaults or rewrites (quantities, ports, probes) are not taken for changes.
func TestNoDriftAfterApplyingGoldenRenders(t *testing.T) {
	t.Parallel()
	files, err := manifesttest.GoldenFiles()
	if err != nil {
		t.Fatal(err)
	}
	c := newCluster(t)
	for _, f := range files {
		t.Run(filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f), func(t *testing.T) {
			_, ns := kubetest.Namespace(t)
			objs := readObjects(t, f)
			if _, err := c.Apply(context.Background(), ns, objs, kube.ApplyOptions{}); err != nil {
				t.Fatal(err)
			}
			items, err := c.Drift(context.Background(), ns, objs)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range items {
				t.Errorf("drift: %+v", it)
			}
		})
	}
}
