package forge

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/berth"
)

// maxJSON bounds a JSON answer other than a file's.
const maxJSON = 1 << 20

// maxContents bounds the contents API's answer for a file of MaxFile bytes: base64 grows it
// by a third; the rest of the answer is a few links and shas.
const maxContents = MaxFile/3*4 + 64<<10

// gitea calls Gitea's API (/api/v1) with a token.
type gitea struct {
	hc    *http.Client
	base  string // e.g. https://git.example.com/sub/api/v1, no trailing slash
	token string
}

func newGitea(hc *http.Client, repoURL *url.URL, apiURL, token string) *gitea {
	base := strings.TrimSuffix(apiURL, "/")
	if base == "" {
		// Gitea may be served under a path: the API is under the same prefix as OWNER/NAME.
		parts := repoPath(repoURL)
		prefix := strings.Join(parts[:len(parts)-2], "/")
		if prefix != "" {
			prefix = "/" + prefix
		}
		base = repoURL.Scheme + "://" + repoURL.Host + prefix + "/api/v1"
	}
	return &gitea{hc: hc, base: base, token: token}
}

// readFile reads through the contents API, which resolves ref strictly (the raw API falls
// back to the default branch for a ref it does not know).
func (g *gitea) readFile(ctx context.Context, owner, name, path, ref string) ([]byte, error) {
	call := fmt.Sprintf("GET /repos/%s/%s/contents/%s?ref=%s", owner, name, escapePath(path), url.QueryEscape(ref))
	status, data, err := g.call(ctx, call, nil, maxContents)
	// A busy Gitea answers the contents API of a repository pushed to a moment ago with a
	// 500 now and then (a panic in its handler); a GET is safe to ask again.
	for _, pause := range []time.Duration{300 * time.Millisecond, time.Second} {
		if status < 500 {
			break
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(pause):
		}
		status, data, err = g.call(ctx, call, nil, maxContents)
	}
	if err != nil {
		return nil, err
	}
	var file struct {
		Type     string  `json:"type"`
		Size     int64   `json:"size"`
		Encoding *string `json:"encoding"`
		Content  *string `json:"content"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		// A directory is listed as an array.
		return nil, &APIError{Call: call, Status: status, Message: "not a file (a directory?)"}
	}
	switch {
	case file.Type != "file":
		return nil, &APIError{Call: call, Status: status, Message: fmt.Sprintf("a %s, not a file", file.Type)}
	case file.Size > MaxFile:
		return nil, &APIError{Call: call, Status: status, Message: fmt.Sprintf("%d bytes", file.Size), err: errTooLarge}
	case file.Content == nil || file.Encoding == nil || *file.Encoding != "base64":
		return nil, &APIError{Call: call, Status: status, Message: "the answer holds no base64 content"}
	}
	content, err := base64.StdEncoding.DecodeString(*file.Content)
	if err != nil {
		return nil, &APIError{Call: call, Status: status, Message: "the content is not base64: " + err.Error()}
	}
	if len(content) > MaxFile {
		return nil, &APIError{Call: call, Status: status, Message: fmt.Sprintf("%d bytes", len(content)), err: errTooLarge}
	}
	return content, nil
}

func (g *gitea) setStatus(ctx context.Context, owner, name, sha string, s Status) error {
	_, _, err := g.call(ctx, fmt.Sprintf("POST /repos/%s/%s/statuses/%s", owner, name, sha), map[string]string{
		"state": string(s.State), "context": s.Context, "description": s.Description, "target_url": s.TargetURL,
	}, maxJSON)
	return err
}

func (g *gitea) createComment(ctx context.Context, owner, name string, pr int, body string) (int64, error) {
	call := fmt.Sprintf("POST /repos/%s/%s/issues/%d/comments", owner, name, pr)
	status, data, err := g.call(ctx, call, map[string]string{"body": body}, maxJSON)
	if err != nil {
		return 0, err
	}
	var c struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(data, &c); err != nil || c.ID <= 0 {
		return 0, &APIError{Call: call, Status: status, Message: "the answer holds no comment id"}
	}
	return c.ID, nil
}

func (g *gitea) findComment(ctx context.Context, owner, name string, pr int, marker string) (int64, error) {
	var found int64
	for page := 1; page <= maxCommentPages; page++ {
		call := fmt.Sprintf("GET /repos/%s/%s/issues/%d/comments?page=%d&limit=50", owner, name, pr, page)
		_, data, err := g.call(ctx, call, nil, maxJSON)
		if err != nil {
			return 0, err
		}
		var cs []struct {
			ID   int64  `json:"id"`
			Body string `json:"body"`
		}
		if err := json.Unmarshal(data, &cs); err != nil {
			return 0, &APIError{Call: call, Message: "the answer is no list of comments"}
		}
		for _, c := range cs {
			if strings.HasPrefix(c.Body, marker) {
				found = c.ID
			}
		}
		if len(cs) < 50 {
			break
		}
	}
	return found, nil
}

func (g *gitea) editComment(ctx context.Context, owner, name string, id int64, body string) error {
	_, _, err := g.call(ctx, fmt.Sprintf("PATCH /repos/%s/%s/issues/comments/%d", owner, name, id),
		map[string]string{"body": body}, maxJSON)
	return err
}

func (g *gitea) createHook(ctx context.Context, owner, name, hookURL, secret string) error {
	_, _, err := g.call(ctx, fmt.Sprintf("POST /repos/%s/%s/hooks", owner, name), map[string]any{
		"type":   "gitea",
		"config": map[string]string{"url": hookURL, "content_type": "json", "secret": secret},
		"events": hookEvents,
		"active": true,
	}, maxJSON)
	return err
}

// call sends "METHOD PATH" with in as JSON and returns the answer's status and at most
// limit bytes of its body; a status of 300 or more is an error with the forge's message.
func (g *gitea) call(ctx context.Context, call string, in any, limit int64) (int, []byte, error) {
	method, path, _ := strings.Cut(call, " ")
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return 0, nil, &APIError{Call: call, Message: err.Error()}
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, g.base+path, body)
	if err != nil {
		return 0, nil, &APIError{Call: call, Message: err.Error()}
	}
	req.Header.Set("Authorization", "token "+g.token)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := g.hc.Do(req)
	if err != nil {
		return 0, nil, &APIError{Call: call, Message: err.Error(), err: err}
	}
	defer resp.Body.Close()
	if resp.ContentLength > limit {
		return resp.StatusCode, nil, &APIError{Call: call, Status: resp.StatusCode,
			Message: strconv.FormatInt(resp.ContentLength, 10) + " bytes", err: errTooLarge}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return resp.StatusCode, nil, &APIError{Call: call, Status: resp.StatusCode, Message: "reading the answer: " + err.Error(), err: err}
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, nil, &APIError{Call: call, Status: resp.StatusCode, Message: forgeMessage(data)}
	}
	if int64(len(data)) > limit {
		return resp.StatusCode, nil, &APIError{Call: call, Status: resp.StatusCode,
			Message: "over " + strconv.FormatInt(limit, 10) + " bytes", err: errTooLarge}
	}
	return resp.StatusCode, data, nil
}

// forgeMessage is the message of an error answer: its JSON "message" (Gitea's and
// GitHub's shape), else the body as text.
func forgeMessage(data []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(data, &e) == nil && e.Message != "" {
		return e.Message
	}
	return string(data)
}

func (g *gitea) branchHead(ctx context.Context, owner, name, branch string) (string, error) {
	call := fmt.Sprintf("GET /repos/%s/%s/branches/%s", owner, name, escapePath(branch))
	status, data, err := g.call(ctx, call, nil, maxJSON)
	if err != nil {
		return "", err
	}
	var b struct {
		Commit struct {
			ID string `json:"id"`
		} `json:"commit"`
	}
	if err := json.Unmarshal(data, &b); err != nil {
		return "", &APIError{Call: call, Status: status, Message: "the answer is not a branch"}
	}
	return b.Commit.ID, nil
}

// compare asks without the files and signature checks of each commit, which Berth does
// not show. Gitea lists every commit of the range in one answer (total_commits is their
// number), newest first as git log does, 1 to 3 KB each: maxAnswer holds well over a
// thousand, past which the call fails as too large rather than listing some of them.
func (g *gitea) compare(ctx context.Context, owner, name, base, head string) (berth.Comparison, error) {
	call := fmt.Sprintf("GET /repos/%s/%s/compare/%s...%s?files=false&verification=false",
		owner, name, escapePath(base), escapePath(head))
	status, data, err := g.call(ctx, call, nil, maxAnswer)
	if err != nil {
		return berth.Comparison{}, err
	}
	var out struct {
		TotalCommits int `json:"total_commits"`
		Commits      []struct {
			SHA     string `json:"sha"`
			HTMLURL string `json:"html_url"`
			Commit  struct {
				Message string `json:"message"`
				Author  struct {
					Name  string `json:"name"`
					Email string `json:"email"`
				} `json:"author"`
			} `json:"commit"`
			// Author is the Gitea user of the author's email; null when there is none.
			Author *struct {
				Login string `json:"login"`
			} `json:"author"`
		} `json:"commits"`
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return berth.Comparison{}, &APIError{Call: call, Status: status, Message: "the answer is not a comparison"}
	}
	comp := berth.Comparison{Total: out.TotalCommits, Commits: make([]berth.Commit, 0, len(out.Commits))}
	for i := len(out.Commits) - 1; i >= 0; i-- {
		c := out.Commits[i]
		bc := berth.Commit{SHA: c.SHA, Message: c.Commit.Message, AuthorName: c.Commit.Author.Name,
			AuthorEmail: c.Commit.Author.Email, URL: c.HTMLURL}
		if c.Author != nil {
			bc.AuthorLogin = c.Author.Login
		}
		comp.Commits = append(comp.Commits, bc)
	}
	return comp, nil
}

// tagCommit asks for the tag by name: Gitea answers with the commit it points at, an
// annotated tag's object followed.
func (g *gitea) tagCommit(ctx context.Context, owner, name, tag string) (string, error) {
	call := fmt.Sprintf("GET /repos/%s/%s/tags/%s", owner, name, escapePath(tag))
	status, data, err := g.call(ctx, call, nil, maxJSON)
	if err != nil {
		return "", err
	}
	var t struct {
		Commit struct {
			SHA string `json:"sha"`
		} `json:"commit"`
	}
	if err := json.Unmarshal(data, &t); err != nil {
		return "", &APIError{Call: call, Status: status, Message: "the answer is not a tag"}
	}
	return t.Commit.SHA, nil
}

// commit asks without the stats, files and signature checks Berth does not need. Gitea
// takes an abbreviated sha (git rev-parse) and answers with the full one.
func (g *gitea) commit(ctx context.Context, owner, name, sha string) (string, error) {
	call := fmt.Sprintf("GET /repos/%s/%s/git/commits/%s?stat=false&verification=false&files=false", owner, name, url.PathEscape(sha))
	status, data, err := g.call(ctx, call, nil, maxJSON)
	if err != nil {
		return "", err
	}
	var c struct {
		SHA string `json:"sha"`
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return "", &APIError{Call: call, Status: status, Message: "the answer is not a commit"}
	}
	return c.SHA, nil
}

// giteaPull is the part of Gitea's pull request Berth reads.
type giteaPull struct {
	Number  int    `json:"number"`
	HTMLURL string `json:"html_url"`
	State   string `json:"state"`
	Merged  bool   `json:"merged"`
	Head    struct {
		Ref    string `json:"ref"`
		RepoID int64  `json:"repo_id"`
	} `json:"head"`
	Base struct {
		Ref    string `json:"ref"`
		RepoID int64  `json:"repo_id"`
	} `json:"base"`
}

func (p giteaPull) pullRequest() pullRequest {
	return pullRequest{Number: p.Number, URL: p.HTMLURL, State: p.State, Merged: p.Merged}
}

// createPull asks again while Gitea answers 404: it records a pushed branch after the push
// returns (in a queue), and until then a pull request of it is refused as of no branch.
// Gitea answers 409 when one of head into base is open already.
func (g *gitea) createPull(ctx context.Context, owner, name, head, base, title, body string) (pullRequest, error) {
	call := fmt.Sprintf("POST /repos/%s/%s/pulls", owner, name)
	in := map[string]string{"head": head, "base": base, "title": title, "body": body}
	status, data, err := g.call(ctx, call, in, maxJSON)
	for _, pause := range []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second} {
		if status != http.StatusNotFound {
			break
		}
		select {
		case <-ctx.Done():
			return pullRequest{}, err
		case <-time.After(pause):
		}
		status, data, err = g.call(ctx, call, in, maxJSON)
	}
	if err != nil {
		return pullRequest{}, err
	}
	var p giteaPull
	if err := json.Unmarshal(data, &p); err != nil {
		return pullRequest{}, &APIError{Call: call, Status: status, Message: "the answer is not a pull request"}
	}
	return p.pullRequest(), nil
}

// findPull lists the open pull requests into base, 50 a page (Gitea's most). An older Gitea
// ignores base_branch and lists them all: the base is checked here too.
func (g *gitea) findPull(ctx context.Context, owner, name, head, base string) (pullRequest, error) {
	for page := 1; page <= maxPullPages; page++ {
		call := fmt.Sprintf("GET /repos/%s/%s/pulls?state=open&base_branch=%s&page=%d&limit=50", owner, name, url.QueryEscape(base), page)
		status, data, err := g.call(ctx, call, nil, maxAnswer)
		if err != nil {
			return pullRequest{}, err
		}
		var ps []giteaPull
		if err := json.Unmarshal(data, &ps); err != nil {
			return pullRequest{}, &APIError{Call: call, Status: status, Message: "the answer is no list of pull requests"}
		}
		for _, p := range ps {
			// The repository's own branch, not a fork's of the same name.
			if p.Head.Ref == head && p.Base.Ref == base && p.Head.RepoID == p.Base.RepoID && p.State == "open" {
				return p.pullRequest(), nil
			}
		}
		if len(ps) < 50 {
			break
		}
	}
	return pullRequest{}, nil
}

func (g *gitea) getPull(ctx context.Context, owner, name string, number int) (pullRequest, error) {
	call := fmt.Sprintf("GET /repos/%s/%s/pulls/%d", owner, name, number)
	status, data, err := g.call(ctx, call, nil, maxJSON)
	if err != nil {
		return pullRequest{}, err
	}
	var p giteaPull
	if err := json.Unmarshal(data, &p); err != nil {
		return pullRequest{}, &APIError{Call: call, Status: status, Message: "the answer is not a pull request"}
	}
	return p.pullRequest(), nil
}
