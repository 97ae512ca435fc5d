package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/berth"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/service"
)

// Error is what a client sees of a failed request: {code, message, field}. Anything else
// about the failure goes to the server log only.
type Error struct {
	Status  int
	Code    string
	Message string
	Field   string
	// RequestID lets an operator find the log line of an internal error.
	RequestID string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

func errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// toAPIError maps an error from the service to what the client sees; the bool says whether
// it was expected (a 4xx) or must be logged as a server fault.
func toAPIError(err error) (*Error, bool) {
	var ae *Error
	var denied *authz.Denied
	var invalid *berth.InvalidError
	var unconfirmed *service.ConfirmationRequired
	switch {
	case errors.As(err, &ae):
		return ae, true
	case errors.As(err, &unconfirmed):
		return &Error{Status: http.StatusBadRequest, Code: "confirmation_required", Message: unconfirmed.Error()}, true
	case errors.As(err, &denied):
		return &Error{Status: http.StatusForbidden, Code: "forbidden", Message: denied.Reason}, true
	case errors.As(err, &invalid):
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Message: invalid.Reason, Field: invalid.Field}, true
	case errors.Is(err, berth.ErrInvalid):
		return &Error{Status: http.StatusBadRequest, Code: "invalid", Message: err.Error()}, true
	case errors.Is(err, service.ErrBodyTooLarge):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: "too_large", Message: err.Error()}, true
	case errors.Is(err, berth.ErrUnauthenticated):
		return &Error{Status: http.StatusUnauthorized, Code: "unauthenticated", Message: err.Error()}, true
	case errors.Is(err, berth.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Code: "not_found", Message: err.Error()}, true
	case errors.Is(err, berth.ErrConflict):
		return &Error{Status: http.StatusConflict, Code: "conflict", Message: err.Error()}, true
	case errors.Is(err, berth.ErrUnavailable):
		return &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: err.Error()}, true
	}
	return &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error"}, false
}

// writeError writes err as JSON; server faults are logged with the request id, and the
// client gets only that id.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	ae, expected := toAPIError(err)
	ae.RequestID = requestID(r.Context())
	if !expected {
		log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path,
			"request_id", ae.RequestID, "err", err)
	}
	if ae.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="berth"`)
	}
	writeJSON(w, ae.Status, apiv1.Error{Code: ae.Code, Message: ae.Message, Field: ae.Field, RequestID: ae.RequestID})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
