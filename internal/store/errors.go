package store

import (
	"fmt"

	"github.com/berth-dev/berth/internal/berth"
)

func invalid(field, format string, args ...any) error {
	return &berth.InvalidError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// notFound says which kind of record with which key is missing.
func notFound(kind, key string) error {
	return fmt.Errorf("%s %q: %w", kind, key, berth.ErrNotFound)
}
