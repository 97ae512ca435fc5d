package giteatest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// delivery is one webhook Gitea sent.
type delivery struct {
	event, id, signature string
	body                 []byte
}

// TestGiteaPushSendsSignedWebhook: a push over HTTP with real git to a real Gitea sends a
// push webhook to a loopback receiver, signed with the hook's secret as Gitea documents it
// (X-Gitea-Signature: hex HMAC-SHA256 of the body), naming the pushed commit.
func TestGiteaPushSendsSignedWebhook(t *testing.T) {
	g := Start(t)
	got := make(chan delivery, 16)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		got <- delivery{r.Header.Get("X-Gitea-Event"), r.Header.Get("X-Gitea-Delivery"), r.Header.Get("X-Gitea-Signature"), body}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer recv.Close()

	repo := g.CreateRepo(t, "web")
	const secret = "hook-secret-0123456789"
	g.Do(t, "POST", "/repos/"+repo.FullName()+"/hooks", map[string]any{
		"type": "gitea", "active": true, "events": []string{"push"},
		"config": map[string]string{"url": recv.URL + "/hooks/gitea", "content_type": "json", "secret": secret},
	}, nil)
	sha := repo.Commit(t, "main", "first", map[string]string{"berth.yaml": "apiVersion: berth.dev/v1\n", "README.md": "hello\n"})

	select {
	case d := <-got:
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(d.body)
		if d.event != "push" || d.id == "" || d.signature != hex.EncodeToString(mac.Sum(nil)) {
			t.Fatalf("delivery event %q id %q signature %q", d.event, d.id, d.signature)
		}
		var push struct {
			Ref   string `json:"ref"`
			After string `json:"after"`
		}
		if err := json.Unmarshal(d.body, &push); err != nil || push.Ref != "refs/heads/main" || push.After != sha {
			t.Fatalf("push payload ref %q after %q (want %s): %v", push.Ref, push.After, sha, err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("no webhook within 60 s of the push")
	}

	// The API serves what was pushed.
	var file struct {
		Content string `json:"content"`
	}
	g.Do(t, "GET", "/repos/"+repo.FullName()+"/contents/berth.yaml?ref="+sha, nil, &file)
	if file.Content == "" {
		t.Fatal("contents API returned nothing for berth.yaml")
	}
}
