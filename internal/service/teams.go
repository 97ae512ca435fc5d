package service

import (
	"context"
	"strings"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// ListTeams returns every team for a global admin, and the caller's teams otherwise.
func (s *Service) ListTeams(ctx context.Context, p *authz.Principal) ([]berth.Team, error) {
	if err := authz.Check(p, authz.TeamList, authz.Resource{}); err != nil {
		return nil, err
	}
	all, err := s.st.Teams(ctx)
	if err != nil || p.GlobalAdmin {
		return all, err
	}
	var mine []berth.Team
	for _, t := range all {
		if p.RoleIn(t.Name) != authz.NoRole {
			mine = append(mine, t)
		}
	}
	return mine, nil
}

// GetTeam returns one team the caller may see.
func (s *Service) GetTeam(ctx context.Context, p *authz.Principal, name string) (berth.Team, error) {
	if err := authz.Check(p, authz.TeamRead, authz.Resource{Team: name}); err != nil {
		return berth.Team{}, err
	}
	t, err := s.st.Team(ctx, name)
	return t, storeErr(err)
}

// CreateTeam creates a team (global admins only).
func (s *Service) CreateTeam(ctx context.Context, p *authz.Principal, name string) (berth.Team, error) {
	var t berth.Team
	err := s.mutate(ctx, p, &change{action: "team.create", target: "team/" + name, team: name},
		allowed(p, authz.TeamCreate, authz.Resource{Team: name}),
		func(tx *store.Tx) (err error) {
			t, err = tx.CreateTeam(ctx, name)
			return err
		})
	return t, err
}

// DeleteTeam deletes a team without apps (global admins only).
func (s *Service) DeleteTeam(ctx context.Context, p *authz.Principal, name string) error {
	return s.mutate(ctx, p, &change{action: "team.delete", target: "team/" + name, team: name},
		allowed(p, authz.TeamDelete, authz.Resource{Team: name}),
		func(tx *store.Tx) error {
			if err := stillDeployed(ctx, tx, berth.Scope{Team: name}, "team "+name); err != nil {
				return err
			}
			return tx.DeleteTeam(ctx, name)
		})
}

// stillDeployed refuses to delete what apps in scope (a team, or with Env an environment)
// are still deployed to, naming them and where.
func stillDeployed(ctx context.Context, tx *store.Tx, scope berth.Scope, what string) error {
	envs, err := tx.Environments(ctx)
	if err != nil {
		return err
	}
	current, err := running(ctx, tx, scope, envs)
	if err != nil || len(current) == 0 {
		return err
	}
	where := map[string][]string{}
	var apps []string
	for _, d := range current {
		key := d.Team + "/" + d.App
		if where[key] == nil {
			apps = append(apps, key)
		}
		where[key] = append(where[key], d.Env)
	}
	var list []string
	for _, a := range apps {
		list = append(list, a+" ("+strings.Join(where[a], ", ")+")")
	}
	return refused("%s still has deployed apps: %s; delete them first (berth apps delete APP --team TEAM removes what they run)",
		what, strings.Join(list, ", "))
}

// ListMembers returns a team's members and their roles.
func (s *Service) ListMembers(ctx context.Context, p *authz.Principal, team string) ([]berth.Membership, error) {
	if err := authz.Check(p, authz.TeamRead, authz.Resource{Team: team}); err != nil {
		return nil, err
	}
	if _, err := s.st.Team(ctx, team); err != nil {
		return nil, storeErr(err)
	}
	ms, err := s.st.Memberships(ctx, store.MembershipFilter{Team: team})
	return ms, storeErr(err)
}

// SetMember gives user a role in team (team admins and global admins).
func (s *Service) SetMember(ctx context.Context, p *authz.Principal, team, user, role string) (berth.Membership, error) {
	var m berth.Membership
	c := change{action: "member.set", target: "team/" + team + "/member/" + user, team: team, details: map[string]any{"role": role}}
	err := s.mutate(ctx, p, &c, allowed(p, authz.MemberManage, authz.Resource{Team: team}), func(tx *store.Tx) (err error) {
		if _, perr := authz.ParseRole(role); perr != nil {
			return invalid("role", "%v", perr)
		}
		m, err = tx.SetMembership(ctx, user, team, berth.Role(role))
		return err
	})
	return m, err
}

// RemoveMember takes user out of team.
func (s *Service) RemoveMember(ctx context.Context, p *authz.Principal, team, user string) error {
	c := change{action: "member.remove", target: "team/" + team + "/member/" + user, team: team}
	return s.mutate(ctx, p, &c, allowed(p, authz.MemberManage, authz.Resource{Team: team}),
		func(tx *store.Tx) error { return tx.RemoveMembership(ctx, user, team) })
}
