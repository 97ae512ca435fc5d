// Package forge is Berth's adapter to git forges (Gitea, GitHub): it reads and verifies
// their webhook deliveries and, through their APIs, reads manifests and writes commit
// statuses and pull-request comments. GitHub's deliveries are verified and parsed with
// go-github; Gitea's, which carry the same HMAC-SHA256 scheme, by this package.
package forge

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-github/v84/github"

	"github.com/berth-dev/berth/internal/berth"
)

// MaxBody bounds a delivery's body: larger ones are refused unread.
const MaxBody = 5 << 20

// Event is the part of a delivery Berth acts on (the domain's berth.GitEvent).
type Event = berth.GitEvent

// EventKind is what a delivery asks of Berth.
type EventKind = berth.GitEventKind

// The kinds of event Berth acts on; every other is EventOther.
const (
	EventPush        = berth.GitPush
	EventTag         = berth.GitTag
	EventPullRequest = berth.GitPullRequest
	EventOther       = berth.GitOther
)

// Delivery is a webhook delivery's headers: which forge, its id, its event and signature.
type Delivery struct {
	Forge     berth.Forge
	ID        string
	Event     string
	Signature string
}

// ReadDelivery reads the headers a forge sets on its deliveries, refusing a delivery
// without an id, an event or a signature.
func ReadDelivery(f berth.Forge, h http.Header) (Delivery, error) {
	d := Delivery{Forge: f}
	switch f {
	case berth.ForgeGitea:
		d.ID, d.Event, d.Signature = h.Get("X-Gitea-Delivery"), h.Get("X-Gitea-Event"), h.Get("X-Gitea-Signature")
	case berth.ForgeGitHub:
		d.ID, d.Event, d.Signature = h.Get(github.DeliveryIDHeader), h.Get(github.EventTypeHeader), h.Get(github.SHA256SignatureHeader)
	default:
		return d, fmt.Errorf("forge %q: want gitea or github", f)
	}
	switch {
	case d.ID == "" || len(d.ID) > 200:
		return d, errors.New("no delivery id (or one over 200 bytes)")
	case d.Event == "" || len(d.Event) > 100:
		return d, errors.New("no event type")
	case d.Signature == "":
		return d, errors.New("no signature: set a secret on the webhook")
	}
	return d, nil
}

// Verify reports whether the delivery's signature is body's HMAC-SHA256 with secret,
// compared in constant time.
func (d Delivery) Verify(body []byte, secret string) bool {
	if secret == "" {
		return false
	}
	if d.Forge == berth.ForgeGitHub {
		return github.ValidateSignature(d.Signature, body, []byte(secret)) == nil
	}
	sig, err := hex.DecodeString(strings.TrimPrefix(d.Signature, "sha256="))
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hmac.Equal(sig, mac.Sum(nil))
}

// RepoName reads only the repository's OWNER/NAME of a delivery's body: the connections to
// verify it against are found by it, before anything else is believed.
func RepoName(body []byte) (string, error) {
	var p struct {
		Repository struct {
			FullName string `json:"full_name"`
		} `json:"repository"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return "", fmt.Errorf("the body is not JSON: %w", err)
	}
	if p.Repository.FullName == "" || len(p.Repository.FullName) > 201 {
		return "", errors.New("the body names no repository (repository.full_name)")
	}
	return p.Repository.FullName, nil
}

// Parse reads the event of a verified delivery's body.
func (d Delivery) Parse(body []byte) (Event, error) {
	if d.Forge == berth.ForgeGitHub {
		return parseGitHub(d.Event, body)
	}
	return parseGitea(d.Event, body)
}

// giteaPayload is the part of Gitea's push and pull_request payloads Berth reads.
type giteaPayload struct {
	Ref        string `json:"ref"`
	After      string `json:"after"`
	Action     string `json:"action"`
	Number     int    `json:"number"`
	Repository struct {
		FullName string `json:"full_name"`
	} `json:"repository"`
	PullRequest *struct {
		Merged bool `json:"merged"`
		Head   struct {
			Ref  string `json:"ref"`
			SHA  string `json:"sha"`
			Repo struct {
				FullName string `json:"full_name"`
			} `json:"repo"`
		} `json:"head"`
		Base struct {
			Ref string `json:"ref"`
		} `json:"base"`
	} `json:"pull_request"`
}

func parseGitea(event string, body []byte) (Event, error) {
	var p giteaPayload
	if err := json.Unmarshal(body, &p); err != nil {
		return Event{}, fmt.Errorf("gitea %s payload: %w", event, err)
	}
	switch event {
	case "push":
		return pushEvent(p.Repository.FullName, p.Ref, p.After)
	case "pull_request":
		if p.PullRequest == nil {
			return Event{}, errors.New("gitea pull_request payload without pull_request")
		}
		pr := p.PullRequest
		action := p.Action
		if action == "synchronized" { // Gitea's word for GitHub's synchronize
			action = "synchronize"
		}
		return pullEvent(p.Repository.FullName, p.Number, action, pr.Merged, pr.Head.Ref, pr.Head.SHA, pr.Base.Ref, pr.Head.Repo.FullName)
	}
	return Event{Kind: EventOther, Repo: p.Repository.FullName}, nil
}

func parseGitHub(event string, body []byte) (Event, error) {
	v, err := github.ParseWebHook(event, body)
	if err != nil {
		// An event go-github does not know is one Berth does not act on.
		if strings.Contains(err.Error(), "unknown X-Github-Event") {
			return Event{Kind: EventOther}, nil
		}
		return Event{}, fmt.Errorf("github %s payload: %w", event, err)
	}
	switch e := v.(type) {
	case *github.PushEvent:
		return pushEvent(e.GetRepo().GetFullName(), e.GetRef(), e.GetAfter())
	case *github.PullRequestEvent:
		pr := e.GetPullRequest()
		return pullEvent(e.GetRepo().GetFullName(), e.GetNumber(), e.GetAction(), pr.GetMerged(), pr.GetHead().GetRef(),
			pr.GetHead().GetSHA(), pr.GetBase().GetRef(), pr.GetHead().GetRepo().GetFullName())
	}
	return Event{Kind: EventOther}, nil
}

func pushEvent(repo, ref, after string) (Event, error) {
	e := Event{Kind: EventPush, Repo: repo, Ref: ref, SHA: after, Deleted: after != "" && strings.Trim(after, "0") == ""}
	switch {
	case strings.HasPrefix(ref, "refs/heads/"):
		e.Branch = strings.TrimPrefix(ref, "refs/heads/")
	case strings.HasPrefix(ref, "refs/tags/"):
		e.Kind, e.Tag = EventTag, strings.TrimPrefix(ref, "refs/tags/")
	default:
		return Event{Kind: EventOther, Repo: repo}, nil
	}
	if !e.Deleted && !isSHA(after) {
		return Event{}, fmt.Errorf("push of %s: %q is not a commit sha", ref, after)
	}
	return e, nil
}

func pullEvent(repo string, number int, action string, merged bool, head, sha, base, headRepo string) (Event, error) {
	switch action {
	case "opened", "synchronize", "reopened", "closed":
	default:
		return Event{Kind: EventOther, Repo: repo}, nil
	}
	if number <= 0 {
		return Event{}, errors.New("pull request without a number")
	}
	if !isSHA(sha) {
		return Event{}, fmt.Errorf("pull request #%d: %q is not a commit sha", number, sha)
	}
	return Event{Kind: EventPullRequest, Repo: repo, PR: number, Action: action, Merged: merged, Head: head, SHA: sha,
		// A head in no repository (its fork was deleted) is a fork's too: never trusted.
		Base: base, HeadRepository: headRepo, Fork: !strings.EqualFold(headRepo, repo)}, nil
}

// isSHA reports whether s is a full hex commit sha (SHA-1 or SHA-256).
func isSHA(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}
