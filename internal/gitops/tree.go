package gitops

import (
	"fmt"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/berth-dev/berth/internal/berth"
)

// The trees are written object by object rather than through a worktree: only the trees
// on the way to the app's directory change, nothing is checked out, and the same files
// give the same tree whatever was there before.

// replaceDir writes the tree that is root (zero: empty) with dir's content replaced by
// files (none: dir removed, and its parents when that empties them), and returns its hash.
func replaceDir(st storer.EncodedObjectStorer, root plumbing.Hash, dir string, files map[string][]byte) (plumbing.Hash, error) {
	var leaf plumbing.Hash
	if len(files) > 0 {
		entries := make([]object.TreeEntry, 0, len(files))
		for name, content := range files {
			h, err := writeObject(st, plumbing.BlobObject, func(o plumbing.EncodedObject) error {
				w, err := o.Writer()
				if err != nil {
					return err
				}
				if _, err := w.Write(content); err != nil {
					return err
				}
				return w.Close()
			})
			if err != nil {
				return plumbing.ZeroHash, err
			}
			entries = append(entries, object.TreeEntry{Name: name, Mode: filemode.Regular, Hash: h})
		}
		var err error
		if leaf, err = writeTree(st, entries); err != nil {
			return plumbing.ZeroHash, err
		}
	}
	h, err := replaceAt(st, root, strings.Split(dir, "/"), leaf, "")
	if err != nil || !h.IsZero() {
		return h, err
	}
	return writeTree(st, nil)
}

// replaceAt writes tree (zero: empty) with the entry at path set to the tree leaf (zero:
// removed). It returns the zero hash for a tree left empty, which its parent then drops:
// git keeps no empty directories. above is the path to tree, for errors.
func replaceAt(st storer.EncodedObjectStorer, tree plumbing.Hash, path []string, leaf plumbing.Hash, above string) (plumbing.Hash, error) {
	var entries []object.TreeEntry
	if !tree.IsZero() {
		t, err := object.GetTree(st, tree)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("read tree %s: %w", tree, err)
		}
		entries = slices.Clone(t.Entries)
	}
	name, here := path[0], above+path[0]
	i := slices.IndexFunc(entries, func(e object.TreeEntry) bool { return e.Name == name })
	sub := leaf
	if len(path) > 1 {
		var child plumbing.Hash
		if i >= 0 {
			if entries[i].Mode != filemode.Dir {
				// Replacing it would touch more than the app's directory.
				return plumbing.ZeroHash, fmt.Errorf("%w: %s is a file in the repository, not a directory", berth.ErrConflict, here)
			}
			child = entries[i].Hash
		}
		var err error
		if sub, err = replaceAt(st, child, path[1:], leaf, here+"/"); err != nil {
			return plumbing.ZeroHash, err
		}
	}
	if i >= 0 {
		entries = slices.Delete(entries, i, i+1)
	}
	if !sub.IsZero() {
		entries = append(entries, object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: sub})
	}
	if len(entries) == 0 {
		return plumbing.ZeroHash, nil
	}
	return writeTree(st, entries)
}

// writeTree writes a tree of entries, in git's order: by name, a directory's name taken
// as if it ended in "/".
func writeTree(st storer.EncodedObjectStorer, entries []object.TreeEntry) (plumbing.Hash, error) {
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	slices.SortFunc(entries, func(a, b object.TreeEntry) int { return strings.Compare(key(a), key(b)) })
	t := &object.Tree{Entries: entries}
	return writeObject(st, plumbing.TreeObject, func(o plumbing.EncodedObject) error { return t.Encode(o) })
}

// writeCommit writes a commit of tree with parents, by sig as author and committer.
func writeCommit(st storer.EncodedObjectStorer, tree plumbing.Hash, parents []plumbing.Hash, msg string, sig object.Signature) (plumbing.Hash, error) {
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	c := &object.Commit{Author: sig, Committer: sig, Message: msg, TreeHash: tree, ParentHashes: parents}
	return writeObject(st, plumbing.CommitObject, func(o plumbing.EncodedObject) error { return c.Encode(o) })
}

// writeObject stores the object encode writes.
func writeObject(st storer.EncodedObjectStorer, typ plumbing.ObjectType, encode func(plumbing.EncodedObject) error) (plumbing.Hash, error) {
	o := st.NewEncodedObject()
	o.SetType(typ)
	if err := encode(o); err != nil {
		return plumbing.ZeroHash, fmt.Errorf("encode %s: %w", typ, err)
	}
	h, err := st.SetEncodedObject(o)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("store %s: %w", typ, err)
	}
	return h, nil
}
