package api_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

// giteaPush is a Gitea push delivery's body for alpha/reports, in the shape Gitea sends
// (the fields Berth reads and a few it does not).
func giteaPush(f *fixture, ref string) []byte {
	return []byte(fmt.Sprintf(`{"ref": %q, "before": "0000000000000000000000000000000000000000",
"after": "4f7c3a1e9b2d8c6a5f4e3d2c1b0a99887766554f", "compare_url": "http://127.0.0.1:3000/alpha/reports/compare",
"commits": [{"id": "4f7c3a1e9b2d8c6a5f4e3d2c1b0a99887766554f", "message": "hello\n", "author": {"name": "ann", "email": "ann@example.com"}}],
"repository": {"id": 1, "name": "reports", "full_name": "alpha/reports", "default_branch": "main"},
"pusher": {"login": "ann"}, "sender": {"login": "ann"}}`, ref))
}

// delivery sends body to /hooks/FORGE as a Gitea delivery of event with id, signed with
// secret ("" leaves the signature out).
func (f *fixture) delivery(forge, event, id string, body []byte, secret string) (int, []byte) {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/hooks/"+forge, bytes.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Gitea-Event", event)
	req.Header.Set("X-Gitea-Delivery", id)
	if secret != "" {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		req.Header.Set("X-Gitea-Signature", hex.EncodeToString(mac.Sum(nil)))
	}
	return f.send(req)
}

// gitJobs counts alpha/reports's git jobs.
func (f *fixture) gitJobs() int {
	f.t.Helper()
	js, err := f.st.GitJobs(f.t.Context(), "alpha", "reports", 1000)
	if err != nil {
		f.t.Fatal(err)
	}
	return len(js)
}

// TestWebhooks: a delivery signed with the connection's secret is answered 202 with the
// job it queued; a replay, a bad or missing signature, one changed byte, a body over 5 MiB
// and an unknown forge are refused with nothing queued, each refusal audited as denied;
// an event Berth does not act on is answered 202 and queues nothing.
func TestWebhooks(t *testing.T) {
	f := newFixture(t)
	push := giteaPush(f, "refs/heads/main")
	status, data := f.delivery("gitea", "push", "d-1", push, f.hookSecret)
	var rc apiv1.HookReceipt
	if err := json.Unmarshal(data, &rc); status != http.StatusAccepted || err != nil || len(rc.Jobs) != 1 || rc.Event != "push" ||
		rc.Ref != "refs/heads/main" || rc.SHA != "4f7c3a1e9b2d8c6a5f4e3d2c1b0a99887766554f" || rc.Repo != "alpha/reports" {
		t.Fatalf("a signed push: %d %s", status, data)
	}
	if n := f.gitJobs(); n != 1 {
		t.Fatalf("%d git jobs after a push, want 1", n)
	}
	audits := f.auditCount()

	flipped := bytes.Clone(push)
	flipped[40] ^= 1
	huge := append(bytes.Clone(push[:len(push)-1]), []byte(`, "pad": "`+strings.Repeat("x", 10<<20)+`"}`)...)
	for _, c := range []struct {
		name, forge, event, id string
		body                   []byte
		secret                 string
		status                 int
		want                   string
	}{
		{"replay", "gitea", "push", "d-1", push, f.hookSecret, 409, "replay"},
		{"bad signature", "gitea", "push", "d-2", push, "not-the-secret", 401, "matches the secret of no app"},
		{"no signature", "gitea", "push", "d-3", push, "", 401, "no signature"},
		{"one byte changed", "gitea", "push", "d-4", flipped, "", 401, ""},
		{"10 MB body", "gitea", "push", "d-5", huge, f.hookSecret, 413, "at most 5242880 bytes"},
		{"unknown repository", "gitea", "push", "d-6", bytes.ReplaceAll(push, []byte("alpha/reports"), []byte("alpha/other")), f.hookSecret, 401, "alpha/other"},
		{"not JSON", "gitea", "push", "d-7", []byte("{not json"), f.hookSecret, 401, "not JSON"},
	} {
		body := c.body
		if c.name == "one byte changed" { // signed before the change
			mac := hmac.New(sha256.New, []byte(f.hookSecret))
			mac.Write(push)
			req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/hooks/gitea", bytes.NewReader(body))
			req.Header.Set("X-Gitea-Event", "push")
			req.Header.Set("X-Gitea-Delivery", c.id)
			req.Header.Set("X-Gitea-Signature", hex.EncodeToString(mac.Sum(nil)))
			status, data = f.send(req)
		} else {
			status, data = f.delivery(c.forge, c.event, c.id, body, c.secret)
		}
		var e apiv1.Error
		if status != c.status || json.Unmarshal(data, &e) != nil || e.Code == "" || !strings.Contains(e.Message, c.want) {
			t.Errorf("%s: %d %.300s; want %d mentioning %q", c.name, status, data, c.status, c.want)
		}
		if strings.Contains(string(data), f.hookSecret) {
			t.Errorf("%s: the answer holds the webhook secret", c.name)
		}
	}
	if n := f.gitJobs(); n != 1 {
		t.Errorf("%d git jobs after refused deliveries, want 1", n)
	}
	if got := f.auditCount() - audits; got != 7 {
		t.Errorf("%d audit events for 7 refused deliveries", got)
	}
	_, audit := f.do(globalAdmin, "GET", "/api/v1/audit?actor=webhook:gitea&limit=100", nil)
	if strings.Count(string(audit), `"outcome": "denied"`) != 7 || strings.Contains(string(audit), f.hookSecret) {
		t.Errorf("audit of refused deliveries:\n%.2000s", audit)
	}

	// No such forge; an event Berth does not act on; a push that deleted a branch.
	if status, data := f.delivery("gitlab", "push", "d-8", push, f.hookSecret); status != 404 {
		t.Errorf("unknown forge: %d %s", status, data)
	}
	status, data = f.delivery("gitea", "issue_comment", "d-9", []byte(`{"action":"created","repository":{"full_name":"alpha/reports"}}`), f.hookSecret)
	if status != 202 || !strings.Contains(string(data), "does not act on gitea issue_comment events") {
		t.Errorf("an issue comment: %d %s", status, data)
	}
	deleted := bytes.Replace(giteaPush(f, "refs/heads/old"), []byte(`"after": "4f7c3a1e9b2d8c6a5f4e3d2c1b0a99887766554f"`),
		[]byte(`"after": "0000000000000000000000000000000000000000"`), 1)
	if status, data := f.delivery("gitea", "push", "d-10", deleted, f.hookSecret); status != 202 || !strings.Contains(string(data), "deleted refs/heads/old") {
		t.Errorf("a deleted branch: %d %s", status, data)
	}
	if n := f.gitJobs(); n != 1 {
		t.Errorf("%d git jobs after ignored events, want 1", n)
	}
}

// TestGitOpsWebhook: a closed pull request of staging's platform repository, signed with
// the webhook secret of its GitOps output, is answered 202 naming the environment whose
// pull requests Berth looks at now, and audited; a bad signature is a 401, a replay a 409;
// another action of the repository is answered 202 and nothing done.
func TestGitOpsWebhook(t *testing.T) {
	f := newFixture(t)
	f.withGitOps("staging")
	pull := func(action string, pr int) []byte {
		return []byte(fmt.Sprintf(`{"action": %q, "number": %d, "pull_request": {"merged": true,
"head": {"ref": "berth/staging/deploy-3", "sha": "4f7c3a1e9b2d8c6a5f4e3d2c1b0a99887766554f", "repo": {"full_name": "platform/deployments"}},
"base": {"ref": "staging"}}, "repository": {"full_name": "platform/deployments"}}`, action, pr))
	}
	audits := f.auditCount()
	status, data := f.delivery("gitea", "pull_request", "g-1", pull("closed", 7), fixtureGitOpsHookSecret)
	var rc apiv1.HookReceipt
	if err := json.Unmarshal(data, &rc); status != http.StatusAccepted || err != nil || len(rc.Envs) != 1 || rc.Envs[0] != "staging" ||
		len(rc.Jobs) != 0 || rc.PR != 7 || rc.Ignored != "" {
		t.Fatalf("a closed pull request of the platform repository: %d %s", status, data)
	}
	if n := f.auditCount() - audits; n != 1 {
		t.Errorf("%d audit events for a taken delivery, want 1", n)
	}
	for _, c := range []struct {
		name, id string
		body     []byte
		secret   string
		status   int
	}{
		{"replay", "g-1", pull("closed", 7), fixtureGitOpsHookSecret, 409},
		{"bad signature", "g-2", pull("closed", 8), "not-the-secret", 401},
		{"signed with the token", "g-3", pull("closed", 8), fixtureGitOpsToken, 401},
	} {
		if status, data := f.delivery("gitea", "pull_request", c.id, c.body, c.secret); status != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, status, data, c.status)
		}
	}
	status, data = f.delivery("gitea", "pull_request", "g-4", pull("opened", 9), fixtureGitOpsHookSecret)
	if status != http.StatusAccepted || !strings.Contains(string(data), "acts only on closed pull requests") || strings.Contains(string(data), `"envs"`) {
		t.Errorf("an opened pull request: %d %s", status, data)
	}
	_, audit := f.do(globalAdmin, "GET", "/api/v1/audit?actor=webhook:gitea&limit=100", nil)
	if !strings.Contains(string(audit), `"env/staging"`) || strings.Count(string(audit), `"outcome": "denied"`) != 3 ||
		strings.Contains(string(audit), fixtureGitOpsHookSecret) {
		t.Errorf("audit of the platform repository's deliveries:\n%.3000s", audit)
	}
}

// TestWebhookFuzz: 1,000 signed deliveries with random changes to a push's body (so they
// pass the signature and reach the parser) and random event names never panic or fail
// with a server error; each is answered 202, 400, 401 or 409.
func TestWebhookFuzz(t *testing.T) {
	f := newFixture(t)
	r := rand.New(rand.NewPCG(16, 1000))
	base := giteaPush(f, "refs/heads/main")
	pr := []byte(`{"action":"opened","number":7,"repository":{"full_name":"alpha/reports"},
"pull_request":{"merged":false,"head":{"ref":"feature","sha":"4f7c3a1e9b2d8c6a5f4e3d2c1b0a99887766554f","repo":{"full_name":"alpha/reports"}},"base":{"ref":"main"}}}`)
	events := []string{"push", "pull_request", "create", "issue_comment", "", "release", strings.Repeat("p", 200)}
	for i := range 1000 {
		body := bytes.Clone(base)
		if i%2 == 1 {
			body = bytes.Clone(pr)
		}
		for range 1 + r.IntN(8) {
			switch r.IntN(4) {
			case 0: // flip a byte
				if len(body) == 0 {
					continue
				}
				j := r.IntN(len(body))
				body[j] ^= byte(1 + r.IntN(255))
			case 1: // cut
				body = body[:r.IntN(len(body)+1)]
			case 2: // duplicate a slice
				j := r.IntN(len(body) + 1)
				k := j + r.IntN(len(body)-j+1)
				body = append(body[:k:k], body[j:]...)
			case 3: // swap a value's type
				body = bytes.Replace(body, []byte(`"number":7`), []byte(`"number":"7"`), 1)
			}
		}
		status, data := f.delivery("gitea", events[r.IntN(len(events))], fmt.Sprintf("fuzz-%d", i), body, f.hookSecret)
		switch status {
		case 202, 400, 401, 409:
		default:
			t.Fatalf("delivery %d answered %d: %s\nbody: %q", i, status, data, body)
		}
	}
	if strings.Contains(f.logs.String(), "panic") {
		t.Fatalf("the server logged a panic:\n%s", f.logs.String())
	}
}
