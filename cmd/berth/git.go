package main

import (
	"context"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/forge"
	"github.com/berth-dev/berth/internal/gitflow"
)

// forges opens a connection's forge for the git job workers: internal/forge's client,
// behind the interface internal/gitflow declares.
func forges(r berth.AppRepo, token string) (gitflow.Forge, error) {
	c, err := forge.NewClient(r.Forge, r.URL, token)
	if err != nil {
		return nil, err
	}
	return forgeClient{c}, nil
}

type forgeClient struct{ c *forge.Client }

func (f forgeClient) ReadFile(ctx context.Context, repo, path, ref string) ([]byte, error) {
	return f.c.ReadFile(ctx, repo, path, ref)
}

func (f forgeClient) SetStatus(ctx context.Context, repo, sha string, s gitflow.Status) error {
	return f.c.SetStatus(ctx, repo, sha, forge.Status{State: forge.StatusState(s.State), Context: s.Context,
		Description: s.Description, TargetURL: s.TargetURL})
}

func (f forgeClient) BranchHead(ctx context.Context, repo, branch string) (string, error) {
	return f.c.BranchHead(ctx, repo, branch)
}

func (f forgeClient) ResolveRef(ctx context.Context, repo, ref string) (string, string, error) {
	return f.c.ResolveRef(ctx, repo, ref)
}

func (f forgeClient) UpsertComment(ctx context.Context, repo string, pr int, id int64, body string) (int64, error) {
	return f.c.UpsertComment(ctx, repo, pr, id, body)
}

// hooks registers webhooks for the service (apps connect --create-webhook).
type hooks struct{}

func (hooks) CreateHook(ctx context.Context, f berth.Forge, repoURL, token, repo, hookURL, secret string) error {
	c, err := forge.NewClient(f, repoURL, token)
	if err != nil {
		return err
	}
	return c.CreateHook(ctx, repo, hookURL, secret)
}
