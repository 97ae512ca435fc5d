package berth

import (
	"fmt"
	"time"
)

// Team owns apps; its members act on them according to their [Role].
type Team struct {
	ID   int64
	Name string
	// ChatChannel is where the chat bot announces the team's deploys (a Slack channel id);
	// "" for nowhere.
	ChatChannel string
	CreatedAt   time.Time
}

// User is a person or robot that holds API tokens. IsAdmin makes it a global admin, allowed
// everything in every team.
type User struct {
	ID        int64
	Name      string
	Email     string
	IsAdmin   bool
	CreatedAt time.Time
}

// Role is what a member may do in a team: a viewer reads, a deployer also deploys, an
// admin also manages the team's apps and members.
type Role string

// The roles, from least to most privileged.
const (
	RoleViewer   Role = "viewer"
	RoleDeployer Role = "deployer"
	RoleAdmin    Role = "admin"
)

func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleDeployer:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// Allows reports whether r grants at least what need does.
func (r Role) Allows(need Role) bool { return r.Valid() && r.rank() >= need.rank() }

// Membership gives a user a role in a team.
type Membership struct {
	UserID    int64
	User      string
	TeamID    int64
	Team      string
	Role      Role
	CreatedAt time.Time
}

// Token is an API token's record. The secret itself is never stored, only its SHA-256.
// Zero times mean "never" (ExpiresAt) or "not yet" (RevokedAt, LastUsedAt).
type Token struct {
	ID         int64
	UserID     int64
	User       string
	Name       string
	Prefix     string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	RevokedAt  time.Time
	LastUsedAt time.Time
}

// Check returns [ErrTokenRevoked] or [ErrTokenExpired] (wrapped) when t may not be used
// at now.
func (t Token) Check(now time.Time) error {
	switch t.State(now) {
	case TokenRevoked:
		return fmt.Errorf("token %s (%s): %w", t.Prefix, t.Name, ErrTokenRevoked)
	case TokenExpired:
		return fmt.Errorf("token %s (%s): %w", t.Prefix, t.Name, ErrTokenExpired)
	}
	return nil
}

// The states of a token, as [Token.State] reports them.
const (
	TokenActive  = "active"
	TokenExpired = "expired"
	TokenRevoked = "revoked"
)

// State says whether t may be used at now: active, expired or revoked (which wins).
func (t Token) State(now time.Time) string {
	switch {
	case !t.RevokedAt.IsZero():
		return TokenRevoked
	case !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt):
		return TokenExpired
	}
	return TokenActive
}

// TokenAuth is what authenticating a request needs: the token, its owner and the owner's
// memberships.
type TokenAuth struct {
	Token       Token
	User        User
	Memberships []Membership
}

// Role returns the owner's role in team, if a member.
func (a TokenAuth) Role(team string) (Role, bool) {
	for _, m := range a.Memberships {
		if m.Team == team {
			return m.Role, true
		}
	}
	return "", false
}
