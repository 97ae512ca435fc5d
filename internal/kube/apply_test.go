package kube_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/berth-dev/berth/internal/kube"
	"github.com/berth-dev/berth/internal/kubetest"
	"github.com/berth-dev/berth/internal/manifest"
	"github.com/berth-dev/berth/internal/manifest/manifesttest"
)

func TestMain(m *testing.M) { kubetest.Main(m) }

// Every golden render of the manifest package must be accepted by a real API server.
func TestGoldenRendersPassServerSideDryRun(t *testing.T) {
	files, err := manifesttest.GoldenFiles()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("found only %d golden renders: %v", len(files), files)
	}
	c, err := kube.New(kubetest.Config(t), kube.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, ns := kubetest.Namespace(t)
	for _, f := range files {
		rel, _ := filepath.Rel(filepath.Dir(filepath.Dir(filepath.Dir(f))), f)
		t.Run(rel, func(t *testing.T) {
			objs := readObjects(t, f)
			got, err := c.Apply(context.Background(), ns, objs, kube.ApplyOptions{DryRun: true})
			if err != nil {
				t.Fatalf("server-side dry-run: %v", err)
			}
			if len(got) != len(objs) {
				t.Fatalf("applied %d of %d objects", len(got), len(objs))
			}
		})
	}
}

func readObjects(t *testing.T, path string) []runtime.Object {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var objs []runtime.Object
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
	return objs
}

// Berth's label names are the renderer's.
func TestLabelsMatchTheRenderer(t *testing.T) {
	for got, want := range map[string]string{
		kube.LabelManagedBy: manifest.LabelManagedBy,
		kube.LabelName:      manifest.LabelName,
		kube.LabelEnv:       manifest.LabelEnv,
		kube.ManagedBy:      manifest.ManagedBy,
	} {
		if got != want {
			t.Errorf("kube has %q where the renderer has %q", got, want)
		}
	}
}

func TestApplyRefusesObjectsWithoutBerthLabels(t *testing.T) {
	c := newCluster(t)
	cs, ns := kubetest.Namespace(t)
	a := app{name: "web", env: "staging", image: "registry.example.com/web:1", replicas: 1}
	unlabeled := a.configMap("stray", nil)
	delete(unlabeled.Labels, kube.LabelEnv)
	_, err := c.Apply(context.Background(), ns, []runtime.Object{a.serviceAccount(), unlabeled}, kube.ApplyOptions{})
	var ae *kube.ApplyError
	if !errors.As(err, &ae) || ae.Name != "stray" || !strings.Contains(err.Error(), "missing label "+kube.LabelEnv) {
		t.Fatalf("Apply = %v, want an ApplyError about the missing label", err)
	}
	// Nothing was applied, the labelled object before it included.
	if _, err := cs.CoreV1().ServiceAccounts(ns).Get(context.Background(), "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the service account was applied (err %v)", err)
	}
}

// Someone scales the Deployment by hand: the next apply fails with a clear conflict
// naming the field and the manager, and Force takes the field back.
func TestApplyFieldConflict(t *testing.T) {
	c := newCluster(t)
	cs, ns := kubetest.Namespace(t)
	ctx := context.Background()
	a := app{name: "web", env: "staging", image: "registry.example.com/web:1", replicas: 2}
	mustApply(t, c, ns, a.objects()...)

	scaleDeployment(t, cs, ns, "web", 5)

	_, err := c.Apply(ctx, ns, []runtime.Object{a.deployment()}, kube.ApplyOptions{})
	var ae *kube.ApplyError
	if !errors.As(err, &ae) {
		t.Fatalf("Apply = %v, want an ApplyError", err)
	}
	want := []kube.FieldConflict{{Manager: "kubectl-scale", Field: ".spec.replicas"}}
	if diff := cmp.Diff(want, ae.Conflicts); diff != "" {
		t.Errorf("conflicts (-want +got):\n%s", diff)
	}
	for _, s := range []string{"apply Deployment " + ns + "/web", `.spec.replicas (owned by "kubectl-scale")`, "--force-conflicts"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	if !apierrors.IsConflict(err) {
		t.Errorf("the API error is not kept: %v", err)
	}

	got, err := c.Apply(ctx, ns, []runtime.Object{a.deployment()}, kube.ApplyOptions{Force: true})
	if err != nil {
		t.Fatalf("Apply with Force: %v", err)
	}
	if r, _, _ := unstructured.NestedInt64(got[0].Object, "spec", "replicas"); r != 2 {
		t.Errorf("replicas after a forced apply = %d, want 2", r)
	}
}
