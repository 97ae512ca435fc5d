package service

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// ListUsers returns every user (global admins only).
func (s *Service) ListUsers(ctx context.Context, p *authz.Principal) ([]berth.User, error) {
	if err := authz.Check(p, authz.UserList, authz.Resource{}); err != nil {
		return nil, err
	}
	return s.st.Users(ctx)
}

// CreateUser creates a user (global admins only).
func (s *Service) CreateUser(ctx context.Context, p *authz.Principal, u berth.User) (berth.User, error) {
	if err := checkUserName(u.Name); err != nil {
		return berth.User{}, err
	}
	var out berth.User
	c := change{action: "user.create", target: "user/" + u.Name, details: map[string]any{"globalAdmin": u.IsAdmin}}
	err := s.mutate(ctx, p, &c, allowed(p, authz.UserCreate, authz.Resource{}), func(tx *store.Tx) (err error) {
		out, err = tx.CreateUser(ctx, u)
		return err
	})
	return out, err
}

// DeleteUser deletes a user and, with it, their tokens and memberships.
func (s *Service) DeleteUser(ctx context.Context, p *authz.Principal, name string) error {
	c := change{action: "user.delete", target: "user/" + name}
	return s.mutate(ctx, p, &c, func() error {
		if err := authz.Check(p, authz.UserDelete, authz.Resource{}); err != nil {
			return err
		}
		if name == p.Name {
			return &authz.Denied{Action: authz.UserDelete, Reason: "you cannot delete yourself; ask another global admin"}
		}
		return nil
	}, func(tx *store.Tx) error { return tx.DeleteUser(ctx, name) })
}

// maxTokenTTL bounds token lifetimes; long-lived automation renews its tokens.
const maxTokenTTL = 366 * 24 * time.Hour

// CreateToken creates a token for user ("" means the caller). Only global admins create
// tokens for others. The secret is returned once and never stored.
func (s *Service) CreateToken(ctx context.Context, p *authz.Principal, user, name string, ttl time.Duration) (berth.Token, string, error) {
	if p != nil && user == "" {
		user = p.Name
	}
	if ttl < 0 || ttl > maxTokenTTL {
		return berth.Token{}, "", invalid("expiresIn", "must be between 0 (never) and %s", maxTokenTTL)
	}
	ts := store.NewTokenSecret()
	var tok berth.Token
	c := change{action: "token.create", target: "user/" + user + "/token/" + name, details: map[string]any{"prefix": ts.Prefix}}
	err := s.mutate(ctx, p, &c, func() error {
		if p != nil && user == p.Name {
			return nil
		}
		return authz.Check(p, authz.TokenManage, authz.Resource{})
	}, func(tx *store.Tx) (err error) {
		nt := store.NewToken{User: user, Name: name, Hash: ts.Hash, Prefix: ts.Prefix}
		if ttl > 0 {
			nt.ExpiresAt = s.now().Add(ttl)
		}
		tok, err = tx.CreateToken(ctx, nt)
		return err
	})
	if err != nil {
		return berth.Token{}, "", err
	}
	return tok, ts.Secret, nil
}

// ListTokens lists user's tokens ("" means the caller's).
func (s *Service) ListTokens(ctx context.Context, p *authz.Principal, user string) ([]berth.Token, error) {
	if p != nil && user == "" {
		user = p.Name
	}
	if p == nil || user != p.Name {
		if err := authz.Check(p, authz.TokenManage, authz.Resource{}); err != nil {
			return nil, err
		}
	}
	toks, err := s.st.Tokens(ctx, user)
	return toks, storeErr(err)
}

// RevokeToken revokes a token of the caller's, or anyone's for a global admin.
func (s *Service) RevokeToken(ctx context.Context, p *authz.Principal, id int64) (berth.Token, error) {
	tok, err := s.st.Token(ctx, id)
	if err != nil {
		return berth.Token{}, storeErr(err)
	}
	var out berth.Token
	c := change{action: "token.revoke", target: "user/" + tok.User + "/token/" + strconv.FormatInt(id, 10), details: map[string]any{"prefix": tok.Prefix}}
	err = s.mutate(ctx, p, &c, func() error {
		if p != nil && tok.User == p.Name {
			return nil
		}
		if err := authz.Check(p, authz.TokenManage, authz.Resource{}); err != nil {
			return fmt.Errorf("token %d: %w", id, err)
		}
		return nil
	}, func(tx *store.Tx) (err error) {
		out, err = tx.RevokeToken(ctx, id)
		return err
	})
	return out, err
}
