package gitops

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"

	"github.com/berth-dev/berth/internal/berth"
)

// maxLog bounds the commits Log returns.
const maxLog = 1000

// Read returns the files of dir at branch's tip (its regular files; not its
// subdirectories) and the tip's sha. token may be "" for a public repository. A missing
// branch or directory is berth.ErrNotFound.
func (c *Client) Read(ctx context.Context, url, token, branch, dir string) (map[string][]byte, string, error) {
	if err := checkURL(url); err != nil {
		return nil, "", err
	}
	if err := checkBranch("branch", branch); err != nil {
		return nil, "", err
	}
	if err := checkDir(dir); err != nil {
		return nil, "", err
	}
	r := c.open(url, token)
	tip, err := r.tip(ctx, 1, branch)
	if err != nil {
		return nil, "", err
	}
	root, err := tip.Tree()
	if err != nil {
		return nil, "", fmt.Errorf("read %s at %s: %w", dir, branch, err)
	}
	tree, err := root.Tree(dir)
	if errors.Is(err, object.ErrDirectoryNotFound) || errors.Is(err, object.ErrEntryNotFound) {
		return nil, "", fmt.Errorf("read %s at %s: %w: no such directory", dir, branch, berth.ErrNotFound)
	}
	if err != nil {
		return nil, "", fmt.Errorf("read %s at %s: %w", dir, branch, err)
	}
	files := map[string][]byte{}
	for _, e := range tree.Entries {
		if e.Mode.IsFile() && e.Mode != filemode.Symlink {
			content, err := readBlob(r, e.Hash)
			if err != nil {
				return nil, "", fmt.Errorf("read %s/%s at %s: %w", dir, e.Name, branch, err)
			}
			files[e.Name] = content
		}
	}
	return files, tip.Hash.String(), nil
}

// Log returns the last n commits of branch, newest first, following first parents (a
// platform branch is a line of deploys; a merged pull request's commit is its second
// parent). A missing branch is berth.ErrNotFound.
func (c *Client) Log(ctx context.Context, url, token, branch string, n int) ([]CommitInfo, error) {
	if err := checkURL(url); err != nil {
		return nil, err
	}
	if err := checkBranch("branch", branch); err != nil {
		return nil, err
	}
	if n < 1 || n > maxLog {
		return nil, berth.Invalid("n", "want 1 to %d commits, not %d", maxLog, n)
	}
	r := c.open(url, token)
	commit, err := r.tip(ctx, n, branch)
	if err != nil {
		return nil, err
	}
	var log []CommitInfo
	for {
		log = append(log, CommitInfo{
			SHA:     commit.Hash.String(),
			Message: commit.Message,
			Author:  commit.Author.Name,
			Email:   commit.Author.Email,
			When:    commit.Author.When,
		})
		if len(log) == n || len(commit.ParentHashes) == 0 {
			return log, nil
		}
		parent, err := object.GetCommit(r.st, commit.ParentHashes[0])
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			return log, nil // the shallow clone's end: n commits of every line were asked
		}
		if err != nil {
			return nil, fmt.Errorf("log %s: %w", branch, err)
		}
		commit = parent
	}
}

// tip fetches the last depth commits of branch and returns its tip.
func (r *remote) tip(ctx context.Context, depth int, branch string) (*object.Commit, error) {
	tips, err := r.fetch(ctx, depth, branch)
	var moved *movedError
	if errors.As(err, &moved) {
		return nil, fmt.Errorf("branch %s: %w", branch, berth.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	h, ok := tips[branch]
	if !ok {
		return nil, fmt.Errorf("branch %s: %w", branch, berth.ErrNotFound)
	}
	commit, err := object.GetCommit(r.st, h)
	if err != nil {
		return nil, fmt.Errorf("read the tip of %s: %w", branch, err)
	}
	return commit, nil
}

func readBlob(r *remote, h plumbing.Hash) ([]byte, error) {
	b, err := object.GetBlob(r.st, h)
	if err != nil {
		return nil, err
	}
	rd, err := b.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return io.ReadAll(rd)
}
