package gitops

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/berth-dev/berth/internal/berth"
)

// maxErrorMessage bounds how much of a remote's error message an error carries.
const maxErrorMessage = 300

// remote is one call's view of a repository: an empty object store in memory that
// fetches from, and pushes to, the repository at one URL with one token.
type remote struct {
	st     *boundedStorage
	remote *git.Remote
	auth   transport.AuthMethod
	token  string
}

// open prepares a call to the repository at url (checked) with token ("" for none).
func (c *Client) open(url, token string) *remote {
	st := &boundedStorage{Storage: memory.NewStorage(), max: c.maxBytes()}
	r := &remote{
		st:     st,
		remote: git.NewRemote(st, &config.RemoteConfig{Name: git.DefaultRemoteName, URLs: []string{url}}),
		token:  token,
	}
	if token != "" {
		r.auth = &githttp.BasicAuth{Username: "berth", Password: token}
	}
	return r
}

// branches lists the remote's branches and their tips. An empty repository has none.
func (r *remote) branches(ctx context.Context) (map[string]plumbing.Hash, error) {
	refs, err := r.remote.ListContext(ctx, &git.ListOptions{Auth: r.auth})
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return map[string]plumbing.Hash{}, nil
	}
	if err != nil {
		return nil, r.fail("list the branches", err)
	}
	tips := map[string]plumbing.Hash{}
	for _, ref := range refs {
		if ref.Name().IsBranch() && ref.Type() == plumbing.HashReference {
			tips[ref.Name().Short()] = ref.Hash()
		}
	}
	return tips, nil
}

// fetch fetches the last depth commits of each of branches the remote has, and returns
// their tips; a branch missing from the map does not exist. The clone is shallow: Berth
// only ever needs the tips, and a platform repository's history grows with every deploy.
func (r *remote) fetch(ctx context.Context, depth int, branches ...string) (map[string]plumbing.Hash, error) {
	all, err := r.branches(ctx)
	if err != nil {
		return nil, err
	}
	var specs []config.RefSpec
	for _, b := range branches {
		if _, ok := all[b]; ok {
			specs = append(specs, config.RefSpec("+"+plumbing.NewBranchReferenceName(b)+":"+trackingRef(b)))
		}
	}
	tips := map[string]plumbing.Hash{}
	if len(specs) == 0 {
		return tips, nil
	}
	err = r.remote.FetchContext(ctx, &git.FetchOptions{
		RefSpecs: dedupe(specs),
		Depth:    depth,
		Tags:     git.NoTags,
		Auth:     r.auth,
	})
	var noMatch git.NoMatchingRefSpecError
	switch {
	case errors.As(err, &noMatch):
		// A branch was deleted between the listing and the fetch.
		return nil, &movedError{branch: strings.Join(branches, " or ")}
	case err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate):
		return nil, r.fail("fetch "+strings.Join(branches, " and "), err)
	}
	for _, b := range branches {
		ref, err := r.st.Reference(trackingRef(b))
		if err == nil {
			tips[b] = ref.Hash()
		}
	}
	return tips, nil
}

// update moves a branch of the remote from old (zero: the branch does not exist) to new.
type update struct {
	branch   string
	old, new plumbing.Hash
}

// movedError says a branch moved under a publish: another push won the race.
type movedError struct{ branch string }

func (e *movedError) Error() string { return e.branch + " moved" }

// push makes updates on the remote, all or none, each only if the branch still is where
// it was fetched from: a compare-and-swap that the remote checks as it updates the ref.
// A *movedError says a branch moved.
func (r *remote) push(ctx context.Context, updates []update) error {
	opts := &git.PushOptions{Auth: r.auth, Atomic: true}
	for _, u := range updates {
		local := plumbing.NewBranchReferenceName(u.branch)
		if err := r.st.SetReference(plumbing.NewHashReference(local, u.new)); err != nil {
			return err
		}
		spec := local + ":" + local
		if !u.old.IsZero() {
			// Forced, but leased on the old tip. A plain push would check that it is a
			// fast-forward by walking history the shallow clone does not have; and a
			// retried pull-request branch is reset, not fast-forwarded.
			spec = "+" + spec
			opts.RequireRemoteRefs = append(opts.RequireRemoteRefs, config.RefSpec(u.old.String()+":"+local.String()))
		}
		opts.RefSpecs = append(opts.RefSpecs, config.RefSpec(spec))
	}
	err := r.remote.PushContext(ctx, opts)
	if err == nil {
		return nil
	}
	// Whatever the error says (go-git's own check, the remote's refusal, a connection lost
	// on the way), the remote's branches now tell what happened.
	now, lerr := r.branches(ctx)
	if lerr != nil {
		return r.fail("push", err)
	}
	landed := true
	for _, u := range updates {
		tip, ok := now[u.branch]
		if !ok || tip != u.new {
			landed = false
		}
		if (ok && tip != u.new && tip != u.old) || (!ok && !u.old.IsZero()) {
			return &movedError{branch: u.branch}
		}
	}
	if landed {
		return nil
	}
	return r.fail("push "+branchNames(updates), err)
}

func branchNames(updates []update) string {
	names := make([]string, len(updates))
	for i, u := range updates {
		names[i] = u.branch
	}
	return strings.Join(names, " and ")
}

func trackingRef(branch string) plumbing.ReferenceName {
	return plumbing.NewRemoteReferenceName(git.DefaultRemoteName, branch)
}

func dedupe(specs []config.RefSpec) []config.RefSpec {
	seen := map[config.RefSpec]bool{}
	out := specs[:0]
	for _, s := range specs {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// gitError is a failed call to a repository. Its message never holds the token; it
// matches ErrDenied, ErrTooLarge, berth.ErrNotFound and the context's errors, but does not
// unwrap to go-git's error, whose message may.
type gitError struct {
	msg   string
	kinds []error
}

func (e *gitError) Error() string   { return e.msg }
func (e *gitError) Unwrap() []error { return e.kinds }

// fail describes err, an error of go-git's while doing op, without the token.
func (r *remote) fail(op string, err error) error {
	var kinds []error
	switch {
	case errors.Is(err, transport.ErrAuthenticationRequired), errors.Is(err, transport.ErrAuthorizationFailed),
		errors.Is(err, transport.ErrInvalidAuthMethod):
		kinds = append(kinds, ErrDenied)
	case errors.Is(err, transport.ErrRepositoryNotFound):
		kinds = append(kinds, berth.ErrNotFound)
	case errors.Is(err, ErrTooLarge):
		kinds = append(kinds, ErrTooLarge)
	}
	for _, e := range []error{context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, e) {
			kinds = append(kinds, e)
		}
	}
	msg := oneLine(r.scrub(err.Error()))
	if len(msg) > maxErrorMessage {
		msg = strings.ToValidUTF8(msg[:maxErrorMessage], "") + "…"
	}
	return &gitError{msg: fmt.Sprintf("%s of %s: %s", op, r.remote.Config().URLs[0], msg), kinds: kinds}
}

// scrub removes the token from s, as it is and as it may be encoded in a request: a
// remote, or a proxy before it, may echo one back.
func (r *remote) scrub(s string) string {
	if r.token == "" {
		return s
	}
	for _, t := range []string{
		r.token,
		url.QueryEscape(r.token),
		url.PathEscape(r.token),
		base64.StdEncoding.EncodeToString([]byte("berth:" + r.token)),
	} {
		s = strings.ReplaceAll(s, t, "[token]")
	}
	return s
}

// oneLine puts a message on one line, without control characters.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n':
			return ' '
		case unicode.IsControl(r):
			return -1
		}
		return r
	}, strings.TrimSpace(s))
}
