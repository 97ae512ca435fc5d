package cli

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
)

// NewCmdEnvs returns `berth envs`.
func NewCmdEnvs(f *Factory) *cobra.Command {
	return group("envs", "Manage environments: where apps are deployed", NewCmdEnvsList(f, nil), NewCmdEnvsCreate(f, nil), NewCmdEnvsDelete(f, nil))
}

// EnvsListOptions are the inputs of `berth envs list`.
type EnvsListOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Output    string
}

// NewCmdEnvsList returns `berth envs list`.
func NewCmdEnvsList(f *Factory, runF func(*EnvsListOptions) error) *cobra.Command {
	o := &EnvsListOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use: "list", Short: "List environments", Example: "  berth envs list", Aliases: []string{"ls"}, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return envsListRun(cmd.Context(), o)
		},
	}
	bindOutput(cmd, &o.Output)
	return cmd
}

func envsListRun(ctx context.Context, o *EnvsListOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	es, err := c.Environments(ctx)
	if err != nil {
		return err
	}
	return printList(o.IO, o.Output, es, []string{"NAME", "CLUSTER", "NAMESPACE", "PROTECTED"},
		func(e apiv1.Environment) []string {
			cluster := "in-cluster"
			if !e.InCluster {
				cluster = e.Kubeconfig
				if e.Context != "" {
					cluster += " (" + e.Context + ")"
				}
			}
			return []string{e.Name, cluster, e.NamespaceTemplate, strconv.FormatBool(e.Protected)}
		})
}

// EnvsCreateOptions are the inputs of `berth envs create`: the environment to define.
type EnvsCreateOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Env       apiv1.CreateEnvironment
}

// NewCmdEnvsCreate returns `berth envs create`.
func NewCmdEnvsCreate(f *Factory, runF func(*EnvsCreateOptions) error) *cobra.Command {
	o := &EnvsCreateOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use: "create NAME (--kubeconfig PATH [--context C] | --in-cluster)", Short: "Define an environment (global admins)",
		Example: `  berth envs create staging --kubeconfig ~/.kube/config --context staging
  berth envs create production --kubeconfig /etc/berth/prod.kubeconfig --protected --allow-deployer release-bot
  berth envs create local --kubeconfig $(berth dev cluster kubeconfig) --namespace-template '{team}-{app}-local'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Env.Name = args[0]
			if runF != nil {
				return runF(o)
			}
			return envsCreateRun(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Env.Kubeconfig, "kubeconfig", "", "kubeconfig path on the server's machine")
	fl.StringVar(&o.Env.Context, "context", "", "kubeconfig context (default: its current context)")
	fl.BoolVar(&o.Env.InCluster, "in-cluster", false, "use the server's own service account")
	fl.StringVar(&o.Env.NamespaceTemplate, "namespace-template", "", "namespace per app: {team}, {env} and {app} are replaced (default {team}-{env})")
	fl.BoolVar(&o.Env.Protected, "protected", false, "only team admins and allowed deployers deploy here")
	fl.StringArrayVar(&o.Env.AllowedDeployers, "allow-deployer", nil, "user allowed to deploy to a protected environment (repeatable)")
	return cmd
}

func envsCreateRun(ctx context.Context, o *EnvsCreateOptions) error {
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	e, err := c.CreateEnvironment(ctx, o.Env)
	if err == nil {
		fmt.Fprintf(o.IO.Out, "created environment %s (namespaces %s)\n", e.Name, e.NamespaceTemplate)
	}
	return err
}

// EnvsDeleteOptions are the inputs of `berth envs delete`.
type EnvsDeleteOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Name      string
}

// NewCmdEnvsDelete returns `berth envs delete`.
func NewCmdEnvsDelete(f *Factory, runF func(*EnvsDeleteOptions) error) *cobra.Command {
	o := &EnvsDeleteOptions{IO: f.IO, APIClient: f.apiClient}
	return &cobra.Command{
		Use: "delete NAME", Short: "Remove an environment from Berth; its cluster is not touched", Example: "  berth envs delete staging",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if runF != nil {
				return runF(o)
			}
			return envsDeleteRun(cmd.Context(), o)
		},
	}
}

func envsDeleteRun(ctx context.Context, o *EnvsDeleteOptions) error {
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	err = c.DeleteEnvironment(ctx, o.Name)
	if err == nil {
		fmt.Fprintf(o.IO.Out, "deleted environment %s\n", o.Name)
	}
	return err
}
