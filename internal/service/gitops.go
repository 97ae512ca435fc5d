package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/forge"
	"github.com/berth-dev/berth/internal/store"
)

// maxGitOpsURL bounds a platform repository's URL.
const maxGitOpsURL = 2048

// GitOpsRequest turns on (or replaces) an environment's GitOps output.
type GitOpsRequest struct {
	GitOps berth.GitOps
	// Token is a forge token that may push to the platform repository and open pull
	// requests there (and, with CreateWebhook, manage its webhooks).
	Token string
	// CreateWebhook registers the platform repository's webhook through the forge's API
	// with the token, to HookURL (default: the server's public URL + /hooks/FORGE); a
	// HookURL alone does too.
	CreateWebhook bool
	HookURL       string
}

// GitOpsSet is a set GitOps output, with the webhook secret Berth generated for its
// platform repository: shown once, to configure the forge's webhook with.
type GitOpsSet struct {
	GitOps     berth.GitOps
	HookSecret string
	// HookURL is where the webhook Berth registered sends; "" when it registered none.
	HookURL string
}

// SetEnvGitOps turns on (or replaces) environment req.GitOps.Env's GitOps output (global
// admins): each deploy there publishes its objects to the platform repository, with the
// token, a forge token that may push to it and open pull requests there. Berth makes a
// new webhook secret each time: the platform repository's webhook, signed with it, tells
// Berth when a pull request was merged or closed, at once rather than at the next poll.
// The token and the secret are stored sealed; the audit event names the forge,
// repository, branch, modes and the webhook registered, never either.
func (s *Service) SetEnvGitOps(ctx context.Context, p *authz.Principal, req GitOpsRequest) (GitOpsSet, error) {
	g := req.GitOps
	c := change{action: "env.gitops", target: "env/" + g.Env, details: map[string]any{}}
	if err := authz.Check(p, authz.EnvManage, authz.Resource{}); err != nil {
		return GitOpsSet{}, s.mutate(ctx, p, &c, func() error { return err }, nil)
	}
	if err := checkGitOps(g, req.Token); err != nil {
		return GitOpsSet{}, err
	}
	// The URL is audited only once it is known to hold no credentials.
	c.details["forge"], c.details["url"] = string(g.Forge), g.URL
	c.details["pullRequest"], c.details["externalApply"] = g.PullRequest, g.ExternalApply
	if req.CreateWebhook || req.HookURL != "" {
		if s.hooks == nil {
			return GitOpsSet{}, &unavailable{errors.New("this server cannot register webhooks")}
		}
		if req.HookURL == "" {
			req.HookURL = s.publicURL + "/hooks/" + string(g.Forge)
		}
		if u, err := url.Parse(req.HookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return GitOpsSet{}, invalid("hookUrl", "%q is not an http(s) URL the forge can reach this server at", req.HookURL)
		}
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return GitOpsSet{}, err
	}
	out := GitOpsSet{HookSecret: hex.EncodeToString(raw)}
	// The webhook first: an output whose hook the forge refused would wait for deliveries
	// that never come (the poll would still find its merges, later).
	if req.HookURL != "" {
		if _, err := s.st.Environment(ctx, g.Env); err != nil {
			return GitOpsSet{}, storeErr(err)
		}
		repo, _ := berth.RepoOf(g.URL)
		if err := s.hooks.CreateHook(ctx, g.Forge, g.URL, req.Token, repo, req.HookURL, out.HookSecret); err != nil {
			// The forge's own words stay out, as for app connections.
			why := "it did not answer"
			var apiErr *forge.APIError
			if errors.As(err, &apiErr) && apiErr.Status > 0 {
				why = fmt.Sprintf("it answered HTTP %d (may the token manage the repository's webhooks?)", apiErr.Status)
			}
			s.log.WarnContext(ctx, "register webhook", "env", g.Env, "repo", repo, "err", err)
			s.audit(ctx, p, &c, berth.OutcomeFailure)
			return GitOpsSet{}, invalid("createWebhook", "%s did not register the webhook on %s: %s", g.Forge, repo, why)
		}
		out.HookURL = req.HookURL
		c.details["hookUrl"] = req.HookURL
	}
	err := s.mutate(ctx, p, &c, func() error { return nil }, func(tx *store.Tx) (err error) {
		g.CreatedBy = p.Name
		if out.GitOps, err = tx.SetEnvGitOps(ctx, g, berth.RepoSecrets{Token: req.Token, HookSecret: out.HookSecret}); err != nil {
			return err
		}
		c.details["repo"], c.details["branch"] = out.GitOps.Repo, out.GitOps.BranchOr()
		return nil
	})
	if err != nil {
		return GitOpsSet{}, err
	}
	return out, nil
}

// checkGitOps checks what SetEnvGitOps is given, each problem named by the field of the
// API's body (the store would name the URL "repo"). Its errors never quote the token, nor
// a URL that may hold credentials.
func checkGitOps(g berth.GitOps, token string) error {
	if !g.Forge.Valid() {
		return invalid("forge", "%q is not a forge: gitea or github", g.Forge)
	}
	if g.URL == "" {
		return invalid("url", "required: the platform repository's http(s) URL, such as https://git.example.com/platform/deployments")
	}
	if len(g.URL) > maxGitOpsURL {
		return invalid("url", "at most %d bytes", maxGitOpsURL)
	}
	if u, err := url.Parse(g.URL); err == nil && (u.RawQuery != "" || u.Fragment != "" || u.ForceQuery) {
		// A query may carry a credential; the repository's URL needs none.
		return invalid("url", "the repository URL must have no query or fragment: want http(s)://HOST/OWNER/NAME")
	}
	if _, err := berth.RepoOf(g.URL); err != nil {
		var bad *berth.InvalidError
		if errors.As(err, &bad) {
			return invalid("url", "%s", bad.Reason)
		}
		return err
	}
	if g.Branch != "" {
		if err := berth.CheckBranch(g.Branch); err != nil {
			return err
		}
	}
	switch {
	case token == "":
		return invalid("token", "required: a token of the forge that may push to the repository and open pull requests")
	case len(token) > maxForgeToken:
		return invalid("token", "at most %d bytes", maxForgeToken)
	}
	return nil
}

// UnsetEnvGitOps turns env's GitOps output off (global admins) and returns what it was.
// Deploys after it apply as before; deploys waiting for a pull request's merge there wait
// until it is turned on again.
func (s *Service) UnsetEnvGitOps(ctx context.Context, p *authz.Principal, env string) (berth.GitOps, error) {
	c := change{action: "env.gitops.unset", target: "env/" + env, details: map[string]any{}}
	var out berth.GitOps
	err := s.mutate(ctx, p, &c, allowed(p, authz.EnvManage, authz.Resource{}), func(tx *store.Tx) (err error) {
		if _, err := tx.Environment(ctx, env); err != nil {
			return err
		}
		if out, err = tx.DeleteEnvGitOps(ctx, env); err != nil {
			return err
		}
		c.details["repo"], c.details["branch"] = out.Repo, out.BranchOr()
		return nil
	})
	return out, err
}

// EnvGitOps returns env's GitOps output, without its token (anyone signed in: who deploys
// there needs to know where the objects go); berth.ErrNotFound when it has none.
func (s *Service) EnvGitOps(ctx context.Context, p *authz.Principal, env string) (berth.GitOps, error) {
	if err := authz.Check(p, authz.EnvList, authz.Resource{}); err != nil {
		return berth.GitOps{}, err
	}
	if _, err := s.st.Environment(ctx, env); err != nil {
		return berth.GitOps{}, storeErr(err)
	}
	g, err := s.st.EnvGitOps(ctx, env)
	if errors.Is(err, berth.ErrNotFound) {
		return g, fmt.Errorf("environment %s has no GitOps output, its deploys are applied directly (berth envs set-gitops sets one): %w", env, berth.ErrNotFound)
	}
	return g, storeErr(err)
}

// DeployGitOps returns what deploy id wrote to its environment's platform repository (the
// viewers of its team); berth.ErrNotFound when it published nothing.
func (s *Service) DeployGitOps(ctx context.Context, p *authz.Principal, id int64) (berth.GitOpsChange, error) {
	if _, err := s.GetDeploy(ctx, p, id); err != nil {
		return berth.GitOpsChange{}, err
	}
	ch, err := s.st.GitOpsChange(ctx, id)
	if errors.Is(err, berth.ErrNotFound) {
		return ch, fmt.Errorf("deploy %d published nothing to a platform repository: %w", id, berth.ErrNotFound)
	}
	return ch, storeErr(err)
}
