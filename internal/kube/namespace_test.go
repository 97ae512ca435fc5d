package kube_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/internal/kubetest"
)

func TestEnsureNamespace(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	cs := kubetest.Client(t)
	ctx := context.Background()
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	name := "ensure-ns-" + hex.EncodeToString(suffix)
	t.Cleanup(func() { _ = cs.CoreV1().Namespaces().Delete(context.Background(), name, metav1.DeleteOptions{}) })

	labels := map[string]string{"berth.dev/env": "staging"}
	for range 2 {
		if err := c.EnsureNamespace(ctx, name, labels); err != nil {
			t.Fatal(err)
		}
	}
	ns, err := cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ns.Labels["berth.dev/env"] != "staging" {
		t.Errorf("labels %v, want berth.dev/env=staging", ns.Labels)
	}

	// An existing namespace is the platform team's: left as it is.
	_, existing := kubetest.Namespace(t)
	before, err := cs.CoreV1().Namespaces().Get(ctx, existing, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.EnsureNamespace(ctx, existing, map[string]string{"x": "y"}); err != nil {
		t.Fatal(err)
	}
	after, err := cs.CoreV1().Namespaces().Get(ctx, existing, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before.Labels, after.Labels); diff != "" || before.ResourceVersion != after.ResourceVersion {
		t.Errorf("an existing namespace changed (-before +after):\n%s", diff)
	}
}
