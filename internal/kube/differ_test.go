package kube

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDifferComparesWhatTheAPIServerRewrites(t *testing.T) {
	want := map[string]any{
		"metadata": map[string]any{"name": "web", "labels": map[string]any{"app.kubernetes.io/name": "web"}},
		"spec": map[string]any{
			"replicas": int64(2),
			"paused":   false,
			"resources": map[string]any{
				"requests": map[string]any{"cpu": "0.5", "memory": "128Mi"},
			},
			"args":  []any{"serve", "--port=8080"},
			"ports": []any{map[string]any{"port": int64(80)}, map[string]any{"port": int64(443)}},
		},
		"status": map[string]any{"replicas": int64(9)},
	}
	live := map[string]any{
		"metadata": map[string]any{"name": "web", "uid": "x", "labels": map[string]any{"app.kubernetes.io/name": "api", "extra": "x"}},
		"spec": map[string]any{
			"replicas": float64(2),
			"resources": map[string]any{
				"requests": map[string]any{"cpu": "500m", "memory": "256Mi"},
			},
			"args":  []any{"serve"},
			"ports": []any{map[string]any{"port": int64(80), "protocol": "TCP"}},
		},
	}
	d := differ{ref: ObjectRef{Kind: "Deployment", Name: "web"}}
	d.object(want, live)
	ref := d.ref
	wantItems := []DriftItem{
		{Object: ref, Path: `.metadata.labels["app.kubernetes.io/name"]`, Desired: "web", Live: "api"},
		{Object: ref, Path: ".spec.args", Desired: `["serve","--port=8080"]`, Live: `["serve"]`},
		{Object: ref, Path: ".spec.ports[1]", Desired: `{"port":443}`, Live: Missing},
		{Object: ref, Path: ".spec.resources.requests.memory", Desired: "128Mi", Live: "256Mi"},
	}
	if diff := cmp.Diff(wantItems, d.items); diff != "" {
		t.Errorf("drift (-want +got):\n%s", diff)
	}
}
