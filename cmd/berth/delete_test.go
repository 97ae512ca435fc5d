package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/internal/kubetest"
)

// Deleting an app removes what Berth applied for it (its Secret with the secret values
// included) and the namespace Berth made for it once nothing else is left; --keep-workloads
// leaves them on purpose, saying so in the audit log; a team or environment with deployed
// apps is refused with the list (item 18 of the edges issue).
func TestDeleteRemovesWhatTheAppRuns(t *testing.T) {
	srv, file, ns := deployEnv(t)
	withSecret := strings.Replace(appManifest, "    image: ${args.image}\n", "    image: ${args.image}\n    variables:\n      API_KEY: ${secrets.API_KEY}\n", 1)
	if err := os.WriteFile(file, []byte(withSecret), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := berthIn(t, srv, "delete-canary-7f3a", "secrets", "set", "API_KEY", "--team", "shop"); code != 0 {
		t.Fatalf("secrets set: %s", out)
	}
	mustBerth(t, srv, "deploy", "-f", file, "--env", "staging", "--wait")
	other := filepath.Join(t.TempDir(), "berth.yaml")
	os.WriteFile(other, []byte(strings.ReplaceAll(appManifest, "name: web", "name: api")), 0o644)
	mustBerth(t, srv, "deploy", "-f", other, "--env", "staging", "--wait")

	ctx, cs := context.Background(), kubetest.Client(t)
	for _, args := range [][]string{{"teams", "delete", "shop"}, {"envs", "delete", "staging"}} {
		out, code := runBerth(t, srv, args...)
		if code == 0 || !strings.Contains(out, "still has deployed apps: shop/api (staging), shop/web (staging)") {
			t.Errorf("berth %s: exit %d, want a refusal listing the deployed apps:\n%s", strings.Join(args, " "), code, out)
		}
	}

	// web goes with everything it runs; api keeps the namespace alive.
	mustBerth(t, srv, "apps", "delete", "web", "--team", "shop")
	if _, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Deployment web after the delete: %v, want not found", err)
	}
	if _, err := cs.CoreV1().Secrets(ns).Get(ctx, "web-secrets", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("Secret web-secrets after the delete: %v, want not found", err)
	}
	if _, err := cs.AppsV1().Deployments(ns).Get(ctx, "api", metav1.GetOptions{}); err != nil {
		t.Errorf("the other app's Deployment: %v", err)
	}
	if n, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil || n.DeletionTimestamp != nil {
		t.Errorf("namespace %s with another app in it: %v, deleting %v", ns, err, n.DeletionTimestamp)
	}

	// --keep-workloads leaves api running, and the audit event says so.
	mustBerth(t, srv, "apps", "delete", "api", "--team", "shop", "--keep-workloads")
	if _, err := cs.AppsV1().Deployments(ns).Get(ctx, "api", metav1.GetOptions{}); err != nil {
		t.Errorf("api's Deployment after --keep-workloads: %v", err)
	}
	audit := mustBerth(t, srv, "audit", "--app", "api", "-o", "json")
	if !strings.Contains(audit, `"keep_workloads": true`) || !strings.Contains(audit, `"left_running_in": [`) {
		t.Errorf("audit of the kept delete:\n%s", audit)
	}
	// Nothing deployed any more: the environment and then the team go.
	mustBerth(t, srv, "envs", "delete", "staging")
	mustBerth(t, srv, "teams", "delete", "shop")
}

// The namespace Berth created goes with the last app in it.
func TestDeleteRemovesTheNamespaceBerthMade(t *testing.T) {
	srv, file, ns := deployEnv(t)
	mustBerth(t, srv, "deploy", "-f", file, "--env", "staging", "--wait")
	ctx, cs := context.Background(), kubetest.Client(t)
	if n, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil || n.Labels["app.kubernetes.io/managed-by"] != "berth" {
		t.Fatalf("namespace %s: %v, labels %v: want Berth's", ns, err, n.Labels)
	}
	out := mustBerth(t, srv, "apps", "delete", "web", "--team", "shop")
	n, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if !apierrors.IsNotFound(err) && (err != nil || n.DeletionTimestamp == nil) {
		t.Errorf("namespace %s after deleting its only app: %v (deleting: %v); berth said %s", ns, err, n.DeletionTimestamp, out)
	}
}

// A namespace holding a PersistentVolumeClaim (a volume resource's, orphaned when its app
// goes) keeps it and the namespace: claims hold data that only `berth resources delete
// --confirm` may drop.
func TestDeleteKeepsClaimsAndTheirNamespace(t *testing.T) {
	srv, file, ns := deployEnv(t)
	mustBerth(t, srv, "deploy", "-f", file, "--env", "staging", "--wait")
	ctx, cs := context.Background(), kubetest.Client(t)
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "web-data", Labels: map[string]string{"app.kubernetes.io/managed-by": "berth"}},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}},
	}
	if _, err := cs.CoreV1().PersistentVolumeClaims(ns).Create(ctx, claim, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	mustBerth(t, srv, "apps", "delete", "web", "--team", "shop")
	if n, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil || n.DeletionTimestamp != nil {
		t.Fatalf("namespace %s with a claim after deleting its app: %v (deleting: %v)", ns, err, n.DeletionTimestamp)
	}
	if _, err := cs.CoreV1().PersistentVolumeClaims(ns).Get(ctx, "web-data", metav1.GetOptions{}); err != nil {
		t.Errorf("the claim: %v", err)
	}
}
