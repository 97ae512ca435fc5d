package cli_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/apiclient/apiclienttest"
	"github.com/berth-dev/berth/internal/cli"
)

// harness runs berth's commands through a Factory whose API client talks to a fake
// server, with buffers for streams. Every request a test expects must come, and no other.
type harness struct {
	api             *apiclienttest.Server
	f               *cli.Factory
	in, out, errOut *bytes.Buffer
}

// newHarness returns a harness whose standard output is a terminal (tty) or a pipe.
func newHarness(t *testing.T, tty bool) *harness {
	t.Helper()
	s, in, out, errOut := cli.Test()
	s.SetStdoutTTY(tty)
	api := apiclienttest.New(t)
	f := &cli.Factory{IO: s, APIClient: api.Client,
		ConfigPath: func() (string, error) { return "", errors.New("tests have no login file") }}
	return &harness{api: api, f: f, in: in, out: out, errOut: errOut}
}

// run runs `berth args...` as main would, and returns its error.
func (h *harness) run(args ...string) error {
	return cli.Execute(context.Background(), h.f, args)
}

// wantOutput compares what the command printed to standard output and to standard error.
func (h *harness) wantOutput(t *testing.T, stdout, stderr string) {
	t.Helper()
	if diff := cmp.Diff(stdout, h.out.String()); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(stderr, h.errOut.String()); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
}

// wantExit checks the error a command ended with: its message, and whether main would
// exit 2 (a usage mistake) or 1.
func wantExit(t *testing.T, err error, msg string, usage bool) {
	t.Helper()
	var ue *cli.UsageError
	switch {
	case err == nil:
		t.Fatalf("no error, want %q", msg)
	case err.Error() != msg:
		t.Errorf("error %q, want %q", err, msg)
	case errors.As(err, &ue) != usage:
		t.Errorf("error %q (%T): usage error %v, want %v", err, err, !usage, usage)
	}
}

// wantExitCode checks that a command ended with an ExitError of code, having already
// said why.
func wantExitCode(t *testing.T, err error, code int) {
	t.Helper()
	var ee *cli.ExitError
	if !errors.As(err, &ee) || ee.Code != code {
		t.Errorf("error %v, want exit code %d", err, code)
	}
}
