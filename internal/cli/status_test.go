package cli_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

func appStatus() apiv1.AppStatus {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	return apiv1.AppStatus{Team: "shop", App: "web", Envs: []apiv1.EnvStatus{{
		Env: "staging", Namespace: "shop-staging",
		Current: &apiv1.Deploy{ID: 7, Revision: 3, State: "succeeded", CreatedBy: "alice", CreatedAt: at},
		Latest:  &apiv1.Deploy{ID: 8, Revision: 4, State: "failed", Reason: "CrashLoopBackOff", CreatedBy: "bob", CreatedAt: at},
		Live: &apiv1.LiveApp{Phase: "available", Desired: 2, Updated: 2, Ready: 2, Available: 2,
			Pods: []apiv1.LivePod{
				{Name: "web-7d9f-abc", Phase: "Running", Ready: true, Current: true},
				{Name: "web-6c8e-def", Phase: "Running", Ready: true, Restarts: 3, Reason: "OOMKilled"},
			},
			Drift: []apiv1.DriftItem{{Object: "Deployment/web", Path: "spec.replicas", Desired: "2", Live: "5"}}},
	}, {
		Env: "production", Namespace: "shop-production",
		Current: &apiv1.Deploy{ID: 6, Revision: 3, State: "succeeded", CreatedBy: "bob", CreatedAt: at},
		Error:   "cluster unreachable: connection refused",
	}}}
}

// TestStatus prints, per environment, what was deployed against what runs: pods, drift,
// or why the live state is unknown.
func TestStatus(t *testing.T) {
	h := newHarness(t, false)
	h.api.Expect("GET", "/api/v1/apps?name=web").Reply(200, apps("web", "shop"))
	h.api.Expect("GET", "/api/v1/teams/shop/apps/web/status").Reply(200, appStatus())
	if err := h.run("status", "web"); err != nil {
		t.Fatal(err)
	}
	h.wantOutput(t, `shop/web in staging (namespace shop-staging)
  deployed:  revision 3 (deploy 7 by alice, 2026-03-04T05:06:07Z)
  latest:    deploy 8 of revision 4 failed CrashLoopBackOff
  live:      available, 2/2 ready, 2 updated, 2 available
  POD           PHASE    READY  RESTARTS  TEMPLATE  REASON
  web-7d9f-abc  Running  true   0         current   -
  web-6c8e-def  Running  true   3         old       OOMKilled
  drift:     1 field(s) differ from the deploy
  OBJECT          FIELD          DEPLOYED  LIVE
  Deployment/web  spec.replicas  2         5

shop/web in production (namespace shop-production)
  deployed:  revision 3 (deploy 6 by bob, 2026-03-04T05:06:07Z)
  live:      unknown: cluster unreachable: connection refused
`, "")
}

// TestStatusJSON: -o json is the status as the API sends it, for one environment.
func TestStatusJSON(t *testing.T) {
	h := newHarness(t, false)
	want := appStatus()
	want.Envs = want.Envs[:1]
	h.api.Expect("GET", "/api/v1/teams/shop/apps/web/status?env=staging").Reply(200, want)
	if err := h.run("status", "web", "--team", "shop", "--env", "staging", "-o", "json"); err != nil {
		t.Fatal(err)
	}
	var got apiv1.AppStatus
	if err := json.Unmarshal(h.out.Bytes(), &got); err != nil {
		t.Fatalf("-o json printed %s: %v", h.out, err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("-o json (-want +got):\n%s", diff)
	}
}

func TestStatusErrors(t *testing.T) {
	h := newHarness(t, false)
	h.api.Expect("GET", "/api/v1/teams/shop/apps/web/status?env=prod").
		ReplyError(404, apiv1.Error{Code: "not_found", Message: `environment "prod": not found`})
	wantExit(t, h.run("status", "web", "--team", "shop", "--env", "prod"), `environment "prod": not found`, false)
	h.wantOutput(t, "", "")
}
