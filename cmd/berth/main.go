// Command berth is the single binary of Berth: CLI, server and local development tools.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/berth-dev/berth/internal/cli"
)

func main() {
	s := cli.System()
	ctx, stop := interruptible(s, len(os.Args) > 1 && os.Args[1] == "server")
	f := cli.NewFactory(s)
	f.RunServer, f.RotateKey = runServer, rotateKey
	err := cli.Execute(ctx, f, os.Args[1:])
	stop()
	os.Exit(exitCode(err, s))
}

// interruptGrace is how long a command gets to end by itself after Ctrl-C or SIGTERM.
const interruptGrace = time.Second

// interruptible returns a context that Ctrl-C (SIGINT) and SIGTERM end. A command that does
// not end within interruptGrace — one blocked reading a terminal or pipe — is ended with
// exit code 130, and so is any command at a second signal. The server drains its requests
// for its own --shutdown-timeout instead, until a second signal.
func interruptible(s *cli.IOStreams, server bool) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
		case <-done:
			return
		}
		cancel()
		var grace <-chan time.Time
		if !server {
			grace = time.After(interruptGrace)
		}
		select {
		case <-grace:
		case <-sigs:
		case <-done:
			return
		}
		fmt.Fprintln(s.ErrOut, "berth: interrupted")
		os.Exit(130)
	}()
	return ctx, func() { signal.Stop(sigs); close(done); cancel() }
}

// exitCode prints err and maps it to the process exit code: 0 success, 2 a usage mistake,
// 1 anything else.
func exitCode(err error, s *cli.IOStreams) int {
	if err == nil {
		return 0
	}
	var ee *cli.ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	fmt.Fprintln(s.ErrOut, "berth:", err)
	var ue *cli.UsageError
	if errors.As(err, &ue) {
		fmt.Fprintln(s.ErrOut, "Run 'berth --help' for usage.")
		return 2
	}
	return 1
}
