package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/giteatest"
	"github.com/berth-dev/berth/internal/kubetest"
)

// previewAPI is the app api of team shop, as its repository holds it: examples/hello
// answering with its commit in its version; main deploys to staging, pull requests get
// previews.
const previewAPI = `apiVersion: berth.dev/v1
metadata: {name: api, team: shop}
containers:
  web:
    image: registry.berth.localhost/hello:pv
    variables: {VERSION: "api-${git.short}"}
    readinessProbe: {httpGet: {path: /ready, port: 8080}}
service:
  ports: {http: {port: 80, targetPort: 8080}}
git:
  branches: {main: staging}
  previews: {env: preview}
`

// previewHello is the app hello of team shop, which calls api (GET /upstream answers with
// api's /info), has a database and a host name of its own; only pull requests deploy it.
const previewHello = `apiVersion: berth.dev/v1
metadata: {name: hello, team: shop}
containers:
  web:
    image: registry.berth.localhost/hello:pv
    variables:
      VERSION: "hello-${git.short}"
      HELLO_UPSTREAM: "${resources.api.url}/info"
    readinessProbe: {httpGet: {path: /ready, port: 8080}}
service:
  ports: {http: {port: 80, targetPort: 8080}}
resources:
  api: {type: service}
  dns: {type: dns}
  db: {type: postgres}
  route: {type: route, params: {host: "${resources.dns.host}", path: /, port: http}}
git:
  previews: {env: preview}
`

// TestRealNodeGitPreviews: pull requests on a real Gitea get previews on the real node.
// api's pull request on branch feature-x and hello's on the same branch: hello's preview
// calls api's preview; hello's pull request on feature-y, where api has none, calls api in
// staging — the resolution is recorded on the resource and written in the one comment
// Berth keeps on each pull request, which a second push rewrites (never a second comment).
// Each preview answers through the ingress on its own host. Closing the pull request
// removes the preview's namespace and drops its database; previews not pushed to for the
// server's --preview-ttl are closed too.
func TestRealNodeGitPreviews(t *testing.T) {
	cluster := kubetest.RealNode(t)
	dataDir := t.TempDir()
	_, ingressPort, err := net.SplitHostPort(cluster.Node.Ingress)
	if err != nil {
		t.Fatal(err)
	}
	serverFlags := []string{"--registry-mirror", "registry.berth.localhost=" + cluster.Node.Registry.Addr, "--image-wait", "3m",
		"--ingress-port", ingressPort}
	srv := startServer(t, dataDir, serverFlags...)
	_, stagingNS := realNodeShop(t, srv)
	c := adminClient(t, srv)
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dsn := podReachablePostgres(t, cluster)
	for _, args := range [][]string{
		{"dev", "image", "build", filepath.Join(root, "examples", "hello"), "-t", "hello:pv", "--state-dir", cluster.State.Dir},
		{"envs", "create", "preview", "--kubeconfig", cluster.Kubeconfig, "--preview-of", "staging",
			"--node-selector", cluster.Node.Label, "--toleration", cluster.Node.Taint},
		{"envs", "update", "preview", "--base-domain", "preview.localhost"},
		{"envs", "set-postgres", "preview", "--dsn", dsn},
	} {
		if out, code := runBerth(t, srv, args...); code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, out)
		}
	}
	for _, n := range []string{"preview-shop-api-pr1", "preview-shop-hello-pr1", "preview-shop-hello-pr2"} {
		t.Cleanup(func() {
			cluster.Client(t).CoreV1().Namespaces().Delete(context.Background(), n, metav1.DeleteOptions{})
		})
	}
	t.Cleanup(func() {
		if t.Failed() { // what the git jobs and the deploys said
			for _, app := range []string{"api", "hello"} {
				out, _ := runBerth(t, srv, "apps", "git-jobs", app, "--team", "shop")
				t.Logf("git jobs of %s:\n%s", app, out)
			}
			for _, env := range []string{"preview-shop-hello-pr1", "preview-shop-hello-pr2"} {
				out, _ := runBerth(t, srv, "history", "hello", "--team", "shop", "--env", env)
				t.Logf("history of hello in %s:\n%s", env, out)
			}
			t.Logf("server log:\n%s", srv.out.String())
		}
	})
	g := giteatest.Start(t)
	apiRepo, apiRelay, _ := gitRepoForApp(t, srv, g, "api")
	helloRepo, helloRelay, _ := gitRepoForApp(t, srv, g, "hello")

	// api on main: staging.
	apiMain := apiRepo.Commit(t, "main", "api", map[string]string{"berth.yaml": previewAPI})
	apiRelay.next(t, "push")
	if d := waitEnvDeploy(t, c, "api", "staging", apiMain, 3*time.Minute); d.State != "succeeded" {
		t.Fatalf("api's deploy to staging: %+v", d)
	}
	helloRepo.Commit(t, "main", "hello", map[string]string{"berth.yaml": previewHello})
	helloRelay.next(t, "push")

	// api's pull request on feature-x.
	apiX := apiRepo.Commit(t, "feature-x", "api x", map[string]string{"README.md": "x\n"})
	if pr := apiRepo.OpenPR(t, "feature-x", "main", "api x"); pr != 1 {
		t.Fatalf("api's pull request is #%d", pr)
	}
	apiRelay.next(t, "pull_request")
	if d := waitEnvDeploy(t, c, "api", "preview-shop-api-pr1", apiX, 3*time.Minute); d.State != "succeeded" {
		t.Fatalf("api's preview: %+v", d)
	}

	// hello's pull request on the same branch: its api is api's preview.
	helloX := helloRepo.Commit(t, "feature-x", "hello x", map[string]string{"README.md": "x\n"})
	helloRepo.OpenPR(t, "feature-x", "main", "hello x")
	if d := helloRelay.next(t, "pull_request"); d.status != http.StatusAccepted {
		t.Fatalf("hello's pull request delivery: %d %s", d.status, d.answer)
	}
	received := time.Now()
	if d := waitEnvDeploy(t, c, "hello", "preview-shop-hello-pr1", helloX, 3*time.Minute); d.State != "succeeded" {
		t.Fatalf("hello's preview: %+v", d)
	}
	t.Logf("webhook answered → preview deploy succeeded (Available, image present): %s", time.Since(received).Round(time.Millisecond))
	if d := waitEnvDeploy(t, c, "hello", "preview-shop-hello-pr1", helloX, time.Second); d.FinishedAt != nil {
		t.Logf("the preview's deploy, queued → succeeded: %s", d.FinishedAt.Sub(d.CreatedAt).Round(time.Millisecond))
	}
	hostX := "hello.shop.pr-1.preview.localhost"
	if body := get(t, "http://"+cluster.Node.Ingress+"/upstream", hostX); !strings.Contains(body, "api-"+apiX[:12]) {
		t.Errorf("hello's preview of feature-x calls api, which answers %q; want api's preview (version api-%s)", body, apiX[:12])
	}
	out, code := runBerth(t, srv, "resources", "list", "--app", "hello", "--team", "shop", "--env", "preview-shop-hello-pr1", "-o", "json")
	if code != 0 || !strings.Contains(out, `"env": "preview-shop-api-pr1"`) {
		t.Errorf("hello's preview's resources do not record api's preview as where api was found: exit %d\n%s", code, out)
	}
	database := resourceOutput(t, out, "db", "database")
	comment := waitComment(t, g, helloRepo, 1, "succeeded")
	for _, want := range []string{"succeeded at " + helloX[:12], "http://" + hostX + ":" + ingressPort + "/", "the preview of pull request #1 of `api`"} {
		if !strings.Contains(comment, want) {
			t.Errorf("hello's comment on #1 lacks %q:\n%s", want, comment)
		}
	}
	waitStatus(t, g, helloRepo, helloX, "berth/preview-shop-hello-pr1", "success")
	if !databaseExists(t, dsn, database) {
		t.Errorf("the preview's database %s does not exist", database)
	}

	// hello's pull request on feature-y, where api has none: api in staging.
	helloY := helloRepo.Commit(t, "feature-y", "hello y", map[string]string{"README.md": "y\n"})
	helloRepo.OpenPR(t, "feature-y", "main", "hello y")
	if d := waitEnvDeploy(t, c, "hello", "preview-shop-hello-pr2", helloY, 3*time.Minute); d.State != "succeeded" {
		t.Fatalf("hello's preview of feature-y: %+v", d)
	}
	if body := get(t, "http://"+cluster.Node.Ingress+"/upstream", "hello.shop.pr-2.preview.localhost"); !strings.Contains(body, "api-"+apiMain[:12]) {
		t.Errorf("hello's preview of feature-y calls api, which answers %q; want staging's (version api-%s)", body, apiMain[:12])
	}
	if comment := waitComment(t, g, helloRepo, 2, "succeeded"); !strings.Contains(comment, "`api` in `staging`") ||
		!strings.Contains(comment, "api."+stagingNS+".svc.cluster.local") {
		t.Errorf("hello's comment on #2 does not say api is staging's:\n%s", comment)
	}

	// A second push to feature-x: the same comment, rewritten.
	helloX2 := helloRepo.Commit(t, "feature-x", "hello x2", map[string]string{"README.md": "x2\n"})
	if d := waitEnvDeploy(t, c, "hello", "preview-shop-hello-pr1", helloX2, 3*time.Minute); d.State != "succeeded" {
		t.Fatalf("hello's preview after a second push: %+v", d)
	}
	waitComment(t, g, helloRepo, 1, "succeeded at "+helloX2[:12])
	if body := get(t, "http://"+cluster.Node.Ingress+"/info", hostX); !strings.Contains(body, "hello-"+helloX2[:12]) {
		t.Errorf("hello's preview answers %q after the second push", body)
	}

	// Closing the pull request tears the preview down.
	g.Do(t, "PATCH", "/repos/"+helloRepo.FullName()+"/pulls/1", map[string]any{"state": "closed"}, nil)
	waitComment(t, g, helloRepo, 1, "closed: the pull request was closed")
	waitNamespaceGone(t, cluster.Client(t).CoreV1().Namespaces().Get, "preview-shop-hello-pr1")
	if databaseExists(t, dsn, database) {
		t.Errorf("the closed preview's database %s still exists", database)
	}
	if out, code := runBerth(t, srv, "resources", "list", "--app", "hello", "--team", "shop", "--env", "preview-shop-hello-pr1", "-o", "json"); code != 0 ||
		strings.Contains(out, `"name"`) {
		t.Errorf("the closed preview's resources are still recorded: exit %d\n%s", code, out)
	}

	out, code = runBerth(t, srv, "previews", "list", "--app", "hello", "--team", "shop", "--all", "-o", "json")
	var listed []apiv1.Preview
	if code != 0 || json.Unmarshal([]byte(out), &listed) != nil {
		t.Fatalf("previews list: exit %d\n%s", code, out)
	}
	states := map[int]string{}
	for _, p := range listed {
		states[p.PR] = p.State + " " + p.Reason
	}
	if states[1] != "closed the pull request was closed" || states[2] != "active " || len(listed) != 2 {
		t.Errorf("previews list --all: %v", states)
	}

	// Previews not pushed to for the TTL are closed: a server with a TTL of a minute closes
	// hello's #2 and api's #1 once they are a minute old.
	srv.kill9(t)
	srv = startServer(t, dataDir, append(serverFlags, "--preview-ttl", "1m")...)
	waitComment(t, g, helloRepo, 2, "closed: expired: no push for 1m0s")
	waitNamespaceGone(t, cluster.Client(t).CoreV1().Namespaces().Get, "preview-shop-hello-pr2")
	waitNamespaceGone(t, cluster.Client(t).CoreV1().Namespaces().Get, "preview-shop-api-pr1")
}

// waitEnvDeploy waits for the deploy of team shop's app at commit sha in env to end.
func waitEnvDeploy(t testing.TB, c *apiclient.Client, app, env, sha string, timeout time.Duration) apiv1.Deploy {
	t.Helper()
	var got apiv1.Deploy
	waitUntil(t, timeout, func() bool {
		ds, err := c.Deploys(context.Background(), "shop", app, env, 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			if d.Args["git.sha"] == sha && (d.State == "succeeded" || d.State == "failed") {
				got = d
				return true
			}
		}
		return false
	})
	return got
}

// waitComment waits until pull request pr of repo has exactly one comment, holding want,
// and returns it.
func waitComment(t *testing.T, g *giteatest.Gitea, repo *giteatest.Repo, pr int, want string) string {
	t.Helper()
	var bodies []string
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		var out []struct {
			Body string `json:"body"`
		}
		g.Do(t, "GET", fmt.Sprintf("/repos/%s/issues/%d/comments", repo.FullName(), pr), nil, &out)
		bodies = bodies[:0]
		for _, c := range out {
			bodies = append(bodies, c.Body)
		}
		if len(bodies) > 1 {
			t.Fatalf("pull request #%d has %d comments, want one kept up to date: %q", pr, len(bodies), bodies)
		}
		if len(bodies) == 1 && strings.Contains(bodies[0], want) {
			return bodies[0]
		}
		time.Sleep(200 * time.Millisecond) // Gitea has no watch for comments
	}
	t.Fatalf("pull request #%d's comment never held %q: %q", pr, want, bodies)
	return ""
}

// resourceOutput returns output of resource name in `berth resources list -o json`'s out.
func resourceOutput(t *testing.T, out, name, output string) string {
	t.Helper()
	var rs []struct {
		Name    string            `json:"name"`
		Outputs map[string]string `json:"outputs"`
	}
	if err := json.Unmarshal([]byte(out), &rs); err != nil {
		t.Fatalf("resources list -o json: %v\n%s", err, out)
	}
	for _, r := range rs {
		if r.Name == name && r.Outputs[output] != "" {
			return r.Outputs[output]
		}
	}
	t.Fatalf("no output %s of resource %s in\n%s", output, name, out)
	return ""
}

// databaseExists reports whether the server dsn reaches has a database called name.
func databaseExists(t *testing.T, dsn, name string) bool {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// waitNamespaceGone waits until the namespace called name no longer exists.
func waitNamespaceGone[T any](t *testing.T, get func(context.Context, string, metav1.GetOptions) (T, error), name string) {
	t.Helper()
	waitUntil(t, 2*time.Minute, func() bool {
		_, err := get(context.Background(), name, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
}

// BenchmarkPreviewWebhookToAvailable: a push to a pull request's branch on a real Gitea,
// from Berth's answer to the pull request's webhook to the preview's deploy succeeded (its
// Deployment Available on the real node, its image already in the registry), per push.
// Argo CD's pull-request generator polls every 30 minutes by default. Target: ≤ 5 s.
func BenchmarkPreviewWebhookToAvailable(b *testing.B) {
	cluster := kubetest.RealNode(b)
	srv := startServer(b, b.TempDir(), "--registry-mirror", "registry.berth.localhost="+cluster.Node.Registry.Addr)
	_, _ = realNodeShop(b, srv)
	c := adminClient(b, srv)
	root, err := filepath.Abs("../..")
	if err != nil {
		b.Fatal(err)
	}
	for _, args := range [][]string{
		{"dev", "image", "build", filepath.Join(root, "examples", "hello"), "-t", "hello:pv", "--state-dir", cluster.State.Dir},
		{"envs", "create", "preview", "--kubeconfig", cluster.Kubeconfig, "--preview-of", "staging",
			"--node-selector", cluster.Node.Label, "--toleration", cluster.Node.Taint},
		{"envs", "update", "preview", "--base-domain", "preview.localhost"},
	} {
		if out, code := runBerth(b, srv, args...); code != 0 {
			b.Fatalf("%v: exit %d\n%s", args, code, out)
		}
	}
	b.Cleanup(func() {
		cluster.Client(b).CoreV1().Namespaces().Delete(context.Background(), "preview-shop-api-pr1", metav1.DeleteOptions{})
	})
	g := giteatest.Start(b)
	repo, relay, _ := gitRepoForApp(b, srv, g, "api")
	repo.Commit(b, "main", "api", map[string]string{"berth.yaml": strings.Replace(previewAPI, "  branches: {main: staging}\n", "", 1)})
	relay.next(b, "push")
	sha := repo.Commit(b, "feature", "0", map[string]string{"README.md": "0\n"})
	repo.OpenPR(b, "feature", "main", "bench")
	relay.next(b, "pull_request")
	waitEnvDeploy(b, c, "api", "preview-shop-api-pr1", sha, 3*time.Minute)

	var total time.Duration
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		sha := repo.Commit(b, "feature", fmt.Sprint(i+1), map[string]string{"README.md": fmt.Sprintf("%d\n", i+1)})
		relay.next(b, "pull_request") // Berth answered the synchronize delivery
		start := time.Now()
		b.StartTimer()
		d := waitEnvDeploy(b, c, "api", "preview-shop-api-pr1", sha, 3*time.Minute)
		b.StopTimer()
		total += time.Since(start)
		if d.State != "succeeded" {
			b.Fatalf("the preview's deploy: %+v", d)
		}
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/preview")
}
