package service

import (
	"context"
	"errors"
	"fmt"
	"regexp"
)

// Errors callers branch on; the API maps them to 401, 404 and 409.
var (
	ErrUnauthenticated = errors.New("a valid API token is required")
	ErrNotFound        = errors.New("not found")
	ErrConflict        = errors.New("already exists")
)

// ValidationError says which input field is wrong and how; the API answers 400.
type ValidationError struct {
	Field string
	Msg   string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Msg }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// checkName enforces DNS-1123 labels for names that become parts of Kubernetes names.
func checkName(field, name string) error {
	switch {
	case name == "":
		return invalid(field, "required")
	case len(name) > 63:
		return invalid(field, "%q is longer than 63 characters", name)
	case !dnsLabel.MatchString(name):
		return invalid(field, "%q must be lower-case letters, digits and '-', starting and ending with a letter or digit", name)
	}
	return nil
}

type requestIDKey struct{}

// WithRequestID stores the request id that audit events record.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}
