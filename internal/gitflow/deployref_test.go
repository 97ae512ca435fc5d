package gitflow_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/service"
	"github.com/berth-dev/berth/internal/store"
)

// noRules is a manifest without git rules: a user's deploy of a ref needs none.
const noRules = `apiVersion: berth.dev/v1
metadata: {name: web, team: shop}
containers:
  web: {image: "registry.example.com/web:${git.short}"}
`

// TestDeployRefJobs runs users' deploys of a ref (service.DeployRef; `deploy APP@REF to
// ENV` in chat) against a real Gitea: a branch, a tag and an abbreviated sha each deploy
// their commit's manifest to the environment asked for — a protected one for its allowed
// deployer, a frozen one in an emergency — as the user who asked, with no git rule; the
// commit's status follows the deploy as a push's does; a ref Gitea does not know fails
// the job saying so, and deploys nothing.
func TestDeployRefJobs(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	user := func(name string) *authz.Principal {
		t.Helper()
		must(f.svc.CreateUser(ctx, f.admin, berth.User{Name: name}))
		must(f.svc.SetMember(ctx, f.admin, "shop", name, "deployer"))
		_, secret, err := f.svc.CreateToken(ctx, f.admin, name, "test", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		p, err := f.svc.Authenticate(ctx, secret)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	alice, carol := user("alice"), user("carol")
	must(f.svc.CreateEnvironment(ctx, f.admin, berth.Environment{Name: "live", InCluster: true, Protected: true, AllowedDeployers: []string{"carol"}}))

	first := f.repo.Commit(t, "main", "first", map[string]string{"berth.yaml": noRules})
	f.repo.Tag(t, "v1.0.0")
	second := f.repo.Commit(t, "main", "second", map[string]string{"README.md": "two\n"})

	ask := func(p *authz.Principal, ref, env, emergency string) berth.GitJob {
		t.Helper()
		j, err := f.svc.DeployRef(ctx, p, service.DeployRefRequest{Team: "shop", App: "web", Ref: ref, Env: env,
			Options: berth.DeployOptions{Emergency: emergency}})
		if err != nil {
			t.Fatalf("%s's deploy of %s to %s: %v", p.Name, ref, env, err)
		}
		return j
	}
	// deployed checks job j queued a deploy of sha (ref) to env by user, and returns it.
	deployed := func(j berth.GitJob, sha, ref, env, user string) berth.Deploy {
		t.Helper()
		if j.State != berth.GitJobDeploying || j.Deploy == 0 {
			t.Fatalf("the job of %s to %s: %+v", j.Event.Ref, env, j)
		}
		d, err := f.st.Deploy(ctx, j.Deploy)
		if err != nil {
			t.Fatal(err)
		}
		rev, err := f.st.Revision(ctx, "shop", "web", d.Revision)
		if err != nil {
			t.Fatal(err)
		}
		if d.Env != env || d.State != berth.DeployQueued || d.CreatedBy != user || d.Args["git.sha"] != sha || d.Args["git.ref"] != ref ||
			rev.Source == nil || rev.Source.SHA != sha || rev.Source.Ref != ref || rev.Manifest != noRules {
			t.Errorf("the deploy of %s to %s: %+v, revision source %+v", j.Event.Ref, env, d, rev.Source)
		}
		evs, err := f.st.ListAudit(ctx, berth.AuditFilter{Actor: user, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		// The newest of each: the request's (DeployRef), the deploy's (the job).
		newest := map[string]berth.AuditEvent{}
		for _, ev := range evs {
			if _, ok := newest[ev.Action]; !ok {
				newest[ev.Action] = ev
			}
		}
		req, dep := newest["deploy.request"], newest["deploy.create"]
		if req.Details["job"] != float64(j.ID) || req.Details["ref"] != j.Event.Ref || dep.Details["deploy"] != float64(d.ID) ||
			dep.Details["job"] != float64(j.ID) || dep.Target != berth.AppTarget("shop", "web", env) || dep.Outcome != berth.OutcomeSuccess {
			t.Errorf("%s's audit events: %+v", user, evs)
		}
		return d
	}

	// A branch, to staging: no git rule says so.
	j := f.run(t, ask(alice, "main", "staging", "").ID)[0]
	d := deployed(j, second, "refs/heads/main", "staging", "alice")
	if d.Args["git.branch"] != "main" {
		t.Errorf("the branch's deploy's args: %v", d.Args)
	}
	if st := f.statuses(t, second); len(st) != 1 || st[0]["status"] != "pending" || st[0]["context"] != "berth/staging" {
		t.Errorf("statuses of the deployed commit: %v", st)
	}
	// The deploy ends (no engine runs here: as one would), and the commit's status says so.
	claimed, ok, err := f.st.ClaimDeploy(ctx, "engine", time.Minute)
	if err != nil || !ok || claimed.ID != d.ID {
		t.Fatalf("claim the deploy: %+v, %t, %v", claimed, ok, err)
	}
	if err := f.st.Tx(ctx, func(tx *store.Tx) error {
		_, err := tx.FinishDeploy(ctx, d.ID, "engine", berth.DeploySucceeded, "")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ended := func() bool {
		j, err := f.st.GitJob(ctx, j.ID)
		return err == nil && j.State.Final()
	}
	if j := f.runUntil(t, ended, j.ID)[0]; j.State != berth.GitJobDone || j.Reason != fmt.Sprintf("deploy %d succeeded", d.ID) {
		t.Errorf("the branch's job after its deploy: %+v", j)
	}
	st := f.statuses(t, second)
	if !slices.ContainsFunc(st, func(s map[string]any) bool {
		return s["status"] == "success" && s["context"] == "berth/staging" && s["description"] == fmt.Sprintf("staging succeeded (deploy %d)", d.ID)
	}) {
		t.Errorf("statuses of the deployed commit after its deploy: %v", st)
	}

	// A tag, to a protected environment, by its allowed deployer.
	d = deployed(f.run(t, ask(carol, "v1.0.0", "live", "").ID)[0], first, "refs/tags/v1.0.0", "live", "carol")
	if d.Args["git.tag"] != "v1.0.0" {
		t.Errorf("the tag's deploy's args: %v", d.Args)
	}

	// An abbreviated sha, to staging while it is frozen: an emergency, which the deploy
	// carries.
	must(f.svc.FreezeEnvironment(ctx, f.admin, berth.FreezeWindow{Env: "staging", Start: time.Now().Add(-time.Minute),
		End: time.Now().Add(time.Hour), Reason: "release week"}))
	d = deployed(f.run(t, ask(alice, first[:8], "staging", "the checkout is down").ID)[0], first, "", "staging", "alice")
	if d.Args["git.branch"] != "" || d.Args["git.tag"] != "" || d.Options.Emergency != "the checkout is down" {
		t.Errorf("the sha's deploy: args %v, options %+v", d.Args, d.Options)
	}

	// A ref Gitea does not know: failed, nothing deployed.
	j = f.run(t, ask(carol, "no-such-ref", "live", "").ID)[0]
	want := "no-such-ref is no branch, tag or commit of " + f.repo.FullName() + ": nothing deployed"
	if j.State != berth.GitJobFailed || j.Reason != want || j.Deploy != 0 {
		t.Errorf("the job of an unknown ref: %+v; want failed: %s", j, want)
	}
}
