package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/giteatest"
	"github.com/berth-dev/berth/internal/kubetest"
)

// gitHello is examples/hello as the app hello of team shop, as its repository holds it: its
// image tagged with the commit, and a push to main deploying to staging.
func gitHello(host string) string {
	return fmt.Sprintf(`apiVersion: berth.dev/v1
metadata: {name: hello, team: shop}
containers:
  web:
    image: registry.berth.localhost/hello:${git.short}
    variables: {VERSION: "${git.short}"}
    readinessProbe: {httpGet: {path: /ready, port: 8080}}
service:
  ports: {http: {port: 80, targetPort: 8080}}
exposes: [{host: %s, path: /, port: http}]
git:
  branches: {main: staging}
`, host)
}

// delivery is one webhook delivery the relay passed on, and the server's answer.
type delivery struct {
	header http.Header
	body   []byte
	status int
	answer string
}

// hookRelay stands between Gitea and the Berth server: it passes each delivery on to the
// server's current address, records it with the answer, and can act right after the
// answer (killing the server), as a forge's delivery and a crash would meet.
type hookRelay struct {
	*httptest.Server
	mu     sync.Mutex
	target string
	after  func(delivery)
	got    chan delivery
}

func newHookRelay(t testing.TB, target string) *hookRelay {
	r := &hookRelay{target: target, got: make(chan delivery, 64)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(req.Body, 16<<20))
		r.mu.Lock()
		target, after := r.target, r.after
		r.mu.Unlock()
		d := delivery{header: req.Header.Clone(), body: body}
		out, err := http.NewRequest(http.MethodPost, target+req.URL.Path, bytes.NewReader(body))
		if err != nil {
			t.Error(err)
			return
		}
		out.Header = req.Header.Clone()
		resp, err := http.DefaultClient.Do(out)
		if err != nil {
			d.status, d.answer = 0, err.Error()
		} else {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			d.status, d.answer = resp.StatusCode, string(b)
		}
		if after != nil {
			after(d)
		}
		w.WriteHeader(max(d.status, http.StatusBadGateway))
		r.got <- d
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *hookRelay) retarget(url string, after func(delivery)) {
	r.mu.Lock()
	r.target, r.after = url, after
	r.mu.Unlock()
}

// next returns the next delivery of event (others are skipped), waiting up to a minute.
func (r *hookRelay) next(t testing.TB, event string) delivery {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case d := <-r.got:
			if d.header.Get("X-Gitea-Event") == event {
				return d
			}
		case <-timeout:
			t.Fatalf("no %s delivery within a minute", event)
		}
	}
}

// gitRepoFor connects app hello of team shop on srv to a new repository on g, with a
// webhook through a relay to srv; it returns the repository, the relay and the secret.
func gitRepoFor(t *testing.T, srv *serverProc, g *giteatest.Gitea) (*giteatest.Repo, *hookRelay, string) {
	t.Helper()
	return gitRepoForApp(t, srv, g, "hello")
}

// gitRepoForApp is gitRepoFor for team shop's app called app, in a repository of its name.
func gitRepoForApp(t testing.TB, srv *serverProc, g *giteatest.Gitea, app string) (*giteatest.Repo, *hookRelay, string) {
	t.Helper()
	repo := g.CreateRepo(t, app)
	if out, code := runBerth(t, srv, "apps", "create", app, "--team", "shop"); code != 0 {
		t.Fatalf("apps create: exit %d\n%s", code, out)
	}
	tokenFile := filepath.Join(t.TempDir(), "gitea.token")
	if err := os.WriteFile(tokenFile, []byte(g.Token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The server registers the webhook through Gitea's API, to the relay.
	relay := newHookRelay(t, srv.url)
	out, code := runBerth(t, srv, "apps", "connect", app, "--team", "shop", "--repo", g.URL+"/"+repo.FullName(),
		"--token-file", tokenFile, "--hook-url", relay.URL+"/hooks/gitea", "-o", "json")
	if code != 0 {
		t.Fatalf("apps connect: exit %d\n%s", code, out)
	}
	var conn apiv1.Connection
	if err := json.Unmarshal([]byte(out), &conn); err != nil || conn.HookSecret == "" || conn.HookURL != relay.URL+"/hooks/gitea" {
		t.Fatalf("apps connect -o json: %v\n%s", err, out)
	}
	var registered []struct {
		Events []string          `json:"events"`
		Config map[string]string `json:"config"`
	}
	g.Do(t, "GET", "/repos/"+repo.FullName()+"/hooks", nil, &registered)
	if len(registered) != 1 || registered[0].Config["url"] != conn.HookURL || !slices.Contains(registered[0].Events, "pull_request") {
		t.Fatalf("the webhook Berth registered on Gitea: %+v", registered)
	}
	return repo, relay, conn.HookSecret
}

// commitStatus is a commit status as Gitea's API returns it.
type commitStatus struct {
	Status      string `json:"status"`
	Context     string `json:"context"`
	Description string `json:"description"`
	TargetURL   string `json:"target_url"`
}

// waitStatus polls the statuses of sha on repo until one of context has state want.
func waitStatus(t *testing.T, g *giteatest.Gitea, repo *giteatest.Repo, sha, context, want string) commitStatus {
	t.Helper()
	var last []commitStatus
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		last = nil
		g.Do(t, "GET", "/repos/"+repo.FullName()+"/commits/"+sha+"/statuses", nil, &last)
		for _, s := range last {
			if s.Context == context && s.Status == want {
				return s
			}
		}
		time.Sleep(200 * time.Millisecond) // Gitea has no watch for statuses
	}
	t.Fatalf("commit %s never got status %s %s: %+v", sha[:12], context, want, last)
	return commitStatus{}
}

// gitDeploys returns the deploys of hello in staging, newest first.
func gitDeploys(t *testing.T, c *apiclient.Client) []apiv1.Deploy {
	t.Helper()
	ds, err := c.Deploys(context.Background(), "shop", "hello", "staging", 50)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// waitGitDeploy waits for hello's deploy of revision rev in staging to end, and returns it.
func waitGitDeploy(t *testing.T, c *apiclient.Client, rev int64, timeout time.Duration) apiv1.Deploy {
	t.Helper()
	var got apiv1.Deploy
	waitUntil(t, timeout, func() bool {
		for _, d := range gitDeploys(t, c) {
			if d.Revision == rev && (d.State == "succeeded" || d.State == "failed") {
				got = d
				return true
			}
		}
		return false
	})
	return got
}

// TestRealNodeGitPushDeploys: a push to main of a connected repository on a real Gitea
// reaches Berth as a signed webhook, answered 202; Berth reads berth.yaml at that commit,
// stores it as a revision whose source is the commit, and deploys it to staging — waiting,
// visibly, for the commit's image until the test (as a CI would) pushes it — onto the real
// node, where it answers with the commit in its version; Gitea shows the deploy's status on
// the commit, pending and then success, linking to the deploy. Deliveries with a bad
// signature, one byte changed, a replayed id, a 10 MB body or an event Berth does not act
// on change nothing. A server killed -9 right after it answered a push still deploys that
// commit, once, after a restart.
func TestRealNodeGitPushDeploys(t *testing.T) {
	cluster := kubetest.RealNode(t)
	dataDir := t.TempDir()
	serverFlags := []string{"--registry-mirror", "registry.berth.localhost=" + cluster.Node.Registry.Addr, "--image-wait", "3m"}
	srv := startServer(t, dataDir, serverFlags...)
	_, ns := realNodeShop(t, srv)
	c := adminClient(t, srv)
	g := giteatest.Start(t)
	repo, relay, secret := gitRepoFor(t, srv, g)
	host := "hello." + ns + ".localhost"
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	buildImage := func(tag string) {
		t.Helper()
		args := []string{"dev", "image", "build", filepath.Join(root, "examples", "hello"), "-t", "hello:" + tag, "--state-dir", cluster.State.Dir}
		if out, code := runBerth(t, srv, args...); code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, out)
		}
	}

	// The push; the commit's image is not in the registry yet.
	start := time.Now()
	sha := repo.Commit(t, "main", "hello from git", map[string]string{"berth.yaml": gitHello(host)})
	short := sha[:12]
	push := relay.next(t, "push")
	if push.status != http.StatusAccepted || !strings.Contains(push.answer, `"event": "push"`) {
		t.Fatalf("the push delivery was answered %d: %s", push.status, push.answer)
	}
	t.Logf("push to webhook answered: %s", time.Since(start).Round(time.Millisecond))

	// The deploy waits for the image, saying so.
	var waiting apiv1.Deploy
	waitUntil(t, time.Minute, func() bool {
		for _, d := range gitDeploys(t, c) {
			evs, err := c.DeployEvents(context.Background(), d.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range evs {
				if strings.Contains(ev.Message, "waiting for image registry.berth.localhost/hello:"+short) {
					waiting = d
					return true
				}
			}
		}
		return false
	})
	if waiting.State != "running" || waiting.CreatedBy != "webhook:gitea" {
		t.Fatalf("the deploy waiting for its image: %+v", waiting)
	}
	pending := waitStatus(t, g, repo, sha, "berth/staging", "pending")
	if want := srv.url + "/apps/shop/hello"; pending.TargetURL != want {
		t.Errorf("pending status links to %q, want %q", pending.TargetURL, want)
	}
	buildImage(short)
	done := waitGitDeploy(t, c, waiting.Revision, 3*time.Minute)
	if done.State != "succeeded" || done.Args["git.sha"] != sha {
		t.Fatalf("the deploy from git: %+v", done)
	}
	if body := get(t, "http://"+cluster.Node.Ingress+"/info", host); !strings.Contains(body, short) {
		t.Errorf("the app answers %q, want version %s", body, short)
	}
	revs, err := c.Revisions(context.Background(), "shop", "hello")
	if err != nil {
		t.Fatal(err)
	}
	if src := revs[0].Source; src == nil || src.SHA != sha || src.Repo != repo.FullName() || src.Ref != "refs/heads/main" || src.Forge != "gitea" {
		t.Errorf("the revision's source: %+v", revs[0].Source)
	}
	ok := waitStatus(t, g, repo, sha, "berth/staging", "success")
	if want := fmt.Sprintf("%s/deploys/%d", srv.url, waiting.ID); !strings.Contains(ok.Description, "staging succeeded") || ok.TargetURL != want {
		t.Errorf("success status %+v, want a link to %s", ok, want)
	}
	if got := done.Images["registry.berth.localhost/hello:"+short]; !strings.HasPrefix(got, "sha256:") {
		t.Errorf("the deploy recorded no digest for its image: %v", done.Images)
	}
	var jobs []apiv1.GitJob
	waitUntil(t, time.Minute, func() bool { // the job ends once it reported the deploy's end
		out, code := runBerth(t, srv, "apps", "git-jobs", "hello", "--team", "shop", "-o", "json")
		if code != 0 || json.Unmarshal([]byte(out), &jobs) != nil {
			t.Fatalf("apps git-jobs: exit %d\n%s", code, out)
		}
		return len(jobs) == 1 && jobs[0].State == "done"
	})
	if j := jobs[0]; j.SHA != sha || j.Deploy != done.ID || j.Event != "push" || !strings.Contains(j.Reason, "succeeded") {
		t.Errorf("the push's git job: %+v", j)
	}

	// Refused deliveries change nothing: the push's own delivery, replayed and tampered with.
	before := len(gitDeploys(t, c))
	sign := func(body []byte) string {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		return hex.EncodeToString(mac.Sum(nil))
	}
	flipped := bytes.Clone(push.body) // one letter of the commit's message: still JSON, signed no more
	flipped[bytes.Index(flipped, []byte("hello from git"))] = 'j'

	huge := append(bytes.Clone(push.body[:len(push.body)-1]), []byte(`, "pad": "`+strings.Repeat("x", 10<<20)+`"}`)...)
	for _, tc := range []struct {
		name     string
		body     []byte
		mutate   func(h http.Header)
		want     int
		answered string
	}{
		{"replayed delivery id", push.body, nil, http.StatusConflict, "replay"},
		{"bad signature", push.body, func(h http.Header) {
			h.Set("X-Gitea-Delivery", "fresh-1")
			h.Set("X-Gitea-Signature", strings.Repeat("0", 64))
		}, http.StatusUnauthorized, "signature"},
		{"one byte changed", flipped, func(h http.Header) { h.Set("X-Gitea-Delivery", "fresh-2") }, http.StatusUnauthorized, "signature"},
		{"10 MB body", huge, func(h http.Header) {
			h.Set("X-Gitea-Delivery", "fresh-3")
			h.Set("X-Gitea-Signature", sign(huge))
		}, http.StatusRequestEntityTooLarge, "at most"},
		{"no signature", push.body, func(h http.Header) {
			h.Set("X-Gitea-Delivery", "fresh-4")
			h.Del("X-Gitea-Signature")
		}, http.StatusUnauthorized, "signature"},
		{"an event Berth does not act on", []byte(`{"action":"created","repository":{"full_name":"` + repo.FullName() + `"}}`), func(h http.Header) {
			h.Set("X-Gitea-Delivery", "fresh-5")
			h.Set("X-Gitea-Event", "issue_comment")
		}, http.StatusAccepted, "does not act on"},
	} {
		h := push.header.Clone()
		if tc.mutate != nil {
			tc.mutate(h)
		}
		if tc.name == "an event Berth does not act on" {
			h.Set("X-Gitea-Signature", sign(tc.body))
		}
		req, err := http.NewRequest(http.MethodPost, srv.url+"/hooks/gitea", bytes.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header = h
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		answer, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode != tc.want || !strings.Contains(string(answer), tc.answered) {
			t.Errorf("%s: answered %d %s; want %d mentioning %q", tc.name, resp.StatusCode, answer, tc.want, tc.answered)
		}
	}
	if after := len(gitDeploys(t, c)); after != before {
		t.Errorf("refused deliveries queued deploys: %d before, %d after", before, after)
	}
	events, err := c.Audit(context.Background(), apiclient.AuditFilter{Actor: "webhook:gitea", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var denied []apiv1.AuditEvent
	for _, ev := range events {
		if ev.Action == "hook.receive" && ev.Outcome == "denied" {
			denied = append(denied, ev)
		}
	}
	if len(denied) != 5 {
		t.Errorf("%d denied hook.receive audit events, want 5 (every refusal but the ignored event): %+v", len(denied), denied)
	}

	// Killed right after it answered a push: after a restart the commit is deployed, once.
	relay.retarget(srv.url, func(d delivery) {
		if d.header.Get("X-Gitea-Event") == "push" && d.status == http.StatusAccepted {
			srv.kill9(t)
		}
	})
	buildImage("second")
	sha2 := repo.Commit(t, "main", "second", map[string]string{"berth.yaml": strings.Replace(gitHello(host), "${git.short}\n", "second\n", 1)})
	if d := relay.next(t, "push"); d.status != http.StatusAccepted {
		t.Fatalf("the second push was answered %d: %s", d.status, d.answer)
	}
	srv = startServer(t, dataDir, serverFlags...)
	c = adminClient(t, srv)
	relay.retarget(srv.url, nil)
	var rev int64
	waitUntil(t, 2*time.Minute, func() bool { // a job the killed server had claimed waits out its lease
		revs, err := c.Revisions(context.Background(), "shop", "hello")
		if err != nil {
			t.Fatal(err)
		}
		if src := revs[0].Source; src != nil && src.SHA == sha2 {
			rev = revs[0].Number
			return true
		}
		return false
	})
	if second := waitGitDeploy(t, c, rev, 3*time.Minute); second.State != "succeeded" {
		t.Fatalf("the deploy of the push the killed server answered: %+v", second)
	}
	var n int
	for _, d := range gitDeploys(t, c) {
		if d.Args["git.sha"] == sha2 {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d deploys of %s, want 1", n, sha2[:12])
	}
	waitStatus(t, g, repo, sha2, "berth/staging", "success")

	tagPromotesWithApproval(t, srv, cluster, g, repo, relay, host, buildImage)
}

// tagPromotesWithApproval: a tag matching the rules of main's berth.yaml deploys the tagged
// commit to staging, then queues a promotion to the protected production, which awaits an
// approval; approved by a user other than its requester (the webhook), production runs the
// very image digest staging runs.
func tagPromotesWithApproval(t *testing.T, srv *serverProc, cluster *kubetest.RealNodeCluster, g *giteatest.Gitea,
	repo *giteatest.Repo, relay *hookRelay, host string, buildImage func(string)) {
	ctx := context.Background()
	c := adminClient(t, srv)
	prodNS := "prod-" + strings.ToLower(strings.ReplaceAll(t.Name(), "_", "-"))
	if len(prodNS) > 50 {
		prodNS = prodNS[:50]
	}
	t.Cleanup(func() {
		cluster.Client(t).CoreV1().Namespaces().Delete(context.Background(), prodNS, metav1.DeleteOptions{})
	})
	if out, code := runBerth(t, srv, "envs", "create", "production", "--kubeconfig", cluster.Kubeconfig, "--namespace-template", prodNS,
		"--node-selector", cluster.Node.Label, "--toleration", cluster.Node.Taint, "--protected"); code != 0 {
		t.Fatalf("envs create production: exit %d\n%s", code, out)
	}
	tagged := strings.Replace(gitHello(host), "  branches: {main: staging}\n",
		"  branches: {main: staging}\n  tags: {pattern: \"v*\", env: staging, promote: production}\n", 1)
	tagged = strings.Replace(tagged, "exposes: [{host: "+host+", path: /, port: http}]\n", "", 1)
	sha := repo.Commit(t, "main", "release rules", map[string]string{"berth.yaml": tagged})
	buildImage(sha[:12])
	relay.next(t, "push")
	repo.Tag(t, "v1.2.0")
	if d := relay.next(t, "push"); d.status != http.StatusAccepted || !strings.Contains(d.answer, `"event": "tag"`) {
		t.Fatalf("the tag's delivery: %d %s", d.status, d.answer)
	}

	// The tag's deploy to staging, then the promotion, awaiting approval.
	var awaiting apiv1.Approval
	waitUntil(t, 3*time.Minute, func() bool {
		as, err := c.Approvals(ctx, "shop", "production")
		if err != nil {
			t.Fatal(err)
		}
		if len(as) == 1 {
			awaiting = as[0]
			return true
		}
		return false
	})
	p := awaiting.Deploy
	if p.Kind != "promotion" || p.CreatedBy != "webhook:gitea" || p.Args["git.ref"] != "refs/tags/v1.2.0" {
		t.Fatalf("the promotion awaiting approval: %+v", p)
	}
	src, err := c.Deploy(ctx, p.PromotedFrom)
	if err != nil {
		t.Fatal(err)
	}
	image := "registry.berth.localhost/hello:" + sha[:12]
	if src.Env != "staging" || src.State != "succeeded" || src.Images[image] == "" || p.Images[image] != src.Images[image] {
		t.Fatalf("the promotion's source %+v, images %v", src, p.Images)
	}
	if out, code := runBerth(t, srv, "approvals", "approve", fmt.Sprint(p.ID), "--reason", "v1.2.0 signed off"); code != 0 ||
		!strings.Contains(out, "queued") {
		t.Fatalf("approve: exit %d\n%s", code, out)
	}
	var prod apiv1.Deploy
	waitUntil(t, 3*time.Minute, func() bool {
		var err error
		prod, err = c.Deploy(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		return prod.State == "succeeded" || prod.State == "failed"
	})
	if prod.State != "succeeded" {
		t.Fatalf("the approved promotion: %+v", prod)
	}

	// Production's pods run staging's digest, named by it.
	cs := cluster.Client(t)
	digests := func(ns string) map[string]bool {
		pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=hello"})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, pod := range pods.Items {
			for _, st := range pod.Status.ContainerStatuses {
				if st.Ready {
					out[st.ImageID[strings.LastIndexByte(st.ImageID, '@')+1:]] = true
				}
			}
		}
		return out
	}
	want := src.Images[image]
	waitUntil(t, time.Minute, func() bool {
		prodDigests := digests(prodNS)
		return len(prodDigests) == 1 && prodDigests[want]
	})
	if stagingDigests := digests(ns(t, c)); !stagingDigests[want] {
		t.Errorf("staging runs %v, want %s", stagingDigests, want)
	}
	objs, err := c.DeployObjects(ctx, prod.ID)
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := json.Marshal(objs); !strings.Contains(string(data), image+"@"+want) {
		t.Errorf("production's Deployment does not name its image by digest %s", want)
	}
}

// ns returns the namespace staging deploys shop's apps into.
func ns(t *testing.T, c *apiclient.Client) string {
	t.Helper()
	env, err := c.Environment(context.Background(), "staging")
	if err != nil {
		t.Fatal(err)
	}
	return env.NamespaceTemplate
}
