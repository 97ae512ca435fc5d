// Package gitops commits rendered objects to a platform repository: one branch per
// environment, one directory per app, one commit per deploy, pushed over HTTP(S) with a
// token. It works on a shallow clone held in memory and knows nothing of Berth's store or
// engine: its callers say what to commit where.
package gitops

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/berth-dev/berth/internal/berth"
)

// DefaultMaxBytes bounds what one call holds in memory when Client.MaxBytes is 0.
const DefaultMaxBytes = 200 << 20

// attempts is how many times Publish clones, commits and pushes when the branch it pushes
// to keeps moving under it (another deploy pushing to the same environment).
const attempts = 4

// attemptTimeout bounds one clone-commit-push, unless the caller's context is shorter: a
// remote that stops answering must not hold a deploy forever.
const attemptTimeout = 2 * time.Minute

// Errors callers branch on, besides berth.ErrInvalid (a bad input), berth.ErrNotFound (no
// such repository, branch or directory) and berth.ErrConflict (the branch kept moving, or
// the app's directory is blocked by a file).
var (
	// ErrDenied means the remote refused the token: wrong, expired, or without the right to
	// read or push. Retrying will not help.
	ErrDenied = errors.New("the repository refused the token")
	// ErrTooLarge means the clone grew over the Client's MaxBytes.
	ErrTooLarge = errors.New("the repository is too large to clone")
)

// Client publishes to and reads from platform repositories. Its zero value is ready to use.
// A Client holds no connection: every call clones afresh, so it is safe for concurrent use.
type Client struct {
	// Now dates the commits; nil is time.Now.
	Now func() time.Time
	// MaxBytes bounds the objects one call holds in memory, uncompressed: those fetched
	// and those made. 0 is DefaultMaxBytes.
	MaxBytes int64

	// beforePush, when set, is called before each attempt's push: tests move the branch
	// there to make Publish race deterministically.
	beforePush func(attempt int)
}

// Change is one deploy's objects, to be committed.
type Change struct {
	// URL is the repository's http(s) clone URL, without credentials; Token may push to it
	// (sent as the password of HTTP basic auth, which Gitea and GitHub both take).
	URL, Token string
	// Base is the environment's branch, e.g. "staging". When missing it is made, from
	// nothing: its first commit has no parent.
	Base string
	// Branch is where the commit is pushed: Base itself ("" means Base), or a branch of its
	// own for a pull request, e.g. "berth/production/deploy-42", made from Base's tip. Berth
	// owns such a branch: a retry resets it to Base's tip plus this change, force-pushing.
	Branch string
	// Dir is the app's directory, e.g. "shop/web". Its content becomes Files exactly: files
	// no longer rendered and any subdirectory are deleted, and no Files deletes Dir itself.
	// Nothing outside Dir is touched.
	Dir string
	// Files maps a file name (no slashes) to its content.
	Files map[string][]byte
	// Message is the commit message. Its first line identifies the deploy, e.g. "deploy 42:
	// shop/web revision 7 to staging by alice": Publish relies on that to be idempotent.
	Message string
	// Author and Email name the commit's author and committer. Email may be empty.
	Author, Email string
}

// Result is what Publish did.
type Result struct {
	// Commit is the sha of the commit Branch's tip now holds the change in.
	Commit string
	// Created: Publish pushed a new commit. It did not when Branch's tip already was this
	// change (a retry after a crash), or when the files were already so (Unchanged).
	Created bool
	// Unchanged: Base's tip already held exactly these files in Dir, so no commit was made
	// and Branch was not pushed; Commit is Base's tip. Berth makes no empty commits: a
	// GitOps controller has nothing to apply, and a pull request would show no change.
	Unchanged bool
}

// CommitInfo is one commit of a branch's history.
type CommitInfo struct {
	SHA     string
	Message string
	Author  string
	Email   string
	When    time.Time
}

// Publish commits c's files to c.Dir on c.Branch and pushes it.
//
// It is idempotent so that a deploy resumed after a crash may call it again: when
// Branch's tip commit has the same first message line as c.Message, Publish returns that
// commit with Created false and pushes nothing. Only the tip is compared: once another
// deploy has committed on top, the change is committed again.
//
// When another push moves the branch between the clone and the push, Publish starts over,
// up to 4 attempts in all; then it fails with berth.ErrConflict. A push that failed on the
// way but landed is taken as done.
func (c *Client) Publish(ctx context.Context, ch Change) (Result, error) {
	if ch.Branch == "" {
		ch.Branch = ch.Base
	}
	if err := ch.validate(); err != nil {
		return Result{}, err
	}
	for attempt := 1; ; attempt++ {
		res, err := c.publishOnce(ctx, ch, attempt)
		var moved *movedError
		if !errors.As(err, &moved) {
			return res, err
		}
		if attempt == attempts {
			return Result{}, fmt.Errorf("publish %s to %s: %w: %s moved during each of %d attempts", ch.Dir, ch.Branch, berth.ErrConflict, moved.branch, attempts)
		}
		// Jitter, so that deploys racing for a branch do not collide again in step.
		wait := time.Duration(50+rand.IntN(200*attempt)) * time.Millisecond
		select {
		case <-ctx.Done():
			return Result{}, fmt.Errorf("publish %s to %s: %w", ch.Dir, ch.Branch, ctx.Err())
		case <-time.After(wait):
		}
	}
}

// publishOnce is one clone-commit-push. A *movedError says a branch moved under it.
func (c *Client) publishOnce(ctx context.Context, ch Change, attempt int) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	r := c.open(ch.URL, ch.Token)
	tips, err := r.fetch(ctx, 1, ch.Base, ch.Branch)
	if err != nil {
		return Result{}, err
	}
	baseTip, baseFound := tips[ch.Base]
	branchTip, branchFound := tips[ch.Branch]

	if branchFound {
		tip, err := object.GetCommit(r.st, branchTip)
		if err != nil {
			return Result{}, fmt.Errorf("read the tip of %s: %w", ch.Branch, err)
		}
		if firstLine(tip.Message) == firstLine(ch.Message) {
			return Result{Commit: tip.Hash.String()}, nil
		}
	}

	sig := object.Signature{Name: ch.Author, Email: ch.Email, When: c.now()}
	var updates []update
	var parent *object.Commit
	switch {
	case baseFound:
		if parent, err = object.GetCommit(r.st, baseTip); err != nil {
			return Result{}, fmt.Errorf("read the tip of %s: %w", ch.Base, err)
		}
	case ch.Branch != ch.Base:
		// A pull request needs a base to merge into: start Base empty, so that the pull
		// request shows the whole change.
		empty, err := writeTree(r.st, nil)
		if err != nil {
			return Result{}, err
		}
		start, err := writeCommit(r.st, empty, nil, "Start "+ch.Base+"\n", sig)
		if err != nil {
			return Result{}, err
		}
		if parent, err = object.GetCommit(r.st, start); err != nil {
			return Result{}, err
		}
		updates = append(updates, update{branch: ch.Base, new: start})
	}

	var root plumbing.Hash
	var parents []plumbing.Hash
	if parent != nil {
		root, parents = parent.TreeHash, []plumbing.Hash{parent.Hash}
	}
	tree, err := replaceDir(r.st, root, ch.Dir, ch.Files)
	if err != nil {
		return Result{}, err
	}
	if baseFound && tree == parent.TreeHash {
		return Result{Commit: parent.Hash.String(), Unchanged: true}, nil
	}
	commit, err := writeCommit(r.st, tree, parents, ch.Message, sig)
	if err != nil {
		return Result{}, err
	}
	updates = append(updates, update{branch: ch.Branch, old: branchTip, new: commit})
	if c.beforePush != nil {
		c.beforePush(attempt)
	}
	if err := r.push(ctx, updates); err != nil {
		return Result{}, err
	}
	return Result{Commit: commit.String(), Created: true}, nil
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) maxBytes() int64 {
	if c.MaxBytes > 0 {
		return c.MaxBytes
	}
	return DefaultMaxBytes
}

// firstLine is the line of a commit message that identifies a deploy.
func firstLine(msg string) string {
	line, _, _ := strings.Cut(msg, "\n")
	return strings.TrimSpace(line)
}
