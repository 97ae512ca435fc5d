package deploy

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/seal"
	"github.com/berth-dev/berth/internal/store"
)

// scriptedPullRequests answers each pull request's state with state, counting the asks.
type scriptedPullRequests struct {
	mu    sync.Mutex
	state berth.GitOpsState
	asked chan int
}

func (p *scriptedPullRequests) PullRequestState(_ context.Context, _ berth.GitOps, token string, pr int) (berth.GitOpsState, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if token != "platform-token" {
		return "", errors.New("asked with another token than the environment's")
	}
	p.asked <- pr
	return p.state, nil
}

func (p *scriptedPullRequests) set(s berth.GitOpsState) {
	p.mu.Lock()
	p.state = s
	p.mu.Unlock()
}

// TestWatchPullRequestsWakes: with a poll of an hour, the watcher looks at the open pull
// requests once when it starts, then only when NotifyPullRequests wakes it, and then the
// forge's answer (merged) is what moves the deploy on.
func TestWatchPullRequestsWakes(t *testing.T) {
	f := newEngineFixture(t)
	key, err := seal.NewKey(bytes.Repeat([]byte{5}, 32))
	if err != nil {
		t.Fatal(err)
	}
	f.st.UseSecretsKey(key)
	ctx := t.Context()
	d := f.enqueue(1, "registry.example.com/web:1", berth.DeployOptions{})
	if _, ok, err := f.st.ClaimDeploy(ctx, "w1", time.Minute); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	err = f.st.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.SetEnvGitOps(ctx, berth.GitOps{Env: "staging", Forge: berth.ForgeGitea, URL: "https://git.example.com/platform/deployments",
			PullRequest: true, CreatedBy: "admin"}, berth.RepoSecrets{Token: "platform-token", HookSecret: "hook-secret"}); err != nil {
			return err
		}
		if _, err := tx.SaveGitOpsChange(ctx, berth.GitOpsChange{DeployID: d.ID, Env: "staging", Repo: "platform/deployments",
			Branch: "berth/staging/deploy-1", Commit: "c0ffee", PR: 7, URL: "https://git.example.com/platform/deployments/pulls/7",
			State: berth.GitOpsOpen}); err != nil {
			return err
		}
		return tx.ParkDeploy(ctx, d.ID, "w1")
	})
	if err != nil {
		t.Fatal(err)
	}
	prs := &scriptedPullRequests{state: berth.GitOpsOpen, asked: make(chan int, 16)}
	watchCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.e.WatchPullRequests(watchCtx, prs, time.Hour)
	}()
	t.Cleanup(func() { stop(); <-done })
	waitAsked := func(what string) {
		t.Helper()
		select {
		case pr := <-prs.asked:
			if pr != 7 {
				t.Fatalf("%s: asked about pull request #%d, want #7", what, pr)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the forge was not asked within 10 s", what)
		}
	}
	waitAsked("at start")
	select {
	case pr := <-prs.asked:
		t.Fatalf("asked about #%d again before the poll or a wake", pr)
	case <-time.After(200 * time.Millisecond):
	}
	if got := f.deploy(d.ID).State; got != berth.DeployAwaitingMerge {
		t.Fatalf("the deploy of an open pull request is %s", got)
	}

	prs.set(berth.GitOpsMerged)
	f.e.NotifyPullRequests()
	f.e.NotifyPullRequests() // a second wake while one is pending is the same look
	waitAsked("after a wake")
	deadline := time.Now().Add(10 * time.Second)
	for f.deploy(d.ID).State != berth.DeployQueued {
		if time.Now().After(deadline) {
			t.Fatalf("the deploy of the merged pull request is %s, want queued", f.deploy(d.ID).State)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if c, err := f.st.GitOpsChange(ctx, d.ID); err != nil || c.State != berth.GitOpsMerged {
		t.Errorf("the change after the merge: %+v %v", c, err)
	}
}
