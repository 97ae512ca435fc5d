package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

// TestEnvironmentScheduling creates an environment with scheduling defaults, reads it back
// by get and list, changes each half on its own and clears both; every change is one audit
// event whose details are the new values as JSON.
func TestEnvironmentScheduling(t *testing.T) {
	f := newFixture(t)
	realNode := apiv1.Toleration{Key: "berth.dev/real-node", Operator: "Equal", Value: "true", Effect: "NoSchedule"}
	dedicated := apiv1.Toleration{Key: "dedicated", Operator: "Exists", Effect: "NoExecute"}
	call := func(method, path string, body any, status int) apiv1.Environment {
		t.Helper()
		got, data := f.do(globalAdmin, method, path, body)
		if got != status {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, got, status, data)
		}
		var e apiv1.Environment
		if err := json.Unmarshal(data, &e); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
		return e
	}
	ignore := cmpopts.IgnoreFields(apiv1.Environment{}, "CreatedAt")
	want := apiv1.Environment{Name: "prod", InCluster: true, NamespaceTemplate: "{team}-{env}",
		NodeSelector: map[string]string{"berth.dev/real-node": "true"}, Tolerations: []apiv1.Toleration{realNode, dedicated}}

	created := call("POST", "/api/v1/envs", apiv1.CreateEnvironment{Name: "prod", InCluster: true,
		NodeSelector: want.NodeSelector, Tolerations: want.Tolerations}, 201)
	if diff := cmp.Diff(want, created, ignore); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(want, call("GET", "/api/v1/envs/prod", nil, 200), ignore); diff != "" {
		t.Errorf("get (-want +got):\n%s", diff)
	}
	_, data := f.do(globalAdmin, "GET", "/api/v1/envs", nil)
	var l apiv1.List[apiv1.Environment]
	if err := json.Unmarshal(data, &l); err != nil {
		t.Fatal(err)
	}
	for _, e := range l.Items {
		if e.Name == "prod" {
			if diff := cmp.Diff(want, e, ignore); diff != "" {
				t.Errorf("list (-want +got):\n%s", diff)
			}
		} else if e.NodeSelector != nil || e.Tolerations != nil {
			t.Errorf("environment %s has scheduling defaults %v %v", e.Name, e.NodeSelector, e.Tolerations)
		}
	}

	for _, step := range []struct {
		name    string
		body    apiv1.UpdateEnvironment
		want    func(e *apiv1.Environment)
		details map[string]any
	}{{
		name:    "tolerations only",
		body:    apiv1.UpdateEnvironment{Tolerations: &[]apiv1.Toleration{dedicated}},
		want:    func(e *apiv1.Environment) { e.Tolerations = []apiv1.Toleration{dedicated} },
		details: map[string]any{"tolerations": []any{"dedicated:NoExecute"}},
	}, {
		name: "node selector only",
		body: apiv1.UpdateEnvironment{NodeSelector: &map[string]string{"zone": "eu-1", "kubernetes.io/os": "linux"}},
		want: func(e *apiv1.Environment) {
			e.NodeSelector = map[string]string{"zone": "eu-1", "kubernetes.io/os": "linux"}
		},
		details: map[string]any{"nodeSelector": map[string]any{"zone": "eu-1", "kubernetes.io/os": "linux"}},
	}, {
		name:    "clear both",
		body:    apiv1.UpdateEnvironment{NodeSelector: &map[string]string{}, Tolerations: &[]apiv1.Toleration{}},
		want:    func(e *apiv1.Environment) { e.NodeSelector, e.Tolerations = nil, nil },
		details: map[string]any{"nodeSelector": map[string]any{}, "tolerations": []any{}},
	}} {
		t.Run(step.name, func(t *testing.T) {
			before := f.auditCount()
			step.want(&want)
			if diff := cmp.Diff(want, call("PATCH", "/api/v1/envs/prod", step.body, 200), ignore); diff != "" {
				t.Errorf("updated (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want, call("GET", "/api/v1/envs/prod", nil, 200), ignore); diff != "" {
				t.Errorf("get after update (-want +got):\n%s", diff)
			}
			if n := f.auditCount() - before; n != 1 {
				t.Fatalf("update wrote %d audit events, want 1", n)
			}
			ev := lastAudit(t, f)
			if ev.Action != "env.update" || ev.Target != "env/prod" || ev.Actor == "" || ev.Outcome != "success" {
				t.Errorf("audit event %+v", ev)
			}
			if diff := cmp.Diff(step.details, ev.Details); diff != "" {
				t.Errorf("audit details (-want +got):\n%s", diff)
			}
		})
	}

	// The create was audited with its defaults too.
	_, data = f.do(globalAdmin, "GET", "/api/v1/audit?limit=1000", nil)
	var evs apiv1.List[apiv1.AuditEvent]
	if err := json.Unmarshal(data, &evs); err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs.Items {
		if ev.Action == "env.create" && ev.Target == "env/prod" {
			want := map[string]any{"protected": false, "inCluster": true, "namespaceTemplate": "{team}-{env}",
				"nodeSelector": map[string]any{"berth.dev/real-node": "true"},
				"tolerations":  []any{"berth.dev/real-node=true:NoSchedule", "dedicated:NoExecute"}}
			if diff := cmp.Diff(want, ev.Details); diff != "" {
				t.Errorf("env.create details (-want +got):\n%s", diff)
			}
			return
		}
	}
	t.Errorf("no env.create event for prod")
}

// lastAudit returns the newest audit event.
func lastAudit(t *testing.T, f *fixture) apiv1.AuditEvent {
	t.Helper()
	_, data := f.do(globalAdmin, "GET", "/api/v1/audit?limit=1", nil)
	var l apiv1.List[apiv1.AuditEvent]
	if err := json.Unmarshal(data, &l); err != nil || len(l.Items) != 1 {
		t.Fatalf("audit: %v: %s", err, data)
	}
	return l.Items[0]
}

// TestPreviewEnvironment: a preview environment names its fallback, shown with it; a
// fallback that does not exist, or is itself a preview environment, is refused.
func TestPreviewEnvironment(t *testing.T) {
	f := newFixture(t)
	status, data := f.do(globalAdmin, "POST", "/api/v1/envs", apiv1.CreateEnvironment{Name: "preview", InCluster: true, PreviewOf: "staging"})
	var e apiv1.Environment
	if status != 201 || json.Unmarshal(data, &e) != nil || e.PreviewOf != "staging" {
		t.Fatalf("create a preview environment: %d %s", status, data)
	}
	for _, c := range []struct {
		in     apiv1.CreateEnvironment
		status int
		want   string
	}{
		{apiv1.CreateEnvironment{Name: "p2", InCluster: true, PreviewOf: "nowhere"}, 404, "nowhere"},
		{apiv1.CreateEnvironment{Name: "p3", InCluster: true, PreviewOf: "preview"}, 400, "is itself a preview environment"},
	} {
		if status, data := f.do(globalAdmin, "POST", "/api/v1/envs", c.in); status != c.status || !strings.Contains(string(data), c.want) {
			t.Errorf("%+v: %d %s, want %d mentioning %q", c.in, status, data, c.status, c.want)
		}
	}
	for _, in := range []apiv1.CreateEnvironment{{Name: "qa", InCluster: true}, {Name: "qa-previews", InCluster: true, PreviewOf: "qa"}} {
		if status, data := f.do(globalAdmin, "POST", "/api/v1/envs", in); status != 201 {
			t.Fatalf("create %s: %d %s", in.Name, status, data)
		}
	}
	if status, data := f.do(globalAdmin, "DELETE", "/api/v1/envs/qa", nil); status != 409 || !strings.Contains(string(data), "previews of qa-previews fall back to it") {
		t.Errorf("deleting the fallback: %d %s", status, data)
	}
}
