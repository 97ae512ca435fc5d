package apiv1

import (
	"time"

	"github.com/berth-dev/berth/internal/berth"
)

// The API's resources are separate from the domain's records so that storage and the
// domain can change without breaking clients; these functions are the only place the two
// meet. The API and the dashboard's event stream both send what they make.

// FromTeam is the wire form of a team.
func FromTeam(t berth.Team) Team {
	return Team{Name: t.Name, ChatChannel: t.ChatChannel, CreatedAt: t.CreatedAt}
}

// FromMembership is the wire form of a membership.
func FromMembership(m berth.Membership) Member {
	return Member{User: m.User, Role: string(m.Role)}
}

// FromUser is the wire form of a user.
func FromUser(u berth.User) User {
	return User{Name: u.Name, Email: u.Email, GlobalAdmin: u.IsAdmin, CreatedAt: u.CreatedAt}
}

// FromToken is the wire form of a token (never its secret) as of now.
func FromToken(t berth.Token, now time.Time) Token {
	return Token{ID: t.ID, User: t.User, Name: t.Name, Prefix: t.Prefix, CreatedAt: t.CreatedAt,
		ExpiresAt: timePtr(t.ExpiresAt), RevokedAt: timePtr(t.RevokedAt), LastUsedAt: timePtr(t.LastUsedAt), State: t.State(now)}
}

// FromApp is the wire form of an app.
func FromApp(a berth.App) App {
	return App{Team: a.Team, Name: a.Name, Revision: a.LatestRevision, CreatedAt: a.CreatedAt}
}

// FromRevision is the wire form of a manifest revision.
func FromRevision(r berth.Revision) Revision {
	out := Revision{App: r.App, Number: r.Number, Manifest: r.Manifest, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt}
	if s := r.Source; s != nil {
		out.Source = &GitSource{Forge: string(s.Forge), Repo: s.Repo, SHA: s.SHA, Ref: s.Ref, PR: s.PR}
	}
	return out
}

// FromEnvironment is the wire form of an environment.
func FromEnvironment(e berth.Environment) Environment {
	out := Environment{Name: e.Name, Kubeconfig: e.Kubeconfig, Context: e.Context, InCluster: e.InCluster,
		NamespaceTemplate: e.NamespaceTemplate, Protected: e.Protected, AllowedDeployers: e.AllowedDeployers,
		NodeSelector: e.Scheduling.NodeSelector, BaseDomain: e.BaseDomain, StorageClass: e.StorageClass, Postgres: e.Postgres, PreviewOf: e.PreviewOf,
		PreviewBase: e.PreviewBase, CreatedAt: e.CreatedAt}
	for _, t := range e.Scheduling.Tolerations {
		out.Tolerations = append(out.Tolerations, Toleration{Key: t.Key, Operator: string(t.Operator), Value: t.Value, Effect: string(t.Effect)})
	}
	return out
}

// ToTolerations is the domain's form of tolerations from the wire; nil stays nil.
func ToTolerations(ts []Toleration) []berth.Toleration {
	if ts == nil {
		return nil
	}
	out := make([]berth.Toleration, 0, len(ts))
	for _, t := range ts {
		out = append(out, berth.Toleration{Key: t.Key, Operator: berth.TolerationOperator(t.Operator), Value: t.Value, Effect: berth.TaintEffect(t.Effect)})
	}
	return out
}

// FromAuditEvent is the wire form of an audit event.
func FromAuditEvent(e berth.AuditEvent) AuditEvent {
	return AuditEvent{ID: e.ID, Time: e.Time, Actor: e.Actor, Action: e.Action, Target: e.Target, Team: e.Team,
		App: e.App, RequestID: e.RequestID, Outcome: string(e.Outcome), Details: e.Details}
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// FromDeploy is the wire form of a deploy.
func FromDeploy(d berth.Deploy) Deploy {
	return Deploy{ID: d.ID, Team: d.Team, App: d.App, Env: d.Env, Revision: d.Revision, Kind: string(d.Kind),
		State: string(d.State), Reason: d.Reason, Args: d.Args, ForceConflicts: d.Options.ForceConflicts,
		NoAutoRollback: d.Options.NoAutoRollback, SourceDeploy: d.SourceDeploy, RollbackOf: d.RollbackOf, BatchID: d.BatchID,
		ObjectsDigest: d.ObjectsDigest, Attempts: d.Attempts, CreatedBy: d.CreatedBy, CreatedAt: d.CreatedAt,
		StartedAt: timePtr(d.StartedAt), FinishedAt: timePtr(d.FinishedAt), Smoke: FromSmokeRun(d.Smoke),
		Images: d.Images, PromotedFrom: d.PromotedFrom}
}

// FromDeployEvent is the wire form of a deploy's progress event, in the API's stream and
// the dashboard's.
func FromDeployEvent(e berth.DeployEvent) DeployEvent {
	return DeployEvent{ID: e.ID, At: e.At, Phase: e.Phase, Message: e.Message, Desired: e.Desired,
		Updated: e.Updated, Ready: e.Ready, Available: e.Available}
}

// FromConfig is the wire form of a config value.
func FromConfig(s berth.Setting) ConfigValue {
	return ConfigValue{Key: s.Key, Value: s.Value, Level: string(s.Level()), Team: s.Scope.Team, App: s.Scope.App,
		Env: s.Scope.Env, Version: s.Version, UpdatedBy: s.UpdatedBy, UpdatedAt: s.UpdatedAt}
}

// FromSecret is the wire form of a secret: names and versions, no value (the store never
// returns one with a Setting).
func FromSecret(s berth.Setting) Secret {
	return Secret{Key: s.Key, Level: string(s.Level()), Team: s.Scope.Team, App: s.Scope.App, Env: s.Scope.Env,
		Version: s.Version, KeyID: s.KeyID, UpdatedBy: s.UpdatedBy, UpdatedAt: s.UpdatedAt}
}

// FromResource is the wire form of a provisioned resource: its secret outputs by name only.
func FromResource(r berth.Resource) Resource {
	out := Resource{Env: r.Env, Team: r.Team, App: r.App, Name: r.Name, Type: r.Type, Class: r.Class, ID: r.ResID, UID: r.UID,
		Provisioner: r.Provisioner, Outputs: r.Outputs, SecretOutputs: r.SecretOutputs, Version: r.Version, Status: string(r.Status),
		CreatedAt: r.CreatedAt, UpdatedBy: r.UpdatedBy, UpdatedAt: r.UpdatedAt}
	if out.Outputs == nil {
		out.Outputs = map[string]string{}
	}
	if out.SecretOutputs == nil {
		out.SecretOutputs = []string{}
	}
	return out
}
