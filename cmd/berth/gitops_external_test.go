package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/berth-dev/berth/internal/giteatest"
	"github.com/berth-dev/berth/internal/gitops"
	"github.com/berth-dev/berth/internal/kubetest"
)

// controllerKinds are the resources the stand-in GitOps controller applies.
var controllerKinds = map[string]schema.GroupVersionResource{
	"Deployment":     {Group: "apps", Version: "v1", Resource: "deployments"},
	"Service":        {Version: "v1", Resource: "services"},
	"ServiceAccount": {Version: "v1", Resource: "serviceaccounts"},
}

// TestGitOpsExternalApply: in an environment whose own GitOps controller (Argo CD, Flux)
// applies its branch, a deploy commits its objects, applies only their Secrets (whose
// values are never in the repository) and waits until the live Deployment is the one
// published — here applied by the test, standing in for the controller — then follows its
// rollout to success. When no controller applies it, the deploy fails saying so.
func TestGitOpsExternalApply(t *testing.T) {
	const canary = "external-canary-9c2f"
	srv := startServer(t, t.TempDir())
	file, ns := shopEnv(t, srv, strings.Replace(appManifest, "    image: ${args.image}\n",
		"    image: ${args.image}\n    variables: {API_TOKEN: \"${secrets.API_TOKEN}\"}\n", 1))
	g := giteatest.Start(t)
	platform := g.CreateRepo(t, "platform")
	url := g.URL + "/" + platform.FullName()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(g.Token), 0o600); err != nil {
		t.Fatal(err)
	}
	mustBerth(t, srv, "envs", "set-gitops", "staging", "--repo", url, "--token-file", tokenFile, "--external-apply")
	if out, code := berthIn(t, srv, canary, "secrets", "set", "API_TOKEN", "--team", "shop"); code != 0 {
		t.Fatalf("secrets set: %d %s", code, out)
	}

	type result struct {
		out  string
		code int
	}
	done := make(chan result, 1)
	go func() {
		out, code := runBerth(t, srv, "deploy", "-f", file, "--env", "staging", "--wait", "--timeout", "90s")
		done <- result{out, code}
	}()
	// The commit comes first; then the controller applies what it holds.
	ctx := t.Context()
	git := &gitops.Client{}
	var files map[string][]byte
	deadline := time.Now().Add(time.Minute)
	for {
		var err error
		if files, _, err = git.Read(ctx, url, g.Token, "staging", "shop/web"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing published: %v", err)
		}
		time.Sleep(200 * time.Millisecond) // the repository has no watch
	}
	cs := kubetest.Client(t)
	for {
		secret, err := cs.CoreV1().Secrets(ns).Get(ctx, "web-secrets", metav1.GetOptions{})
		if err == nil {
			if string(secret.Data["API_TOKEN"]) != canary {
				t.Fatal("the Secret Berth applied lacks the secret's value")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Secret Berth applies: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("Berth applied the Deployment itself: %v", err)
	}
	for name, data := range files {
		if strings.Contains(string(data), canary) {
			t.Fatalf("%s in the repository holds the secret's value", name)
		}
	}
	dyn, err := dynamic.NewForConfig(kubetest.Config(t))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		var o unstructured.Unstructured
		if err := yaml.Unmarshal(data, &o.Object); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		gvr, ok := controllerKinds[o.GetKind()]
		if !ok {
			continue // Secrets are Berth's to apply
		}
		body, err := o.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		force := true
		if _, err := dyn.Resource(gvr).Namespace(ns).Patch(ctx, o.GetName(), types.ApplyPatchType, body,
			metav1.PatchOptions{FieldManager: "argocd-controller", Force: &force}); err != nil {
			t.Fatalf("apply %s: %v", name, err)
		}
	}
	select {
	case r := <-done:
		if r.code != 0 || !strings.Contains(r.out, "succeeded") {
			t.Fatalf("deploy: exit %d\n%s", r.code, r.out)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the deploy did not end after the controller applied its objects")
	}

	// Nobody applies the next one: it fails once its timeout passed, saying why.
	out, code := runBerth(t, srv, "deploy", "-f", file, "--env", "staging", "--set", "image=registry.example.com/web:2", "--wait", "--timeout", "5s")
	if code == 0 || !strings.Contains(out, "the GitOps controller did not apply the published Deployment within 5s") {
		t.Fatalf("an unapplied deploy: exit %d\n%s", code, out)
	}
	if d, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{}); err != nil || d.Spec.Template.Spec.Containers[0].Image != "registry.example.com/web:1" {
		t.Errorf("Berth applied the unapplied deploy's Deployment: %v", err)
	}
}
