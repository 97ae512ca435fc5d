package store

import (
	"errors"
	"fmt"
)

// Sentinel errors callers branch on; every error the store returns wraps at most one of
// them together with what was being done and to which record.
var (
	// ErrNotFound means a named record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the change collides with existing data: a duplicate name, or a
	// delete of a record others still refer to.
	ErrConflict = errors.New("conflict")
	// ErrInvalid means a value cannot be stored; the error is an *InvalidError.
	ErrInvalid = errors.New("invalid")

	// ErrTokenRevoked is returned by [Token.Check] for a revoked token.
	ErrTokenRevoked = errors.New("token revoked")
	// ErrTokenExpired is returned by [Token.Check] for an expired token.
	ErrTokenExpired = errors.New("token expired")
)

// InvalidError says which field holds an unacceptable value and why. It matches
// ErrInvalid with errors.Is.
type InvalidError struct {
	Field  string // e.g. "name", "namespace_template"
	Reason string // never contains a secret value
}

func (e *InvalidError) Error() string { return fmt.Sprintf("invalid %s: %s", e.Field, e.Reason) }

// Is reports whether target is ErrInvalid.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &InvalidError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// notFound says which kind of record with which key is missing.
func notFound(kind, key string) error {
	return fmt.Errorf("%s %q: %w", kind, key, ErrNotFound)
}
