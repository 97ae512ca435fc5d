package cli

import (
	"context"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
)

// HistoryOptions are the inputs of `berth history`.
type HistoryOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	App       string
	Team      string
	Env       string
	Limit     int
	Output    string
}

// NewCmdHistory returns `berth history`.
func NewCmdHistory(f *Factory, runF func(*HistoryOptions) error) *cobra.Command {
	o := &HistoryOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use: "history APP", Short: "Show an app's deploys: revision, who, when, outcome",
		Example: "  berth history reports --env production\n  berth history reports -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.App = args[0]
			if runF != nil {
				return runF(o)
			}
			return historyRun(cmd.Context(), o)
		},
	}
	bindOutput(cmd, &o.Output)
	cmd.Flags().StringVar(&o.Team, "team", "", "team of the app (default: looked up)")
	cmd.Flags().StringVar(&o.Env, "env", "", "only this environment")
	cmd.Flags().IntVar(&o.Limit, "limit", 50, "at most this many deploys")
	return cmd
}

func historyRun(ctx context.Context, o *HistoryOptions) error {
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
	ds, err := c.Deploys(ctx, team, o.App, o.Env, o.Limit)
	if err != nil {
		return err
	}
	return printList(o.IO, o.Output, ds, []string{"DEPLOY", "ENV", "REVISION", "KIND", "STATE", "BY", "CREATED", "DURATION", "REASON"},
		func(d apiv1.Deploy) []string {
			dur := "-"
			if d.StartedAt != nil && d.FinishedAt != nil {
				dur = d.FinishedAt.Sub(*d.StartedAt).Round(100 * time.Millisecond).String()
			}
			kind := d.Kind
			if d.SourceDeploy != 0 {
				kind += " of " + strconv.FormatInt(d.SourceDeploy, 10)
			}
			return []string{strconv.FormatInt(d.ID, 10), d.Env, strconv.FormatInt(d.Revision, 10), kind, d.State,
				d.CreatedBy, ago(o.IO, d.CreatedAt), dur, orDash(truncate(d.Reason, 60))}
		})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
