package manifest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"unicode/utf8"
)

// Limits on the files that files[].source names. They end up in the app's
// files ConfigMap, which Kubernetes caps at 1 MiB, and, inlined, in the
// manifest sent to the server, which Parse caps at maxFileSize: so one
// source, and a manifest's sources together, may have 1 MiB.
const (
	maxSourceSize  = 1 << 20 // bytes
	maxSourcesSize = 1 << 20 // bytes, every source of a manifest together
)

// sourceReader reads the files that files[].source names, the way LoadFile
// and InlineFile share: from the manifest's directory and below, never
// through a symlink out of it, regular files only, bounded in size. Each
// source is read once, however many environments mention it.
type sourceReader struct {
	ctx   context.Context
	dir   string
	root  *os.Root // opened on first use
	err   error    // why dir can't be opened
	read  map[string]*source
	total int64
}

// source is one source read, or why it was not.
type source struct {
	data      []byte
	msg, hint string // the problem, when data could not be read
}

func newSourceReader(ctx context.Context, dir string) *sourceReader {
	return &sourceReader{ctx: ctx, dir: dir, read: map[string]*source{}}
}

func (r *sourceReader) Close() {
	if r.root != nil {
		r.root.Close()
	}
}

// load replaces every files[].source of m and its environments with the
// content of the file it names: text as Content, anything that is not
// UTF-8 as BinaryContent, which is what it is to a ConfigMap (whose data
// must be UTF-8) and what InlineFile can write in YAML. Problems with a
// source are *Errors at the source; a context that ends is its error.
func (r *sourceReader) load(m *Manifest) error {
	errs := &errorList{}
	for _, mm := range append([]*Manifest{m}, envManifests(m)...) {
		for _, name := range sortedKeys(mm.Containers) {
			c := mm.Containers[name]
			for i := range c.Files {
				f := &c.Files[i]
				if f.Source == "" {
					continue
				}
				s, err := r.get(f.Source)
				if err != nil {
					return err
				}
				if s.msg != "" {
					errs.add(mm.errorAt(f.path+".source", s.msg, s.hint))
					continue
				}
				if utf8.Valid(s.data) {
					f.Content = string(s.data)
				} else {
					f.BinaryContent = s.data
				}
				f.Source = ""
			}
		}
	}
	return errs.err()
}

// get reads the source named src, as written in the manifest.
func (r *sourceReader) get(src string) (*source, error) {
	if s, ok := r.read[src]; ok {
		return s, nil
	}
	if err := r.ctx.Err(); err != nil {
		return nil, context.Cause(r.ctx)
	}
	s, err := r.readSource(src)
	if err != nil {
		return nil, err
	}
	if s.msg == "" {
		r.total += int64(len(s.data))
		if r.total > maxSourcesSize {
			s = &source{
				msg:  fmt.Sprintf("%s brings the sources to %d bytes; together they may have at most %d", quote(src), r.total, maxSourcesSize),
				hint: "they all go into one ConfigMap, and Kubernetes caps a ConfigMap at 1 MiB",
			}
		}
	}
	r.read[src] = s
	return s, nil
}

const sourceHint = "a source is a path relative to the manifest's directory, and inside it"

func (r *sourceReader) readSource(src string) (*source, error) {
	// Refused by name first, with the rule it breaks; os.Root would refuse
	// them too, less clearly.
	switch {
	case filepath.IsAbs(src) || strings.HasPrefix(src, "/"):
		return &source{msg: quote(src) + " is an absolute path; a source must be inside the manifest's directory", hint: sourceHint}, nil
	case !filepath.IsLocal(src):
		return &source{msg: quote(src) + " leads out of the manifest's directory; a source must be inside it", hint: sourceHint}, nil
	}
	if r.root == nil && r.err == nil {
		r.root, r.err = os.OpenRoot(r.dir)
	}
	if r.err != nil {
		return &source{msg: "can't read " + quote(src) + ": " + describeOpenError(r.err)}, nil
	}
	f, fi, err := openRegular(r.root.Stat, r.root.OpenFile, src)
	if err != nil {
		var nr *notRegularError
		if errors.As(err, &nr) {
			return &source{msg: quote(src) + " " + nr.Error() + "; a source must be a regular file"}, nil
		}
		if escapes(err) {
			return &source{msg: quote(src) + " leads out of the manifest's directory through a symlink; a source must be inside it",
				hint: "a symlink in a source must be relative and stay inside the manifest's directory"}, nil
		}
		return &source{msg: "can't read " + quote(src) + ": " + describeOpenError(err)}, nil
	}
	defer f.Close()
	tooBig := func(size int64) *source {
		return &source{
			msg:  fmt.Sprintf("%s is %d bytes; a source may have at most %d", quote(src), size, maxSourceSize),
			hint: "Kubernetes caps a ConfigMap at 1 MiB; ship big files in the image or a volume",
		}
	}
	if fi.Size() > maxSourceSize {
		return tooBig(fi.Size()), nil
	}
	data, err := readAll(r.ctx, f, fi.Size(), maxSourceSize+1)
	switch {
	case r.ctx.Err() != nil:
		return nil, context.Cause(r.ctx)
	case err != nil:
		return &source{msg: "can't read " + quote(src) + ": " + describeOpenError(err)}, nil
	case len(data) > maxSourceSize:
		return tooBig(int64(len(data))), nil // it grew since it was looked at
	}
	return &source{data: data}, nil
}

// escapes reports whether err is os.Root refusing a path that leads out of
// it. The names were checked before, so only a symlink gets there.
func escapes(err error) bool {
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		return false
	}
	// os.Root's error for it is not exported; any other is an errno.
	var errno syscall.Errno
	return !errors.As(pe.Err, &errno) && pe.Err.Error() == "path escapes from parent"
}

// describeOpenError is err without the path os adds, which the message
// names already.
func describeOpenError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
