package service

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/berth-dev/berth/internal/berth"
)

func invalid(field, format string, args ...any) error { return berth.Invalid(field, format, args...) }

// refused is a conflict whose message says what stands in the way and what to do; it
// matches berth.ErrConflict.
func refused(format string, args ...any) error {
	return &conflictError{msg: fmt.Sprintf(format, args...)}
}

type conflictError struct{ msg string }

func (e *conflictError) Error() string        { return e.msg }
func (e *conflictError) Is(target error) bool { return target == berth.ErrConflict }

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
