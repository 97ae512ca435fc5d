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

// ConnectRequest connects an app to its repository.
type ConnectRequest struct {
	Team, App string
	Forge     berth.Forge
	// URL is the repository's URL; Path the manifest's path in it (default berth.yaml);
	// Branch its default branch (default main).
	URL, Path, Branch string
	// Token is the forge token Berth reads the repository and writes statuses and comments
	// with.
	Token string
	// CreateWebhook registers the repository's webhook through the forge's API with the
	// token, to HookURL (default: the server's public URL + /hooks/FORGE).
	CreateWebhook bool
	HookURL       string
}

// Hooks registers webhooks on repositories through their forge's API; cmd/berth wires
// internal/forge.
type Hooks interface {
	CreateHook(ctx context.Context, forge berth.Forge, repoURL, token, repo, hookURL, secret string) error
}

// SetHooks connects what registers webhooks, and the URL users reach this server at (the
// default webhook URL is publicURL/hooks/FORGE).
func (s *Service) SetHooks(h Hooks, publicURL string) { s.hooks, s.publicURL = h, publicURL }

// Connection is a made connection, with the webhook secret Berth generated for it: shown
// once, to configure the forge's webhook with.
type Connection struct {
	Repo       berth.AppRepo
	HookSecret string
	// HookURL is where the webhook Berth registered sends; "" when it registered none.
	HookURL string
}

// maxForgeToken bounds a forge token.
const maxForgeToken = 4096

// ConnectRepo connects an app to its repository (team admins), replacing its connection if
// it had one, with a new webhook secret. The token and the secret are stored sealed; the
// audit event names the forge, repository, path and branch, never either.
func (s *Service) ConnectRepo(ctx context.Context, p *authz.Principal, req ConnectRequest) (Connection, error) {
	if req.Path == "" {
		req.Path = "berth.yaml"
	}
	if req.Branch == "" {
		req.Branch = "main"
	}
	c := change{action: "app.connect", target: berth.AppTarget(req.Team, req.App, ""), team: req.Team, app: req.App,
		details: map[string]any{"forge": string(req.Forge), "path": req.Path, "branch": req.Branch}}
	if err := authz.Check(p, authz.RepoConnect, authz.Resource{Team: req.Team}); err != nil {
		return Connection{}, s.mutate(ctx, p, &c, func() error { return err }, nil)
	}
	// The URL is audited only once it is known to hold no credentials.
	if _, err := berth.RepoOf(req.URL); err != nil {
		return Connection{}, err
	}
	c.details["url"] = req.URL
	switch {
	case req.Token == "":
		return Connection{}, invalid("token", "required: a token of the forge that may read the repository and write commit statuses and comments")
	case len(req.Token) > maxForgeToken:
		return Connection{}, invalid("token", "at most %d bytes", maxForgeToken)
	}
	repo, _ := berth.RepoOf(req.URL)
	if req.CreateWebhook || req.HookURL != "" {
		if s.hooks == nil {
			return Connection{}, &unavailable{errors.New("this server cannot register webhooks")}
		}
		if req.HookURL == "" {
			req.HookURL = s.publicURL + "/hooks/" + string(req.Forge)
		}
		if u, err := url.Parse(req.HookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return Connection{}, invalid("hookUrl", "%q is not an http(s) URL the forge can reach this server at", req.HookURL)
		}
		if !req.Forge.Valid() {
			return Connection{}, invalid("forge", "%q is not a forge: gitea or github", req.Forge)
		}
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return Connection{}, err
	}
	out := Connection{HookSecret: hex.EncodeToString(raw)}
	// The webhook first: a connection whose hook the forge refused would wait for
	// deliveries that never come.
	if req.HookURL != "" {
		if _, err := s.st.App(ctx, req.Team, req.App); err != nil {
			return Connection{}, storeErr(err)
		}
		if err := s.hooks.CreateHook(ctx, req.Forge, req.URL, req.Token, repo, req.HookURL, out.HookSecret); err != nil {
			// The forge's own words stay out: the repository URL is any host a team admin
			// names, and its answers are not theirs to read through Berth.
			why := "it did not answer"
			var apiErr *forge.APIError
			if errors.As(err, &apiErr) && apiErr.Status > 0 {
				why = fmt.Sprintf("it answered HTTP %d (may the token manage the repository's webhooks?)", apiErr.Status)
			}
			s.log.WarnContext(ctx, "register webhook", "team", req.Team, "app", req.App, "repo", repo, "err", err)
			s.audit(ctx, p, &c, berth.OutcomeFailure)
			return Connection{}, invalid("createWebhook", "%s did not register the webhook on %s: %s", req.Forge, repo, why)
		}
		out.HookURL = req.HookURL
		c.details["hookUrl"] = req.HookURL
	}
	err := s.mutate(ctx, p, &c, func() error { return nil }, func(tx *store.Tx) (err error) {
		out.Repo, err = tx.ConnectRepo(ctx, berth.AppRepo{Team: req.Team, App: req.App, Forge: req.Forge, URL: req.URL,
			Path: req.Path, Branch: req.Branch, CreatedBy: p.Name}, berth.RepoSecrets{Token: req.Token, HookSecret: out.HookSecret})
		if err == nil {
			c.details["repo"] = out.Repo.Repo
		}
		return err
	})
	if err != nil {
		return Connection{}, err
	}
	return out, nil
}

// DisconnectRepo removes an app's repository connection (team admins): its webhooks are
// refused from then on.
func (s *Service) DisconnectRepo(ctx context.Context, p *authz.Principal, team, app string) error {
	c := change{action: "app.disconnect", target: berth.AppTarget(team, app, ""), team: team, app: app}
	if err := authz.Check(p, authz.RepoConnect, authz.Resource{Team: team}); err != nil {
		return s.mutate(ctx, p, &c, func() error { return err }, nil)
	}
	return s.mutate(ctx, p, &c, func() error { return nil }, func(tx *store.Tx) error {
		return tx.DisconnectRepo(ctx, team, app)
	})
}

// AppRepo returns an app's repository connection, without its secrets (viewers).
func (s *Service) AppRepo(ctx context.Context, p *authz.Principal, team, app string) (berth.AppRepo, error) {
	if err := authz.Check(p, authz.AppRead, authz.Resource{Team: team}); err != nil {
		return berth.AppRepo{}, err
	}
	r, err := s.st.AppRepo(ctx, team, app)
	return r, storeErr(err)
}

// GitJobs returns what an app's webhook deliveries asked and what became of it, newest
// first (viewers): why a push deployed nothing is in a job's reason.
func (s *Service) GitJobs(ctx context.Context, p *authz.Principal, team, app string, limit int) ([]berth.GitJob, error) {
	if err := authz.Check(p, authz.AppRead, authz.Resource{Team: team}); err != nil {
		return nil, err
	}
	if _, err := s.st.App(ctx, team, app); err != nil {
		return nil, storeErr(err)
	}
	js, err := s.st.GitJobs(ctx, team, app, limit)
	return js, storeErr(err)
}
