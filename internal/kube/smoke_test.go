package kube_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/internal/kubetest"
	"github.com/berth-dev/berth/internal/smoke"
)

// TestSmokeHTTPSaysWhenTheAPIServerAnswers: a request through the service proxy that the
// API server answers itself (no such Service, a Service without ready endpoints) is an
// error saying so, not a status code of the app's. The real-node tests of cmd/berth show
// the app's own answers.
func TestSmokeHTTPSaysWhenTheAPIServerAnswers(t *testing.T) {
	c := newCluster(t)
	cs, ns := kubetest.Namespace(t)
	_, err := cs.CoreV1().Services(ns).Create(t.Context(), &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		svc, port, path, want string
	}{
		{"web", "http", "/health", "the API server could not reach the service: no endpoints available for service"},
		{"nope", "http", "/health", `the API server could not reach the service: no endpoints available for service "nope"`},
		{"web", "http", "//evil.example.com/x", "want an absolute path"},
	} {
		_, err := c.HTTP(t.Context(), smoke.HTTPRequest{Namespace: ns, Service: tc.svc, Port: tc.port, Method: "GET", Path: tc.path})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s:%s%s: %v, want %q", tc.svc, tc.port, tc.path, err, tc.want)
		}
	}
}
