package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strconv"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/seal"
)

// How a part is stored
//
// A part is the dump of one resource, sealed as a stream (seal.EncryptStream) under the
// backup key with additional data naming the backup and the resource, so a part copied
// into another backup, or swapped with another resource's, fails to open. Its SHA-256 is of
// the stored bytes: a damaged object is found by name before anything is decrypted from
// it, and the seal catches the rest chunk by chunk, so a restore never consumes a byte that
// was not as written. The encryption is deterministic: the same data in the same backup is
// stored as the same bytes in any store.

// objectName is where part resource of backup b is stored.
func objectName(b berth.Backup, resource string) string {
	return fmt.Sprintf("%s/%s/%s/%d/%s.dump", b.Team, b.App, b.Env, b.ID, resource)
}

// partAAD binds a part's seal to its backup and resource.
func partAAD(backupID int64, resource string) []byte {
	return []byte("berth backup part\x00" + strconv.FormatInt(backupID, 10) + "\x00" + resource)
}

// hashingWriter counts and hashes what passes to w.
type hashingWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (hw *hashingWriter) Write(p []byte) (int, error) {
	n, err := hw.w.Write(p)
	hw.h.Write(p[:n])
	hw.n += int64(n)
	return n, err
}

// writePart stores what dump writes as part resource of backup b, and returns the part
// (without its tables, which the dump gives).
func writePart(ctx context.Context, objects Objects, key *seal.Key, b berth.Backup, resource, typ string,
	dump func(w io.Writer) ([]berth.TableSum, error)) (berth.BackupPart, error) {
	part := berth.BackupPart{Resource: resource, Type: typ, Object: objectName(b, resource)}
	pr, pw := io.Pipe()
	hw := &hashingWriter{w: pw, h: sha256.New()}
	done := make(chan error, 1)
	go func() {
		enc := key.EncryptStream(hw, partAAD(b.ID, resource))
		tables, err := dump(enc)
		if err == nil {
			err = enc.Close()
		}
		part.Tables = tables
		pw.CloseWithError(err)
		done <- err
	}()
	size, putErr := objects.Put(ctx, part.Object, pr)
	pr.CloseWithError(errStoreStopped)
	dumpErr := <-done
	switch {
	case dumpErr != nil && !errors.Is(dumpErr, errStoreStopped):
		return part, fmt.Errorf("dump %s: %w", resource, dumpErr)
	case putErr != nil:
		// The store's own error, not the dump's complaint that it stopped reading.
		return part, fmt.Errorf("store %s in %s: %w", part.Object, objects, putErr)
	case dumpErr != nil:
		return part, fmt.Errorf("dump %s: %w", resource, dumpErr)
	case size != hw.n:
		return part, fmt.Errorf("store %s in %s: stored %d bytes of %d", part.Object, objects, size, hw.n)
	}
	part.Size, part.SHA256 = hw.n, hex.EncodeToString(hw.h.Sum(nil))
	return part, nil
}

// errStoreStopped is what a dump's writes get once the store stopped reading.
var errStoreStopped = errors.New("the backup store stopped reading")

// PartError says which part of a backup failed to read back, and why.
type PartError struct {
	BackupID int64
	Part     string
	Object   string
	Err      error
}

func (e *PartError) Error() string {
	return fmt.Sprintf("backup %d, part %s (%s): %v", e.BackupID, e.Part, e.Object, e.Err)
}

func (e *PartError) Unwrap() error { return e.Err }

// ErrDamaged means a stored part is not what was written.
var ErrDamaged = errors.New("the stored part is damaged")

// readPart returns the plaintext of part p of backup b, checked as it is read: the
// reader fails (with a *PartError) on the first chunk that fails its seal, and at the end
// when the stored bytes' size or SHA-256 differ from what the backup recorded.
func readPart(ctx context.Context, objects Objects, key *seal.Key, b berth.Backup, p berth.BackupPart) (io.ReadCloser, error) {
	perr := func(err error) error { return &PartError{BackupID: b.ID, Part: p.Resource, Object: p.Object, Err: err} }
	rc, err := objects.Open(ctx, p.Object)
	if err != nil {
		return nil, perr(err)
	}
	hr := &hashingReader{r: rc, h: sha256.New(), want: p}
	dec := key.Named("backup").DecryptStream(hr, partAAD(b.ID, p.Resource))
	return &partReader{r: dec, hr: hr, closer: rc, perr: perr}, nil
}

// hashingReader hashes what it reads and, at EOF, checks it against the part.
type hashingReader struct {
	r    io.Reader
	h    hash.Hash
	n    int64
	want berth.BackupPart
}

func (hr *hashingReader) Read(p []byte) (int, error) {
	n, err := hr.r.Read(p)
	hr.h.Write(p[:n])
	hr.n += int64(n)
	if err == io.EOF {
		if hr.n != hr.want.Size {
			return n, fmt.Errorf("%w: it is %d bytes, the backup wrote %d", ErrDamaged, hr.n, hr.want.Size)
		}
		if got := hex.EncodeToString(hr.h.Sum(nil)); got != hr.want.SHA256 {
			return n, fmt.Errorf("%w: its SHA-256 is %s, the backup wrote %s", ErrDamaged, got, hr.want.SHA256)
		}
	}
	return n, err
}

// partReader reads a part's plaintext, naming the part in its errors.
type partReader struct {
	r      io.Reader
	hr     *hashingReader
	closer io.Closer
	perr   func(error) error
}

func (pr *partReader) Read(p []byte) (int, error) {
	n, err := pr.r.Read(p)
	if err != nil && err != io.EOF {
		if errors.Is(err, seal.ErrAuth) {
			err = fmt.Errorf("%w: %v", ErrDamaged, err)
		}
		return n, pr.perr(err)
	}
	if err == io.EOF {
		// The stream ended where its seal says: the rest of the object, if any, is
		// damage too, and the hash says so.
		if _, cerr := io.Copy(io.Discard, pr.hr); cerr != nil {
			return n, pr.perr(cerr)
		}
	}
	return n, err
}

func (pr *partReader) Close() error { return pr.closer.Close() }
