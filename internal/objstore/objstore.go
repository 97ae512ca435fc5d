// Package objstore stores backup objects by name: in a local directory, or in an
// S3-compatible bucket through minio-go.
//
// Both stores take the same names, slash-separated relative paths such as
// shop/notes/production/17/db.dump, and behave alike: a Put is atomic (the object appears
// only once complete, and a failed Put leaves nothing under its name), a missing object is
// berth.ErrNotFound, and List returns names sorted, recursively under a prefix. Names with
// a segment beginning with ".berth-" are the stores' own (temporary files, Check's probes):
// they are refused as arguments and never listed.
package objstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/berth-dev/berth/internal/berth"
)

// MaxNameLen is the longest name in bytes (S3's limit on keys).
const MaxNameLen = 1024

// reserved begins the segments of the stores' own names.
const reserved = ".berth-"

// checkDir is where Check writes its probes.
const checkDir = reserved + "check"

// Object describes a stored object.
type Object struct {
	Name     string
	Size     int64
	Modified time.Time
}

// CheckName returns an error matching berth.ErrInvalid when name is not a valid object name.
func CheckName(name string) error {
	if name == "" {
		return berth.Invalid("object name", "an object name is required")
	}
	if err := checkPath("object name", name); err != nil {
		return err
	}
	for seg := range strings.SplitSeq(name, "/") {
		if err := checkSegment("object name", name, seg); err != nil {
			return err
		}
	}
	return nil
}

// checkPrefix returns an error matching berth.ErrInvalid when prefix cannot begin a name:
// its segments but the last, which may be partial, must be those of a name.
func checkPrefix(prefix string) error {
	if err := checkPath("prefix", prefix); err != nil {
		return err
	}
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		for seg := range strings.SplitSeq(prefix[:i], "/") {
			if err := checkSegment("prefix", prefix, seg); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkPath checks what applies to names and prefixes alike.
func checkPath(field, s string) error {
	switch {
	case len(s) > MaxNameLen:
		return berth.Invalid(field, "%.40q... is %d bytes long, more than %d", s, len(s), MaxNameLen)
	case !utf8.ValidString(s):
		return berth.Invalid(field, "%q is not UTF-8", s)
	case strings.ContainsAny(s, "\\\x00"):
		return berth.Invalid(field, "%q holds a backslash or a NUL byte", s)
	case strings.HasPrefix(s, "/"):
		return berth.Invalid(field, "%q begins with a slash: names are relative", s)
	}
	return nil
}

func checkSegment(field, s, seg string) error {
	switch {
	case seg == "":
		return berth.Invalid(field, "%q has an empty segment", s)
	case seg == "." || seg == "..":
		return berth.Invalid(field, "%q has a %q segment", s, seg)
	case strings.HasPrefix(seg, reserved):
		return berth.Invalid(field, "%q has a segment beginning with %q, which is reserved", s, reserved)
	}
	return nil
}

// ctxReader stops reading once ctx is done, so that a Put of a reader that never ends (or
// a slow one) is cancelled between reads.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// store is what Check needs of a store: its operations on names already checked, which
// may be reserved ones.
type store interface {
	put(ctx context.Context, name string, r io.Reader) (int64, error)
	open(ctx context.Context, name string) (io.ReadCloser, error)
	delete(ctx context.Context, name string) error
	String() string
}

// check writes, reads back and deletes a probe object under a new name in checkDir.
func check(ctx context.Context, s store) error {
	name := checkDir + "/" + rand.Text()
	probe := []byte("berth storage check " + name + "\n")
	if _, err := s.put(ctx, name, bytes.NewReader(probe)); err != nil {
		return fmt.Errorf("check %s: write a probe object: %w", s, err)
	}
	got, err := readAll(ctx, s, name, int64(len(probe)))
	if err == nil && !bytes.Equal(got, probe) {
		err = fmt.Errorf("it holds %d bytes that differ from the %d written", len(got), len(probe))
	}
	if err != nil {
		s.delete(ctx, name) // best effort: probes are never listed
		return fmt.Errorf("check %s: read the probe object back: %w", s, err)
	}
	if err := s.delete(ctx, name); err != nil {
		return fmt.Errorf("check %s: delete the probe object %s: %w", s, name, err)
	}
	return nil
}

// readAll reads the object name, of at most limit bytes.
func readAll(ctx context.Context, s store, name string, limit int64) ([]byte, error) {
	rc, err := s.open(ctx, name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, limit+1))
}
