package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// touchEvery bounds how often a token's last-used time is written: every request would
// turn reads into writes and serialize them on SQLite.
const touchEvery = time.Minute

// Authenticate turns a bearer token into a principal, or berth.ErrUnauthenticated saying why not.
// The token is looked up by the SHA-256 of the secret, so how long the lookup takes says
// nothing about the secret itself.
func (s *Service) Authenticate(ctx context.Context, secret string) (*authz.Principal, error) {
	auth, err := s.authenticate(ctx, secret)
	if err != nil {
		return nil, err
	}
	return principalOf(auth), nil
}

// authenticate finds the token secret names and checks that it may be used now.
func (s *Service) authenticate(ctx context.Context, secret string) (berth.TokenAuth, error) {
	if secret == "" {
		return berth.TokenAuth{}, fmt.Errorf("%w: send Authorization: Bearer <token> (berth login stores one)", berth.ErrUnauthenticated)
	}
	auth, err := s.st.TokenByHash(ctx, store.HashToken(secret))
	if errors.Is(err, berth.ErrNotFound) {
		return berth.TokenAuth{}, fmt.Errorf("%w: unknown token", berth.ErrUnauthenticated)
	}
	if err != nil {
		return berth.TokenAuth{}, fmt.Errorf("authenticate: %w", err)
	}
	now := s.now()
	if err := auth.Token.Check(now); err != nil {
		switch {
		case errors.Is(err, berth.ErrTokenRevoked):
			return berth.TokenAuth{}, fmt.Errorf("%w: token %s was revoked", berth.ErrUnauthenticated, auth.Token.Prefix)
		case errors.Is(err, berth.ErrTokenExpired):
			return berth.TokenAuth{}, fmt.Errorf("%w: token %s expired at %s", berth.ErrUnauthenticated, auth.Token.Prefix, auth.Token.ExpiresAt.Format(time.RFC3339))
		}
		return berth.TokenAuth{}, fmt.Errorf("%w: %v", berth.ErrUnauthenticated, err)
	}
	s.touchToken(ctx, auth.Token, now)
	return auth, nil
}

// touchToken records that t was used, at most every touchEvery.
func (s *Service) touchToken(ctx context.Context, t berth.Token, now time.Time) {
	if now.Sub(t.LastUsedAt) > touchEvery {
		if err := s.st.TouchToken(ctx, t); err != nil {
			s.log.WarnContext(ctx, "record token use", "token", t.ID, "err", err)
		}
	}
}

// principalOf is who a token acts for: its owner, with the owner's roles.
func principalOf(auth berth.TokenAuth) *authz.Principal {
	p := &authz.Principal{UserID: auth.User.ID, Name: auth.User.Name, GlobalAdmin: auth.User.IsAdmin, Roles: map[string]authz.Role{}}
	for _, m := range auth.Memberships {
		r, err := authz.ParseRole(string(m.Role))
		if err == nil {
			p.Roles[m.Team] = r
		}
	}
	return p
}

// BootstrapUser is the global admin the first start creates.
const BootstrapUser = "admin"

// Bootstrap creates the first global admin and a token for it when the store has no users.
// secret is the token to use (BERTH_BOOTSTRAP_TOKEN); empty generates one. It returns the
// secret to show once, or "" when there already were users.
func (s *Service) Bootstrap(ctx context.Context, secret string) (string, error) {
	users, err := s.st.Users(ctx)
	if err != nil {
		return "", err
	}
	if len(users) > 0 {
		return "", nil
	}
	ts := store.NewTokenSecret()
	if secret != "" {
		if len(secret) < 32 {
			return "", errors.New("BERTH_BOOTSTRAP_TOKEN must be at least 32 characters")
		}
		ts = store.TokenSecret{Secret: secret, Hash: store.HashToken(secret), Prefix: secret[:6]}
	}
	c := change{action: "user.bootstrap", target: "user/" + BootstrapUser}
	err = s.mutate(ctx, nil, &c, func() error { return nil }, func(tx *store.Tx) error {
		if _, err := tx.CreateUser(ctx, berth.User{Name: BootstrapUser, IsAdmin: true}); err != nil {
			return err
		}
		_, err := tx.CreateToken(ctx, store.NewToken{User: BootstrapUser, Name: "bootstrap", Hash: ts.Hash, Prefix: ts.Prefix})
		return err
	})
	if err != nil {
		return "", fmt.Errorf("bootstrap admin: %w", err)
	}
	return ts.Secret, nil
}
