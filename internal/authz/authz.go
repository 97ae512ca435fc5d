// Package authz owns Berth's trust scopes: who may do what to which team's resources. Every
// entry point (REST API, dashboard, chat, webhooks) asks Check, so there is one answer.
package authz

import (
	"fmt"
)

// Role is a user's role in one team, ordered by what it allows.
type Role int

// Roles, each allowing everything the one before allows.
const (
	NoRole Role = iota
	Viewer
	Deployer
	Admin
)

// ParseRole parses "viewer", "deployer" or "admin".
func ParseRole(s string) (Role, error) {
	switch s {
	case "viewer":
		return Viewer, nil
	case "deployer":
		return Deployer, nil
	case "admin":
		return Admin, nil
	}
	return NoRole, fmt.Errorf("unknown role %q: use viewer, deployer or admin", s)
}

func (r Role) String() string {
	switch r {
	case Viewer:
		return "viewer"
	case Deployer:
		return "deployer"
	case Admin:
		return "admin"
	}
	return "none"
}

// Principal is an authenticated caller.
type Principal struct {
	UserID int64
	Name   string
	// GlobalAdmin may do everything: platform engineers who run the server.
	GlobalAdmin bool
	// Roles maps team name to the caller's role in it.
	Roles map[string]Role
}

// RoleIn returns the caller's role in team.
func (p *Principal) RoleIn(team string) Role {
	if p == nil {
		return NoRole
	}
	return p.Roles[team]
}

// Action is something a caller asks to do.
type Action string

// The actions, named resource.verb.
const (
	TeamList     Action = "team.list"
	TeamCreate   Action = "team.create"
	TeamDelete   Action = "team.delete"
	TeamRead     Action = "team.read"
	MemberManage Action = "member.manage"
	UserList     Action = "user.list"
	UserCreate   Action = "user.create"
	UserDelete   Action = "user.delete"
	TokenManage  Action = "token.manage" // tokens of other users
	AppRead      Action = "app.read"
	AppCreate    Action = "app.create"
	AppDelete    Action = "app.delete"
	AppDeploy    Action = "app.deploy"
	EnvList      Action = "env.list"
	EnvManage    Action = "env.manage"
	AuditRead    Action = "audit.read"
	AuditReadAll Action = "audit.read_all"
	AuditVerify  Action = "audit.verify"
	ConfigManage Action = "config.manage"
	// ResourceDelete forgets a provisioned resource, dropping its data (a postgres database).
	ResourceDelete Action = "resource.delete"
	// RepoConnect connects an app to its repository: a forge token, and webhooks that deploy.
	RepoConnect Action = "app.connect"
	// ConfigManageGlobal sets config and secrets that apply to every team.
	ConfigManageGlobal Action = "config.manage_global"
	ServerManage       Action = "server.manage"
	// BackupCreate takes a backup of an app's data (and runs a drill of one).
	BackupCreate Action = "backup.create"
	// BackupRestore replaces an environment's data with a backup's: as grave as dropping it.
	BackupRestore Action = "backup.restore"
	// BackupSchedule sets when an app's backups and drills run and how many are kept.
	BackupSchedule Action = "backup.schedule"
	// ProbeRead shows how the environments' probes went: the platform's health is every
	// user's to see.
	ProbeRead Action = "probe.read"
	// ProbeRun runs an environment's probe now; a run already in flight is shared.
	ProbeRun Action = "probe.run"
)

// teamRole is the least role in the resource's team each team-scoped action needs.
var teamRole = map[Action]Role{
	TeamRead:     Viewer,
	AppRead:      Viewer,
	AuditRead:    Viewer,
	AppCreate:    Deployer, // registering an app is part of its first deploy
	AppDeploy:    Deployer,
	AppDelete:    Admin,
	MemberManage: Admin,
	ConfigManage: Admin,
	// Dropping a database loses data for good: more than a deploy, like deleting the app.
	ResourceDelete: Admin,
	// A forge token is a credential, and the connection's webhooks deploy: like config.
	RepoConnect: Admin,
	// Backups copy data the deployers' apps wrote; restores and schedules decide its fate.
	BackupCreate:   Deployer,
	BackupRestore:  Admin,
	BackupSchedule: Admin,
}

// anyUser are actions every authenticated caller may take; what they see is filtered.
var anyUser = map[Action]bool{TeamList: true, EnvList: true, ProbeRead: true, ProbeRun: true}

// Denied says why a caller may not do something; the API answers it with 403.
type Denied struct {
	Action Action
	Team   string
	Reason string
}

func (d *Denied) Error() string { return "forbidden: " + d.Reason }

// Resource is what an action is applied to: the owning team, and for deploys whether the
// target environment is protected and whether the caller is explicitly allowed there.
type Resource struct {
	Team string
	// Protected marks a deploy into a protected environment.
	Protected bool
	// AllowedDeployer is true when the caller is on the protected environment's allow list.
	AllowedDeployer bool
}

// Check returns nil when p may take action a on r, and a *Denied saying why not otherwise.
func Check(p *Principal, a Action, r Resource) error {
	if p == nil {
		return &Denied{Action: a, Team: r.Team, Reason: "not signed in"}
	}
	if p.GlobalAdmin {
		return nil
	}
	if anyUser[a] {
		return nil
	}
	need, teamScoped := teamRole[a]
	if !teamScoped {
		return &Denied{Action: a, Reason: fmt.Sprintf("%s needs a global admin", a)}
	}
	have := p.RoleIn(r.Team)
	if have == NoRole {
		return &Denied{Action: a, Team: r.Team, Reason: fmt.Sprintf("%s is not a member of team %s", p.Name, r.Team)}
	}
	if have < need {
		return &Denied{Action: a, Team: r.Team, Reason: fmt.Sprintf("%s needs role %s in team %s; %s has %s", a, need, r.Team, p.Name, have)}
	}
	if a == AppDeploy && r.Protected && have < Admin && !r.AllowedDeployer {
		return &Denied{Action: a, Team: r.Team, Reason: fmt.Sprintf("the environment is protected: only team admins and allowed deployers deploy there, and %s is neither", p.Name)}
	}
	return nil
}
