package cli

import (
	"bytes"
	"io"
	"os"

	"golang.org/x/term"
)

// IOStreams are the only way commands read input and write output, so tests can capture
// them and output can differ between a terminal and a pipe.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	outTTY bool
}

// System returns the process's standard streams.
func System() *IOStreams {
	return &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr, outTTY: term.IsTerminal(int(os.Stdout.Fd()))}
}

// Test returns streams backed by buffers: stdin, stdout, stderr.
func Test() (*IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	in, out, errOut := &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut}, in, out, errOut
}

// IsTerminal reports whether standard output is a terminal (tables and progress bars)
// rather than a pipe (plain lines for scripts).
func (s *IOStreams) IsTerminal() bool { return s.outTTY }

// SetStdoutTTY makes standard output count as a terminal or as a pipe, for tests.
func (s *IOStreams) SetStdoutTTY(tty bool) { s.outTTY = tty }
