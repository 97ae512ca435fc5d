package api

import (
	"fmt"
	"time"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/store"
)

// The API's resources are separate from the store's records so that storage can change
// without breaking clients; these functions are the only place the two meet.

func list[T, U any](in []T, f func(T) U) apiv1.List[U] {
	out := apiv1.List[U]{Items: make([]U, 0, len(in))}
	for _, v := range in {
		out.Items = append(out.Items, f(v))
	}
	return out
}

func teamOut(t store.Team) apiv1.Team { return apiv1.Team{Name: t.Name, CreatedAt: t.CreatedAt} }

func memberOut(m store.Membership) apiv1.Member {
	return apiv1.Member{User: m.User, Role: string(m.Role)}
}

func userOut(u store.User) apiv1.User {
	return apiv1.User{Name: u.Name, Email: u.Email, GlobalAdmin: u.IsAdmin, CreatedAt: u.CreatedAt}
}

func tokenOut(t store.Token) apiv1.Token {
	return apiv1.Token{ID: t.ID, User: t.User, Name: t.Name, Prefix: t.Prefix, CreatedAt: t.CreatedAt,
		ExpiresAt: timePtr(t.ExpiresAt), RevokedAt: timePtr(t.RevokedAt), LastUsedAt: timePtr(t.LastUsedAt)}
}

func appOut(a store.App) apiv1.App {
	return apiv1.App{Team: a.Team, Name: a.Name, Revision: a.LatestRevision, CreatedAt: a.CreatedAt}
}

func revisionOut(r store.Revision) apiv1.Revision {
	return apiv1.Revision{App: r.App, Number: r.Number, Manifest: r.Manifest, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt}
}

func envOut(e store.Environment) apiv1.Environment {
	return apiv1.Environment{Name: e.Name, Kubeconfig: e.Kubeconfig, Context: e.Context, InCluster: e.InCluster,
		NamespaceTemplate: e.NamespaceTemplate, Protected: e.Protected, AllowedDeployers: e.AllowedDeployers, CreatedAt: e.CreatedAt}
}

func auditOut(e store.AuditEvent) apiv1.AuditEvent {
	var details map[string]string
	if len(e.Details) > 0 {
		details = make(map[string]string, len(e.Details))
		for k, v := range e.Details {
			details[k] = fmt.Sprint(v)
		}
	}
	return apiv1.AuditEvent{ID: e.ID, Time: e.Time, Actor: e.Actor, Action: e.Action, Target: e.Target, Team: e.Team,
		App: e.App, RequestID: e.RequestID, Outcome: string(e.Outcome), Details: details}
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
