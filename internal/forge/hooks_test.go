package forge

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/giteatest"
)

func sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// TestGiteaDeliveries reads, verifies and parses the deliveries a real Gitea sends for a
// push to main, a pushed tag, and a pull request opened from a branch.
func TestGiteaDeliveries(t *testing.T) {
	g := giteatest.Start(t)
	type got struct {
		h    http.Header
		body []byte
	}
	deliveries := make(chan got, 32)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, MaxBody))
		deliveries <- got{r.Header.Clone(), body}
	}))
	defer recv.Close()
	repo := g.CreateRepo(t, "web")
	const secret = "0123456789abcdef0123456789abcdef"
	g.Do(t, "POST", "/repos/"+repo.FullName()+"/hooks", map[string]any{
		"type": "gitea", "active": true, "events": []string{"push", "pull_request"},
		"config": map[string]string{"url": recv.URL, "content_type": "json", "secret": secret},
	}, nil)
	next := func(want string) (Delivery, Event, []byte) {
		t.Helper()
		for {
			select {
			case d := <-deliveries:
				del, err := ReadDelivery(berth.ForgeGitea, d.h)
				if err != nil {
					t.Fatalf("read delivery: %v", err)
				}
				if del.Event != want {
					continue // e.g. Gitea's "create" for a new branch or tag
				}
				if !del.Verify(d.body, secret) || del.Verify(d.body, secret+"x") {
					t.Fatalf("%s delivery: the signature does not verify with the secret alone", want)
				}
				name, err := RepoName(d.body)
				if err != nil || name != repo.FullName() {
					t.Fatalf("repo name %q: %v", name, err)
				}
				ev, err := del.Parse(d.body)
				if err != nil {
					t.Fatal(err)
				}
				return del, ev, d.body
			case <-time.After(60 * time.Second):
				t.Fatalf("no %s delivery within 60 s", want)
			}
		}
	}

	sha := repo.Commit(t, "main", "first", map[string]string{"berth.yaml": "apiVersion: berth.dev/v1\n"})
	_, ev, _ := next("push")
	if ev.Kind != EventPush || ev.Branch != "main" || ev.SHA != sha || ev.Repo != repo.FullName() || ev.Deleted {
		t.Errorf("push event %+v (sha %s)", ev, sha)
	}
	repo.Tag(t, "v1.2.0")
	_, ev, _ = next("push")
	if ev.Kind != EventTag || ev.Tag != "v1.2.0" || ev.SHA != sha {
		t.Errorf("tag event %+v", ev)
	}
	head := repo.Commit(t, "feature", "change", map[string]string{"README.md": "feature\n"})
	next("push")
	g.Do(t, "POST", "/repos/"+repo.FullName()+"/pulls", map[string]any{"head": "feature", "base": "main", "title": "A change"}, nil)
	del, ev, body := next("pull_request")
	if ev.Kind != EventPullRequest || ev.Action != "opened" || ev.PR != 1 || ev.SHA != head || ev.Head != "feature" || ev.Base != "main" || ev.Fork {
		t.Errorf("pull request event %+v (head %s)", ev, head)
	}
	// One byte changed: the signature no longer verifies.
	tampered := append([]byte(nil), body...)
	tampered[len(tampered)/2] ^= 1
	if del.Verify(tampered, secret) {
		t.Error("a body with one byte changed verifies")
	}
}

func TestGitHubDeliveries(t *testing.T) {
	const secret = "github-secret"
	push := []byte(`{"ref":"refs/heads/main","before":"0000000000000000000000000000000000000000",` +
		`"after":"6dcb09b5b57875f334f61aebed695e2e4193db5e","repository":{"full_name":"octo/web","name":"web"},"pusher":{"name":"octo"}}`)
	pull := []byte(`{"action":"synchronize","number":3071,"pull_request":{"number":3071,"merged":false,` +
		`"head":{"ref":"feature","sha":"7638417db6d59f3c431d3e1f261cc637155684cd","repo":{"full_name":"fork/web"}},` +
		`"base":{"ref":"main","repo":{"full_name":"octo/web"}}},"repository":{"full_name":"octo/web"}}`)
	header := func(event, id string, body []byte, secret string) http.Header {
		h := http.Header{}
		h.Set("X-GitHub-Event", event)
		h.Set("X-GitHub-Delivery", id)
		h.Set("X-Hub-Signature-256", "sha256="+sign(secret, body))
		return h
	}
	d, err := ReadDelivery(berth.ForgeGitHub, header("push", "d1", push, secret))
	if err != nil || !d.Verify(push, secret) || d.Verify(push, "wrong") {
		t.Fatalf("push delivery %+v: %v", d, err)
	}
	ev, err := d.Parse(push)
	if err != nil || ev.Kind != EventPush || ev.Branch != "main" || ev.SHA != "6dcb09b5b57875f334f61aebed695e2e4193db5e" || ev.Repo != "octo/web" {
		t.Errorf("push %+v: %v", ev, err)
	}
	d, _ = ReadDelivery(berth.ForgeGitHub, header("pull_request", "d2", pull, secret))
	ev, err = d.Parse(pull)
	if err != nil || ev.Kind != EventPullRequest || ev.PR != 3071 || ev.Action != "synchronize" || !ev.Fork || ev.Head != "feature" {
		t.Errorf("pull request %+v: %v", ev, err)
	}
	d, _ = ReadDelivery(berth.ForgeGitHub, header("watch", "d3", []byte(`{"action":"started","repository":{"full_name":"octo/web"}}`), secret))
	if ev, err := d.Parse([]byte(`{"action":"started","repository":{"full_name":"octo/web"}}`)); err != nil || ev.Kind != EventOther {
		t.Errorf("a star: %+v %v", ev, err)
	}
	for _, h := range []http.Header{{}, {"X-Github-Event": {"push"}, "X-Github-Delivery": {"d"}}} {
		if _, err := ReadDelivery(berth.ForgeGitHub, h); err == nil {
			t.Errorf("headers %v accepted", h)
		}
	}
}

// TestFuzzedPayloadsNeverPanic: 1,000 payloads mutated from real shapes, under every event
// name, are refused or read, never a panic.
func TestFuzzedPayloadsNeverPanic(t *testing.T) {
	seeds := [][]byte{
		[]byte(`{"ref":"refs/heads/main","after":"6dcb09b5b57875f334f61aebed695e2e4193db5e","repository":{"full_name":"a/b"}}`),
		[]byte(`{"action":"opened","number":1,"pull_request":{"head":{"ref":"x","sha":"6dcb09b5b57875f334f61aebed695e2e4193db5e"},"base":{"ref":"main"}},"repository":{"full_name":"a/b"}}`),
		[]byte(`null`), []byte(`[]`), []byte(`{"pull_request":null}`),
	}
	events := []string{"push", "pull_request", "create", "ping", "issues", ""}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 1000 {
		body := append([]byte(nil), seeds[i%len(seeds)]...)
		for range 1 + r.IntN(8) {
			switch r.IntN(3) {
			case 0:
				if len(body) > 0 {
					body[r.IntN(len(body))] = byte(r.IntN(256))
				}
			case 1:
				if len(body) > 1 {
					i := r.IntN(len(body))
					body = append(body[:i], body[i+1:]...)
				}
			case 2:
				body = append(body, `{}[]":,0`[r.IntN(8)])
			}
		}
		for _, f := range berth.Forges {
			d := Delivery{Forge: f, ID: "x", Event: events[i%len(events)], Signature: "sha256=00"}
			_ = d.Verify(body, "s")
			_, _ = d.Parse(body)
			_, _ = RepoName(body)
		}
	}
}
