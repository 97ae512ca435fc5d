package berth_test

import (
	"testing"

	"github.com/berth-dev/berth/internal/berth"
)

// TestObjectApp: objects go to the app whose name they carry, the longest that fits.
func TestObjectApp(t *testing.T) {
	apps := []string{"web", "web-api", "db"}
	for object, want := range map[string]string{
		"deployment/web":          "web",
		"replicaset/web-7d9f8":    "web",
		"pod/web-7d9f8-x2x4q":     "web",
		"pod/web-api-5c6d7-abcde": "web-api",
		"deployment/web-api":      "web-api",
		"configmap/web-config":    "web",
		"poddisruptionbudget/db":  "db",
		"pod/webapp-1":            "",
		"deployment/other":        "",
		"namespace/shop-staging":  "",
		"web-7d9f8":               "web", // no kind
		"pod/":                    "",
	} {
		if got := berth.ObjectApp(object, apps); got != want {
			t.Errorf("ObjectApp(%q) = %q, want %q", object, got, want)
		}
	}
	if got := berth.ObjectApp("pod/web-1", nil); got != "" {
		t.Errorf("with no apps: %q", got)
	}
}
