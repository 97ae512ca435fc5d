package devingress

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type path struct {
	path string
	typ  networkingv1.PathType
	svc  string
}

func ingress(name string, age int, class *string, host string, paths ...path) *networkingv1.Ingress {
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name,
		CreationTimestamp: metav1.NewTime(time.Unix(int64(1000-age), 0))}}
	ing.Spec.IngressClassName = class
	var hp []networkingv1.HTTPIngressPath
	for _, p := range paths {
		hp = append(hp, networkingv1.HTTPIngressPath{Path: p.path, PathType: &p.typ,
			Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
				Name: p.svc, Port: networkingv1.ServiceBackendPort{Number: 80}}}})
	}
	ing.Spec.Rules = []networkingv1.IngressRule{{Host: host,
		IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: hp}}}}
	return ing
}

func TestTableMatchesLikeTheIngressAPI(t *testing.T) {
	const (
		pre   = networkingv1.PathTypePrefix
		exact = networkingv1.PathTypeExact
		impl  = networkingv1.PathTypeImplementationSpecific
	)
	tbl := NewTable([]*networkingv1.Ingress{
		ingress("a", 1, nil, "app.example.com", path{"/", pre, "root"}, path{"/api/", pre, "api"},
			path{"/api/v1", exact, "v1-exact"}, path{"/api/v1", pre, "v1"}),
		ingress("b", 1, nil, "*.example.com", path{"/", pre, "wild"}),
		ingress("c", 1, nil, "", path{"/any", impl, "any"}),
		// a younger Ingress claiming the same host and path loses to the older one
		ingress("d", 0, nil, "app.example.com", path{"/", pre, "younger"}),
	})
	for _, tc := range []struct{ host, path, want string }{
		{"app.example.com", "/", "root"},
		{"APP.example.com:8080", "/x", "root"},
		{"app.example.com", "/api", "api"},
		{"app.example.com", "/api/", "api"},
		{"app.example.com", "/apis", "root"}, // element-wise: /api does not cover /apis
		{"app.example.com", "/api/v1", "v1-exact"},
		{"app.example.com", "/api/v1/", "v1"},
		{"app.example.com", "/api/v1/x", "v1"},
		{"x.example.com", "/", "wild"},
		{"a.b.example.com", "/any", "any"}, // a wildcard covers one label only
		{"example.com", "/any/thing", "any"},
		{"other.test", "/any", "any"},
	} {
		b, ok := tbl.Match(tc.host, tc.path)
		if !ok || b.Service != tc.want {
			t.Errorf("Match(%q, %q) = %q, %v; want %q", tc.host, tc.path, b.Service, ok, tc.want)
		}
	}
	if b, ok := tbl.Match("other.test", "/"); ok {
		t.Errorf("Match(other.test, /) = %+v, want no route", b)
	}

	// A default backend catches what no rule does; the oldest Ingress's wins.
	def := func(name string, age int) *networkingv1.Ingress {
		ing := ingress(name, age, nil, "only.test", path{"/", pre, "only"})
		ing.Spec.DefaultBackend = &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
			Name: "default-" + name, Port: networkingv1.ServiceBackendPort{Name: "http"}}}
		return ing
	}
	tbl = NewTable([]*networkingv1.Ingress{def("young", 1), def("old", 5)})
	if b, ok := tbl.Match("elsewhere.test", "/x"); !ok || b.Service != "default-old" || b.Port.Name != "http" || b.Ingress != "ns/old" {
		t.Errorf("default backend = %+v, %v; want default-old:http from ns/old", b, ok)
	}

	// Backends that are not Services are reported, not served.
	res := ingress("res", 1, nil, "r.test", path{"/", pre, "x"})
	res.Spec.Rules[0].HTTP.Paths[0].Backend = networkingv1.IngressBackend{Resource: &corev1.TypedLocalObjectReference{Kind: "Bucket", Name: "b"}}
	tbl = NewTable([]*networkingv1.Ingress{res})
	if _, ok := tbl.Match("r.test", "/"); ok || len(tbl.Skipped()) != 1 {
		t.Errorf("resource backend: matched %v, skipped %q; want no route and one reason", ok, tbl.Skipped())
	}
}

func TestOwns(t *testing.T) {
	berth, other := "berth", "nginx"
	annotated := ingress("x", 0, nil, "")
	annotated.Annotations = map[string]string{"kubernetes.io/ingress.class": "nginx"}
	for _, tc := range []struct {
		ing       *networkingv1.Ingress
		isDefault bool
		want      bool
	}{
		{ingress("x", 0, &berth, ""), false, true},
		{ingress("x", 0, &other, ""), true, false},
		{ingress("x", 0, nil, ""), true, true},
		{ingress("x", 0, nil, ""), false, false},
		{annotated, true, false},
	} {
		if got := Owns(tc.ing, "berth", tc.isDefault); got != tc.want {
			t.Errorf("Owns(class %v, annotations %v, default %v) = %v, want %v",
				tc.ing.Spec.IngressClassName, tc.ing.Annotations, tc.isDefault, got, tc.want)
		}
	}
}
