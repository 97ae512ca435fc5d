package manifest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// LoadFile reads and parses the manifest at path, then reads the files its
// containers take from a source path, relative to the manifest, into their
// content. Render never reads files itself, so it stays pure.
//
// Reading is bounded: the manifest must be a regular file of at most 1 MiB,
// checked before it is read, and a read that blocks ends when ctx does.
// A source must name a regular file inside the manifest's directory, after
// symlinks, of at most 1 MiB, and a manifest's sources together may have
// 1 MiB (they all go into one ConfigMap); anything else is an *Errors
// positioned at the source.
func LoadFile(ctx context.Context, path string) (*Manifest, error) {
	name := filepath.Base(path)
	data, err := readManifest(ctx, path, name)
	if err != nil {
		return nil, err
	}
	m, err := Parse(name, data)
	if err != nil {
		return nil, err
	}
	r := newSourceReader(ctx, filepath.Dir(path))
	defer r.Close()
	if err := r.load(m); err != nil {
		return nil, err
	}
	return m, nil
}

func envManifests(m *Manifest) []*Manifest {
	var out []*Manifest
	for _, name := range m.Environments() {
		out = append(out, m.envs[name])
	}
	return out
}

// readManifest reads the manifest at path, named name in errors. A file over
// maxFileSize is refused from its size alone, so a huge one costs nothing;
// what is read goes through a limit anyway, since a file can grow between
// the check and the read (Parse then refuses it).
func readManifest(ctx context.Context, path, name string) ([]byte, error) {
	f, fi, err := openRegular(os.Stat, os.OpenFile, path)
	if err != nil {
		var nr *notRegularError
		if errors.As(err, &nr) {
			return nil, &fs.PathError{Op: "read", Path: path, Err: nr}
		}
		return nil, err
	}
	defer f.Close()
	if fi.Size() > maxFileSize {
		errs := &errorList{}
		errs.add(Error{File: name, Msg: fmt.Sprintf("file is %d bytes; a manifest may have at most %d", fi.Size(), maxFileSize)})
		return nil, errs.err()
	}
	data, err := readAll(ctx, f, fi.Size(), maxFileSize+1)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: path, Err: err}
	}
	return data, nil
}

// openFlags open a file for reading without blocking, whatever it turns out
// to be: opening a named pipe with no writer would otherwise wait for one
// for ever, and a terminal would become the process's controlling terminal.
const openFlags = os.O_RDONLY | syscall.O_NONBLOCK | syscall.O_NOCTTY

// openRegular opens name for reading if it is a regular file, and returns
// what it is. The file is looked at before it is opened, so that no pipe or
// device is ever opened on purpose, and again once it is open, in case it
// was swapped in between. stat and open are os's or an os.Root's.
func openRegular(stat func(string) (fs.FileInfo, error), open func(string, int, fs.FileMode) (*os.File, error), name string) (*os.File, fs.FileInfo, error) {
	// A failed stat is left for open to report, as it always has.
	if fi, err := stat(name); err == nil && !fi.Mode().IsRegular() {
		return nil, nil, &notRegularError{mode: fi.Mode()}
	}
	f, err := open(name, openFlags, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = &notRegularError{mode: fi.Mode()}
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// notRegularError is a file that is there but is no regular file.
type notRegularError struct {
	mode fs.FileMode
}

func (e *notRegularError) Error() string {
	var what string
	switch t := e.mode.Type(); {
	case t&fs.ModeDir != 0:
		what = "a directory"
	case t&fs.ModeNamedPipe != 0:
		what = "a named pipe (FIFO)"
	case t&fs.ModeSocket != 0:
		what = "a socket"
	case t&fs.ModeDevice != 0:
		what = "a device"
	default:
		return "not a regular file"
	}
	return "is " + what + ", not a regular file"
}

// readAll reads r to its end, or to limit bytes; size is what the file says
// it has, to read it into one buffer. A read that blocks (a stuck network
// mount, a pipe that got past openRegular) ends when ctx does: it is left
// to finish in the background, and what it reads is dropped.
func readAll(ctx context.Context, r io.Reader, size, limit int64) ([]byte, error) {
	if ctx.Done() == nil {
		return readLimit(r, size, limit)
	}
	if err := ctx.Err(); err != nil {
		return nil, context.Cause(ctx)
	}
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1)
	go func() {
		data, err := readLimit(r, size, limit)
		done <- result{data, err}
	}()
	select {
	case res := <-done:
		return res.data, res.err
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

func readLimit(r io.Reader, size, limit int64) ([]byte, error) {
	// One more byte than the file has, so that its end is seen without
	// growing the buffer.
	b := make([]byte, 0, max(0, min(size, limit-1))+1)
	lr := io.LimitReader(r, limit)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := lr.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}
