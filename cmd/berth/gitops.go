package main

import (
	"context"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/forge"
	"github.com/berth-dev/berth/internal/gitops"
)

// gitOps is what the deploy engine needs for GitOps output: internal/gitops commits with
// go-git, internal/forge opens pull requests and reads their state.
type gitOps struct{ git *gitops.Client }

func (g gitOps) Publish(ctx context.Context, p deploy.Publication) (string, bool, error) {
	res, err := g.git.Publish(ctx, gitops.Change{URL: p.GitOps.URL, Token: p.Token, Base: p.GitOps.BranchOr(), Branch: p.Branch,
		Dir: p.Dir, Files: p.Files, Message: p.Message, Author: p.Author})
	return res.Commit, res.Unchanged, err
}

func (gitOps) OpenPullRequest(ctx context.Context, g berth.GitOps, token, branch, title, body string) (int, string, error) {
	c, err := forge.NewClient(g.Forge, g.URL, token)
	if err != nil {
		return 0, "", err
	}
	return c.OpenPullRequest(ctx, g.Repo, branch, g.BranchOr(), title, body)
}

func (gitOps) PullRequestState(ctx context.Context, g berth.GitOps, token string, pr int) (berth.GitOpsState, error) {
	c, err := forge.NewClient(g.Forge, g.URL, token)
	if err != nil {
		return "", err
	}
	return c.PullRequestState(ctx, g.Repo, pr)
}
