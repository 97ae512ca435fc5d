package berth

import (
	"errors"
	"fmt"
)

// Errors callers branch on. Every layer wraps at most one of them together with what was
// being done and to which record; the edges map them to HTTP statuses and exit codes.
var (
	// ErrNotFound means a named record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the change collides with existing data: a duplicate name, or a
	// delete of a record others still refer to.
	ErrConflict = errors.New("conflict")
	// ErrInvalid means a value is not acceptable; the error is an *InvalidError.
	ErrInvalid = errors.New("invalid")
	// ErrUnauthenticated means the request carries no valid API token.
	ErrUnauthenticated = errors.New("a valid API token is required")
	// ErrUnavailable means the server is not set up for the request: secrets without a
	// secrets key, or with the wrong one.
	ErrUnavailable = errors.New("unavailable")

	// ErrTokenRevoked is returned by [Token.Check] for a revoked token.
	ErrTokenRevoked = errors.New("token revoked")
	// ErrTokenExpired is returned by [Token.Check] for an expired token.
	ErrTokenExpired = errors.New("token expired")

	// ErrSessionEnded is returned by [Session.Check] for a session its user signed out of.
	ErrSessionEnded = errors.New("session ended")
	// ErrSessionExpired is returned by [Session.Check] for a session past its absolute
	// end or unused for too long.
	ErrSessionExpired = errors.New("session expired")

	// ErrLeaseLost means a worker no longer holds a job (a deploy, a backup...): its lease
	// expired and another worker may have claimed it. The worker must stop touching the job.
	ErrLeaseLost = errors.New("lease lost")
)

// InvalidError says which input field holds an unacceptable value and why. It matches
// ErrInvalid with errors.Is.
type InvalidError struct {
	Field  string // e.g. "name", "namespace_template"
	Reason string // never contains a secret value
}

func (e *InvalidError) Error() string { return e.Field + ": " + e.Reason }

// Is reports whether target is ErrInvalid.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

// Invalid returns an *InvalidError about field.
func Invalid(field, format string, args ...any) error {
	return &InvalidError{Field: field, Reason: fmt.Sprintf(format, args...)}
}
