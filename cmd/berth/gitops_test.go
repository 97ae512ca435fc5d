package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/giteatest"
	"github.com/berth-dev/berth/internal/gitops"
	"github.com/berth-dev/berth/internal/kubetest"
)

// gitOpsManifest is examples/hello reading a secret, whose value must never reach the
// platform repo.
const gitOpsManifest = `apiVersion: berth.dev/v1
metadata: {name: web, team: shop}
args: {version: "1"}
containers:
  web:
    image: registry.berth.localhost/hello:${args.version}
    variables: {API_TOKEN: "${secrets.API_TOKEN}", VERSION: "${args.version}"}
    readinessProbe: {httpGet: {path: /ready, port: 8080}}
service:
  ports: {http: {port: 80, targetPort: 8080}}
`

// deploysIn returns web's deploys in env, newest first.
func deploysIn(t *testing.T, srv *serverProc, env string) []apiv1.Deploy {
	t.Helper()
	out := mustBerth(t, srv, "history", "web", "--env", env, "-o", "json")
	var hist []apiv1.Deploy
	if err := json.Unmarshal([]byte(out), &hist); err != nil {
		t.Fatalf("history: %v\n%s", err, out)
	}
	return hist
}

// waitDeploy polls web's newest deploy in env until cond holds.
func waitDeploy(t *testing.T, srv *serverProc, env string, cond func(d apiv1.Deploy) bool) apiv1.Deploy {
	t.Helper()
	var last apiv1.Deploy
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if h := deploysIn(t, srv, env); len(h) > 0 {
			last = h[0]
			if cond(last) {
				return last
			}
		}
		time.Sleep(200 * time.Millisecond) // the CLI has no wait for awaiting-merge
	}
	out, _ := runBerth(t, srv, "history", "web", "--deploy", fmt.Sprint(last.ID))
	t.Fatalf("web's last deploy in %s: %+v\n%s\nserver:\n%s", env, last, out, srv.out.String())
	return last
}

// TestRealNodeGitOpsOutput: with GitOps output, a staging deploy commits exactly the objects it
// applies to staging's branch of a real Gitea repository, one file per object under
// shop/web, with the deploy named in the message; a promotion to production, which goes
// by pull request, waits for the merge and applies once merged; a closed pull request
// cancels its deploy; and the secret's value is in no commit of any branch. The server
// polls the pull requests only hourly: the merge and the close reach it by the platform
// repository's webhook, which Berth registered on Gitea (--create-webhook).
func TestRealNodeGitOpsOutput(t *testing.T) {
	const canary = "gitops-canary-5d1e9b"
	cluster := kubetest.RealNode(t)
	// Promotions find their images in the registry (the real node's).
	srv := startServer(t, t.TempDir(), "--gitops-poll", "1h", "--registry-mirror", "registry.berth.localhost="+cluster.Node.Registry.Addr)
	_, ns := realNodeShop(t, srv)
	file := writeManifest(t, gitOpsManifest)
	prodNS := ns + "-prod"
	mustBerth(t, srv, "envs", "create", "production", "--kubeconfig", cluster.Kubeconfig, "--namespace-template", prodNS,
		"--node-selector", cluster.Node.Label, "--toleration", cluster.Node.Taint)
	t.Cleanup(func() {
		cluster.Client(t).CoreV1().Namespaces().Delete(context.Background(), prodNS, metav1.DeleteOptions{})
	})
	g := giteatest.Start(t)
	platform := g.CreateRepo(t, "platform")
	url := g.URL + "/" + platform.FullName()
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(g.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustBerth(t, srv, "envs", "set-gitops", "staging", "--repo", url, "--token-file", tokenFile)
	// The server registers production's webhook through Gitea's API, to a relay in front of
	// it, as the git flow's tests do.
	relay := newHookRelay(t, srv.url)
	out := mustBerth(t, srv, "envs", "set-gitops", "production", "--repo", url, "--token-file", tokenFile, "--pull-request",
		"--create-webhook", "--hook-url", relay.URL+"/hooks/gitea", "-o", "json")
	var prodOutput apiv1.GitOps
	if err := json.Unmarshal([]byte(out), &prodOutput); err != nil || prodOutput.HookURL != relay.URL+"/hooks/gitea" || prodOutput.HookSecret == "" {
		t.Fatalf("envs set-gitops production --create-webhook: %v\n%s", err, out)
	}
	var hooks []struct {
		Events []string          `json:"events"`
		Config map[string]string `json:"config"`
	}
	g.Do(t, "GET", "/repos/"+platform.FullName()+"/hooks", nil, &hooks)
	if len(hooks) != 1 || hooks[0].Config["url"] != prodOutput.HookURL || !slices.Contains(hooks[0].Events, "pull_request") {
		t.Fatalf("the webhook Berth registered on the platform repository: %+v", hooks)
	}
	if out, code := berthIn(t, srv, canary, "secrets", "set", "API_TOKEN", "--team", "shop"); code != 0 {
		t.Fatalf("secrets set: %d %s", code, out)
	}

	// Staging: committed, then applied.
	mustBerth(t, srv, "deploy", "-f", file, "--env", "staging", "--wait")
	d := deploysIn(t, srv, "staging")[0]
	git := &gitops.Client{}
	ctx := t.Context()
	files, _, err := git.Read(ctx, url, g.Token, "staging", "shop/web")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	cs := cluster.Client(t)
	live := map[string]bool{}
	sel := metav1.ListOptions{LabelSelector: "app.kubernetes.io/managed-by=berth,app.kubernetes.io/name=web"}
	deps, err := cs.AppsV1().Deployments(ns).List(ctx, sel)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range deps.Items {
		live["deployment-"+o.Name+".yaml"] = true
	}
	svcs, _ := cs.CoreV1().Services(ns).List(ctx, sel)
	for _, o := range svcs.Items {
		live["service-"+o.Name+".yaml"] = true
	}
	secrets, _ := cs.CoreV1().Secrets(ns).List(ctx, sel)
	for _, o := range secrets.Items {
		live["secret-"+o.Name+".yaml"] = true
	}
	sas, _ := cs.CoreV1().ServiceAccounts(ns).List(ctx, sel)
	for _, o := range sas.Items {
		live["serviceaccount-"+o.Name+".yaml"] = true
	}
	cms, _ := cs.CoreV1().ConfigMaps(ns).List(ctx, sel)
	for _, o := range cms.Items {
		live["configmap-"+o.Name+".yaml"] = true
	}
	if len(names) != len(live) || len(names) < 3 {
		t.Fatalf("the platform repo holds %q; staging runs %v", names, live)
	}
	for _, n := range names {
		if !live[n] {
			t.Errorf("%s is in the platform repo, not in staging", n)
		}
	}
	var dep map[string]any
	if err := yaml.Unmarshal(files["deployment-web.yaml"], &dep); err != nil {
		t.Fatal(err)
	}
	liveDep := deps.Items[0]
	if got := fmt.Sprint(dep["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["image"]); got != liveDep.Spec.Template.Spec.Containers[0].Image {
		t.Errorf("the published Deployment runs %s, staging's %s", got, liveDep.Spec.Template.Spec.Containers[0].Image)
	}
	log, err := git.Log(ctx, url, g.Token, "staging", 5)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("deploy %d: shop/web revision 1 to staging by admin", d.ID); len(log) != 1 || !strings.HasPrefix(log[0].Message, want) {
		t.Errorf("staging's history %+v, want one commit %q", log, want)
	}
	if out := mustBerth(t, srv, "history", "web", "--deploy", fmt.Sprint(d.ID)); !strings.Contains(out, "GitOps: commit") {
		t.Errorf("history of the deploy does not show its commit:\n%s", out)
	}

	// Production: a pull request; nothing applied until it is merged.
	mustBerth(t, srv, "promote", "web", "--from", "staging", "--to", "production")
	p := waitDeploy(t, srv, "production", func(d apiv1.Deploy) bool { return d.State == "awaiting-merge" })
	if out := mustBerth(t, srv, "history", "web", "--deploy", fmt.Sprint(p.ID)); !strings.Contains(out, "GitOps: pull request #") {
		t.Errorf("history of the promotion does not link its pull request:\n%s", out)
	}
	change := deployChange(t, srv, p.ID)
	if change.PR == 0 || change.State != "open" || !strings.Contains(change.URL, "/pulls/") {
		t.Fatalf("the promotion's change %+v", change)
	}
	if _, err := cs.AppsV1().Deployments(prodNS).Get(ctx, "web", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("production runs web before its pull request is merged: %v", err)
	}
	g.Do(t, "POST", fmt.Sprintf("/repos/%s/pulls/%d/merge", platform.FullName(), change.PR), map[string]any{"Do": "merge"}, nil)
	closedDelivery(t, relay, change.PR)
	p = waitDeploy(t, srv, "production", func(d apiv1.Deploy) bool { return d.ID == p.ID && d.State == "succeeded" })
	if _, err := cs.AppsV1().Deployments(prodNS).Get(ctx, "web", metav1.GetOptions{}); err != nil {
		t.Fatalf("production after the merge: %v", err)
	}
	if got := deployChange(t, srv, p.ID); got.State != "merged" {
		t.Errorf("the merged change: %+v", got)
	}
	if prod, _, err := git.Read(ctx, url, g.Token, "production", "shop/web"); err != nil || len(prod) != len(files) {
		t.Errorf("production's branch after the merge: %d files, %v", len(prod), err)
	}

	// A closed pull request cancels its deploy.
	mustBerth(t, srv, "deploy", "-f", file, "--env", "staging", "--set", "version=2", "--wait")
	mustBerth(t, srv, "promote", "web", "--from", "staging", "--to", "production")
	p2 := waitDeploy(t, srv, "production", func(d apiv1.Deploy) bool { return d.ID != p.ID && d.State == "awaiting-merge" })
	change = deployChange(t, srv, p2.ID)
	g.Do(t, "PATCH", fmt.Sprintf("/repos/%s/pulls/%d", platform.FullName(), change.PR), map[string]any{"state": "closed"}, nil)
	closedDelivery(t, relay, change.PR)
	p2 = waitDeploy(t, srv, "production", func(d apiv1.Deploy) bool { return d.ID == p2.ID && d.State == "failed" })
	if !strings.Contains(p2.Reason, "closed without merging") {
		t.Errorf("the cancelled deploy: %+v", p2)
	}
	dep2, err := cs.AppsV1().Deployments(prodNS).Get(ctx, "web", metav1.GetOptions{})
	if err != nil || dep2.Spec.Template.Spec.Containers[0].Image != "registry.berth.localhost/hello:1" {
		t.Errorf("production after the closed pull request: %v", err)
	}

	// The canary is in no commit of any branch.
	mirror := filepath.Join(t.TempDir(), "mirror")
	authURL := strings.Replace(platform.CloneURL, "http://", "http://"+giteatest.AdminUser+":"+g.Token+"@", 1)
	for _, args := range [][]string{{"clone", "-q", "--mirror", authURL, mirror}} {
		if out, err := exec.Command("git", args...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args[:2], err, out)
		}
	}
	all, err := exec.Command("git", "-C", mirror, "log", "--all", "-p").CombinedOutput()
	if err != nil {
		t.Fatalf("git log: %v", err)
	}
	if !strings.Contains(string(all), "API_TOKEN") {
		t.Fatalf("the repository's history does not name the secret at all:\n%.2000s", all)
	}
	if strings.Contains(string(all), canary) {
		t.Fatal("the secret's value is in the platform repository")
	}
	if logs := srv.out.String(); strings.Contains(logs, canary) || strings.Contains(logs, g.Token) {
		t.Error("the server logged the secret or the platform token")
	}
}

// closedDelivery waits for the platform repository's webhook delivery of pull request pr
// closed, and checks that the server took it for production.
func closedDelivery(t *testing.T, relay *hookRelay, pr int) {
	t.Helper()
	for {
		d := relay.next(t, "pull_request")
		var body struct {
			Action string `json:"action"`
			Number int    `json:"number"`
		}
		if err := json.Unmarshal(d.body, &body); err != nil {
			t.Fatalf("a pull_request delivery: %v", err)
		}
		if body.Action != "closed" || body.Number != pr {
			continue // opened, and the like: answered, nothing done
		}
		var rc apiv1.HookReceipt
		if err := json.Unmarshal([]byte(d.answer), &rc); d.status != 202 || err != nil || !slices.Equal(rc.Envs, []string{"production"}) {
			t.Fatalf("the server's answer to pull request #%d closed: %d %s", pr, d.status, d.answer)
		}
		return
	}
}

// deployChange returns what deploy id wrote to its platform repository.
func deployChange(t *testing.T, srv *serverProc, id int64) apiv1.GitOpsChange {
	t.Helper()
	var c apiv1.GitOpsChange
	if err := json.Unmarshal(apiGet(t, srv, fmt.Sprintf("/api/v1/deploys/%d/gitops", id)), &c); err != nil {
		t.Fatal(err)
	}
	return c
}
