package gitflow_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/forge"
	"github.com/berth-dev/berth/internal/giteatest"
	"github.com/berth-dev/berth/internal/gitflow"
	"github.com/berth-dev/berth/internal/seal"
	"github.com/berth-dev/berth/internal/service"
	"github.com/berth-dev/berth/internal/store"
)

// forgeClient is cmd/berth's adapter, again: internal/forge's client behind gitflow.Forge.
type forgeClient struct{ c *forge.Client }

func (f forgeClient) ReadFile(ctx context.Context, repo, path, ref string) ([]byte, error) {
	return f.c.ReadFile(ctx, repo, path, ref)
}

func (f forgeClient) SetStatus(ctx context.Context, repo, sha string, s gitflow.Status) error {
	return f.c.SetStatus(ctx, repo, sha, forge.Status{State: forge.StatusState(s.State), Context: s.Context, Description: s.Description, TargetURL: s.TargetURL})
}

func (f forgeClient) BranchHead(ctx context.Context, repo, branch string) (string, error) {
	return f.c.BranchHead(ctx, repo, branch)
}

func (f forgeClient) ResolveRef(ctx context.Context, repo, ref string) (string, string, error) {
	return f.c.ResolveRef(ctx, repo, ref)
}

func (f forgeClient) UpsertComment(ctx context.Context, repo string, pr int, id int64, body string) (int64, error) {
	return f.c.UpsertComment(ctx, repo, pr, id, body)
}

func forges(r berth.AppRepo, token string) (gitflow.Forge, error) {
	c, err := forge.NewClient(r.Forge, r.URL, token)
	return forgeClient{c}, err
}

const rules = `apiVersion: berth.dev/v1
metadata: {name: web, team: shop}
containers:
  web: {image: "registry.example.com/web:${git.short}"}
git:
  branches: {main: staging, release: production}
`

// fixture is a store and service with team shop, app web connected to a repository of a
// real Gitea, and environments staging and (protected) production; no deploy engine runs.
type fixture struct {
	st   *store.Store
	svc  *service.Service
	g    *giteatest.Gitea
	repo *giteatest.Repo
	n    int
	// admin is the platform admin the fixture was made by.
	admin *authz.Principal
}

func newFixture(t *testing.T) *fixture {
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
	log := slog.New(slog.DiscardHandler)
	svc := service.New(st, log, time.Now)
	const token = "berth_gitflow_test_token_0123456789abcdef"
	if _, err := svc.Bootstrap(ctx, token); err != nil {
		t.Fatal(err)
	}
	root, err := svc.Authenticate(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	g := giteatest.Start(t)
	f := &fixture{st: st, svc: svc, g: g, repo: g.CreateRepo(t, "web"), admin: root}
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(svc.CreateTeam(ctx, root, "shop"))
	must(svc.CreateApp(ctx, root, "shop", "web", ""))
	for _, env := range []berth.Environment{{Name: "staging", InCluster: true}, {Name: "production", InCluster: true, Protected: true}} {
		must(svc.CreateEnvironment(ctx, root, env))
	}
	must(svc.ConnectRepo(ctx, root, service.ConnectRequest{Team: "shop", App: "web", Forge: berth.ForgeGitea,
		URL: g.URL + "/" + f.repo.FullName(), Token: g.Token}))
	return f
}

// push queues the job a push of sha to branch asks for, as a delivery would.
func (f *fixture) push(t *testing.T, branch, sha string) berth.GitJob {
	t.Helper()
	f.n++
	ev := berth.GitEvent{Kind: berth.GitPush, Repo: f.repo.FullName(), Ref: "refs/heads/" + branch, Branch: branch, SHA: sha}
	var j berth.GitJob
	err := f.st.Tx(t.Context(), func(tx *store.Tx) (err error) {
		id := "delivery-" + sha + "-" + branch
		if err := tx.TakeDelivery(t.Context(), berth.ForgeGitea, id, strings.Repeat("0", 63)+string(rune('a'+f.n))); err != nil {
			return err
		}
		j, err = tx.EnqueueGitJob(t.Context(), "shop", "web", berth.ForgeGitea, id, ev)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// run runs a worker until every job in ids has left queued and running, and returns them.
func (f *fixture) run(t *testing.T, ids ...int64) []berth.GitJob {
	t.Helper()
	return f.runUntil(t, func() bool { return true }, ids...)
}

// runUntil is run, also waiting for cond (what a job does after it queued its deploy).
func (f *fixture) runUntil(t *testing.T, cond func() bool, ids ...int64) []berth.GitJob {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	w := gitflow.New(f.st, f.svc, forges, slog.New(slog.DiscardHandler), gitflow.Options{Workers: 1, Poll: 20 * time.Millisecond})
	go func() { w.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(time.Minute)
	for {
		// cond first: a job read after it is at least as far as cond saw it.
		met := cond()
		var out []berth.GitJob
		settled := true
		for _, id := range ids {
			j, err := f.st.GitJob(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			settled = settled && j.State != berth.GitJobQueued && j.State != berth.GitJobRunning
			out = append(out, j)
		}
		if settled && met {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs not settled: %+v", out)
		}
		time.Sleep(20 * time.Millisecond) // the store has no watch for job states
	}
}

// statuses returns the commit statuses of sha, as Gitea's API lists them.
func (f *fixture) statuses(t *testing.T, sha string) []map[string]any {
	t.Helper()
	var out []map[string]any
	f.g.Do(t, "GET", "/repos/"+f.repo.FullName()+"/commits/"+sha+"/statuses", nil, &out)
	return out
}

// TestJobs runs git jobs against a real Gitea: the rules are read from the default branch's
// berth.yaml, never the pushed commit's; a push the rules name becomes a revision from the
// commit and a queued deploy; a branch that moved on since its push is not deployed; a
// commit whose berth.yaml is invalid fails with the positioned error on the commit's status;
// a protected environment is not deployed to by a push.
func TestJobs(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	main1 := f.repo.Commit(t, "main", "rules", map[string]string{"berth.yaml": rules})

	// A branch whose own berth.yaml gives itself a rule: the default branch's has none.
	sneaky := f.repo.Commit(t, "sneaky", "deploy me", map[string]string{
		"berth.yaml": strings.Replace(rules, "release: production", "release: production, sneaky: staging", 1)})
	// Two pushes to main: the first is superseded by the second.
	main2 := f.repo.Commit(t, "main", "two", map[string]string{"README.md": "two\n"})
	// An invalid manifest on release, which the rules send to the protected production.
	bad := f.repo.Commit(t, "release", "broken", map[string]string{"berth.yaml": strings.Replace(rules, "image:", "imagee:", 1)})
	jobs := f.run(t, f.push(t, "sneaky", sneaky).ID, f.push(t, "main", main1).ID, f.push(t, "main", main2).ID, f.push(t, "release", bad).ID)

	if j := jobs[0]; j.State != berth.GitJobDone || !strings.Contains(j.Reason, "no git rule for branch sneaky") {
		t.Errorf("a branch whose rule is only in its own berth.yaml: %+v", j)
	}
	if j := jobs[1]; j.State != berth.GitJobDone || !strings.Contains(j.Reason, "superseded: main points at "+main2[:12]) {
		t.Errorf("the first of two pushes to main: %+v", j)
	}
	j := jobs[2]
	if j.State != berth.GitJobDeploying || j.Deploy == 0 {
		t.Fatalf("the latest push to main: %+v", j)
	}
	d, err := f.st.Deploy(ctx, j.Deploy)
	if err != nil {
		t.Fatal(err)
	}
	rev, err := f.st.Revision(ctx, "shop", "web", d.Revision)
	if err != nil {
		t.Fatal(err)
	}
	if d.Env != "staging" || d.State != berth.DeployQueued || d.Args["git.sha"] != main2 || d.CreatedBy != "webhook:gitea" ||
		rev.Source == nil || rev.Source.SHA != main2 || rev.Source.Ref != "refs/heads/main" {
		t.Errorf("the deploy queued: %+v, revision source %+v", d, rev.Source)
	}
	if st := f.statuses(t, main2); len(st) != 1 || st[0]["status"] != "pending" || st[0]["context"] != "berth/staging" {
		t.Errorf("statuses of the deployed commit: %v", st)
	}

	if j := jobs[3]; j.State != berth.GitJobFailed || !strings.Contains(j.Reason, "berth.yaml:4:") || !strings.Contains(j.Reason, "imagee") {
		t.Errorf("an invalid berth.yaml: %+v", j)
	}
	st := f.statuses(t, bad)
	if len(st) != 1 || st[0]["status"] != "error" || !strings.Contains(st[0]["description"].(string), "berth.yaml:4:") {
		t.Errorf("statuses of the invalid commit: %v", st)
	}

	// A valid manifest on release: production is protected, so the push is refused.
	fixed := f.repo.Commit(t, "release", "fixed", map[string]string{"berth.yaml": rules})
	jobs = f.run(t, f.push(t, "release", fixed).ID)
	if j := jobs[0]; j.State != berth.GitJobFailed || !strings.Contains(j.Reason, "production is protected") {
		t.Errorf("a push to a protected environment: %+v", j)
	}
}

const previewRules = `apiVersion: berth.dev/v1
metadata: {name: web, team: shop}
containers:
  web: {image: "registry.example.com/web:${git.short}"}
git:
  branches: {main: staging}
  previews: {env: preview}
`

// pull queues the job a pull request's delivery asks for.
func (f *fixture) pull(t *testing.T, action string, pr int, head, sha string, fork bool) berth.GitJob {
	t.Helper()
	f.n++
	ev := berth.GitEvent{Kind: berth.GitPullRequest, Repo: f.repo.FullName(), PR: pr, Action: action, Head: head, Base: "main", SHA: sha, Fork: fork}
	var j berth.GitJob
	err := f.st.Tx(t.Context(), func(tx *store.Tx) (err error) {
		id := "delivery-pr-" + sha + "-" + action
		if err := tx.TakeDelivery(t.Context(), berth.ForgeGitea, id, strings.Repeat("1", 62)+string(rune('a'+f.n/16))+string(rune('a'+f.n%16))); err != nil {
			return err
		}
		j, err = tx.EnqueueGitJob(t.Context(), "shop", "web", berth.ForgeGitea, id, ev)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// comments returns the bodies of pull request pr's comments.
func (f *fixture) comments(t *testing.T, pr int) []string {
	t.Helper()
	var out []struct {
		Body string `json:"body"`
	}
	f.g.Do(t, "GET", fmt.Sprintf("/repos/%s/issues/%d/comments", f.repo.FullName(), pr), nil, &out)
	var bodies []string
	for _, c := range out {
		bodies = append(bodies, c.Body)
	}
	return bodies
}

// TestPreviewJobs runs pull requests' jobs against a real Gitea (no deploy engine: the
// real-node test in cmd/berth follows previews to the end): opening one makes the
// preview's environment from the preview environment and queues its deploy there, with
// one comment on the pull request that a second push rewrites rather than repeats; a
// fork's pull request whose berth.yaml reads a secret is refused, and its comment says why;
// a preview environment without a fallback is refused.
func TestPreviewJobs(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	root := f.admin
	if _, err := f.svc.CreateEnvironment(ctx, root, berth.Environment{Name: "preview", InCluster: true, PreviewOf: "staging"}); err != nil {
		t.Fatal(err)
	}
	if err := f.st.Tx(ctx, func(tx *store.Tx) error {
		return tx.SetEnvironmentDomains(ctx, "preview", "preview.localhost", "local-path")
	}); err != nil {
		t.Fatal(err)
	}
	f.repo.Commit(t, "main", "rules", map[string]string{"berth.yaml": previewRules})
	one := f.repo.Commit(t, "feature", "one", map[string]string{"README.md": "one\n"})
	pr := f.repo.OpenPR(t, "feature", "main", "feature")

	commented := func(sha string) func() bool { // the comment is written after the deploy is queued
		return func() bool {
			pv, err := f.st.Preview(ctx, "shop", "web", "preview", pr)
			return err == nil && pv.CommentID != 0 && len(f.comments(t, pr)) == 1 && strings.Contains(f.comments(t, pr)[0], sha[:12])
		}
	}
	jobs := f.runUntil(t, commented(one), f.pull(t, "opened", pr, "feature", one, false).ID)
	if j := jobs[0]; j.State != berth.GitJobDeploying || j.Deploy == 0 {
		t.Fatalf("the opened pull request's job: %+v", j)
	}
	d, err := f.st.Deploy(ctx, jobs[0].Deploy)
	if err != nil {
		t.Fatal(err)
	}
	envName := fmt.Sprintf("preview-shop-web-pr%d", pr)
	if d.Env != envName || d.Args["git.branch"] != "feature" || d.Args["git.pr"] != fmt.Sprint(pr) || d.Args["git.sha"] != one {
		t.Errorf("the preview's deploy: env %s args %v", d.Env, d.Args)
	}
	env, err := f.st.Environment(ctx, envName)
	if err != nil {
		t.Fatal(err)
	}
	if env.PreviewBase != "preview" || env.Namespace("shop", "web") != envName || env.BaseDomain != fmt.Sprintf("pr-%d.preview.localhost", pr) ||
		env.StorageClass != "local-path" || !env.InCluster || env.Protected {
		t.Errorf("the preview's environment: %+v", env)
	}
	pv, err := f.st.Preview(ctx, "shop", "web", "preview", pr)
	if err != nil {
		t.Fatal(err)
	}
	if pv.State != berth.PreviewActive || pv.SHA != one || pv.Branch != "feature" || pv.CommentID == 0 || pv.Env != envName ||
		!strings.HasSuffix(pv.URL, fmt.Sprintf("/%s/pulls/%d", f.repo.FullName(), pr)) {
		t.Errorf("the preview: %+v", pv)
	}
	if c := f.comments(t, pr); len(c) != 1 || !strings.Contains(c[0], "deploying "+one[:12]) {
		t.Errorf("comments after the first push: %q", c)
	}

	// A second push: the same comment, rewritten.
	two := f.repo.Commit(t, "feature", "two", map[string]string{"README.md": "two\n"})
	if j := f.runUntil(t, commented(two), f.pull(t, "synchronize", pr, "feature", two, false).ID)[0]; j.State != berth.GitJobDeploying {
		t.Fatalf("the second push's job: %+v", j)
	}
	if c := f.comments(t, pr); len(c) != 1 || !strings.Contains(c[0], "deploying "+two[:12]) {
		t.Errorf("comments after the second push: %q", c)
	}
	if pv2, _ := f.st.Preview(ctx, "shop", "web", "preview", pr); pv2.CommentID != pv.CommentID || pv2.SHA != two {
		t.Errorf("the preview after the second push: %+v (comment was %d)", pv2, pv.CommentID)
	}

	// A fork's pull request whose berth.yaml reads a secret.
	secret := f.repo.Commit(t, "forked", "secret", map[string]string{"berth.yaml": strings.Replace(previewRules,
		`web: {image: "registry.example.com/web:${git.short}"}`,
		"web:\n    image: \"registry.example.com/web:${git.short}\"\n    variables: {TOKEN: \"${secrets.token}\"}", 1)})
	forkPR := f.repo.OpenPR(t, "forked", "main", "from a fork")
	j := f.runUntil(t, func() bool { return len(f.comments(t, forkPR)) == 1 }, f.pull(t, "opened", forkPR, "forked", secret, true).ID)[0]
	if j.State != berth.GitJobFailed || !strings.Contains(j.Reason, "fork") || !strings.Contains(j.Reason, "${secrets.token}") {
		t.Errorf("a fork's pull request reading a secret: %+v", j)
	}
	if c := f.comments(t, forkPR); len(c) != 1 || !strings.Contains(c[0], "not deployed") || !strings.Contains(c[0], "runs without secrets") {
		t.Errorf("the fork's comment: %q", c)
	}
	if _, err := f.st.Preview(ctx, "shop", "web", "preview", forkPR); !errors.Is(err, berth.ErrNotFound) {
		t.Errorf("a refused fork's preview was recorded: %v", err)
	}
}
