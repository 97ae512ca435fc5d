package deploy

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/internal/manifest"
)

// TestPinImages: containers are pinned to the digests recorded for their images as named;
// an image the manifest itself pinned, or one without a recorded digest, is left alone; a
// registry with a port is no digest separator.
func TestPinImages(t *testing.T) {
	dep := &appsv1.Deployment{}
	dep.Spec.Template.Spec.Containers = []corev1.Container{
		{Name: "a", Image: "registry.example.com:5000/app:1"},
		{Name: "b", Image: "registry.example.com:5000/app@sha256:bbbb"},
		{Name: "c", Image: "registry.example.com:5000/app:1@sha256:cccc"},
		{Name: "d", Image: "other/app:2"},
	}
	pinImages([]manifest.Object{dep}, map[string]string{
		"registry.example.com:5000/app:1": "sha256:aaaa",
		"registry.example.com:5000/app":   "sha256:zzzz",
	})
	want := []string{"registry.example.com:5000/app:1@sha256:aaaa", "registry.example.com:5000/app@sha256:bbbb",
		"registry.example.com:5000/app:1@sha256:cccc", "other/app:2"}
	for i, c := range dep.Spec.Template.Spec.Containers {
		if c.Image != want[i] {
			t.Errorf("container %s: %s, want %s", c.Name, c.Image, want[i])
		}
	}
	pinned := map[string]string{"registry.example.com:5000/app:1": "sha256:aaaa"}
	for image, as := range map[string]string{
		"registry.example.com:5000/app:1@sha256:aaaa": "registry.example.com:5000/app:1",           // pinned by pinImages
		"registry.example.com:5000/app@sha256:bbbb":   "registry.example.com:5000/app@sha256:bbbb", // by the manifest
		"other/app:2": "other/app:2",
	} {
		if got := recordedAs(image, pinned); got != as {
			t.Errorf("recordedAs(%s) = %s, want %s", image, got, as)
		}
	}
}
