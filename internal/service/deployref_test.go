package service_test

import (
	"crypto/rand"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/seal"
	"github.com/berth-dev/berth/internal/service"
	"github.com/berth-dev/berth/internal/store"
)

// TestDeployRef: a deploy of a ref is asked for as any deploy is decided (a viewer is
// refused, a deployer too on a protected environment unless allowed there, an admin is
// not), each refusal audited; the app must be connected to a repository, the ref a ref's
// name, and a frozen environment takes an emergency. What is asked becomes one git job,
// with its audit event, for the git workers to act on; no forge is asked here.
func TestDeployRef(t *testing.T) {
	ctx := t.Context()
	raw := make([]byte, 32)
	rand.Read(raw)
	key, err := seal.NewKey(raw)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "berth.db"), store.WithSecretsKey(key))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := service.New(st, slog.New(slog.DiscardHandler), time.Now)
	if _, err := svc.Bootstrap(ctx, adminToken); err != nil {
		t.Fatal(err)
	}
	admin, err := svc.Authenticate(ctx, adminToken)
	if err != nil {
		t.Fatal(err)
	}
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(svc.CreateTeam(ctx, admin, "shop"))
	must(svc.CreateApp(ctx, admin, "shop", "web", ""))
	must(svc.CreateApp(ctx, admin, "shop", "api", ""))
	must(svc.ConnectRepo(ctx, admin, service.ConnectRequest{Team: "shop", App: "web", Forge: berth.ForgeGitea,
		URL: "http://git.example.com/shop/web", Token: "forge-token"}))
	user := func(name, role string) *authz.Principal {
		t.Helper()
		must(svc.CreateUser(ctx, admin, berth.User{Name: name}))
		must(svc.SetMember(ctx, admin, "shop", name, role))
		_, secret, err := svc.CreateToken(ctx, admin, name, "test", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		p, err := svc.Authenticate(ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	alice, bob, carol := user("alice", "deployer"), user("bob", "viewer"), user("carol", "deployer")
	for _, env := range []berth.Environment{{Name: "staging", InCluster: true},
		{Name: "production", InCluster: true, Protected: true, AllowedDeployers: []string{"carol"}}} {
		must(svc.CreateEnvironment(ctx, admin, env))
	}
	ask := func(p *authz.Principal, app, ref, env, emergency string) (berth.GitJob, error) {
		return svc.DeployRef(ctx, p, service.DeployRefRequest{Team: "shop", App: app, Ref: ref, Env: env,
			Options: berth.DeployOptions{Emergency: emergency}})
	}

	// Refused: a viewer; a deployer on a protected environment she is not allowed on.
	for _, tc := range []struct {
		p   *authz.Principal
		env string
	}{{bob, "staging"}, {alice, "production"}} {
		if _, err := ask(tc.p, "web", "main", tc.env, ""); !errors.As(err, new(*authz.Denied)) {
			t.Errorf("%s's deploy of main to %s: %v; want a refusal", tc.p.Name, tc.env, err)
		}
		evs, err := st.ListAudit(ctx, berth.AuditFilter{Actor: tc.p.Name, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 || evs[0].Action != "deploy.request" || evs[0].Outcome != berth.OutcomeDenied ||
			evs[0].Target != berth.AppTarget("shop", "web", tc.env) || evs[0].Details["ref"] != "main" {
			t.Errorf("%s's audit events: %+v", tc.p.Name, evs)
		}
	}
	// Refused before anything is queued: an app connected to no repository, a bad ref, a
	// missing environment.
	if _, err := ask(alice, "api", "main", "staging", ""); !errors.Is(err, berth.ErrInvalid) || !strings.Contains(err.Error(), "berth apps connect") {
		t.Errorf("a deploy of an unconnected app: %v", err)
	}
	if _, err := ask(alice, "web", "a..b", "staging", ""); !errors.Is(err, berth.ErrInvalid) {
		t.Errorf("a deploy of a bad ref: %v", err)
	}
	if _, err := ask(alice, "web", "main", "nowhere", ""); !errors.Is(err, berth.ErrNotFound) {
		t.Errorf("a deploy to a missing environment: %v", err)
	}
	if _, err := ask(alice, "nope", "main", "staging", ""); !errors.Is(err, berth.ErrNotFound) {
		t.Errorf("a deploy of a missing app: %v", err)
	}

	// Asked: by the allowed deployer and an admin on the protected environment, by a
	// deployer on another.
	var jobs []berth.GitJob
	for _, tc := range []struct {
		p        *authz.Principal
		ref, env string
	}{{carol, "v1.2.0", "production"}, {admin, "main", "production"}, {alice, "0123abcd", "staging"}} {
		j, err := ask(tc.p, "web", tc.ref, tc.env, "")
		if err != nil {
			t.Fatalf("%s's deploy of %s to %s: %v", tc.p.Name, tc.ref, tc.env, err)
		}
		want := berth.GitEvent{Kind: berth.GitDeployRef, Repo: "shop/web", Ref: tc.ref, Env: tc.env, RequestedBy: tc.p.Name}
		if j.Event != want || j.State != berth.GitJobQueued || j.Forge != berth.ForgeGitea || !strings.HasPrefix(j.Delivery, "request-") ||
			j.Team != "shop" || j.App != "web" {
			t.Errorf("%s's job: %+v", tc.p.Name, j)
		}
		jobs = append(jobs, j)
	}
	if jobs[0].Delivery == jobs[1].Delivery {
		t.Errorf("two requests, one delivery id: %s", jobs[0].Delivery)
	}
	evs, err := st.ListAudit(ctx, berth.AuditFilter{Actor: "carol", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Action != "deploy.request" || evs[0].Outcome != berth.OutcomeSuccess ||
		evs[0].Details["job"] != float64(jobs[0].ID) || evs[0].Details["ref"] != "v1.2.0" || evs[0].Details["env"] != "production" {
		t.Errorf("carol's audit events: %+v", evs)
	}

	// A frozen environment: refused at once, unless an emergency.
	must(svc.FreezeEnvironment(ctx, admin, berth.FreezeWindow{Env: "staging", Start: time.Now().Add(-time.Minute),
		End: time.Now().Add(time.Hour), Reason: "release week"}))
	if _, err := ask(alice, "web", "main", "staging", ""); !errors.As(err, new(*berth.FrozenError)) {
		t.Errorf("a deploy of a ref into a frozen environment: %v", err)
	}
	j, err := ask(alice, "web", "main", "staging", "the checkout is down")
	if err != nil || j.Event.Emergency != "the checkout is down" {
		t.Errorf("an emergency deploy of a ref into a frozen environment: %+v, %v", j, err)
	}
}
