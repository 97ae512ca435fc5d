package cli_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/cli"
)

// Server flags the engine cannot run with are usage errors, before anything starts.
func TestServerRefusesBadTunings(t *testing.T) {
	for _, args := range [][]string{
		{"server", "--deploy-timeout", "0s"},
		{"server", "--deploy-lease", "100ms"},
		{"server", "--workers", "-1"},
		{"server", "--probe-listen", ":9091"},
		{"server", "--probe-listen", "0.0.0.0:9091"},
		{"server", "--probe-listen", "10.89.0.1"},
		{"server", "--probe-url", "ftp://x"},
		{"server", "--platform-channel", "C1"},
	} {
		h := newHarness(t, false)
		h.f.RunServer = func(context.Context, *cli.ServerOptions) error {
			t.Errorf("%v: the server started", args)
			return nil
		}
		var ue *cli.UsageError
		if err := h.run(args...); !errors.As(err, &ue) || !strings.Contains(err.Error(), args[1]) {
			t.Errorf("%v: %v, want a usage error naming %s", args, err, args[1])
		}
	}
}
