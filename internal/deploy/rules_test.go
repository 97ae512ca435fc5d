package deploy

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/berth-dev/berth/internal/berth"
)

// ruleSink records the rule files handed to it, by environment/namespace/app.
type ruleSink struct {
	mu    sync.Mutex
	files map[string]string
	err   error
}

func (s *ruleSink) Put(_ context.Context, env berth.Environment, namespace, app string, rules []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if s.files == nil {
		s.files = map[string]string{}
	}
	key := env.Name + "/" + namespace + "/" + app
	if len(rules) == 0 {
		delete(s.files, key)
	} else {
		s.files[key] = string(rules)
	}
	return nil
}

func (s *ruleSink) file(key string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.files[key]
}

// monitored is appManifest with metrics and an error-ratio threshold of ratio percent.
func monitored(ratio string) string {
	return appManifest + "metrics: {port: 8080}\nalerts: {errorRatio: " + ratio + "}\n"
}

// The rules a deploy renders reach Rules once applied; a rollback hands back the rules of
// the revision it restores (from its stored objects), and a revision without rules
// removes them. A Rules that fails leaves the deploy succeeded, saying so in an event.
func TestDeployHandsAlertRulesToPrometheus(t *testing.T) {
	f := newEngineFixture(t)
	sink := &ruleSink{}
	f.e.o.Rules = sink
	f.e.o.AlertScale = 60
	f.cluster.rollout = crashOn
	const key = "staging/shop-staging/web"

	seven := f.addRevision(monitored("7"))
	if d := f.deployNow(seven, "registry.example.com/web:1", berth.DeployOptions{}); d.State != berth.DeploySucceeded {
		t.Fatalf("deploy: %s %s", d.State, d.Reason)
	}
	got := sink.file(key)
	for _, want := range []string{"BerthErrorRatioHigh", "> 0.07", `namespace="shop-staging"`, "for: 5s"} {
		if !strings.Contains(got, want) {
			t.Errorf("rules of %s lack %q:\n%s", key, want, got)
		}
	}

	twenty := f.addRevision(monitored("20"))
	bad := f.deployNow(twenty, "registry.example.com/web:bad", berth.DeployOptions{})
	if bad.State != berth.DeployFailed {
		t.Fatalf("bad deploy: %s", bad.State)
	}
	if got := sink.file(key); !strings.Contains(got, "> 0.2") {
		t.Errorf("the failed deploy's rules were not applied:\n%s", got)
	}
	if rb := f.runNext("w1"); rb.Kind != berth.KindAutoRollback || rb.State != berth.DeploySucceeded {
		t.Fatalf("rollback: %s %s %s", rb.Kind, rb.State, rb.Reason)
	}
	if got := sink.file(key); !strings.Contains(got, "> 0.07") {
		t.Errorf("the rollback did not restore the rules of the revision it restores:\n%s", got)
	}

	sink.err = errors.New("disk full")
	d := f.deployNow(twenty, "registry.example.com/web:2", berth.DeployOptions{})
	if d.State != berth.DeploySucceeded {
		t.Fatalf("a deploy whose rules were not handed over: %s %s", d.State, d.Reason)
	}
	if ph := strings.Join(f.phases(d.ID), " "); !strings.Contains(ph, "alerts") {
		t.Errorf("no event says the rules were not handed over: %s", ph)
	}
	sink.err = nil

	// Without containers' limits, metrics or restarts, nothing is left to alert on.
	off := f.addRevision(appManifest + "alerts: {disable: [restarts]}\n")
	if d := f.deployNow(off, "registry.example.com/web:3", berth.DeployOptions{}); d.State != berth.DeploySucceeded {
		t.Fatalf("deploy: %s %s", d.State, d.Reason)
	}
	if got := sink.file(key); got != "" {
		t.Errorf("rules left after a revision without any:\n%s", got)
	}
}
