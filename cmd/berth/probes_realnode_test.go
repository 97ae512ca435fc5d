package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/common/model"
	"github.com/slack-go/slack/slacktest"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/kubetest"
	"github.com/berth-dev/berth/internal/natstest"
	"github.com/berth-dev/berth/internal/s3test"
	"github.com/berth-dev/berth/internal/web/webtest"
)

// chatPosts records the messages a Slack test server (slacktest, Slack's own library's)
// was asked to post.
type chatPosts struct {
	mu   sync.Mutex
	got  []map[string]string
	wake chan struct{}
}

// slackAPI starts slacktest's server recording chat.postMessage, and returns it with the
// server flags of a chat bot using it and announcing probes in channel.
func slackAPI(t *testing.T, channel string) (*chatPosts, []string) {
	t.Helper()
	posts := &chatPosts{wake: make(chan struct{}, 64)}
	api := slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/chat.postMessage", func(w http.ResponseWriter, r *http.Request) {
			r.ParseForm()
			posts.mu.Lock()
			posts.got = append(posts.got, map[string]string{"channel": r.Form.Get("channel"), "text": r.Form.Get("text")})
			posts.mu.Unlock()
			posts.wake <- struct{}{}
			fmt.Fprintf(w, `{"ok":true,"channel":%q,"ts":"1700000000.000100"}`, r.Form.Get("channel"))
		})
	})
	api.Start()
	t.Cleanup(api.Stop)
	dir := t.TempDir()
	secret, token := filepath.Join(dir, "signing-secret"), filepath.Join(dir, "bot-token")
	for file, v := range map[string]string{secret: "8f742231b10e8888abcd99yyyzzz85a5", token: "xoxb-test"} {
		if err := os.WriteFile(file, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return posts, []string{"--slack-signing-secret-file", secret, "--slack-token-file", token, "--slack-team-id", "T1",
		"--slack-api-url", api.GetAPIURL(), "--platform-channel", channel}
}

// waitFor waits for the n-th message (1-based) and returns every message so far.
func (p *chatPosts) waitFor(t *testing.T, n int, within time.Duration) []map[string]string {
	t.Helper()
	deadline := time.After(within)
	for {
		p.mu.Lock()
		got := append([]map[string]string(nil), p.got...)
		p.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-p.wake:
		case <-deadline:
			t.Fatalf("%d chat messages within %s, want %d: %v", len(got), within, n, got)
		}
	}
}

// probeRun runs `berth probe run --env env -o json` and returns the run and the exit code.
func probeRun(t *testing.T, srv *serverProc, env string) (apiv1.ProbeRun, int) {
	t.Helper()
	out, code := runBerth(t, srv, "probe", "run", "--env", env, "-o", "json")
	var run apiv1.ProbeRun
	// Standard error comes along: progress before the run, the failure's summary after.
	if err := json.NewDecoder(strings.NewReader(out[max(strings.Index(out, "{"), 0):])).Decode(&run); err != nil {
		t.Fatalf("probe run -o json: %v\n%s", err, out)
	}
	return run, code
}

// TestRealNodeProbeRun runs the synthetic probe on the real node against a real
// PostgreSQL, S3 server (versitygw) and queue server (nats-server), all reached by the
// probe pod through the node's bridge: every step passes with its time; stopping the queue
// server fails exactly the queue step, named, and one message in the platform's channel
// says so (not one per run); starting it again announces the recovery. The probe's metrics
// reach a real Prometheus scraping the server, and no secret reaches the chat or the
// command's output.
func TestRealNodeProbeRun(t *testing.T) {
	cluster := kubetest.RealNode(t)
	dsn := podReachablePostgres(t, cluster)
	s3 := s3test.Start(t)
	s3.Bucket(t, "probe")
	s3Addr := forward(t, cluster.Node.IP+":0", s3.Endpoint)
	queue := natstest.Start(t)
	queueAddr := forward(t, cluster.Node.IP+":0", strings.TrimPrefix(queue.URL, "nats://"))
	posts, chatFlags := slackAPI(t, "CPLATFORM")

	// The probe image is the berth binary the test runs, as it is.
	build := exec.Command(berthBinary(t), "dev", "image", "build", "--binary", berthBinary(t), "-t", "berth:probe", "--digest", "--state-dir", cluster.State.Dir)
	var stderr strings.Builder
	build.Stderr = &stderr
	ref, err := build.Output()
	if err != nil {
		t.Fatalf("dev image build --binary: %v\n%s", err, stderr.String())
	}
	image := strings.TrimSpace(string(ref))
	ns := "probes-" + strings.ToLower(strings.ReplaceAll(t.Name(), "_", "-"))
	p, scrapeBerth := devPrometheus(t, cluster, ns, t.TempDir())
	srv := startServer(t, t.TempDir(), append([]string{"--probe-image", image, "--probe-listen", cluster.Node.IP + ":0"}, chatFlags...)...)
	scrapeBerth(strings.TrimPrefix(srv.url, "http://"))

	secrets := t.TempDir()
	s3Secret, queueToken := filepath.Join(secrets, "s3"), filepath.Join(secrets, "queue")
	for file, v := range map[string]string{s3Secret: s3.SecretKey, queueToken: queue.Token} {
		if err := os.WriteFile(file, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{
		{"envs", "create", "probing", "--kubeconfig", cluster.Kubeconfig, "--namespace-template", ns,
			"--node-selector", cluster.Node.Label, "--toleration", cluster.Node.Taint},
		{"envs", "set-postgres", "probing", "--dsn", dsn},
		{"envs", "set-probe", "probing", "--s3-endpoint", s3Addr, "--s3-bucket", "probe", "--s3-access-key", s3.AccessKey,
			"--s3-secret-key-file", s3Secret, "--s3-region", s3.Region, "--queue-url", "nats://" + queueAddr, "--queue-token-file", queueToken},
	} {
		if out, code := runBerth(t, srv, args...); code != 0 {
			t.Fatalf("%v: exit %d\n%s", args, code, out)
		}
	}
	pgURL, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	password, _ := pgURL.User.Password()
	noSecrets := func(what, text string) {
		t.Helper()
		for name, s := range map[string]string{"the S3 secret key": s3.SecretKey, "the queue token": queue.Token, "the PostgreSQL password": password} {
			if strings.Contains(text, s) {
				t.Errorf("%s shows %s:\n%s", what, name, text)
			}
		}
	}

	// Every step passes, each with its time.
	run, code := probeRun(t, srv, "probing")
	if code != 0 || run.State != "succeeded" {
		t.Fatalf("probe run: exit %d, state %s, reason %q\n%+v\nserver log:\n%s", code, run.State, run.Reason, run.Steps, srv.out.String())
	}
	var names []string
	for _, s := range run.Steps {
		names = append(names, s.Name)
		if !s.OK || s.DurationMs <= 0 || s.Started.IsZero() {
			t.Errorf("step %s: ok %v, %gms, started %s", s.Name, s.OK, s.DurationMs, s.Started)
		}
	}
	if got := strings.Join(names, " "); got != "scheduled dns http credentials database objectstore queue" {
		t.Errorf("steps %s", got)
	}
	out, code := runBerth(t, srv, "probes", "show", fmt.Sprint(run.ID))
	if code != 0 {
		t.Fatalf("probes show: exit %d\n%s", code, out)
	}
	for _, want := range []string{"scheduled", "queue", "ok"} {
		if !strings.Contains(out, want) {
			t.Errorf("probes show does not say %q:\n%s", want, out)
		}
	}
	noSecrets("probes show", out)

	// The queue server stops: the queue step fails, named, and the failure is announced once.
	queue.Stop()
	failed, code := probeRun(t, srv, "probing")
	if code == 0 || failed.State != "failed" {
		t.Fatalf("probe run with the queue down: exit %d, state %s\n%+v", code, failed.State, failed.Steps)
	}
	for _, s := range failed.Steps {
		if (s.Name == "queue") == s.OK {
			t.Errorf("step %s: ok %v (%s), want only the queue step to fail", s.Name, s.OK, s.Error)
		}
	}
	if !strings.Contains(failed.Reason, "queue failed") {
		t.Errorf("reason %q does not name the queue step", failed.Reason)
	}
	msgs := posts.waitFor(t, 1, time.Minute)
	if msgs[0]["channel"] != "CPLATFORM" || !strings.Contains(msgs[0]["text"], "Probe of probing is failing") || !strings.Contains(msgs[0]["text"], "queue failed") {
		t.Errorf("announcement %v", msgs[0])
	}
	if again, _ := probeRun(t, srv, "probing"); again.State != "failed" {
		t.Errorf("second run with the queue down: %s", again.State)
	}
	out, _ = runBerth(t, srv, "probes", "list")
	if !strings.Contains(out, "probing") || !strings.Contains(out, "queue failed") {
		t.Errorf("probes list does not show the failing step:\n%s", out)
	}

	// The dashboard's probes page names the failing step, in a real browser.
	b := webtest.Browser(t)
	webtest.SignIn(t, b, srv.url, adminToken, `a[href="/probes"]`) // in the navigation once signed in
	webtest.Do(t, b, "open the probes page", chromedp.Navigate(srv.url+"/probes"),
		chromedp.WaitVisible(chromedp.CSS(`section[data-env="probing"]`)))
	card := webtest.Text(t, b, `section[data-env="probing"]`)
	for _, want := range []string{"failing", "queue failed", "scheduled", "objectstore"} {
		if !strings.Contains(card, want) {
			t.Errorf("the probes page's card of probing lacks %q:\n%s", want, card)
		}
	}
	noSecrets("the probes page", card)

	// It starts again: the recovery is announced, and it is the second message of all.
	queue.Resume()
	if ok, code := probeRun(t, srv, "probing"); code != 0 || ok.State != "succeeded" {
		t.Fatalf("probe run after the queue came back: exit %d, state %s, reason %q", code, ok.State, ok.Reason)
	}
	msgs = posts.waitFor(t, 2, time.Minute)
	if len(msgs) != 2 || !strings.Contains(msgs[1]["text"], "Probe of probing recovered") {
		t.Errorf("messages after the recovery, want the failure and the recovery only: %v", msgs)
	}
	for _, m := range msgs {
		noSecrets("a chat message", m["text"])
	}

	// The real Prometheus scrapes the probe's metrics from the server.
	value := func(v model.Vector, err error) float64 {
		if err != nil || len(v) != 1 {
			return -1
		}
		return float64(v[0].Value)
	}
	kubetest.Eventually(t, time.Minute, func(ctx context.Context) error {
		failures := value(p.Query(ctx, `sum(berth_probe_step_failures_total{env="probing",step="queue"})`))
		last := value(p.Query(ctx, `berth_probe_last_success_timestamp_seconds{env="probing"}`))
		if failures != 2 || last < float64(time.Now().Add(-5*time.Minute).Unix()) {
			return fmt.Errorf("Prometheus: queue failures %v, last success %v; want 2 and a recent time", failures, last)
		}
		return nil
	})
}
