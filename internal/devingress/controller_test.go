package devingress_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/internal/devingress"
	"github.com/berth-dev/berth/internal/kubetest"
)

func TestMain(m *testing.M) { kubetest.Main(m) }

// TestControllerRoutesIngressesOnARealAPIServer runs the controller against a real API
// server. Service cluster IPs do not route on the simulated cluster, so the test's dialer
// records the address the controller chose and connects to a loopback backend instead.
func TestControllerRoutesIngressesOnARealAPIServer(t *testing.T) {
	cs, ns := kubetest.Namespace(t)
	ctx := t.Context()
	class := "berth-test-" + ns
	if _, err := cs.NetworkingV1().IngressClasses().Create(ctx, &networkingv1.IngressClass{
		ObjectMeta: metav1.ObjectMeta{Name: class},
		Spec:       networkingv1.IngressClassSpec{Controller: "berth.dev/ingress"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.NetworkingV1().IngressClasses().Delete(context.Background(), class, metav1.DeleteOptions{})
	})

	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "host=%s path=%s xff=%s", r.Host, r.URL.Path, r.Header.Get("X-Forwarded-For"))
	}))
	t.Cleanup(backend.Close)
	var mu sync.Mutex
	var dialed []string
	c := &devingress.Controller{
		Core: cs.CoreV1(), Networking: cs.NetworkingV1(), Class: class, StatusAddress: "127.0.0.1",
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			mu.Lock()
			dialed = append(dialed, addr)
			mu.Unlock()
			return (&net.Dialer{}).DialContext(ctx, network, backend.Listener.Addr().String())
		},
	}
	runCtx, cancel := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- c.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-ran; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	front := httptest.NewServer(c)
	t.Cleanup(front.Close)

	svc, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 8080}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	prefix := networkingv1.PathTypePrefix
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: networkingv1.IngressSpec{IngressClassName: &class, Rules: []networkingv1.IngressRule{{
			Host: "web.test",
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
				Path: "/app", PathType: &prefix,
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
					Name: "web", Port: networkingv1.ServiceBackendPort{Name: "http"}}},
			}}}},
		}}},
	}
	if _, err := cs.NetworkingV1().Ingresses(ns).Create(ctx, ing, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	get := func(host, path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, front.URL+path, nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return resp.StatusCode, string(body)
	}
	kubetest.Eventually(t, 30*time.Second, func(context.Context) error {
		if code, body := get("web.test", "/app/x"); code != http.StatusOK {
			return fmt.Errorf("GET web.test/app/x: %d %s", code, body)
		}
		return nil
	})
	code, body := get("web.test", "/app/x")
	if code != http.StatusOK || !strings.HasPrefix(body, "host=web.test path=/app/x xff=127.0.0.1") {
		t.Errorf("through the ingress: %d %q; want the backend to see the original host, path and client", code, body)
	}
	mu.Lock()
	want := net.JoinHostPort(svc.Spec.ClusterIP, "8080")
	if len(dialed) == 0 || dialed[len(dialed)-1] != want {
		t.Errorf("dialed %q, want the Service's cluster IP and port %s", dialed, want)
	}
	mu.Unlock()

	if code, body := get("other.test", "/app"); code != http.StatusNotFound || !strings.Contains(body, `no Ingress of class "`+class+`" routes host "other.test"`) {
		t.Errorf("unrouted host: %d %q", code, body)
	}
	if code, body := get("web.test", "/application"); code != http.StatusNotFound {
		t.Errorf("/application is not under the /app prefix: %d %q", code, body)
	}

	// The status shows where the ingress answers.
	kubetest.Eventually(t, 30*time.Second, func(ctx context.Context) error {
		got, err := cs.NetworkingV1().Ingresses(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if lb := got.Status.LoadBalancer.Ingress; len(lb) != 1 || lb[0].IP != "127.0.0.1" {
			return fmt.Errorf("status.loadBalancer.ingress = %+v", lb)
		}
		return nil
	})

	// A Service that goes away is a clear 503, not a hang.
	if err := cs.CoreV1().Services(ns).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	kubetest.Eventually(t, 30*time.Second, func(context.Context) error {
		code, body := get("web.test", "/app")
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "service "+ns+"/web (from ingress "+ns+"/web) does not exist") {
			return fmt.Errorf("after deleting the service: %d %q", code, body)
		}
		return nil
	})

	// Ingresses of another class are not served.
	other := "nginx"
	ing2 := ing.DeepCopy()
	ing2.Name, ing2.Spec.IngressClassName, ing2.Spec.Rules[0].Host = "other", &other, "mine-not.test"
	if _, err := cs.NetworkingV1().Ingresses(ns).Create(ctx, ing2, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Deleting the served Ingress removes its route.
	if err := cs.NetworkingV1().Ingresses(ns).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	kubetest.Eventually(t, 30*time.Second, func(context.Context) error {
		if n := c.Table().Routes(); n != 0 {
			return fmt.Errorf("%d routes after deleting the ingress", n)
		}
		return nil
	})
	if code, _ := get("mine-not.test", "/app"); code != http.StatusNotFound {
		t.Errorf("an Ingress of another class was served: %d", code)
	}
}
