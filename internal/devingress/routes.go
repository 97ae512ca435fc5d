// Package devingress is the dev cluster's ingress controller. It reads the cluster's Ingress
// objects of its class and proxies HTTP by host and path to the Services they name, through
// the Services' cluster IPs (so kube-proxy on the real node picks the pod, as for any other
// client in the cluster). It implements the Ingress API's matching rules (exact and wildcard
// hosts; Exact, Prefix and ImplementationSpecific paths, longest match first; default
// backends) and nothing vendor-specific: no annotations, no TLS.
//
// It imports nothing of Berth's, so tools/node/build.sh can key its cache on this package's
// files (internal/layering holds that).
package devingress

import (
	"cmp"
	"fmt"
	"net"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
)

// Backend is where a route sends requests: a Service port in a namespace, by number or name.
type Backend struct {
	Namespace string
	Service   string
	Port      networkingv1.ServiceBackendPort
	// Ingress is the namespace/name of the Ingress the route comes from.
	Ingress string
}

// route is one path of one Ingress rule.
type route struct {
	host     string // lower case; "" matches any host; "*.example.com" one label
	path     string
	exact    bool
	backend  Backend
	created  int64 // the Ingress's creation time: on a tie the oldest Ingress wins
	sequence int   // order within the table, for a stable sort
}

// Table routes requests by host and path; the zero Table routes nothing.
type Table struct {
	routes   []route
	fallback *Backend
	skipped  []string
}

// Skipped says which parts of the Ingresses the table could not use, and why.
func (t *Table) Skipped() []string { return t.skipped }

// Routes counts the table's routes.
func (t *Table) Routes() int { return len(t.routes) }

// Owns reports whether an Ingress belongs to the controller of class: its
// spec.ingressClassName names the class, or it names none and either its legacy
// kubernetes.io/ingress.class annotation does or the class is the cluster's default.
func Owns(ing *networkingv1.Ingress, class string, isDefault bool) bool {
	if ing.Spec.IngressClassName != nil {
		return *ing.Spec.IngressClassName == class
	}
	if a, ok := ing.Annotations["kubernetes.io/ingress.class"]; ok {
		return a == class
	}
	return isDefault
}

// NewTable builds the routing table of ings (already filtered by Owns).
func NewTable(ings []*networkingv1.Ingress) *Table {
	t := &Table{}
	var fallbackCreated int64
	for _, ing := range ings {
		id := ing.Namespace + "/" + ing.Name
		created := ing.CreationTimestamp.UnixNano()
		backend := func(b *networkingv1.IngressBackend, where string) (Backend, bool) {
			if b.Service == nil {
				t.skipped = append(t.skipped, id+": "+where+": only Service backends are supported")
				return Backend{}, false
			}
			return Backend{Namespace: ing.Namespace, Service: b.Service.Name, Port: b.Service.Port, Ingress: id}, true
		}
		if d := ing.Spec.DefaultBackend; d != nil {
			if b, ok := backend(d, "defaultBackend"); ok && (t.fallback == nil || created < fallbackCreated) {
				t.fallback, fallbackCreated = &b, created
			}
		}
		for i, rule := range ing.Spec.Rules {
			if rule.HTTP == nil {
				continue
			}
			for j, p := range rule.HTTP.Paths {
				b, ok := backend(&p.Backend, fmt.Sprintf("rules[%d].http.paths[%d]", i, j))
				if !ok {
					continue
				}
				path := p.Path
				if path == "" {
					path = "/"
				}
				exact := p.PathType != nil && *p.PathType == networkingv1.PathTypeExact
				if !exact {
					path = strings.TrimRight(path, "/")
				}
				t.routes = append(t.routes, route{host: strings.ToLower(rule.Host), path: path, exact: exact,
					backend: b, created: created, sequence: len(t.routes)})
			}
		}
	}
	// Most specific first: exact hosts, then wildcards, then any host; within a host,
	// longer paths first and Exact before Prefix; then the oldest Ingress.
	slices.SortStableFunc(t.routes, func(a, b route) int {
		return cmp.Or(
			cmp.Compare(hostRank(a.host), hostRank(b.host)),
			cmp.Compare(len(b.path), len(a.path)),
			boolRank(b.exact)-boolRank(a.exact),
			cmp.Compare(a.created, b.created),
			cmp.Compare(a.sequence, b.sequence),
		)
	})
	return t
}

// Match finds the backend for a request's Host header and URL path.
func (t *Table) Match(hostport, path string) (Backend, bool) {
	host := strings.ToLower(hostport)
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = strings.ToLower(h)
	}
	host = strings.TrimSuffix(host, ".")
	if path == "" {
		path = "/"
	}
	// The routes are sorted most specific first, so the first that matches wins.
	for _, r := range t.routes {
		if hostMatches(r.host, host) && (r.exact && path == r.path || !r.exact && prefixMatches(r.path, path)) {
			return r.backend, true
		}
	}
	if t.fallback != nil {
		return *t.fallback, true
	}
	return Backend{}, false
}

func hostRank(h string) int {
	switch {
	case h == "":
		return 2
	case strings.HasPrefix(h, "*."):
		return 1
	}
	return 0
}

// hostMatches applies the Ingress host rules: a wildcard covers exactly one DNS label.
func hostMatches(pattern, host string) bool {
	switch {
	case pattern == "":
		return true
	case strings.HasPrefix(pattern, "*."):
		label, rest, ok := strings.Cut(host, ".")
		return ok && label != "" && rest == pattern[2:]
	}
	return pattern == host
}

// prefixMatches matches path element by element: /foo matches /foo, /foo/ and /foo/bar, not
// /foobar. prefix has no trailing slash ("" is the root).
func prefixMatches(prefix, path string) bool {
	if prefix == "" {
		return true
	}
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	return len(path) == len(prefix) || path[len(prefix)] == '/'
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}
