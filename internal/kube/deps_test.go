package kube_test

import (
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// forbiddenDeps are client-go packages the berth binary must not link. Together they cost
// about a third of the CPU of a cold build of berth, which `make run` does on a fresh clone
// before a newcomer sees the dashboard, and berth needs none of them: typed clients of the
// API groups it reads (k8s.io/client-go/kubernetes/typed/core/v1, typed/apps/v1) and
// cache.NewSharedIndexInformerWithOptions do the same work.
var forbiddenDeps = []struct {
	path string
	// tree includes the packages under path.
	tree bool
	why  string
}{
	{"k8s.io/client-go/kubernetes", false, "the full Clientset links every API group's client; use the typed client of the group you need"},
	{"k8s.io/client-go/informers", true, "the informer factories link informers of every API group; build the informer with cache.NewSharedIndexInformerWithOptions over a cache.ListWatch"},
	{"k8s.io/client-go/listers", true, "listers come with the informer factories; list the informer's store"},
}

const berthCmd = "github.com/berth-dev/berth/cmd/berth"

// TestBerthDoesNotLinkHeavyClientGoPackages keeps `make run`'s cold build fast.
func TestBerthDoesNotLinkHeavyClientGoPackages(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", berthCmd).Output()
	if err != nil {
		var stderr []byte
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			stderr = ee.Stderr
		}
		t.Fatalf("go list -deps %s: %v\n%s", berthCmd, err, stderr)
	}
	why := func(pkg string) (string, bool) {
		for _, f := range forbiddenDeps {
			if pkg == f.path || f.tree && strings.HasPrefix(pkg, f.path+"/") {
				return f.why, true
			}
		}
		return "", false
	}
	var linked, entries []string
	for line := range strings.Lines(string(out)) {
		pkg, imports, _ := strings.Cut(strings.TrimSpace(line), " ")
		if _, bad := why(pkg); bad {
			linked = append(linked, pkg)
			continue
		}
		// Report where the forbidden packages come in, not all they pull along.
		for _, imp := range strings.Fields(imports) {
			if reason, bad := why(imp); bad {
				entries = append(entries, pkg+" imports "+imp+": "+reason)
			}
		}
	}
	if len(linked) == 0 {
		return
	}
	slices.Sort(entries)
	t.Errorf("%s links %d client-go packages it must not. They add about a third to the CPU of a cold "+
		"build, which `make run` does on a fresh clone before a newcomer sees the dashboard. They come in here:\n%s",
		berthCmd, len(linked), strings.Join(entries, "\n"))
}
