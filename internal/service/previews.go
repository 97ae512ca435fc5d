package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/manifest"
	"github.com/berth-dev/berth/internal/store"
)

// Previews returns team's previews (of app, when not ""), newest first, active ones only
// unless all: team viewers and up.
func (s *Service) Previews(ctx context.Context, p *authz.Principal, team, app string, all bool, limit int) ([]berth.Preview, error) {
	if err := authz.Check(p, authz.AppRead, authz.Resource{Team: team}); err != nil {
		return nil, err
	}
	f := store.PreviewFilter{Team: team, App: app, Limit: limit}
	if !all {
		f.States = []berth.PreviewState{berth.PreviewActive, berth.PreviewClosing}
	}
	ps, err := s.st.Previews(ctx, f)
	if err != nil {
		return nil, storeErr(err)
	}
	if len(ps) == 0 {
		if _, err := s.st.Team(ctx, team); err != nil {
			return nil, storeErr(err)
		}
		if app != "" {
			if _, err := s.st.App(ctx, team, app); err != nil {
				return nil, storeErr(err)
			}
		}
	}
	return ps, nil
}

// PreviewTeardown is what ClosePreview removed.
type PreviewTeardown struct {
	Preview berth.Preview
	// Removed are the objects deleted from the cluster, the namespace last when it went;
	// Dropped the data of the preview's resources (databases, claims).
	Removed, Dropped []string
}

// ClosePreview tears down team's app's preview of pull request pr from the preview
// environment base, because of reason (the pull request was closed or merged, or the
// preview expired): it drops the data of the preview's own resources (their postgres
// databases and roles, their volume claims), deletes what Berth applied for it and then
// its namespace, forgets the resources, and marks the preview closed, with one audit
// event (preview.close) by actor (a webhook, or the expiry). The environment made for it
// stays, with its history; a reopened pull request deploys there again.
//
// The preview is first moved to closing, in a transaction that checks no deploy is queued
// or running in it (and, for an expiry, notAfter: that it was not pushed to since), so no
// deploy starts while it is torn down; otherwise the close is refused (berth.ErrConflict)
// and the caller tries again later. A teardown cut short is resumed by the next close.
// Closing a closed preview changes nothing.
func (s *Service) ClosePreview(ctx context.Context, actor, team, app, base string, pr int, reason string, notAfter time.Time) (PreviewTeardown, error) {
	p := &authz.Principal{Name: actor}
	pv, err := s.st.Preview(ctx, team, app, base, pr)
	if err != nil {
		return PreviewTeardown{}, storeErr(err)
	}
	out := PreviewTeardown{Preview: pv}
	if pv.State == berth.PreviewClosed {
		return out, nil
	}
	var begun bool
	if err := s.st.Tx(ctx, func(tx *store.Tx) (err error) {
		begun, err = tx.BeginClosePreview(ctx, pv.ID, notAfter)
		return err
	}); err != nil {
		return out, storeErr(err)
	}
	if !begun {
		return out, fmt.Errorf("preview %s of %s/%s: a deploy is queued or running in it, or it was pushed to since: %w",
			pv.Env, team, app, berth.ErrConflict)
	}
	env, err := s.st.Environment(ctx, pv.Env)
	if err != nil && !errors.Is(err, berth.ErrNotFound) {
		return out, storeErr(err)
	}
	rs, err := s.st.Resources(ctx, berth.ResourceFilter{Team: team, App: app, Env: pv.Env})
	if err != nil {
		return out, storeErr(err)
	}
	if env.Name != "" {
		if out.Dropped, err = s.dropPreviewData(ctx, env, rs); err != nil {
			return out, err
		}
		if s.remover == nil {
			return out, &unavailable{fmt.Errorf("this Berth server does not reach clusters: it cannot remove the preview %s", pv.Env)}
		}
		out.Removed, err = s.remover.RemoveApp(ctx, env, env.Namespace(team, app), map[string]string{
			manifest.LabelManagedBy: "berth", manifest.LabelName: app, manifest.LabelEnv: env.Name})
		if err != nil {
			return out, fmt.Errorf("remove the preview %s of %s/%s (namespace %s): %w", pv.Env, team, app, env.Namespace(team, app), err)
		}
	}
	c := change{action: "preview.close", target: berth.AppTarget(team, app, pv.Env), team: team, app: app,
		details: map[string]any{"pr": pr, "base": base, "reason": reason, "removed": len(out.Removed), "dropped": out.Dropped}}
	err = s.mutate(ctx, p, &c, func() error { return nil }, func(tx *store.Tx) error {
		for _, r := range rs {
			if err := tx.DeleteResource(ctx, r.Env, r.UID); err != nil && !errors.Is(err, berth.ErrNotFound) {
				return err
			}
		}
		pv, err = tx.ClosePreview(ctx, pv.ID, reason)
		return err
	})
	out.Preview = pv
	return out, err
}

// dropPreviewData drops the data of a preview's resources Berth made: postgres databases
// and roles, volume claims. Missing ones are no error, so a second close drops nothing more.
func (s *Service) dropPreviewData(ctx context.Context, env berth.Environment, rs []berth.Resource) ([]string, error) {
	var dropped []string
	for _, r := range rs {
		switch r.Provisioner {
		case builtinPostgres:
			db, role, err := s.postgresOf(ctx, r)
			if err != nil {
				return dropped, err
			}
			dsn, err := s.postgresDSN(ctx, env.Name)
			if err != nil {
				return dropped, storeErr(err)
			}
			if dsn == "" || s.pg == nil {
				return dropped, &unavailable{fmt.Errorf("%s: no PostgreSQL server to drop database %s on", r.Where(), db)}
			}
			if err := s.pg.Drop(ctx, dsn, db, role); err != nil {
				return dropped, fmt.Errorf("%s: %w", r.Where(), err)
			}
			dropped = append(dropped, "postgres database "+db)
		case builtinVolume:
			claim, err := s.claimOf(ctx, r)
			if err != nil || claim == "" {
				if err != nil {
					return dropped, err
				}
				continue
			}
			if s.claims == nil {
				return dropped, &unavailable{fmt.Errorf("%s: this Berth server cannot reach the cluster to delete claim %s", r.Where(), claim)}
			}
			if err := s.claims.DeleteClaim(ctx, env, env.Namespace(r.Team, r.App), claim); err != nil {
				return dropped, fmt.Errorf("%s: %w", r.Where(), err)
			}
			dropped = append(dropped, "volume claim "+claim)
		}
	}
	return dropped, nil
}
