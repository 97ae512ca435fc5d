package main

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/kubetest"
)

// TestDeploySchedulingDefaults creates an environment with scheduling defaults through the
// CLI, deploys into it on the test cluster and finds them in the live Deployment's pod
// template, with its pods scheduled by them (kwok's nodes carry type=kwok); cleared, the
// next deploy that renders takes them out of the live object again.
func TestDeploySchedulingDefaults(t *testing.T) {
	srv := startServer(t, t.TempDir())
	file, ns := shopEnv(t, srv, appManifest,
		"--node-selector", "type=kwok", "--toleration", "berth.dev/real-node=true:NoSchedule", "--toleration", "dedicated:NoExecute")

	var env apiv1.Environment
	if err := json.Unmarshal([]byte(mustBerth(t, srv, "envs", "get", "staging", "-o", "json")), &env); err != nil {
		t.Fatal(err)
	}
	if env.NodeSelector["type"] != "kwok" || len(env.Tolerations) != 2 {
		t.Fatalf("envs get: %+v", env)
	}

	mustBerth(t, srv, "deploy", "-f", file, "--env", "staging", "--wait")
	pod := livePodSpec(t, ns)
	if diff := cmp.Diff(map[string]string{"type": "kwok"}, pod.NodeSelector); diff != "" {
		t.Errorf("live nodeSelector (-want +got):\n%s", diff)
	}
	want := []corev1.Toleration{
		{Key: "berth.dev/real-node", Operator: corev1.TolerationOpEqual, Value: "true", Effect: corev1.TaintEffectNoSchedule},
		{Key: "dedicated", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
	}
	if diff := cmp.Diff(want, pod.Tolerations); diff != "" {
		t.Errorf("live tolerations (-want +got):\n%s", diff)
	}
	pods, err := kubetest.Client(t).CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=web"})
	if err != nil {
		t.Fatal(err)
	}
	scheduled := 0
	for _, p := range pods.Items {
		if p.Spec.NodeName != "" {
			scheduled++
		}
	}
	if scheduled < 3 {
		t.Errorf("%d of %d pods scheduled, want the 3 replicas", scheduled, len(pods.Items))
	}

	mustBerth(t, srv, "envs", "update", "staging", "--clear-scheduling")
	mustBerth(t, srv, "deploy", "web", "--env", "staging", "--refresh", "--wait")
	if pod := livePodSpec(t, ns); pod.NodeSelector != nil || pod.Tolerations != nil {
		t.Errorf("after clearing, the live pod template has nodeSelector %v, tolerations %v", pod.NodeSelector, pod.Tolerations)
	}
}

func livePodSpec(t *testing.T, ns string) corev1.PodSpec {
	t.Helper()
	d, err := kubetest.Client(t).AppsV1().Deployments(ns).Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d.Spec.Template.Spec
}
