package layering

import (
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const mod = "github.com/berth-dev/berth/"

// The layers, by import path inside the module.
var (
	domain   = []string{"internal/berth"}
	adapters = []string{"internal/store", "internal/kube", "internal/pgadmin", "internal/forge", "internal/registry", "internal/gitops", "internal/objstore", "internal/prom"}
	edges    = []string{"internal/api", "internal/web", "internal/cli", "internal/slackbot"}
	// network packages the manifest must not import itself: it renders, it never talks.
	// (k8s.io/apimachinery's types bring net/http along; only direct imports count.)
	network = []string{"net", "net/http", "net/rpc", "net/smtp", "crypto/tls", "database/sql", "k8s.io/client-go"}
)

// graph is each package's direct imports.
type graph map[string][]string

// deps returns every package pkg imports, directly or not.
func (g graph) deps(pkg string) map[string]bool {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(p string) {
		for _, d := range g[p] {
			if !seen[d] {
				seen[d] = true
				walk(d)
			}
		}
	}
	walk(pkg)
	return seen
}

// wire are the API's wire types, shared by the server and its clients: not an edge.
const wire = mod + "internal/api/apiv1"

// in reports whether pkg is one of the module's packages in list, or below one.
func in(pkg string, list []string) bool {
	if pkg == wire {
		return slices.Contains(list, "internal/api/apiv1")
	}
	for _, l := range list {
		if pkg == mod+l || strings.HasPrefix(pkg, mod+l+"/") {
			return true
		}
	}
	return false
}

func under(pkg string, list []string) bool {
	for _, l := range list {
		if pkg == l || strings.HasPrefix(pkg, l+"/") {
			return true
		}
	}
	return false
}

// violations checks the rules on g and says which import breaks which.
func violations(g graph) []string {
	var out []string
	bad := func(pkg, dep, rule string) { out = append(out, pkg+" imports "+dep+": "+rule) }
	for pkg := range g {
		if !strings.HasPrefix(pkg, mod) {
			continue
		}
		all := g.deps(pkg)
		for dep := range all {
			if !strings.HasPrefix(dep, mod) {
				continue
			}
			switch {
			case in(pkg, domain) && !in(dep, domain):
				bad(pkg, dep, "the domain imports nothing of Berth's")
			case in(pkg, []string{"internal/manifest"}) && !in(dep, []string{"internal/manifest"}) && !in(dep, domain):
				bad(pkg, dep, "the manifest is pure: it imports only the domain")
			case in(pkg, adapters) && (in(dep, []string{"internal/service", "internal/deploy", "internal/backup", "internal/probes"}) || in(dep, edges)):
				bad(pkg, dep, "adapters do not import use cases, the engine or edges")
			case in(pkg, []string{"internal/provision"}) && !in(dep, []string{"internal/provision", "internal/manifest"}) && !in(dep, domain):
				bad(pkg, dep, "provisioner files are pure: they import only the manifest and the domain")
			case in(pkg, []string{"internal/smoke"}) && !in(dep, []string{"internal/smoke", "internal/manifest"}) && !in(dep, domain):
				bad(pkg, dep, "smoke checks are pure: they import only the manifest and the domain")
			case in(pkg, []string{"internal/devingress"}) && !in(dep, []string{"internal/devingress"}):
				bad(pkg, dep, "the dev ingress imports nothing of Berth's (tools/node/build.sh caches it by its own files)")
			case pkg == mod+"internal/probe" && dep != mod+"internal/probe":
				bad(pkg, dep, "the probe agent imports nothing of Berth's: it runs on what its environment variables say")
			case in(pkg, []string{"internal/service"}) && in(dep, edges):
				bad(pkg, dep, "use cases do not import edges")
			case in(pkg, []string{"internal/cli"}) && in(dep, []string{"internal/service", "internal/store", "internal/deploy", "internal/backup", "internal/kube"}):
				bad(pkg, dep, "the CLI is a client of the API: it talks to internal/apiclient only")
			}
		}
		if in(pkg, edges) {
			for _, dep := range g[pkg] {
				if in(dep, adapters) {
					bad(pkg, dep, "edges reach adapters only through use cases")
				}
			}
		}
		if in(pkg, []string{"internal/manifest", "internal/provision", "internal/smoke"}) {
			for _, dep := range g[pkg] {
				if under(dep, network) {
					bad(pkg, dep, "renders, never talks: no network or database packages")
				}
			}
		}
		if pkg != mod+"cmd/berth" && !strings.HasSuffix(pkg, "test") {
			var adapter, edge string
			for dep := range all {
				if in(dep, adapters) {
					adapter = dep
				}
				if in(dep, edges) {
					edge = dep
				}
			}
			if adapter != "" && edge != "" {
				bad(pkg, adapter+" and "+edge, "only cmd/berth wires adapters to edges")
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestLayering holds Berth's package layering on the real import graph.
func TestLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", mod+"...").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	g := graph{}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		g[f[0]] = f[1:]
	}
	if _, ok := g[mod+"internal/berth"]; !ok {
		t.Fatalf("go list returned no %sinternal/berth: %d packages", mod, len(g))
	}
	for _, v := range violations(g) {
		t.Error(v)
	}
}

// TestLayeringRules checks that each rule catches the import it forbids.
func TestLayeringRules(t *testing.T) {
	base := graph{
		mod + "cmd/berth":           {mod + "internal/api", mod + "internal/store", mod + "internal/kube"},
		mod + "internal/api":        {mod + "internal/service", mod + "internal/berth", wire},
		mod + "internal/web":        {mod + "internal/service", wire},
		mod + "internal/deploy":     {mod + "internal/store", mod + "internal/berth", mod + "internal/manifest"},
		mod + "internal/service":    {mod + "internal/store", mod + "internal/berth", mod + "internal/manifest"},
		mod + "internal/store":      {mod + "internal/berth", "database/sql"},
		mod + "internal/kube":       {mod + "internal/berth", "k8s.io/client-go/rest"},
		mod + "internal/manifest":   {mod + "internal/berth", "k8s.io/apimachinery/pkg/runtime"},
		mod + "internal/cli":        {mod + "internal/apiclient"},
		mod + "internal/apiclient":  {"net/http"},
		mod + "internal/berth":      {"time"},
		mod + "internal/devingress": {"k8s.io/client-go/tools/cache"},
		mod + "internal/provision":  {mod + "internal/manifest", "text/template"},
		mod + "internal/smoke":      {mod + "internal/manifest", mod + "internal/berth", "regexp"},
		mod + "internal/probe":      {"net/http"},
		mod + "internal/probes":     {mod + "internal/store", mod + "internal/probe", mod + "internal/berth"},
	}
	if v := violations(base); len(v) != 0 {
		t.Fatalf("the allowed graph breaks rules: %q", v)
	}
	for _, tc := range []struct{ pkg, imports, rule string }{
		{"internal/berth", "internal/store", "the domain imports nothing"},
		{"internal/manifest", "internal/kube", "the manifest is pure"},
		{"internal/manifest", "net/http", "renders, never talks"},
		{"internal/provision", "k8s.io/client-go", "renders, never talks"},
		{"internal/provision", "internal/store", "provisioner files are pure"},
		{"internal/store", "internal/service", "adapters do not import"},
		{"internal/kube", "internal/deploy", "adapters do not import"},
		{"internal/service", "internal/web", "use cases do not import edges"},
		{"internal/cli", "internal/store", "the CLI is a client"},
		{"internal/web", "internal/kube", "edges reach adapters only through use cases"},
		{"internal/api", "internal/store", "edges reach adapters only through use cases"},
		{"internal/deploy", "internal/web", "only cmd/berth wires"},
		{"internal/devingress", "internal/berth", "the dev ingress imports nothing of Berth's"},
		{"internal/smoke", "internal/kube", "smoke checks are pure"},
		{"internal/smoke", "net/http", "renders, never talks"},
		{"internal/probe", "internal/berth", "the probe agent imports nothing of Berth's"},
		{"internal/store", "internal/probes", "adapters do not import"},
	} {
		g := graph{}
		for k, v := range base {
			g[k] = slices.Clone(v)
		}
		dep := tc.imports
		if strings.HasPrefix(dep, "internal/") {
			dep = mod + dep
		}
		g[mod+tc.pkg] = append(g[mod+tc.pkg], dep)
		v := violations(g)
		if !slices.ContainsFunc(v, func(s string) bool { return strings.Contains(s, tc.rule) }) {
			t.Errorf("%s importing %s: violations %q, want one saying %q", tc.pkg, tc.imports, v, tc.rule)
		}
	}
}
