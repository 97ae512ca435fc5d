package service

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Errors callers branch on; the API maps them to 401, 404 and 409.
var (
	ErrUnauthenticated = errors.New("a valid API token is required")
	ErrNotFound        = errors.New("not found")
	ErrConflict        = errors.New("already exists")
	// ErrUnavailable means the server is not set up for the request: secrets without a
	// secrets key, or with the wrong one. The API answers 503.
	ErrUnavailable = errors.New("unavailable")
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

// userName allows what SSO subjects commonly are (alice, alice.smith, ci-bot, alice@corp)
// while keeping names safe in URLs, audit targets and Kubernetes labels.
var userName = regexp.MustCompile(`^[a-z0-9]([a-z0-9._@-]{0,62}[a-z0-9])?$`)

func checkUserName(name string) error {
	if !userName.MatchString(name) || strings.Contains(name, "..") {
		return invalid("name", "%q must be 1-64 lower-case letters, digits, '.', '_', '@' or '-', starting and ending with a letter or digit", name)
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
