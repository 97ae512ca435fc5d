package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
)

// RollbackOptions are the inputs of `berth rollback`.
type RollbackOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	App       string
	Team      string
	Env       string
	// To is the revision to return to; 0 lets the server pick the last successful deploy
	// before the current one.
	To   int64
	Wait bool
	// Emergency says why the rollback goes ahead inside a freeze window.
	Emergency string
}

// NewCmdRollback returns `berth rollback`.
func NewCmdRollback(f *Factory, runF func(*RollbackOptions) error) *cobra.Command {
	o := &RollbackOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use: "rollback APP --env ENV [--to REVISION]", Short: "Re-apply exactly the objects of an earlier successful deploy",
		Example: "  berth rollback reports --env production --wait\n  berth rollback reports --env production --to 41",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.App = args[0]
			if runF != nil {
				return runF(o)
			}
			return rollbackRun(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.Team, "team", "", "team of the app (default: looked up)")
	cmd.Flags().StringVar(&o.Env, "env", "", "environment (required)")
	cmd.Flags().Int64Var(&o.To, "to", 0, "revision to return to (default: the one before the current)")
	cmd.Flags().BoolVar(&o.Wait, "wait", false, "follow the rollback until it ends")
	cmd.Flags().StringVar(&o.Emergency, "emergency", "", "roll back inside a freeze window of the environment, saying why (audited)")
	return cmd
}

func rollbackRun(ctx context.Context, o *RollbackOptions) error {
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	if o.Env == "" {
		return &UsageError{Err: errors.New("--env is required")}
	}
	team, err := resolveTeam(ctx, c, o.App, o.Team)
	if err != nil {
		return err
	}
	d, err := c.Rollback(ctx, team, o.App, apiv1.Rollback{Env: o.Env, To: o.To, Emergency: o.Emergency})
	if err != nil {
		return err
	}
	fmt.Fprintf(o.IO.ErrOut, "rollback %d queued: %s/%s back to revision %d (deploy %d's objects) in %s\n",
		d.ID, d.Team, d.App, d.Revision, d.SourceDeploy, d.Env)
	if !o.Wait {
		fmt.Fprintf(o.IO.Out, "%d\n", d.ID)
		return nil
	}
	return watchDeploy(ctx, o.IO, c, d.ID)
}
