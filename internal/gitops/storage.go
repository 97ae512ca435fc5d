package gitops

import (
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/memory"
)

// boundedStorage is go-git's memory storage refusing objects once their total size
// (uncompressed) is over max. go-git stores each whole object of a fetched pack as it
// parses it, so the bound stops a clone as it grows rather than after. It is not exact:
// the object being parsed, the deltas go-git holds until the pack's end (counted only as
// they are resolved) and its cache of delta bases may go past it. Good enough to refuse a
// repository that is not a platform repository, which is what it is for.
type boundedStorage struct {
	*memory.Storage
	max, size int64
}

// SetEncodedObject stores obj, unless that takes the storage over its bound.
func (s *boundedStorage) SetEncodedObject(obj plumbing.EncodedObject) (plumbing.Hash, error) {
	if err := s.HasEncodedObject(obj.Hash()); err == nil {
		return obj.Hash(), nil
	}
	if s.size+obj.Size() > s.max {
		return plumbing.ZeroHash, fmt.Errorf("%w: its objects are over %d bytes", ErrTooLarge, s.max)
	}
	s.size += obj.Size()
	return s.Storage.SetEncodedObject(obj)
}
