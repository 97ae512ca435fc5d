package berth_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/berth"
)

func TestScopeChainAndResolve(t *testing.T) {
	s := berth.Scope{Team: "shop", App: "web", Env: "staging"}
	want := []berth.Scope{s, {Team: "shop", App: "web"}, {Team: "shop"}, {}}
	if diff := cmp.Diff(want, s.Chain()); diff != "" {
		t.Errorf("Chain (-want +got):\n%s", diff)
	}
	if got := berth.SettingLevels("shop", "web", "staging"); !cmp.Equal(got, []string{"app shop/web in staging", "app shop/web", "team shop", "global"}) {
		t.Errorf("SettingLevels = %q", got)
	}
	set := func(scope berth.Scope, kind berth.SettingKind, key, value string) berth.Setting {
		return berth.Setting{Kind: kind, Scope: scope, Key: key, Value: value}
	}
	r := berth.Resolve([]berth.Setting{
		set(berth.Scope{}, berth.SettingConfig, "A", "global"),
		set(berth.Scope{Team: "shop", App: "web", Env: "staging"}, berth.SettingConfig, "A", "app+env"),
		set(berth.Scope{Team: "shop"}, berth.SettingConfig, "A", "team"),
		set(berth.Scope{Team: "shop"}, berth.SettingSecret, "S", ""),
		set(berth.Scope{}, "bogus", "X", "ignored"),
	})
	if got := r[berth.SettingConfig]["A"].Value; got != "app+env" {
		t.Errorf("most specific A = %q, want app+env", got)
	}
	if _, ok := r[berth.SettingSecret]["S"]; !ok || len(r) != 2 {
		t.Errorf("Resolve = %v, want config and secret kinds only", r)
	}
}

func TestScopeValidate(t *testing.T) {
	for _, tc := range []struct {
		s     berth.Scope
		field string
	}{
		{berth.Scope{Env: "staging"}, "env"},
		{berth.Scope{App: "web"}, "team"},
		{berth.Scope{Team: "Shop"}, "team"},
	} {
		var inv *berth.InvalidError
		if err := tc.s.Validate(); !errors.As(err, &inv) || inv.Field != tc.field || !errors.Is(err, berth.ErrInvalid) {
			t.Errorf("%+v.Validate() = %v, want an invalid %s", tc.s, err, tc.field)
		}
	}
	if err := (berth.Scope{Team: "shop", App: "web", Env: "staging"}).Validate(); err != nil {
		t.Errorf("valid scope: %v", err)
	}
}

func TestRules(t *testing.T) {
	env := berth.Environment{Name: "staging", NamespaceTemplate: "{team}-{app}-{env}", AllowedDeployers: []string{"alice"}}
	if ns := env.Namespace("shop", "web"); ns != "shop-web-staging" {
		t.Errorf("Namespace = %q", ns)
	}
	if !env.AllowsDeployer("alice") || env.AllowsDeployer("bob") {
		t.Error("AllowsDeployer")
	}
	if !berth.RoleAdmin.Allows(berth.RoleDeployer) || berth.RoleViewer.Allows(berth.RoleDeployer) || berth.Role("owner").Allows(berth.RoleViewer) {
		t.Error("Role.Allows")
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := (berth.Token{ExpiresAt: now}).Check(now); !errors.Is(err, berth.ErrTokenExpired) {
		t.Errorf("expired token: %v", err)
	}
	if err := (berth.Token{RevokedAt: now}).Check(now); !errors.Is(err, berth.ErrTokenRevoked) {
		t.Errorf("revoked token: %v", err)
	}
	if !berth.DeployFailed.Final() || berth.DeployRunning.Final() || !berth.KindAutoRollback.Valid() || berth.DeployKind("x").Valid() {
		t.Error("deploy state and kind")
	}
	if got := berth.AppTarget("shop", "web", "staging"); got != "app/shop/web/env/staging" {
		t.Errorf("AppTarget = %q", got)
	}
}

func TestRedo(t *testing.T) {
	src := berth.Deploy{ID: 7, Team: "shop", App: "web", Env: "staging", Revision: 3, Kind: berth.KindDeploy,
		Args: map[string]string{"version": "1.2"}, State: berth.DeploySucceeded, BatchID: 9, RollbackOf: 2,
		Options: berth.DeployOptions{ForceConflicts: true, TimeoutSeconds: 60, Refresh: true}}
	base := berth.NewDeploy{Team: "shop", App: "web", Env: "staging", Revision: 3, Args: src.Args, CreatedBy: "alice"}
	for _, tc := range []struct {
		name string
		kind berth.DeployKind
		ask  berth.DeployOptions
		want func(nd *berth.NewDeploy)
	}{
		{"rollback re-applies src's objects with src's options", berth.KindRollback, berth.DeployOptions{},
			func(nd *berth.NewDeploy) {
				nd.Kind, nd.SourceDeploy = berth.KindRollback, 7
				nd.Options = berth.DeployOptions{ForceConflicts: true, TimeoutSeconds: 60}
			}},
		{"refresh renders anew, keeping how src was applied", berth.KindRedeploy, berth.DeployOptions{Refresh: true},
			func(nd *berth.NewDeploy) {
				nd.Kind = berth.KindRedeploy
				nd.Options = berth.DeployOptions{ForceConflicts: true, TimeoutSeconds: 60, Refresh: true}
			}},
		{"what the request asks for goes on top", berth.KindRedeploy, berth.DeployOptions{NoAutoRollback: true, TimeoutSeconds: 5},
			func(nd *berth.NewDeploy) {
				nd.Kind, nd.SourceDeploy = berth.KindRedeploy, 7
				nd.Options = berth.DeployOptions{ForceConflicts: true, NoAutoRollback: true, TimeoutSeconds: 5}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := base
			tc.want(&want)
			if diff := cmp.Diff(want, berth.Redo(src, tc.kind, "alice", tc.ask)); diff != "" {
				t.Errorf("Redo (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSessionCheck(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s := berth.Session{CreatedAt: start, LastSeenAt: start.Add(time.Hour), ExpiresAt: start.Add(12 * time.Hour)}
	for _, tc := range []struct {
		what string
		s    berth.Session
		at   time.Time
		idle time.Duration
		want error
	}{
		{"in use", s, start.Add(90 * time.Minute), time.Hour, nil},
		{"idle just under the limit", s, start.Add(2*time.Hour - time.Microsecond), time.Hour, nil},
		{"idle at the limit", s, start.Add(2 * time.Hour), time.Hour, berth.ErrSessionExpired},
		{"no idle limit", s, start.Add(11 * time.Hour), 0, nil},
		{"at its absolute end", s, start.Add(12 * time.Hour), 0, berth.ErrSessionExpired},
		{"signed out", berth.Session{LastSeenAt: start, ExpiresAt: start.Add(time.Hour), EndedAt: start}, start, time.Hour, berth.ErrSessionEnded},
	} {
		err := tc.s.Check(tc.at, tc.idle)
		if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: Check = %v, want %v", tc.what, err, tc.want)
		}
	}
}

// TestResourceUID: a shared resource (a Score id) is the team's: two teams with the same id
// never share it.
func TestResourceUID(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{berth.ResourceUID("postgres", "", "", "shop", "web", "db"), "postgres.default#shop.web.db"},
		{berth.ResourceUID("redis", "large", "", "shop", "web", "cache"), "redis.large#shop.web.cache"},
		{berth.ResourceUID("postgres", "", "main", "shop", "web", "db"), "postgres.default#shop/main"},
		{berth.ResourceUID("postgres", "", "main", "ops", "api", "db"), "postgres.default#ops/main"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}
}
