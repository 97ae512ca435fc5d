package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/berth-dev/berth/internal/berth"
)

// tmpPrefix begins the names of the temporary files of Puts in progress (or crashed).
const tmpPrefix = reserved + "tmp-"

// Dir stores objects as files under a directory: an object's name is its path there.
// Files are made 0600 and directories 0700. A name cannot be both an object and a
// directory of others (a and a/b), as it can in S3.
type Dir struct {
	root string // absolute
}

// NewDir returns the store of the directory path, creating it (0700) if missing.
func NewDir(path string) (*Dir, error) {
	if path == "" {
		return nil, errors.New("backup directory: a path is required")
	}
	root, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("backup directory %s: %w", path, err)
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("backup directory: %w", err)
	}
	return &Dir{root: root}, nil
}

// String describes the store for messages: "directory /path".
func (d *Dir) String() string { return "directory " + d.root }

func (d *Dir) path(name string) string { return filepath.Join(d.root, filepath.FromSlash(name)) }

// Put stores what r yields as the object name, replacing any, and returns its size. The
// object appears whole or not at all: it is written to a temporary file beside, synced,
// and renamed over name.
func (d *Dir) Put(ctx context.Context, name string, r io.Reader) (int64, error) {
	if err := CheckName(name); err != nil {
		return 0, err
	}
	n, err := d.put(ctx, name, r)
	if err != nil {
		return 0, fmt.Errorf("put %s in %s: %w", name, d, err)
	}
	return n, nil
}

func (d *Dir) put(ctx context.Context, name string, r io.Reader) (n int64, err error) {
	path := d.path(name)
	dir := filepath.Dir(path)
	var f *os.File
	// A Delete removes the directories it empties: one may go between MkdirAll and
	// CreateTemp, then make it again.
	for range 3 {
		if err = os.MkdirAll(dir, 0o700); err != nil {
			return 0, err
		}
		if f, err = os.CreateTemp(dir, tmpPrefix+"*"); !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if n, err = io.Copy(f, ctxReader{ctx, r}); err != nil {
		return 0, err
	}
	if err = f.Sync(); err != nil {
		return 0, err
	}
	if err = f.Close(); err != nil {
		return 0, err
	}
	if err = ctx.Err(); err != nil {
		return 0, err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return 0, err
	}
	// The rename lasts once the directory holding it is synced.
	return n, syncDir(dir)
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// Open returns a reader of the object name; a missing object is berth.ErrNotFound.
func (d *Dir) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := CheckName(name); err != nil {
		return nil, err
	}
	rc, err := d.open(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("open %s in %s: %w", name, d, err)
	}
	return rc, nil
}

func (d *Dir) open(_ context.Context, name string) (io.ReadCloser, error) {
	f, err := os.Open(d.path(name))
	if err != nil {
		return nil, notFound(err)
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		if err != nil {
			return nil, err
		}
		return nil, berth.ErrNotFound // a directory of other objects
	}
	return f, nil
}

// notFound maps a missing file, or a file in place of one of its directories, to
// berth.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return berth.ErrNotFound
	}
	return err
}

// Stat describes the object name; a missing object is berth.ErrNotFound.
func (d *Dir) Stat(ctx context.Context, name string) (Object, error) {
	if err := CheckName(name); err != nil {
		return Object{}, err
	}
	fi, err := os.Stat(d.path(name))
	if err == nil && !fi.Mode().IsRegular() {
		err = berth.ErrNotFound
	}
	if err != nil {
		return Object{}, fmt.Errorf("stat %s in %s: %w", name, d, notFound(err))
	}
	return Object{Name: name, Size: fi.Size(), Modified: fi.ModTime()}, nil
}

// Delete removes the object name, and the directories that it leaves empty; a missing
// object is no error.
func (d *Dir) Delete(ctx context.Context, name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	if err := d.delete(ctx, name); err != nil {
		return fmt.Errorf("delete %s in %s: %w", name, d, err)
	}
	return nil
}

func (d *Dir) delete(_ context.Context, name string) error {
	path := d.path(name)
	fi, err := os.Lstat(path)
	if err != nil {
		if errors.Is(notFound(err), berth.ErrNotFound) {
			return nil
		}
		return err
	}
	if fi.IsDir() {
		return nil // not an object
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for dir := filepath.Dir(path); dir != d.root; dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			break // not empty, or in use by a Put
		}
	}
	return nil
}

// List returns the objects whose names begin with prefix, sorted by name.
func (d *Dir) List(ctx context.Context, prefix string) ([]Object, error) {
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	objects, err := d.list(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("list %q in %s: %w", prefix, d, err)
	}
	return objects, nil
}

func (d *Dir) list(ctx context.Context, prefix string) ([]Object, error) {
	// Walk only the directory that the prefix's whole segments name.
	start := d.root
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		start = d.path(prefix[:i])
	}
	var objects []Object
	err := filepath.WalkDir(start, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if path == start && errors.Is(notFound(err), berth.ErrNotFound) {
				return fs.SkipAll // nothing under the prefix
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if path == d.root {
			return nil
		}
		rel, err := filepath.Rel(d.root, path)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		if e.IsDir() {
			if path != start && (strings.HasPrefix(e.Name(), reserved) ||
				!strings.HasPrefix(name+"/", prefix) && !strings.HasPrefix(prefix, name+"/")) {
				return fs.SkipDir
			}
			return nil
		}
		// Temporary files, files of odd names and anything but regular files are not objects.
		if !e.Type().IsRegular() || !strings.HasPrefix(name, prefix) || CheckName(name) != nil {
			return nil
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted meanwhile
		}
		if err != nil {
			return err
		}
		objects = append(objects, Object{Name: name, Size: fi.Size(), Modified: fi.ModTime()})
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The walk's order puts a/b before a.b, unlike S3's order of names.
	slices.SortFunc(objects, func(a, b Object) int { return strings.Compare(a.Name, b.Name) })
	return objects, nil
}

// Check verifies that the directory is writable, by writing, reading back and deleting
// a probe object.
func (d *Dir) Check(ctx context.Context) error { return check(ctx, d) }
