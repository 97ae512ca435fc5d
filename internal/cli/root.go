// Package cli holds berth's commands. Each command is an Options struct, a NewCmdX
// constructor that binds flags, and a run function that does the work through a library
// package; output goes only through the injected IOStreams.
package cli

import (
	"context"

	"github.com/spf13/cobra"
)

// Factory carries what commands need from outside: the streams, and the server, whose
// adapters (store, Kubernetes, HTTP) are wired by cmd/berth.
type Factory struct {
	IO *IOStreams
	// RunServer runs `berth server` until ctx ends.
	RunServer func(ctx context.Context, o *ServerOptions) error
	// RotateKey runs `berth server rotate-key`.
	RotateKey func(ctx context.Context, o *RotateKeyOptions) error
}

// NewRootCmd returns the `berth` command tree.
func NewRootCmd(f *Factory) *cobra.Command {
	s := f.IO
	root := &cobra.Command{
		Use:   "berth",
		Short: "Deploy, configure, preview, roll back and watch apps on Kubernetes",
		Long: `Berth is an internal developer platform on Kubernetes: one short manifest per app
(berth.yaml), and one CLI, API and dashboard to deploy, roll back and watch it.`,
		Example: `  # Start a local Kubernetes control plane to try things on
  berth dev cluster up

  # Use it with any Kubernetes tool
  export KUBECONFIG=$(berth dev cluster kubeconfig)

  # See the version
  berth version`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &UsageError{Err: err} })
	root.AddCommand(NewCmdVersion(s), NewCmdInit(s), NewCmdValidate(s), NewCmdRender(s), NewCmdDev(s),
		NewCmdServer(f), NewCmdLogin(s), NewCmdWhoami(s), NewCmdTeams(s), NewCmdUsers(s), NewCmdTokens(s),
		NewCmdApps(s), NewCmdEnvs(s), NewCmdAudit(s), NewCmdDeploy(s), NewCmdHistory(s), NewCmdRollback(s),
		NewCmdRedeploy(s), NewCmdStatus(s), NewCmdConfig(s), NewCmdSecrets(s))
	return root
}

// Execute runs the command line args and returns an error typed for main's exit code.
func Execute(ctx context.Context, f *Factory, args []string) error {
	root := NewRootCmd(f)
	root.SetArgs(args)
	return asUsageError(root.ExecuteContext(ctx))
}
