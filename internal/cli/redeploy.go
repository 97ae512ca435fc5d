package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
)

// NewCmdRedeploy returns `berth redeploy`, whose one subcommand is `team`.
func NewCmdRedeploy(f *Factory) *cobra.Command {
	cmd := &cobra.Command{Use: "redeploy", Short: "Redeploy apps in bulk", Args: cobra.NoArgs}
	cmd.AddCommand(NewCmdRedeployTeam(f, nil))
	return cmd
}

// RedeployTeamOptions are the inputs of `berth redeploy team`.
type RedeployTeamOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Team      string
	// Env is the only environment to redeploy in; "" is every one the app runs in.
	Env         string
	Exclude     []string
	Refresh     bool
	Concurrency int
	// Emergency says why the redeploys go ahead inside freeze windows.
	Emergency string
}

// NewCmdRedeployTeam returns `berth redeploy team`.
func NewCmdRedeployTeam(f *Factory, runF func(*RedeployTeamOptions) error) *cobra.Command {
	o := &RedeployTeamOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use: "team --team TEAM", Short: "Redeploy every app of a team, continue past failures, print a summary",
		Example: `  berth redeploy team --team insights --env production
  berth redeploy team --team insights --exclude-app legacy --refresh --concurrency 8`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return redeployTeamRun(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.Team, "team", "", "team (required)")
	cmd.Flags().StringVar(&o.Env, "env", "", "only this environment (default: every one the app runs in)")
	cmd.Flags().StringArrayVar(&o.Exclude, "exclude-app", nil, "leave this app alone (repeatable)")
	cmd.Flags().BoolVar(&o.Refresh, "refresh", false, "re-render the current revision with current configuration")
	cmd.Flags().IntVar(&o.Concurrency, "concurrency", 4, "deploys running at once")
	cmd.Flags().StringVar(&o.Emergency, "emergency", "", "redeploy inside freeze windows, saying why (audited)")
	return cmd
}

func redeployTeamRun(ctx context.Context, o *RedeployTeamOptions) error {
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	if o.Team == "" {
		return &UsageError{Err: errors.New("--team is required")}
	}
	if o.Concurrency < 1 || o.Concurrency > 100 {
		return &UsageError{Err: errors.New("--concurrency must be 1 to 100")}
	}
	ds, err := c.RedeployTeam(ctx, o.Team, apiv1.RedeployTeam{Env: o.Env, Exclude: o.Exclude, Refresh: o.Refresh, Concurrency: o.Concurrency,
		Emergency: o.Emergency})
	if err != nil {
		return err
	}
	fmt.Fprintf(o.IO.ErrOut, "queued %d deploys of team %s\n", len(ds), o.Team)
	return waitBatch(ctx, o.IO, c, ds)
}

// waitBatch follows the batch of a team redeploy's deploys ds on the server's stream until
// all are final, then prints a summary table; it fails if any deploy failed.
func waitBatch(ctx context.Context, s *IOStreams, c *apiclient.Client, ds []apiv1.Deploy) error {
	if len(ds) == 0 {
		return printSummary(s, ds, nil) // nothing was queued: nothing to follow
	}
	final := map[int64]apiv1.Deploy{}
	all, err := c.StreamBatch(ctx, ds[0].BatchID, func(d apiv1.Deploy) {
		if _, seen := final[d.ID]; !seen {
			final[d.ID] = d
			printEnded(s, len(final), len(ds), d)
		}
	})
	if err != nil {
		return err
	}
	for _, d := range all {
		final[d.ID] = d
	}
	return printSummary(s, ds, final)
}

// waitAll polls deploys until all are final, then prints a summary table; it fails if
// any deploy failed. Deploys that are no batch (the redeploys a config change queues,
// which may span teams) are followed this way.
func waitAll(ctx context.Context, s *IOStreams, c *apiclient.Client, ds []apiv1.Deploy) error {
	final := map[int64]apiv1.Deploy{}
	t := time.NewTicker(300 * time.Millisecond)
	defer t.Stop()
	for len(final) < len(ds) {
		for _, d := range ds {
			if _, done := final[d.ID]; done {
				continue
			}
			cur, err := c.Deploy(ctx, d.ID)
			if err != nil {
				return err
			}
			if cur.State == "succeeded" || cur.State == "failed" {
				final[d.ID] = cur
				printEnded(s, len(final), len(ds), cur)
			}
		}
		if len(final) == len(ds) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return printSummary(s, ds, final)
}

// printEnded says that the n-th of total deploys ended.
func printEnded(s *IOStreams, n, total int, d apiv1.Deploy) {
	fmt.Fprintf(s.ErrOut, "[%d/%d] %s/%s in %s: %s\n", n, total, d.Team, d.App, d.Env, d.State)
}

// printSummary prints each of ds as it ended, and the counts; it fails if any failed.
func printSummary(s *IOStreams, ds []apiv1.Deploy, final map[int64]apiv1.Deploy) error {
	var rows [][]string
	failed := 0
	for _, d := range ds {
		f, ok := final[d.ID]
		if !ok {
			return fmt.Errorf("deploy %d (%s/%s in %s) did not end with its batch %d", d.ID, d.Team, d.App, d.Env, d.BatchID)
		}
		if f.State == "failed" {
			failed++
		}
		rows = append(rows, []string{f.App, f.Env, strconv.FormatInt(f.ID, 10), strconv.FormatInt(f.Revision, 10), f.State, orDash(truncate(f.Reason, 60))})
	}
	if err := printTable(s, []string{"APP", "ENV", "DEPLOY", "REVISION", "STATE", "REASON"}, rows); err != nil {
		return err
	}
	fmt.Fprintf(s.Out, "%d succeeded, %d failed\n", len(ds)-failed, failed)
	if failed > 0 {
		return &ExitError{Code: 1}
	}
	return nil
}
