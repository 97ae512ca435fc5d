package cli

import (
	"errors"
	"strconv"
	"strings"
)

// UsageError is a mistake in how a command was called (unknown flag, wrong arguments); main
// exits 2 for it, and 1 for every other error.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// asUsageError types cobra's own argument and command errors, which are untyped strings.
func asUsageError(err error) error {
	if err == nil {
		return nil
	}
	var ue *UsageError
	if errors.As(err, &ue) {
		return err
	}
	msg := err.Error()
	for _, prefix := range []string{"unknown command", "unknown flag", "unknown shorthand flag",
		"accepts ", "requires at least", "requires at most", "requires exactly", "invalid argument",
		"flag needs an argument", "bad flag syntax", "required flag"} {
		if strings.HasPrefix(msg, prefix) {
			return &UsageError{Err: err}
		}
	}
	return err
}

// ExitError ends the command with Code after the command has already told the user why
// (for example, every problem in a manifest, one per line); main prints nothing more.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return "exit status " + strconv.Itoa(e.Code) }
