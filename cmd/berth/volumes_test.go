package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/internal/kubetest"
)

// TestVolumeResourceClaims: in an environment that names a storage class, a volume
// resource becomes a PersistentVolumeClaim the pods mount (bound here to a volume the
// test made, as a provisioner of the class would); a deploy that no longer declares it
// leaves the claim and its data (orphaned), and only `berth resources delete --confirm`
// deletes it.
func TestVolumeResourceClaims(t *testing.T) {
	srv := startServer(t, t.TempDir())
	withVolume := strings.Replace(appManifest, "    image: ${args.image}\n", "    image: ${args.image}\n    volumes:\n      /data: {source: data}\n", 1) +
		"resources:\n  data: {type: volume, params: {size: 2Gi}}\n"
	file, ns := shopEnv(t, srv, withVolume)
	mustBerth(t, srv, "envs", "update", "staging", "--storage-class", "manual")
	ctx, cs := context.Background(), kubetest.Client(t)
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "pv-" + ns},
		Spec: corev1.PersistentVolumeSpec{
			StorageClassName:       "manual",
			AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("2Gi")},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/" + ns}},
			ClaimRef:               &corev1.ObjectReference{Namespace: ns, Name: "web-data"},
		},
	}
	if _, err := cs.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.CoreV1().PersistentVolumes().Delete(context.Background(), pv.Name, metav1.DeleteOptions{}) })

	mustBerth(t, srv, "deploy", "-f", file, "--env", "staging", "--wait")
	claim, err := cs.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "web-data", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *claim.Spec.StorageClassName != "manual" || claim.Spec.Resources.Requests.Storage().String() != "2Gi" {
		t.Errorf("claim: class %v, size %v", *claim.Spec.StorageClassName, claim.Spec.Resources.Requests.Storage())
	}
	dep, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v := dep.Spec.Template.Spec.Volumes; len(v) == 0 || v[0].PersistentVolumeClaim == nil || v[0].PersistentVolumeClaim.ClaimName != "web-data" {
		t.Errorf("the pods do not mount the claim: %+v", v)
	}

	// Not declared any more: the claim stays, the resource is orphaned.
	if err := os.WriteFile(file, []byte(appManifest), 0o644); err != nil {
		t.Fatal(err)
	}
	mustBerth(t, srv, "deploy", "-f", file, "--env", "staging", "--wait")
	if _, err := cs.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "web-data", metav1.GetOptions{}); err != nil {
		t.Fatalf("the claim after a deploy without the resource: %v", err)
	}
	if out := mustBerth(t, srv, "resources", "list", "--app", "web"); !strings.Contains(out, "orphaned") {
		t.Errorf("resources list:\n%s", out)
	}
	out, code := runBerth(t, srv, "resources", "delete", "data", "--app", "web", "--env", "staging")
	if code != 2 || !strings.Contains(out, "would drop PersistentVolumeClaim "+ns+"/web-data") {
		t.Errorf("delete without --confirm: exit %d\n%s", code, out)
	}
	out = mustBerth(t, srv, "resources", "delete", "data", "--app", "web", "--env", "staging", "--confirm")
	if !strings.Contains(out, "dropped PersistentVolumeClaim "+ns+"/web-data") {
		t.Errorf("delete --confirm: %s", out)
	}
	kubetest.Eventually(t, 30*time.Second, func(ctx context.Context) error {
		c, err := cs.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "web-data", metav1.GetOptions{})
		if apierrors.IsNotFound(err) || err == nil && c.DeletionTimestamp != nil {
			return nil
		}
		return err
	})
}

// TestResourcesOrphanedOnlyBySuccess: a revision that drops a resource and fails its
// rollout leaves the resource active (the automatic rollback restores the revision that
// declares it); one that drops it and succeeds orphans it; a deploy declaring it again
// makes it active.
func TestResourcesOrphanedOnlyBySuccess(t *testing.T) {
	srv := startServer(t, t.TempDir())
	withService := appManifest + "resources:\n  users: {type: service}\n"
	file, _ := shopEnv(t, srv, withService)
	status := func() string {
		t.Helper()
		var rs []struct{ Name, Status string }
		if err := json.Unmarshal([]byte(mustBerth(t, srv, "resources", "list", "--app", "web", "-o", "json")), &rs); err != nil || len(rs) != 1 {
			t.Fatalf("resources list: %v %+v", err, rs)
		}
		return rs[0].Status
	}
	mustBerth(t, srv, "deploy", "-f", file, "--env", "staging", "--wait")
	if s := status(); s != "active" {
		t.Fatalf("after the first deploy: %s", s)
	}
	if err := os.WriteFile(file, []byte(appManifest), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := runBerth(t, srv, "deploy", "-f", file, "--env", "staging", "--set", "image=registry.berth.test/unpullable:1", "--timeout", "20s", "--wait")
	if code == 0 || !strings.Contains(out, "automatic rollback") {
		t.Fatalf("a failing deploy without the resource: exit %d\n%s", code, out)
	}
	mustBerth(t, srv, "history", "web", "--env", "staging") // the rollback has run: --wait follows it
	if s := status(); s != "active" {
		t.Errorf("after a failed deploy without it and its rollback: %s, want active", s)
	}
	mustBerth(t, srv, "deploy", "-f", file, "--env", "staging", "--wait")
	if s := status(); s != "orphaned" {
		t.Errorf("after a deploy without it succeeded: %s, want orphaned", s)
	}
	if err := os.WriteFile(file, []byte(withService), 0o644); err != nil {
		t.Fatal(err)
	}
	mustBerth(t, srv, "deploy", "-f", file, "--env", "staging", "--wait")
	if s := status(); s != "active" {
		t.Errorf("declared again: %s, want active", s)
	}
}
