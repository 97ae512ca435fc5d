package chat

import (
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berth"
)

func TestDeployMessage(t *testing.T) {
	start := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	base := berth.Deploy{ID: 42, Team: "shop", App: "web", Env: "production", Revision: 7, Kind: berth.KindDeploy, CreatedBy: "alice"}
	for _, tc := range []struct {
		name  string
		d     func(d berth.Deploy) berth.Deploy
		evs   []berth.DeployEvent
		wants []string
	}{
		{"queued", func(d berth.Deploy) berth.Deploy { d.State = berth.DeployQueued; return d }, nil,
			[]string{"*shop/web* → *production*: deploy 42, revision 7, by alice", "\nqueued"}},
		{"rolling", func(d berth.Deploy) berth.Deploy { d.State = berth.DeployRunning; return d },
			[]berth.DeployEvent{{Phase: "applying"}, {Phase: "progressing", Desired: 3, Ready: 2}}, []string{"rolling 2/3 ready"}},
		{"smoke failed", func(d berth.Deploy) berth.Deploy {
			d.State, d.Reason = berth.DeployFailed, "smoke test home failed: 500\\nmore"
			return d
		}, []berth.DeployEvent{{Phase: "smoke", Message: "home failed: 500 (500) in 3ms"}, {Phase: "smoke", Message: "api passed (200) in 2ms"}},
			[]string{"*failed*: smoke test home failed", "smoke 1 passed, 1 failed"}},
		{"succeeded", func(d berth.Deploy) berth.Deploy {
			d.State, d.StartedAt, d.FinishedAt = berth.DeploySucceeded, start, start.Add(34*time.Second)
			return d
		}, nil, []string{"succeeded in 34s"}},
		{"auto-rollback", func(d berth.Deploy) berth.Deploy {
			d.Kind, d.RollbackOf, d.State = berth.KindAutoRollback, 41, berth.DeployQueued
			return d
		}, nil, []string{"deploy 42, automatic rollback of deploy 41"}},
		{"awaiting approval", func(d berth.Deploy) berth.Deploy {
			d.Kind, d.State = berth.KindPromotion, berth.DeployAwaiting
			return d
		}, nil, []string{"deploy 42 (promotion)", "awaiting approval"}},
		{"awaiting merge", func(d berth.Deploy) berth.Deploy {
			d.Kind, d.State = berth.KindPromotion, berth.DeployAwaitingMerge
			return d
		}, []berth.DeployEvent{{Phase: "awaiting-merge", Message: "pull request #3 http://git/p/pulls/3 into production"}},
			[]string{"awaiting the merge of its pull request: pull request #3 http://git/p/pulls/3"}},
	} {
		got := DeployMessage(tc.d(base), tc.evs, nil)
		for _, w := range tc.wants {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q lacks %q", tc.name, got, w)
			}
		}
	}
	failed := base
	failed.State, failed.Reason = berth.DeployFailed, "rollout failed"
	rb := &berth.Deploy{ID: 43, Kind: berth.KindAutoRollback, RollbackOf: 42, State: berth.DeployRunning}
	if got := DeployMessage(failed, nil, rb); !strings.Contains(got, "rolled back automatically: deploy 43 running") {
		t.Errorf("a failed deploy's message does not say how its rollback goes: %q", got)
	}
}
