// Command berth is the single binary of Berth: CLI, server and local development tools.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/berth-dev/berth/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	s := cli.System()
	f := cli.NewFactory(s)
	f.RunServer, f.RotateKey = runServer, rotateKey
	err := cli.Execute(ctx, f, os.Args[1:])
	stop()
	os.Exit(exitCode(err, s))
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
