// Package cli holds berth's commands. Each command is an XOptions struct, a NewCmdX(f, runF)
// constructor that binds its flags, and an xRun function that does the work through a
// library package or the API client; output goes only through the injected IOStreams. A
// test may pass runF to receive the parsed options instead of running the command.
package cli

import (
	"context"
	"errors"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/apiclient"
)

// Factory carries what commands need from outside: the streams, the saved login and a
// client of the server it names, and the server itself, whose adapters (store,
// Kubernetes, HTTP) are wired by cmd/berth. Tests fill it with fakes.
type Factory struct {
	IO *IOStreams
	// ConfigPath returns the file `berth login` saves the login in.
	ConfigPath func() (string, error)
	// APIClient returns a client of the server the login names (or BERTH_SERVER with
	// BERTH_TOKEN).
	APIClient func() (*apiclient.Client, error)
	// RunServer runs `berth server` until ctx ends.
	RunServer func(ctx context.Context, o *ServerOptions) error
	// RotateKey runs `berth server rotate-key`.
	RotateKey func(ctx context.Context, o *RotateKeyOptions) error
}

// NewFactory returns the factory of a berth process on streams s: the login in the user's
// config directory and a client made from it. cmd/berth adds the server.
func NewFactory(s *IOStreams) *Factory {
	f := &Factory{IO: s, ConfigPath: configPath}
	f.APIClient = func() (*apiclient.Client, error) { return loginClient(f.ConfigPath) }
	return f
}

// apiClient is f.APIClient, or an error when the factory has none.
func (f *Factory) apiClient() (*apiclient.Client, error) {
	if f.APIClient == nil {
		return nil, errors.New("this build of berth has no API client")
	}
	return f.APIClient()
}

// configPath is f.ConfigPath, or an error when the factory has none.
func (f *Factory) configPath() (string, error) {
	if f.ConfigPath == nil {
		return "", errors.New("this build of berth has no config file")
	}
	return f.ConfigPath()
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
	root.AddCommand(NewCmdVersion(f, nil), NewCmdInit(f, nil), NewCmdValidate(f, nil), NewCmdRender(f, nil), NewCmdDev(f),
		NewCmdServer(f, nil), NewCmdLogin(f, nil), NewCmdWhoami(f, nil), NewCmdTeams(f), NewCmdUsers(f), NewCmdTokens(f),
		NewCmdApps(f), NewCmdEnvs(f), NewCmdAudit(f, nil), NewCmdDeploy(f, nil), NewCmdHistory(f, nil), NewCmdRollback(f, nil), NewCmdPromote(f, nil), NewCmdApprovals(f), NewCmdSmoke(f, nil),
		NewCmdRedeploy(f), NewCmdStatus(f, nil), NewCmdConfig(f), NewCmdSecrets(f), NewCmdProvisioners(f), NewCmdResources(f),
		NewCmdPreviews(f), NewCmdTrain(f))
	root.AddCommand(NewCmdLogs(f, nil), NewCmdEvents(f, nil), NewCmdMetrics(f, nil))
	root.AddCommand(NewCmdBackup(f), NewCmdRestore(f), NewCmdDrills(f), NewCmdBackupStores(f))
	root.AddCommand(NewCmdProbe(f))
	return root
}

// Execute runs the command line args and returns an error typed for main's exit code.
func Execute(ctx context.Context, f *Factory, args []string) error {
	root := NewRootCmd(f)
	root.SetArgs(args)
	return asUsageError(root.ExecuteContext(ctx))
}
