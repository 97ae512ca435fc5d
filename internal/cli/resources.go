package cli

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
)

// NewCmdResources returns `berth resources`.
func NewCmdResources(f *Factory) *cobra.Command {
	return group("resources", "List and delete what provisioners made for the resources apps declare",
		NewCmdResourcesList(f, nil), NewCmdResourcesRotate(f, nil), NewCmdResourcesDelete(f, nil))
}

// ResourcesListOptions are the inputs of `berth resources list`.
type ResourcesListOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	App       string
	Team      string
	Env       string
	Output    string
}

// NewCmdResourcesList returns `berth resources list`.
func NewCmdResourcesList(f *Factory, runF func(*ResourcesListOptions) error) *cobra.Command {
	o := &ResourcesListOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use:   "list --app APP [--team TEAM] [--env ENV]",
		Short: "List an app's provisioned resources: outputs, versions, active or orphaned",
		Long: `Lists what provisioners made for the resources the app declares (berth.yaml's resources),
per environment: the provisioner, the version (one per change), the outputs, and the status:
active while the app's latest deploy declares the resource, orphaned once it no longer does
or the app was deleted. An orphaned resource keeps its data until
` + "`berth resources delete --confirm`" + `. Secret outputs are named, never shown: in the table as
NAME=(secret), in -o json under secretOutputs.

The team is looked up from the app's name; pass --team for an app deleted from Berth,
whose resources are still listed.`,
		Example: `  berth resources list --app notes
  berth resources list --app notes --env dev -o json
  berth resources list --app legacy --team demo`,
		Aliases: []string{"ls"},
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return resourcesListRun(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.App, "app", "", "the app (required)")
	cmd.Flags().StringVar(&o.Team, "team", "", "team of the app (default: looked up)")
	cmd.Flags().StringVar(&o.Env, "env", "", "only this environment")
	_ = cmd.MarkFlagRequired("app")
	bindOutput(cmd, &o.Output)
	return cmd
}

func resourcesListRun(ctx context.Context, o *ResourcesListOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	team, err := resolveTeam(ctx, c, o.App, o.Team)
	if err != nil {
		return err
	}
	rs, err := c.Resources(ctx, team, o.App, o.Env)
	if err != nil {
		return err
	}
	return printList(o.IO, o.Output, rs, []string{"NAME", "ENV", "TYPE", "PROVISIONER", "STATUS", "VERSION", "OUTPUTS", "UPDATED"},
		func(r apiv1.Resource) []string {
			typ := r.Type
			if r.Class != "" {
				typ += "/" + r.Class
			}
			return []string{r.Name, r.Env, typ, r.Provisioner, r.Status, strconv.FormatInt(r.Version, 10),
				orDash(outputsText(r)), ago(o.IO, r.UpdatedAt)}
		})
}

// outputsText is a resource's outputs as KEY=VALUE, by key, the secret ones as
// KEY=(secret).
func outputsText(r apiv1.Resource) string {
	all := map[string]string{}
	maps.Copy(all, r.Outputs)
	for _, k := range r.SecretOutputs {
		all[k] = "(secret)"
	}
	var out []string
	for _, k := range slices.Sorted(maps.Keys(all)) {
		out = append(out, k+"="+all[k])
	}
	return strings.Join(out, ",")
}

// ResourcesDeleteOptions are the inputs of `berth resources delete`.
type ResourcesDeleteOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Name      string
	App       string
	Team      string
	Env       string
	Confirm   bool
	Force     bool
}

// NewCmdResourcesDelete returns `berth resources delete`.
func NewCmdResourcesDelete(f *Factory, runF func(*ResourcesDeleteOptions) error) *cobra.Command {
	o := &ResourcesDeleteOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use:   "delete NAME --app APP --env ENV --confirm [--force]",
		Short: "Delete a provisioned resource, dropping a postgres database with its data (team admins)",
		Long: `Deletes the resource NAME of the app in the environment. For a postgres resource Berth
made, it drops the database and its role on the environment's PostgreSQL server first; for
a volume resource with a PersistentVolumeClaim, it deletes the claim (and the storage
class's reclaim policy decides the volume's fate): the data is lost for good. Other
resources are only forgotten: objects their provisioner applied go with the app's next
deploy (prune), and anything else a provisioner made outside the cluster stays.

Without --confirm nothing changes: the command says what would be dropped and exits with
status 2. A resource the app's latest deploy still declares (status active) is refused,
since the next deploy would make it again: remove it from berth.yaml and deploy first, or
add --force. NAME may also be the resource's uid (berth resources list -o json), for an
app with two records of one name.`,
		Example: `  berth resources delete db --app notes --env dev              # says what it would drop
  berth resources delete db --app notes --env dev --confirm
  berth resources delete cache --app notes --env dev --confirm --force
  berth resources delete db --app legacy --team demo --env staging --confirm`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if runF != nil {
				return runF(o)
			}
			return resourcesDeleteRun(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.App, "app", "", "the app (required)")
	cmd.Flags().StringVar(&o.Team, "team", "", "team of the app (default: looked up)")
	cmd.Flags().StringVar(&o.Env, "env", "", "the environment (required)")
	cmd.Flags().BoolVar(&o.Confirm, "confirm", false, "drop the resource's data for good")
	cmd.Flags().BoolVar(&o.Force, "force", false, "delete a resource the app's latest deploy still declares")
	_ = cmd.MarkFlagRequired("app")
	_ = cmd.MarkFlagRequired("env")
	return cmd
}

func resourcesDeleteRun(ctx context.Context, o *ResourcesDeleteOptions) error {
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	team, err := resolveTeam(ctx, c, o.App, o.Team)
	if err != nil {
		return err
	}
	// Without --confirm the server changes nothing and says what would be dropped.
	d, err := c.DeleteResource(ctx, apiclient.ResourceDelete{Team: team, App: o.App, Env: o.Env, Name: o.Name,
		Confirm: o.Confirm, Force: o.Force})
	if apiclient.IsCode(err, "confirmation_required") {
		fmt.Fprintln(o.IO.ErrOut, "berth:", err)
		return &ExitError{Code: 2}
	}
	if err != nil {
		return err
	}
	where := fmt.Sprintf("%s %s of %s/%s in %s", d.Resource.Type, d.Resource.Name, d.Resource.Team, d.Resource.App, d.Resource.Env)
	if d.Dropped != "" {
		fmt.Fprintf(o.IO.Out, "dropped %s, and deleted %s\n", d.Dropped, where)
		return nil
	}
	fmt.Fprintf(o.IO.Out, "deleted %s: Berth drops data only for postgres databases and volume claims; objects its provisioner applied go with the app's next deploy (prune)\n", where)
	return nil
}

// ResourcesRotateOptions are the inputs of `berth resources rotate`.
type ResourcesRotateOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Name      string
	App       string
	Team      string
	Env       string
	Wait      bool
	Output    string
}

// NewCmdResourcesRotate returns `berth resources rotate`.
func NewCmdResourcesRotate(f *Factory, runF func(*ResourcesRotateOptions) error) *cobra.Command {
	o := &ResourcesRotateOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use:   "rotate NAME --app APP --env ENV [--wait]",
		Short: "Give a postgres resource a new password, and roll the app onto it",
		Long: `Gives the postgres resource NAME of the app in the environment a new random password:
Berth forgets the one it kept and queues a refresh deploy of what runs (as berth deploy
APP --env ENV --refresh), whose provision stage sets the new password on the database
server and whose pods read it from the Secret APP-resources. Connections the old pods
already hold stay open; new ones they open fail until the rollout replaces them. Whoever
may deploy the app to the environment may rotate it.

--wait follows the deploy as berth deploy --wait does.`,
		Example: `  berth resources rotate db --app notes --env dev --wait
  berth resources rotate db --app notes --env production -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if runF != nil {
				return runF(o)
			}
			return resourcesRotateRun(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.App, "app", "", "the app (required)")
	cmd.Flags().StringVar(&o.Team, "team", "", "team of the app (default: looked up)")
	cmd.Flags().StringVar(&o.Env, "env", "", "the environment (required)")
	cmd.Flags().BoolVar(&o.Wait, "wait", false, "follow the deploy until it ends")
	bindOutput(cmd, &o.Output)
	_ = cmd.MarkFlagRequired("app")
	_ = cmd.MarkFlagRequired("env")
	return cmd
}

func resourcesRotateRun(ctx context.Context, o *ResourcesRotateOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	team, err := resolveTeam(ctx, c, o.App, o.Team)
	if err != nil {
		return err
	}
	rot, err := c.RotateResource(ctx, team, o.App, o.Env, o.Name)
	if err != nil {
		return err
	}
	if o.Output != "table" {
		return printData(o.IO.Out, o.Output, rot)
	}
	fmt.Fprintf(o.IO.Out, "%s %s of %s/%s in %s: a new password comes with deploy %d\n", rot.Resource.Type, rot.Resource.Name,
		rot.Resource.Team, rot.Resource.App, rot.Resource.Env, rot.Deploy.ID)
	if !o.Wait {
		return nil
	}
	return watchDeploy(ctx, o.IO, c, rot.Deploy.ID)
}
