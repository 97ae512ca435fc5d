package kube_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/berth-dev/berth/internal/kube"
	"github.com/berth-dev/berth/internal/kubetest"
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
	c, err := kube.New(kubetest.Config(t))
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
