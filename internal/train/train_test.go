package train_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/forge"
	"github.com/berth-dev/berth/internal/giteatest"
	"github.com/berth-dev/berth/internal/gitflow"
	"github.com/berth-dev/berth/internal/kube"
	"github.com/berth-dev/berth/internal/kubetest"
	"github.com/berth-dev/berth/internal/service"
	"github.com/berth-dev/berth/internal/store"
)

// gitForge is cmd/berth's adapter of internal/forge for the git job workers, again.
type gitForge struct{ c *forge.Client }

func (f gitForge) ReadFile(ctx context.Context, repo, path, ref string) ([]byte, error) {
	return f.c.ReadFile(ctx, repo, path, ref)
}

func (f gitForge) SetStatus(ctx context.Context, repo, sha string, s gitflow.Status) error {
	return f.c.SetStatus(ctx, repo, sha, forge.Status{State: forge.StatusState(s.State), Context: s.Context, Description: s.Description, TargetURL: s.TargetURL})
}

func (f gitForge) BranchHead(ctx context.Context, repo, branch string) (string, error) {
	return f.c.BranchHead(ctx, repo, branch)
}

func (f gitForge) ResolveRef(ctx context.Context, repo, ref string) (string, string, error) {
	return f.c.ResolveRef(ctx, repo, ref)
}

func (f gitForge) UpsertComment(ctx context.Context, repo string, pr int, id int64, body string) (int64, error) {
	return f.c.UpsertComment(ctx, repo, pr, id, body)
}

// startWorkers runs a deploy engine on the environments' clusters and a git job worker,
// until the test ends.
func (f *fixture) startWorkers(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	pool := kube.NewPool(log, 50, 100)
	engine, err := deploy.New(f.st, func(ctx context.Context, env berth.Environment) (deploy.Cluster, error) {
		return pool.For(ctx, env)
	}, log, deploy.Options{Workers: 2, Lease: 30 * time.Second, DefaultTimeout: 90 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	f.svc.SetNotifier(engine)
	git := gitflow.New(f.st, f.svc, func(r berth.AppRepo, token string) (gitflow.Forge, error) {
		c, err := forge.NewClient(r.Forge, r.URL, token)
		return gitForge{c}, err
	}, log, gitflow.Options{Workers: 1, Poll: 50 * time.Millisecond})
	f.svc.SetGitNotifier(git)
	ctx, cancel := context.WithCancel(context.WithoutCancel(t.Context()))
	done := make(chan struct{}, 2)
	go func() { engine.Run(ctx); done <- struct{}{} }()
	go func() { git.Run(ctx); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })
}

// push queues the git job a push of sha to branch of app's repository asks for, as a
// webhook delivery would.
func (f *fixture) push(t *testing.T, app string, repo *giteatest.Repo, branch, sha string) {
	t.Helper()
	ev := berth.GitEvent{Kind: berth.GitPush, Repo: repo.FullName(), Ref: "refs/heads/" + branch, Branch: branch, SHA: sha}
	err := f.st.Tx(t.Context(), func(tx *store.Tx) error {
		id := "delivery-" + sha
		if err := tx.TakeDelivery(t.Context(), berth.ForgeGitea, id, fmt.Sprintf("%x", sha256.Sum256([]byte(sha)))); err != nil {
			return err
		}
		_, err := tx.EnqueueGitJob(t.Context(), "shop", app, berth.ForgeGitea, id, ev)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// waitRunning waits until app's last successful deploy in env is of revision rev; a
// failed deploy of it fails the test.
func (f *fixture) waitRunning(t *testing.T, app, env string, rev int64) berth.Deploy {
	t.Helper()
	var last berth.Deploy
	waitFor(t, 3*time.Minute, func() string { return fmt.Sprintf("%s in %s: last deploy %+v", app, env, last) }, func() bool {
		ds, err := f.st.Deploys(t.Context(), store.DeployFilter{Team: "shop", App: app, Env: env, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 0 {
			return false
		}
		last = ds[0]
		if last.Revision == rev && last.State == berth.DeployFailed {
			t.Fatalf("%s's deploy %d of revision %d to %s failed: %s", app, last.ID, rev, env, last.Reason)
		}
		return last.Revision == rev && last.State == berth.DeploySucceeded
	})
	return last
}

// hello is app's manifest: examples/hello on the real node, its version the commit, and
// extra appended (an environment's overlay).
func hello(app, image, extra string) string {
	return fmt.Sprintf(`apiVersion: berth.dev/v1
metadata: {name: %s, team: shop}
args: {fail: ""}
containers:
  web:
    image: %s
    variables: {VERSION: "${git.short}", HELLO_FAIL: "${args.fail}"}
    readinessProbe: {httpGet: {path: /ready, port: 8080}}
git:
  branches: {main: staging}
%s`, app, image, extra)
}

// TestTrainAnnouncesDelaysDepartsAndStopsTheLine follows a day of the train, on a fake
// clock, with apps deployed for real (the real node) from commits of a real Gitea:
//
//   - at T−15 it announces itself with, per app, the commits staging runs that production
//     does not (the forge's compare API) and pings their authors it knows;
//   - two delays of 30 minutes are taken and announced, the third refused;
//   - at departure it promotes app after app, and a server that dies mid-departure leaves
//     it to another, which resumes without promoting anything twice;
//   - the app whose production deploy fails (it crashes there) stops the line: it is
//     rolled back automatically, the app after it is not promoted, and the train says so.
func TestTrainAnnouncesDelaysDepartsAndStopsTheLine(t *testing.T) {
	rn := kubetest.RealNode(t)
	image := rn.HelloImage(t, "1")
	f := newFixture(t, realNodeEnvs(t, rn)...)
	ctx := t.Context()
	f.startWorkers(t)
	g := giteatest.Start(t)
	apps := []string{"web", "api", "docs"}
	repos := map[string]*giteatest.Repo{}
	for _, app := range apps {
		repos[app] = g.CreateRepo(t, app)
		must(t)(f.svc.CreateApp(ctx, f.root, "shop", app, ""))
		must(t)(f.svc.ConnectRepo(ctx, f.root, service.ConnectRequest{Team: "shop", App: app, Forge: berth.ForgeGitea,
			URL: g.URL + "/" + repos[app].FullName(), Token: g.Token}))
	}
	// Alice is a Berth user linked to her chat user; Bob only the chat knows; Carol neither.
	f.user(t, "alice", "alice@example.com", "deployer")
	if err := f.svc.LinkChat(ctx, f.root, "alice", "slack", "U_ALICE"); err != nil {
		t.Fatal(err)
	}
	f.chat.people["bob@example.com"] = "U_BOB"

	// Version 1 of each app runs in staging (pushed to main) and production (promoted).
	for _, app := range apps {
		sha := repos[app].Commit(t, "main", app+" v1", map[string]string{"berth.yaml": hello(app, image, "")})
		f.push(t, app, repos[app], "main", sha)
	}
	for _, app := range apps {
		f.waitRunning(t, app, "staging", 1)
		must(t)(f.svc.Promote(ctx, f.root, service.PromoteRequest{Team: "shop", App: app, From: "staging", To: "production"}))
	}
	for _, app := range apps {
		f.waitRunning(t, app, "production", 1)
	}
	// Then staging gets: two commits of web's, by Alice and Bob; one of api's, by Carol,
	// which crashes in production; one of docs', by Dave.
	repos["web"].CommitAs(t, "main", "Faster checkout", "Alice <alice@example.com>", map[string]string{"checkout.txt": "fast\n"})
	heads := map[string]string{
		"web": repos["web"].CommitAs(t, "main", "Fix the basket total", "Bob <bob@example.com>", map[string]string{"basket.txt": "fixed\n"}),
		"api": repos["api"].CommitAs(t, "main", "New pricing endpoint", "Carol <carol@example.com>", map[string]string{
			"berth.yaml": hello("api", image, "environments:\n  production: {args: {fail: crash}}\n")}),
		"docs": repos["docs"].CommitAs(t, "main", "Document pricing", "Dave <dave@example.com>", map[string]string{"pricing.md": "# Pricing\n"}),
	}
	for _, app := range apps {
		f.push(t, app, repos[app], "main", heads[app])
	}
	for _, app := range apps {
		f.waitRunning(t, app, "staging", 2)
	}

	must(t)(f.svc.CreateTrain(ctx, f.root, berth.Train{Team: "shop", Name: "daily", Apps: apps, Schedule: "0 10 * * *",
		TimeZone: "Europe/Lisbon", From: "staging", To: "production", Channel: "C-TRAINS"}))
	s := f.scheduler()

	// 09:40: scheduled, quiet. 09:45: announced.
	f.clock.set(lisbon(t, 9, 40))
	tick(t, s)
	if run := f.run(t, "shop", "daily"); run.State != berth.TrainScheduled || !run.Departs.Equal(lisbon(t, 10, 0)) {
		t.Fatalf("at 09:40: %+v", run)
	}
	if posts := f.chat.posts("C-TRAINS"); len(posts) != 0 {
		t.Fatalf("posted before T-15: %q", posts)
	}
	f.clock.set(lisbon(t, 9, 45))
	tick(t, s)
	run := f.run(t, "shop", "daily")
	if run.State != berth.TrainAnnounced || len(run.Cars) != 3 {
		t.Fatalf("at 09:45: %+v", run)
	}
	web := run.Cars[0]
	if web.App != "web" || web.Total != 2 || len(web.Commits) != 2 || web.Commits[0].Message != "Faster checkout" ||
		web.Commits[0].AuthorEmail != "alice@example.com" || web.Commits[1].AuthorName != "Bob" || web.Commits[1].SHA != heads["web"] {
		t.Errorf("web's car %+v, want Alice's then Bob's commit", web)
	}
	posts := f.chat.posts("C-TRAINS")
	if len(posts) != 1 {
		t.Fatalf("posts at T-15: %q", posts)
	}
	contains(t, "the announcement", posts[0], "The deployment train shop/daily is ready to depart!", "staging → production at 10:00 WET",
		"(in 15 minutes)", "<@U_ALICE> <@U_BOB> your work is on the train", "Changes for web*: 2 commits", "Faster checkout — Alice",
		"Fix the basket total — Bob", "Changes for api*: 1 commit", "New pricing endpoint — Carol", "Changes for docs*: 1 commit")
	if strings.Contains(posts[0], "carol") || strings.Contains(posts[0], "<@U_CAROL") {
		t.Errorf("the announcement pings someone the chat does not know:\n%s", posts[0])
	}

	// Dave delays it twice; a third delay is refused.
	for i, want := range []struct {
		left    int
		departs time.Time
	}{{1, lisbon(t, 10, 30)}, {0, lisbon(t, 11, 0)}} {
		r, left, err := f.svc.DelayTrain(ctx, f.dave, "shop", "daily")
		if err != nil || left != want.left || !r.Departs.Equal(want.departs) {
			t.Fatalf("delay %d: departs %s, %d left, %v; want %s, %d left", i+1, r.Departs, left, err, want.departs, want.left)
		}
	}
	_, _, err := f.svc.DelayTrain(ctx, f.dave, "shop", "daily")
	if !errors.Is(err, berth.ErrConflict) || !strings.Contains(err.Error(), "delayed 2 times today") {
		t.Fatalf("third delay: %v", err)
	}
	tick(t, s)
	posts = f.chat.posts("C-TRAINS")
	if len(posts) != 3 {
		t.Fatalf("posts after two delays: %q", posts)
	}
	contains(t, "the first delay's post", posts[1], "dave delayed the shop/daily train by 30m0s: it now leaves at 10:30 WET. 1 delay left today.")
	contains(t, "the second delay's post", posts[2], "dave delayed the shop/daily train by 30m0s: it now leaves at 11:00 WET. 0 delays left today.")
	contains(t, "the announcement, edited", posts[0], "at 11:00 WET")

	// 10:00 is no longer departure time; 11:00 is.
	f.clock.set(lisbon(t, 10, 0))
	tick(t, s)
	if run := f.run(t, "shop", "daily"); run.State != berth.TrainAnnounced {
		t.Fatalf("at 10:00, after the delays: %+v", run)
	}
	f.clock.set(lisbon(t, 11, 0))
	tick(t, s)
	run = f.run(t, "shop", "daily")
	if run.State != berth.TrainDeparting || run.Cars[0].Deploy == 0 || run.Cars[0].State != berth.CarDeploying || run.Cars[1].Deploy != 0 {
		t.Fatalf("at 11:00: %+v", run)
	}
	contains(t, "the departure", strings.Join(f.chat.posts("C-TRAINS"), "\n"), "The shop/daily train departs: web, api, docs, in this order.")

	// The server dies mid-departure; another takes over once its lease ran out.
	s2 := f.scheduler()
	waited := false
	waitFor(t, 4*time.Minute, func() string { return fmt.Sprintf("the run: %+v", f.run(t, "shop", "daily")) }, func() bool {
		leader, err := s2.Tick(ctx)
		if err != nil {
			t.Fatalf("tick: %v", err)
		}
		waited = waited || !leader
		return f.run(t, "shop", "daily").State.Final()
	})
	if !waited {
		t.Error("the second scheduler led while the first one's lease held")
	}
	run = f.run(t, "shop", "daily")
	if run.State != berth.TrainStopped || !strings.Contains(run.Reason, "stopped at api") {
		t.Fatalf("the run: %s %q", run.State, run.Reason)
	}
	if c := run.Cars; c[0].State != berth.CarSucceeded || c[1].State != berth.CarFailed || c[1].Deploy == 0 ||
		c[2].State != berth.CarSkipped || c[2].Deploy != 0 {
		t.Fatalf("the cars: %+v", c)
	}
	// One promotion per car that left, none for the one that waits.
	for app, want := range map[string]int{"web": 1, "api": 1, "docs": 0} {
		ds, err := f.st.Deploys(ctx, store.DeployFilter{Team: "shop", App: app, Env: "production", Limit: 50})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, d := range ds {
			if d.CreatedBy == "train:shop/daily" {
				n++
				if d.Kind != berth.KindPromotion || d.Revision != 2 {
					t.Errorf("%s: the train's deploy %+v", app, d)
				}
			}
		}
		if n != want {
			t.Errorf("%s: %d deploys by the train, want %d", app, n, want)
		}
	}
	f.waitRunning(t, "web", "production", 2)
	// api's failed deploy is rolled back: production runs version 1 again.
	var rb berth.Deploy
	waitFor(t, 3*time.Minute, func() string { return fmt.Sprintf("api's rollback: %+v", rb) }, func() bool {
		ds, err := f.st.Deploys(ctx, store.DeployFilter{Team: "shop", App: "api", Env: "production", Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		rb = ds[0]
		return rb.Kind == berth.KindAutoRollback && rb.State.Final()
	})
	if rb.State != berth.DeploySucceeded || rb.RollbackOf != run.Cars[1].Deploy {
		t.Errorf("api's automatic rollback: %+v", rb)
	}
	if d := f.waitRunning(t, "docs", "production", 1); d.CreatedBy == "train:shop/daily" {
		t.Errorf("docs was promoted: %+v", d)
	}
	all := strings.Join(f.chat.posts("C-TRAINS"), "\n")
	contains(t, "the channel", all, "The shop/daily train STOPPED at api", "deploy "+fmt.Sprint(run.Cars[1].Deploy)+" of api failed",
		"Not promoted, waiting for the next train: docs.")
	contains(t, "the announcement at the end", f.chat.posts("C-TRAINS")[0], "stopped", ":white_check_mark: *Changes for web*",
		":x: *Changes for api*", ":double_vertical_bar: *Changes for docs*")
}
