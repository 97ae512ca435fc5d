package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
)

// NewCmdApps returns `berth apps`.
func NewCmdApps(f *Factory) *cobra.Command {
	return group("apps", "Manage apps", NewCmdAppsList(f, nil), NewCmdAppsCreate(f, nil), NewCmdAppsDelete(f, nil),
		NewCmdAppsConnect(f, nil), NewCmdAppsDisconnect(f, nil), NewCmdAppsGitJobs(f))
}

func bindTeam(cmd *cobra.Command, team *string) {
	cmd.Flags().StringVar(team, "team", "", "owning team")
}

// AppsListOptions are the inputs of `berth apps list`.
type AppsListOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Team      string
	Output    string
}

// NewCmdAppsList returns `berth apps list`.
func NewCmdAppsList(f *Factory, runF func(*AppsListOptions) error) *cobra.Command {
	o := &AppsListOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use: "list", Short: "List apps (of one team with --team)", Example: "  berth apps list\n  berth apps list --team insights -o json",
		Aliases: []string{"ls"}, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return appsListRun(cmd.Context(), o)
		},
	}
	bindOutput(cmd, &o.Output)
	bindTeam(cmd, &o.Team)
	return cmd
}

func appsListRun(ctx context.Context, o *AppsListOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	apps, err := c.Apps(ctx, o.Team)
	if err != nil {
		return err
	}
	return printList(o.IO, o.Output, apps, []string{"TEAM", "NAME", "REVISION", "CREATED"},
		func(a apiv1.App) []string {
			return []string{a.Team, a.Name, strconv.FormatInt(a.Revision, 10), ago(o.IO, a.CreatedAt)}
		})
}

// AppsCreateOptions are the inputs of `berth apps create`.
type AppsCreateOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Name      string
	Team      string
	// File is a manifest to store as the first revision.
	File string
}

// NewCmdAppsCreate returns `berth apps create`.
func NewCmdAppsCreate(f *Factory, runF func(*AppsCreateOptions) error) *cobra.Command {
	o := &AppsCreateOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use: "create NAME --team TEAM [-f berth.yaml]", Short: "Register an app, optionally with its manifest as revision 1",
		Example: "  berth apps create reports --team insights -f berth.yaml", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if runF != nil {
				return runF(o)
			}
			return appsCreateRun(cmd.Context(), o)
		},
	}
	bindTeam(cmd, &o.Team)
	cmd.Flags().StringVarP(&o.File, "file", "f", "", "manifest to store as the first revision")
	return cmd
}

func appsCreateRun(ctx context.Context, o *AppsCreateOptions) error {
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	if o.Team == "" {
		return &UsageError{Err: errors.New("--team is required")}
	}
	var text string
	if o.File != "" {
		data, err := os.ReadFile(o.File)
		if err != nil {
			return err
		}
		text = string(data)
	}
	a, err := c.CreateApp(ctx, o.Team, apiv1.CreateApp{Name: o.Name, Manifest: text})
	if err == nil {
		fmt.Fprintf(o.IO.Out, "created app %s/%s (revision %d)\n", a.Team, a.Name, a.Revision)
	}
	return err
}

// AppsDeleteOptions are the inputs of `berth apps delete`.
type AppsDeleteOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Name      string
	Team      string
	// KeepWorkloads leaves what the app runs in the clusters.
	KeepWorkloads bool
}

// NewCmdAppsDelete returns `berth apps delete`.
func NewCmdAppsDelete(f *Factory, runF func(*AppsDeleteOptions) error) *cobra.Command {
	o := &AppsDeleteOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use: "delete NAME --team TEAM", Short: "Remove an app from Berth, and what it runs everywhere (team admins)",
		Long: `Remove an app from Berth. First, in every environment the app was deployed to, Berth
deletes the objects it applied for it (Deployments, Services, its ConfigMap and Secret, ...)
and the namespace when Berth created it and nothing else is left in it. While a deploy of
the app is in progress, or when a cluster cannot be reached, the delete is refused and
nothing changes. --keep-workloads leaves what runs on purpose (the audit event says so).`,
		Example: "  berth apps delete reports --team insights\n  berth apps delete legacy --team insights --keep-workloads",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if runF != nil {
				return runF(o)
			}
			return appsDeleteRun(cmd.Context(), o)
		},
	}
	bindTeam(cmd, &o.Team)
	cmd.Flags().BoolVar(&o.KeepWorkloads, "keep-workloads", false, "delete only the app's record in Berth and leave what runs in the clusters")
	return cmd
}

func appsDeleteRun(ctx context.Context, o *AppsDeleteOptions) error {
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	if o.Team == "" {
		return &UsageError{Err: errors.New("--team is required")}
	}
	err = c.DeleteApp(ctx, o.Team, o.Name, o.KeepWorkloads)
	if err == nil {
		fmt.Fprintf(o.IO.Out, "deleted app %s/%s\n", o.Team, o.Name)
	}
	return err
}

// resolveTeam returns team, or the team of the only visible app called app, which the
// server looks up.
func resolveTeam(ctx context.Context, c *apiclient.Client, app, team string) (string, error) {
	if team != "" {
		return team, nil
	}
	if app == "" {
		return "", &UsageError{Err: errors.New("name the app (APP argument) or send a manifest with -f")}
	}
	apps, err := c.AppsNamed(ctx, app)
	if err != nil {
		return "", err
	}
	var teams []string
	for _, a := range apps {
		// A server older than the name filter answers with every app.
		if a.Name == app {
			teams = append(teams, a.Team)
		}
	}
	switch len(teams) {
	case 0:
		return "", fmt.Errorf("no app %q that you can see: check the name, or pass --team", app)
	case 1:
		return teams[0], nil
	}
	return "", &UsageError{Err: fmt.Errorf("app %q exists in teams %s: pass --team", app, strings.Join(teams, ", "))}
}
