package forge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-github/v84/github"

	"github.com/berth-dev/berth/internal/berth"
)

// gitHub calls GitHub's (or a GitHub Enterprise server's) API through go-github.
type gitHub struct {
	gh *github.Client
}

func newGitHub(hc *http.Client, repoURL *url.URL, apiURL, token string) (*gitHub, error) {
	gh := github.NewClient(hc).WithAuthToken(token)
	switch host := strings.ToLower(repoURL.Hostname()); {
	case apiURL != "":
		u, err := url.Parse(apiURL)
		if err != nil {
			return nil, berth.Invalid("api_url", "not a URL")
		}
		if !strings.HasSuffix(u.Path, "/") {
			u.Path += "/"
		}
		gh.BaseURL = u
	case host == "github.com" || host == "www.github.com":
		// go-github's default: https://api.github.com/
	default:
		// GitHub Enterprise Server: https://HOST/api/v3/.
		root := repoURL.Scheme + "://" + repoURL.Host + "/"
		var err error
		if gh, err = gh.WithEnterpriseURLs(root, root); err != nil {
			return nil, berth.Invalid("repo", "no GitHub Enterprise API URL for %q", repoURL.Host)
		}
	}
	return &gitHub{gh: gh}, nil
}

// readFile asks for the raw media type: the file's bytes as they are, without base64 in
// JSON (which GitHub leaves empty for files over 1 MB).
func (g *gitHub) readFile(ctx context.Context, owner, name, path, ref string) ([]byte, error) {
	call := fmt.Sprintf("GET /repos/%s/%s/contents/%s?ref=%s", owner, name, escapePath(path), url.QueryEscape(ref))
	req, err := g.gh.NewRequest(http.MethodGet, strings.TrimPrefix(strings.TrimPrefix(call, "GET "), "/"), nil)
	if err != nil {
		return nil, &APIError{Call: call, Message: err.Error()}
	}
	req.Header.Set("Accept", "application/vnd.github.raw+json")
	resp, err := g.gh.BareDo(ctx, req)
	if err != nil {
		return nil, gitHubError(call, resp, err)
	}
	defer resp.Body.Close()
	if resp.ContentLength > MaxFile {
		return nil, &APIError{Call: call, Status: resp.StatusCode, Message: fmt.Sprintf("%d bytes", resp.ContentLength), err: errTooLarge}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxFile+1))
	if err != nil {
		return nil, &APIError{Call: call, Status: resp.StatusCode, Message: "reading the answer: " + err.Error(), err: err}
	}
	if len(data) > MaxFile {
		return nil, &APIError{Call: call, Status: resp.StatusCode, Message: fmt.Sprintf("over %d bytes", MaxFile), err: errTooLarge}
	}
	// A directory is listed in JSON whatever the media type asked for.
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && strings.HasPrefix(strings.TrimSpace(string(data)), "[") {
		return nil, &APIError{Call: call, Status: resp.StatusCode, Message: "a directory, not a file"}
	}
	return data, nil
}

func (g *gitHub) setStatus(ctx context.Context, owner, name, sha string, s Status) error {
	st := github.RepoStatus{State: github.Ptr(string(s.State)), Context: github.Ptr(s.Context)}
	if s.Description != "" {
		st.Description = github.Ptr(s.Description)
	}
	if s.TargetURL != "" {
		st.TargetURL = github.Ptr(s.TargetURL)
	}
	_, resp, err := g.gh.Repositories.CreateStatus(ctx, owner, name, sha, st)
	if err != nil {
		return gitHubError(fmt.Sprintf("POST /repos/%s/%s/statuses/%s", owner, name, sha), resp, err)
	}
	return nil
}

func (g *gitHub) createComment(ctx context.Context, owner, name string, pr int, body string) (int64, error) {
	call := fmt.Sprintf("POST /repos/%s/%s/issues/%d/comments", owner, name, pr)
	c, resp, err := g.gh.Issues.CreateComment(ctx, owner, name, pr, &github.IssueComment{Body: github.Ptr(body)})
	if err != nil {
		return 0, gitHubError(call, resp, err)
	}
	if c.GetID() <= 0 {
		return 0, &APIError{Call: call, Status: resp.StatusCode, Message: "the answer holds no comment id"}
	}
	return c.GetID(), nil
}

func (g *gitHub) findComment(ctx context.Context, owner, name string, pr int, marker string) (int64, error) {
	var found int64
	opts := &github.IssueListCommentsOptions{ListOptions: github.ListOptions{PerPage: 100}}
	for page := 1; page <= maxCommentPages; page++ {
		opts.Page = page
		cs, resp, err := g.gh.Issues.ListComments(ctx, owner, name, pr, opts)
		if err != nil {
			return 0, gitHubError(fmt.Sprintf("GET /repos/%s/%s/issues/%d/comments", owner, name, pr), resp, err)
		}
		for _, c := range cs {
			if strings.HasPrefix(c.GetBody(), marker) {
				found = c.GetID()
			}
		}
		if resp.NextPage == 0 {
			break
		}
	}
	return found, nil
}

func (g *gitHub) editComment(ctx context.Context, owner, name string, id int64, body string) error {
	_, resp, err := g.gh.Issues.EditComment(ctx, owner, name, id, &github.IssueComment{Body: github.Ptr(body)})
	if err != nil {
		return gitHubError(fmt.Sprintf("PATCH /repos/%s/%s/issues/comments/%d", owner, name, id), resp, err)
	}
	return nil
}

func (g *gitHub) createHook(ctx context.Context, owner, name, hookURL, secret string) error {
	_, resp, err := g.gh.Repositories.CreateHook(ctx, owner, name, &github.Hook{
		Config: &github.HookConfig{URL: github.Ptr(hookURL), ContentType: github.Ptr("json"), Secret: github.Ptr(secret), InsecureSSL: github.Ptr("0")},
		Events: hookEvents,
		Active: github.Ptr(true),
	})
	if err != nil {
		return gitHubError(fmt.Sprintf("POST /repos/%s/%s/hooks", owner, name), resp, err)
	}
	return nil
}

// gitHubError turns go-github's error into an *APIError: the status and GitHub's message
// (with the reasons of a 422), not go-github's text, which repeats the URL.
func gitHubError(call string, resp *github.Response, err error) *APIError {
	e := &APIError{Call: call}
	if resp != nil && resp.Response != nil {
		e.Status = resp.StatusCode
	}
	var (
		er *github.ErrorResponse
		rl *github.RateLimitError
		ab *github.AbuseRateLimitError
	)
	switch {
	case errors.As(err, &er):
		e.Message = er.Message
		if e.Message == "" && er.Response != nil && er.Response.Body != nil {
			// Not GitHub's JSON (a proxy's page): go-github kept the body for us.
			text, _ := io.ReadAll(io.LimitReader(er.Response.Body, 1<<10))
			e.Message = string(text)
		}
		for _, d := range er.Errors {
			switch {
			case d.Message != "":
				e.Message += "; " + d.Message
			case d.Field != "":
				e.Message += "; " + d.Field + " " + d.Code
			}
		}
		if e.Status == 0 && er.Response != nil {
			e.Status = er.Response.StatusCode
		}
	case errors.As(err, &rl):
		e.Message = "rate limited: " + rl.Message
		if e.Status == 0 && rl.Response != nil {
			e.Status = rl.Response.StatusCode
		}
	case errors.As(err, &ab):
		e.Message = "rate limited: " + ab.Message
		if e.Status == 0 && ab.Response != nil {
			e.Status = ab.Response.StatusCode
		}
	case e.Status != 0 && e.Status < 300:
		// An answer that did not decode.
		e.Message = "the answer is not understood: " + err.Error()
	default:
		e.Message, e.err = err.Error(), err
	}
	return e
}

func (g *gitHub) branchHead(ctx context.Context, owner, name, branch string) (string, error) {
	b, resp, err := g.gh.Repositories.GetBranch(ctx, owner, name, branch, 1)
	if err != nil {
		return "", gitHubError(fmt.Sprintf("GET /repos/%s/%s/branches/%s", owner, name, branch), resp, err)
	}
	return b.GetCommit().GetSHA(), nil
}

// compare asks without paging: GitHub then lists the newest 250 commits of the range
// (berth.MaxCompareCommits), oldest first. With per_page or page it would list from the
// oldest, page by page: the newest would take as many calls as there are pages.
func (g *gitHub) compare(ctx context.Context, owner, name, base, head string) (berth.Comparison, error) {
	cc, resp, err := g.gh.Repositories.CompareCommits(ctx, owner, name, base, head, nil)
	if err != nil {
		return berth.Comparison{}, gitHubError(fmt.Sprintf("GET /repos/%s/%s/compare/%s...%s", owner, name, base, head), resp, err)
	}
	comp := berth.Comparison{Total: cc.GetTotalCommits(), Commits: make([]berth.Commit, 0, len(cc.Commits))}
	for _, c := range cc.Commits {
		comp.Commits = append(comp.Commits, berth.Commit{
			SHA:         c.GetSHA(),
			Message:     c.GetCommit().GetMessage(),
			AuthorName:  c.GetCommit().GetAuthor().GetName(),
			AuthorEmail: c.GetCommit().GetAuthor().GetEmail(),
			AuthorLogin: c.GetAuthor().GetLogin(),
			URL:         c.GetHTMLURL(),
		})
	}
	return comp, nil
}

// maxTagDepth bounds the annotated tags followed to a commit: a tag may tag a tag.
const maxTagDepth = 5

// tagCommit reads the tag's ref (GET /repos/{owner}/{repo}/git/ref/tags/{tag}); an
// annotated tag's ref points at a tag object, read in turn (git/tags/{sha}) until a
// commit.
func (g *gitHub) tagCommit(ctx context.Context, owner, name, tag string) (string, error) {
	call := fmt.Sprintf("GET /repos/%s/%s/git/ref/tags/%s", owner, name, tag)
	ref, resp, err := g.gh.Git.GetRef(ctx, owner, name, "tags/"+tag)
	if err != nil {
		return "", gitHubError(call, resp, err)
	}
	obj := ref.GetObject()
	for range maxTagDepth {
		if obj.GetType() != "tag" {
			break
		}
		call = fmt.Sprintf("GET /repos/%s/%s/git/tags/%s", owner, name, obj.GetSHA())
		t, resp, err := g.gh.Git.GetTag(ctx, owner, name, obj.GetSHA())
		if err != nil {
			return "", gitHubError(call, resp, err)
		}
		obj = t.GetObject()
	}
	if obj.GetType() != "commit" {
		return "", &APIError{Call: call, Status: resp.StatusCode, Message: fmt.Sprintf("tag %s points at a %s, not a commit", tag, obj.GetType())}
	}
	return obj.GetSHA(), nil
}

// commit asks for the commit's sha alone (GET /repos/{owner}/{repo}/commits/{ref} with
// the sha media type), which GitHub gives in full for an abbreviated one; an unknown sha
// is a 422.
func (g *gitHub) commit(ctx context.Context, owner, name, sha string) (string, error) {
	got, resp, err := g.gh.Repositories.GetCommitSHA1(ctx, owner, name, sha, "")
	if err != nil {
		return "", gitHubError(fmt.Sprintf("GET /repos/%s/%s/commits/%s", owner, name, sha), resp, err)
	}
	return strings.TrimSpace(got), nil
}

func gitHubPull(p *github.PullRequest) pullRequest {
	return pullRequest{Number: p.GetNumber(), URL: p.GetHTMLURL(), State: p.GetState(), Merged: p.GetMerged()}
}

// createPull: GitHub answers 422 (Validation Failed: "A pull request already exists for
// OWNER:BRANCH.") when one of head into base is open already.
func (g *gitHub) createPull(ctx context.Context, owner, name, head, base, title, body string) (pullRequest, error) {
	np := &github.NewPullRequest{Title: github.Ptr(title), Head: github.Ptr(head), Base: github.Ptr(base)}
	if body != "" {
		np.Body = github.Ptr(body)
	}
	p, resp, err := g.gh.PullRequests.Create(ctx, owner, name, np)
	if err != nil {
		return pullRequest{}, gitHubError(fmt.Sprintf("POST /repos/%s/%s/pulls", owner, name), resp, err)
	}
	return gitHubPull(p), nil
}

// findPull asks GitHub for the open pull requests of OWNER:head into base: it filters them
// itself, so one page holds the one there may be.
func (g *gitHub) findPull(ctx context.Context, owner, name, head, base string) (pullRequest, error) {
	opts := &github.PullRequestListOptions{State: "open", Head: owner + ":" + head, Base: base, ListOptions: github.ListOptions{PerPage: 100}}
	for page := 1; page <= maxPullPages; page++ {
		opts.Page = page
		ps, resp, err := g.gh.PullRequests.List(ctx, owner, name, opts)
		if err != nil {
			return pullRequest{}, gitHubError(fmt.Sprintf("GET /repos/%s/%s/pulls?state=open&head=%s:%s&base=%s", owner, name, owner, head, base), resp, err)
		}
		for _, p := range ps {
			if p.GetHead().GetRef() == head && p.GetBase().GetRef() == base && p.GetState() == "open" {
				return gitHubPull(p), nil
			}
		}
		if resp.NextPage == 0 {
			break
		}
	}
	return pullRequest{}, nil
}

func (g *gitHub) getPull(ctx context.Context, owner, name string, number int) (pullRequest, error) {
	p, resp, err := g.gh.PullRequests.Get(ctx, owner, name, number)
	if err != nil {
		return pullRequest{}, gitHubError(fmt.Sprintf("GET /repos/%s/%s/pulls/%d", owner, name, number), resp, err)
	}
	return gitHubPull(p), nil
}
