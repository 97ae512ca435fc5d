package forge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/berth-dev/berth/internal/berth"
)

// MaxFile bounds a file read from a repository (a manifest): larger ones are refused.
const MaxFile = 1 << 20

// MaxComment bounds a comment's body, GitHub's limit: longer ones are refused, not cut.
const MaxComment = 65536

// maxDescription is GitHub's limit on a commit status's description, in characters.
const maxDescription = 140

// maxMessage bounds how much of a forge's error message an error carries.
const maxMessage = 200

// callTimeout bounds every call to a forge, unless the caller's context is shorter.
const callTimeout = 15 * time.Second

// maxAnswer bounds every answer's body, whoever reads it (go-github included): the
// largest answer Berth asks for is a file of MaxFile bytes, base64 in JSON.
const maxAnswer = 4 << 20

// Client talks to one forge's API for one repository connection's token.
type Client struct {
	forge   berth.Forge
	token   string
	timeout time.Duration
	api     forgeAPI
}

// forgeAPI is one forge's endpoints. Its errors are *APIError; the Client validates the
// inputs before, and adds the forge and strips the token after.
type forgeAPI interface {
	readFile(ctx context.Context, owner, name, path, ref string) ([]byte, error)
	setStatus(ctx context.Context, owner, name, sha string, s Status) error
	createComment(ctx context.Context, owner, name string, pr int, body string) (int64, error)
	editComment(ctx context.Context, owner, name string, id int64, body string) error
	// findComment returns the id of the newest comment of pull request pr whose body
	// starts with marker (among the first maxCommentPages pages), 0 when none does.
	findComment(ctx context.Context, owner, name string, pr int, marker string) (int64, error)
	createHook(ctx context.Context, owner, name, hookURL, secret string) error
	branchHead(ctx context.Context, owner, name, branch string) (string, error)
	// tagCommit returns the commit tag points at (through annotated tags).
	tagCommit(ctx context.Context, owner, name, tag string) (string, error)
	// commit returns the full sha of the commit sha names (full or abbreviated).
	commit(ctx context.Context, owner, name, sha string) (string, error)
	// compare lists the commits head holds that base does not, oldest first (when there are
	// more, at least the newest berth.MaxCompareCommits), and their total; messages and
	// authors as the forge gives them.
	compare(ctx context.Context, owner, name, base, head string) (berth.Comparison, error)
	createPull(ctx context.Context, owner, name, head, base, title, body string) (pullRequest, error)
	// findPull returns the open pull request of branch head of the repository itself into
	// base (among the first maxPullPages pages), Number 0 when there is none.
	findPull(ctx context.Context, owner, name, head, base string) (pullRequest, error)
	getPull(ctx context.Context, owner, name string, number int) (pullRequest, error)
}

// pullRequest is what Berth reads of a pull request.
type pullRequest struct {
	Number int
	URL    string // its page
	State  string // "open" or "closed", merged or not
	Merged bool
}

// Option changes how a Client is made.
type Option func(*options)

type options struct {
	httpClient *http.Client
	apiURL     string
}

// WithHTTPClient makes the Client send its requests with hc (its transport and redirect
// policy; every call is bounded by the Client's own timeout and answer size anyway).
func WithHTTPClient(hc *http.Client) Option { return func(o *options) { o.httpClient = hc } }

// WithAPIURL sets the API's base URL instead of deriving it from the repository's URL.
func WithAPIURL(u string) Option { return func(o *options) { o.apiURL = u } }

// NewClient returns a client of forge f's API for the repository at repoURL (where the API
// is found: Gitea's under the same host and path prefix, GitHub's at api.github.com or a
// GitHub Enterprise host's /api/v3), authenticated with token.
func NewClient(f berth.Forge, repoURL, token string, opts ...Option) (*Client, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if token == "" {
		return nil, berth.Invalid("token", "a forge token is required")
	}
	if strings.IndexFunc(token, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		// Never quoted: it is a secret.
		return nil, berth.Invalid("token", "the forge token holds spaces or control characters")
	}
	u, err := parseRepoURL(repoURL)
	if err != nil {
		return nil, err
	}
	if o.apiURL != "" {
		a, err := url.Parse(o.apiURL)
		if err != nil || (a.Scheme != "http" && a.Scheme != "https") || a.Host == "" || a.User != nil {
			return nil, berth.Invalid("api_url", "want an http(s) URL without credentials")
		}
	}
	hc := &http.Client{}
	if o.httpClient != nil {
		c := *o.httpClient
		hc = &c
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	hc.Transport = limitTransport{base}

	c := &Client{forge: f, token: token, timeout: callTimeout}
	switch f {
	case berth.ForgeGitea:
		c.api = newGitea(hc, u, o.apiURL, token)
	case berth.ForgeGitHub:
		if c.api, err = newGitHub(hc, u, o.apiURL, token); err != nil {
			return nil, err
		}
	default:
		return nil, berth.Invalid("forge", "%q: want gitea or github", f)
	}
	return c, nil
}

// parseRepoURL checks a repository's URL: http(s), a host, no credentials, and a path
// ending in OWNER/NAME.
func parseRepoURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		// Not quoted: what does not parse may still hold a password.
		return nil, berth.Invalid("repo", "not a URL: want http(s)://HOST/OWNER/NAME")
	case u.User != nil:
		return nil, berth.Invalid("repo", "the repository URL must not hold credentials")
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return nil, berth.Invalid("repo", "%q is not a repository URL: want http(s)://HOST/OWNER/NAME", raw)
	}
	if parts := repoPath(u); len(parts) < 2 {
		return nil, berth.Invalid("repo", "%q: want http(s)://HOST/OWNER/NAME", raw)
	}
	return u, nil
}

// repoPath is the segments of a repository URL's path, without .git and empty ones.
func repoPath(u *url.URL) []string {
	p := strings.Trim(strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), ".git"), "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// StatusState is a commit status's state.
type StatusState string

// The states a commit status can have on both forges.
const (
	StatusPending StatusState = "pending"
	StatusSuccess StatusState = "success"
	StatusFailure StatusState = "failure"
	StatusError   StatusState = "error"
)

// Status is a commit status: its state, the name it is kept under (Context: a commit has one
// status per context), a short description and the page it links to.
type Status struct {
	State                           StatusState
	Context, Description, TargetURL string
}

// ReadFile returns the file at path in repo (OWNER/NAME) at ref (a commit sha, or a
// branch). A missing file (or repository, or ref) is an error matching berth.ErrNotFound;
// a file over MaxFile bytes is refused.
func (c *Client) ReadFile(ctx context.Context, repo, path, ref string) ([]byte, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, err
	}
	if err := berth.CheckRepoPath(path); err != nil {
		return nil, err
	}
	if !isSHA(ref) && berth.CheckBranch(ref) != nil {
		return nil, berth.Invalid("ref", "%q is neither a commit sha nor a branch", ref)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	data, err := c.api.readFile(ctx, owner, name, path, ref)
	if err == nil {
		return data, nil
	}
	err = c.wrap(err)
	var apiErr *APIError
	switch {
	case errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound:
		return nil, fmt.Errorf("%s not found in %s at %s: %w", path, repo, ref, err)
	case errors.Is(err, errTooLarge):
		return nil, fmt.Errorf("%s in %s at %s is larger than %d bytes: refused: %w", path, repo, ref, MaxFile, err)
	}
	return nil, err
}

// BranchHead returns the commit branch of repo points at now; a missing branch (or
// repository) is an error matching berth.ErrNotFound.
func (c *Client) BranchHead(ctx context.Context, repo, branch string) (string, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return "", err
	}
	if err := berth.CheckBranch(branch); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	sha, err := c.api.branchHead(ctx, owner, name, branch)
	if err != nil {
		return "", c.wrap(err)
	}
	if !isSHA(sha) {
		return "", fmt.Errorf("%s: branch %s of %s: the answer holds no commit sha", c.forge, branch, repo)
	}
	return sha, nil
}

// minShortSHA is the shortest abbreviation of a commit sha ResolveRef looks up: git's
// default.
const minShortSHA = 7

// ResolveRef returns the commit ref names in repo and its full ref: ref is a branch
// (fullRef refs/heads/REF), else a tag (refs/tags/REF), else a commit sha, full or
// abbreviated to at least 7 hex digits (fullRef ""). refs/heads/X names only a branch and
// refs/tags/X only a tag; a full sha is looked up as a commit only. A ref none of these
// know is an error matching berth.ErrNotFound.
func (c *Client) ResolveRef(ctx context.Context, repo, ref string) (sha, fullRef string, err error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return "", "", err
	}
	if err := berth.CheckRef(ref); err != nil {
		return "", "", err
	}
	// What ref may be, each looked up in this order; "" is not looked up.
	branch, tag, commit, what := ref, ref, "", "branch, tag or commit"
	if isShortSHA(ref) {
		commit = strings.ToLower(ref)
	}
	if b, ok := strings.CutPrefix(ref, "refs/heads/"); ok {
		branch, tag, commit, what = b, "", "", "branch"
	} else if t, ok := strings.CutPrefix(ref, "refs/tags/"); ok {
		branch, tag, commit, what = "", t, "", "tag"
	} else if isSHA(ref) {
		// Git warns of refs named like a sha: a full one is a commit.
		branch, tag, what = "", "", "commit"
	}
	// lookup asks the forge one question: the commit's sha, or false when the forge knows
	// no such thing (404; for a commit also 422, GitHub's answer to an unknown sha).
	lookup := func(kind, id string, get func(ctx context.Context, owner, name, id string) (string, error)) (string, bool, error) {
		ctx, cancel := context.WithTimeout(ctx, c.timeout)
		defer cancel()
		got, err := get(ctx, owner, name, id)
		var apiErr *APIError
		switch {
		case errors.As(err, &apiErr) && (apiErr.Status == http.StatusNotFound || (kind == "commit" && apiErr.Status == http.StatusUnprocessableEntity)):
			return "", false, nil
		case err != nil:
			return "", false, c.wrap(err)
		case !isSHA(got):
			return "", false, fmt.Errorf("%s: %s %s of %s: the answer holds no commit sha", c.forge, kind, id, repo)
		}
		return strings.ToLower(got), true, nil
	}
	for _, l := range []struct {
		kind, id, full string
		get            func(ctx context.Context, owner, name, id string) (string, error)
	}{
		{"branch", branch, "refs/heads/" + branch, c.api.branchHead},
		{"tag", tag, "refs/tags/" + tag, c.api.tagCommit},
		{"commit", commit, "", c.api.commit},
	} {
		if l.id == "" {
			continue
		}
		sha, ok, err := lookup(l.kind, l.id, l.get)
		if err != nil || ok {
			return sha, l.full, err
		}
	}
	return "", "", fmt.Errorf("%s is no %s of %s: %w", ref, what, repo, berth.ErrNotFound)
}

// isShortSHA reports whether s may be a commit's sha, abbreviated or not.
func isShortSHA(s string) bool {
	if len(s) < minShortSHA || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') && (r < 'A' || r > 'F') {
			return false
		}
	}
	return true
}

// Compare lists the commits head holds that base does not (each a commit sha or a branch
// of repo): the newest berth.MaxCompareCommits of them, oldest first, and how many there
// are. A missing base or head (or repository) is an error matching berth.ErrNotFound.
func (c *Client) Compare(ctx context.Context, repo, base, head string) (berth.Comparison, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return berth.Comparison{}, err
	}
	if !isSHA(base) && berth.CheckBranch(base) != nil {
		return berth.Comparison{}, berth.Invalid("base", "%q is neither a commit sha nor a branch", base)
	}
	if !isSHA(head) && berth.CheckBranch(head) != nil {
		return berth.Comparison{}, berth.Invalid("head", "%q is neither a commit sha nor a branch", head)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	comp, err := c.api.compare(ctx, owner, name, base, head)
	if err != nil {
		err = c.wrap(err)
		var apiErr *APIError
		switch {
		case errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound:
			return berth.Comparison{}, fmt.Errorf("%s or %s not found in %s: %w", base, head, repo, err)
		case errors.Is(err, errTooLarge):
			return berth.Comparison{}, fmt.Errorf("%s...%s of %s: too many commits for one answer: %w", base, head, repo, err)
		}
		return berth.Comparison{}, err
	}
	if n := len(comp.Commits); n > berth.MaxCompareCommits {
		comp.Commits = comp.Commits[n-berth.MaxCompareCommits:]
	}
	for i, cm := range comp.Commits {
		if !isSHA(cm.SHA) {
			return berth.Comparison{}, fmt.Errorf("%s: %s...%s of %s: the answer lists a commit without a sha", c.forge, base, head, repo)
		}
		comp.Commits[i] = berth.Commit{
			SHA:         strings.ToLower(cm.SHA),
			Message:     subject(cm.Message),
			AuthorName:  cleanLine(cm.AuthorName, maxSubject),
			AuthorEmail: cleanLine(cm.AuthorEmail, maxSubject),
			AuthorLogin: cleanLine(cm.AuthorLogin, maxSubject),
			URL:         webURL(cm.URL),
		}
	}
	comp.Base, comp.Head = base, head
	comp.Total = max(comp.Total, len(comp.Commits))
	return comp, nil
}

// SetStatus sets a status on the commit sha of repo. The description is cut to GitHub's
// 140 characters.
func (c *Client) SetStatus(ctx context.Context, repo, sha string, s Status) error {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return err
	}
	if !isSHA(sha) {
		return berth.Invalid("sha", "%q is not a full commit sha", sha)
	}
	switch s.State {
	case StatusPending, StatusSuccess, StatusFailure, StatusError:
	default:
		return berth.Invalid("state", "%q: want pending, success, failure or error", s.State)
	}
	if s.Context == "" || len(s.Context) > 255 {
		return berth.Invalid("context", "required, at most 255 bytes: the name the status is kept under")
	}
	if s.TargetURL != "" {
		u, err := url.Parse(s.TargetURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return berth.Invalid("target_url", "%q is not an http(s) URL", s.TargetURL)
		}
	}
	s.Description = truncateRunes(s.Description, maxDescription)
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return c.wrap(c.api.setStatus(ctx, owner, name, sha, s))
}

// maxCommentPages bounds how many pages of a pull request's comments findComment reads.
const maxCommentPages = 10

// UpsertComment keeps one comment of Berth's on pull request pr of repo: with id 0 it
// creates one; else it edits comment id, creating a new one when that was deleted. It
// returns the comment's id, to pass next time. When body's first line is an HTML comment
// (a marker, such as <!-- berth:preview shop/web -->), a comment starting with that line
// is edited instead of creating another: a caller that lost the id (a crash between the
// forge's answer and recording it) still keeps one comment.
func (c *Client) UpsertComment(ctx context.Context, repo string, pr int, id int64, body string) (int64, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return 0, err
	}
	switch {
	case pr <= 0:
		return 0, berth.Invalid("pr", "%d is not a pull request number", pr)
	case id < 0:
		return 0, berth.Invalid("comment_id", "%d is not a comment id", id)
	case strings.TrimSpace(body) == "":
		return 0, berth.Invalid("body", "a comment needs a body")
	case len(body) > MaxComment:
		return 0, berth.Invalid("body", "%d bytes: a comment holds at most %d", len(body), MaxComment)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if id != 0 {
		err := c.api.editComment(ctx, owner, name, id, body)
		var apiErr *APIError
		if !errors.As(err, &apiErr) || (apiErr.Status != http.StatusNotFound && apiErr.Status != http.StatusGone) {
			if err != nil {
				return 0, c.wrap(err)
			}
			return id, nil
		}
		// Deleted (by a person, or with its pull request's conversation): comment anew.
	}
	if marker, _, _ := strings.Cut(body, "\n"); strings.HasPrefix(marker, "<!--") && strings.HasSuffix(marker, "-->") {
		found, err := c.api.findComment(ctx, owner, name, pr, marker)
		if err != nil {
			return 0, c.wrap(err)
		}
		if found != 0 && found != id {
			if err := c.api.editComment(ctx, owner, name, found, body); err == nil {
				return found, nil
			}
		}
	}
	newID, err := c.api.createComment(ctx, owner, name, pr, body)
	if err != nil {
		return 0, c.wrap(err)
	}
	return newID, nil
}

// maxTitle bounds a pull request's title, in bytes: Gitea cuts a longer one itself (to
// about 255 characters), GitHub refuses one over 256 characters.
const maxTitle = 255

// maxPullPages bounds how many pages of a repository's open pull requests findPull reads.
const maxPullPages = 10

// OpenPullRequest opens a pull request of branch head into base of repo with title and body,
// or, when one of head into base is open already, returns that one (a retry after a crash
// must not open a second): its number and web URL. The title is made one line and cut to
// 255 bytes, the body to MaxComment bytes.
func (c *Client) OpenPullRequest(ctx context.Context, repo, head, base, title, body string) (number int, url string, err error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return 0, "", err
	}
	if berth.CheckBranch(head) != nil {
		return 0, "", berth.Invalid("head", "%q is not a branch name", head)
	}
	if berth.CheckBranch(base) != nil {
		return 0, "", berth.Invalid("base", "%q is not a branch name", base)
	}
	if head == base {
		return 0, "", berth.Invalid("head", "%q is the base branch too: a pull request is of one branch into another", head)
	}
	title = ellipsis(cleanLine(title, len(title)), maxTitle)
	if title == "" {
		return 0, "", berth.Invalid("title", "a pull request needs a title")
	}
	body = ellipsis(body, MaxComment)
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	pr, err := c.api.createPull(ctx, owner, name, head, base, title, body)
	var apiErr *APIError
	if errors.As(err, &apiErr) && (apiErr.Status == http.StatusConflict || apiErr.Status == http.StatusUnprocessableEntity) {
		// One of head into base is open already (Gitea answers 409, GitHub 422; both answer
		// 422 for other refusals too, such as no commits between them): find it, else the
		// refusal stands.
		found, findErr := c.api.findPull(ctx, owner, name, head, base)
		if findErr != nil {
			return 0, "", c.wrap(findErr)
		}
		if found.Number != 0 {
			pr, err = found, nil
		}
	}
	if err != nil {
		err = c.wrap(err)
		if errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound {
			return 0, "", fmt.Errorf("%s or %s not found in %s: %w", head, base, repo, err)
		}
		return 0, "", err
	}
	if pr.Number <= 0 {
		return 0, "", fmt.Errorf("%s: pull request of %s into %s of %s: the answer holds no number", c.forge, head, base, repo)
	}
	return pr.Number, webURL(pr.URL), nil
}

// PullRequestState says whether pull request number of repo is open, merged, or closed
// unmerged. A missing pull request (or repository) is an error matching berth.ErrNotFound.
func (c *Client) PullRequestState(ctx context.Context, repo string, number int) (berth.GitOpsState, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return "", err
	}
	if number <= 0 {
		return "", berth.Invalid("pr", "%d is not a pull request number", number)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	pr, err := c.api.getPull(ctx, owner, name, number)
	if err != nil {
		err = c.wrap(err)
		var apiErr *APIError
		if errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound {
			return "", fmt.Errorf("pull request %d not found in %s: %w", number, repo, err)
		}
		return "", err
	}
	switch {
	case pr.Merged:
		return berth.GitOpsMerged, nil
	case pr.State == "open":
		return berth.GitOpsOpen, nil
	case pr.State == "closed":
		return berth.GitOpsClosed, nil
	}
	return "", fmt.Errorf("%s: pull request %d of %s: the answer holds no known state (%q)", c.forge, number, repo, cleanLine(pr.State, 20))
}

// CreateHook registers a webhook on repo delivering its push and pull_request events as
// JSON to hookURL, signed with secret.
func (c *Client) CreateHook(ctx context.Context, repo, hookURL, secret string) error {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return err
	}
	u, err := url.Parse(hookURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return berth.Invalid("hook_url", "want an http(s) URL without credentials")
	}
	if secret == "" {
		return berth.Invalid("secret", "a webhook needs a secret to sign its deliveries with")
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	return c.wrap(c.api.createHook(ctx, owner, name, hookURL, secret))
}

// hookEvents are the events Berth's webhooks ask for, on both forges.
var hookEvents = []string{"push", "pull_request"}

// APIError is a forge's API call that failed: no answer (Status 0), or an answer with a
// status Berth did not expect. It never holds the token.
type APIError struct {
	Forge berth.Forge
	// Call is the method and path (with query) of the call, relative to the API's base.
	Call string
	// Status is the HTTP status of the answer; 0 when there was none.
	Status int
	// Message is the forge's message (at most 200 bytes of it), or why no answer came.
	Message string
	// err is the cause when no answer came (a timeout, a refused connection), for errors.Is.
	err error
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", e.Forge, e.Call)
	if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d %s", e.Status, http.StatusText(e.Status))
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// Unwrap returns the cause of a call that got no answer.
func (e *APIError) Unwrap() error { return e.err }

// Is reports whether target is berth.ErrNotFound and the forge answered 404.
func (e *APIError) Is(target error) bool {
	return target == berth.ErrNotFound && e.Status == http.StatusNotFound
}

// Retryable reports whether the same call may succeed later: no answer came, or the forge
// was busy or failing (429, 5xx). Other answers (a bad token, a missing repository) will
// not change by themselves.
func (e *APIError) Retryable() bool {
	return e.Status == 0 || e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// errTooLarge is the cause of an answer over the size Berth reads.
var errTooLarge = errors.New("the answer is too large")

// wrap names the forge on an error of its API and makes sure the token is not in it.
func (c *Client) wrap(err error) error {
	if err == nil {
		return nil
	}
	var e *APIError
	if !errors.As(err, &e) {
		e = &APIError{Message: err.Error(), err: err}
	}
	e.Forge = c.forge
	e.Call = c.scrub(e.Call)
	e.Message = oneLine(c.scrub(e.Message))
	if e.Status != 0 {
		e.Message = truncateBytes(e.Message, maxMessage)
	}
	if e.err != nil && strings.Contains(e.err.Error(), c.token) {
		e.err = nil
	}
	return e
}

// scrub removes the token from s: a forge, or a proxy before it, may echo a request back.
// An answer cut at a size bound may end in part of it: that goes too.
func (c *Client) scrub(s string) string {
	s = strings.ReplaceAll(s, c.token, "[token]")
	for k := len(c.token) - 1; k >= 4; k-- {
		if strings.HasSuffix(s, c.token[:k]) {
			return s[:len(s)-k] + "[token]"
		}
	}
	return s
}

// repoName is what an owner or a repository name may hold on the forges Berth knows.
var repoName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)

// splitRepo splits OWNER/NAME, or says what is wrong with it.
func splitRepo(repo string) (owner, name string, err error) {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || !repoName.MatchString(owner) || !repoName.MatchString(name) ||
		owner == "." || owner == ".." || name == "." || name == ".." {
		return "", "", berth.Invalid("repo", "%q: want OWNER/NAME", repo)
	}
	return owner, name, nil
}

// escapePath escapes each segment of a checked repository path.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// truncateRunes cuts s to at most n characters.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i, count := 0, 0
	for i = range s {
		if count == n-1 {
			break
		}
		count++
	}
	return s[:i] + "…"
}

// truncateBytes cuts s to at most n bytes, at a character's boundary.
func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// ellipsis cuts s to at most n bytes, at a character's boundary, ending in … when cut.
func ellipsis(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return truncateBytes(s, n-len("…")) + "…"
}

// oneLine folds runs of white space (newlines included) into one space.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// maxSubject bounds a commit's message line, and its author's name, email and login.
const maxSubject = 200

// subject is the first line of a commit message, cleaned as cleanLine does: what a list of
// commits shows.
func subject(msg string) string {
	line, _, _ := strings.Cut(strings.TrimLeft(msg, " \t\r\n"), "\n")
	return cleanLine(line, maxSubject)
}

// cleanLine makes s one line of printable, valid UTF-8 of at most n bytes: white space
// folded, control characters removed. Commits are written by anyone who can push.
func cleanLine(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && !unicode.IsSpace(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	return strings.TrimRight(truncateBytes(oneLine(s), n), " ")
}

// webURL is u when it is an http(s) URL, else "": a page to link to, never a script.
func webURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return ""
	}
	return u
}

// limitTransport bounds every answer's body at maxAnswer bytes.
type limitTransport struct{ base http.RoundTripper }

func (t limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if resp != nil && resp.Body != nil {
		resp.Body = limitedBody{io.LimitReader(resp.Body, maxAnswer), resp.Body}
	}
	return resp, err
}

type limitedBody struct {
	io.Reader
	io.Closer
}
