package kube_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/kube"
	"github.com/berth-dev/berth/internal/kubetest"
	"github.com/berth-dev/berth/internal/manifest"
	"github.com/berth-dev/berth/internal/provision"
)

// TestScoreExamplesPassServerSideDryRun: the Score examples under examples/score, rendered
// as `berth render --env staging --provisioners docs/provisioners/platform.provisioners.yaml`
// renders them (internal/cli's renderRun, which this package may not import), are accepted
// by a real API server: the app's objects, the Secret APP-resources and the objects the
// provisioner file adds.
func TestScoreExamplesPassServerSideDryRun(t *testing.T) {
	const (
		examples = "../../examples/score"
		provFile = "../../docs/provisioners/platform.provisioners.yaml"
	)
	data, err := os.ReadFile(provFile)
	if err != nil {
		t.Fatal(err)
	}
	file, err := provision.Parse(filepath.Base(provFile), data)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	err = filepath.WalkDir(examples, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".score.yaml") {
			paths = append(paths, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 3 {
		t.Fatalf("found %d Score examples: %v", len(paths), paths)
	}

	c := newCluster(t)
	_, ns := kubetest.Namespace(t)
	ctx := context.Background()
	for _, path := range paths {
		rel, _ := filepath.Rel(examples, path)
		t.Run(rel, func(t *testing.T) {
			objs := renderScore(ctx, t, path, ns, file)
			got, err := c.Apply(ctx, ns, objs, kube.ApplyOptions{DryRun: true})
			if err != nil {
				t.Fatalf("server-side dry-run: %v", err)
			}
			if len(got) != len(objs) {
				t.Fatalf("applied %d of %d objects", len(got), len(objs))
			}
		})
	}
}

// renderScore renders the Score file at path for the environment staging into namespace,
// as renderRun does: resources provisioned offline (file's types through its templates),
// then the app's objects, then the resources' objects with the app's labels.
func renderScore(ctx context.Context, t *testing.T, path, namespace string, file *provision.File) []runtime.Object {
	t.Helper()
	m, err := manifest.LoadFile(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	ropts := manifest.RenderOptions{Env: "staging", Namespace: namespace}
	env := berth.Environment{Name: "staging", NamespaceTemplate: berth.DefaultNamespaceTemplate, BaseDomain: "staging.example.com"}
	// A Score file names no team; a deploy has the one the app is registered under.
	res, err := provision.Offline(m, ropts, provision.OfflineOptions{Env: env, Team: "shop", File: file,
		NamespaceFor: func(string, string) string { return namespace }})
	if err != nil {
		t.Fatalf("provision offline: %v", err)
	}
	ropts.Resolver = res
	rendered, err := manifest.Render(m, ropts)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	if len(rendered) == 0 {
		t.Fatal("rendered no objects")
	}
	extra, err := res.Objects(namespace, rendered[0].GetLabels(), func(name string) string { return name })
	if err != nil {
		t.Fatal(err)
	}
	objs := make([]runtime.Object, 0, len(rendered)+len(extra))
	for _, o := range rendered {
		objs = append(objs, o)
	}
	for _, u := range extra {
		objs = append(objs, u)
	}
	return objs
}
