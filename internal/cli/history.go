package cli

import (
	"context"
	"fmt"
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
	// Deploy shows this one deploy in full, with its smoke tests.
	Deploy int64
}

// NewCmdHistory returns `berth history`.
func NewCmdHistory(f *Factory, runF func(*HistoryOptions) error) *cobra.Command {
	o := &HistoryOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use: "history APP", Short: "Show an app's deploys: revision, who, when, outcome",
		Example: "  berth history reports --env production\n  berth history reports -o json\n  berth history reports --deploy 42    # one deploy, with its smoke tests",
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
	cmd.Flags().Int64Var(&o.Deploy, "deploy", 0, "show only this deploy, in full: its reason and each smoke test")
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
	if o.Deploy != 0 {
		return showDeploy(ctx, o, c, team)
	}
	ds, err := c.Deploys(ctx, team, o.App, o.Env, o.Limit)
	if err != nil {
		return err
	}
	return printList(o.IO, o.Output, ds, []string{"DEPLOY", "ENV", "REVISION", "KIND", "STATE", "BY", "CREATED", "DURATION", "SMOKE", "REASON"},
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
				d.CreatedBy, ago(o.IO, d.CreatedAt), dur, smokeColumn(d.Smoke), orDash(truncate(d.Reason, 60))}
		})
}

// smokeColumn is a deploy's smoke tests in a history row: "3/3", "failed 1/3", "-".
func smokeColumn(run *apiv1.SmokeRun) string {
	if run == nil {
		return "-"
	}
	passed := 0
	for _, r := range run.Results {
		if r.Passed {
			passed++
		}
	}
	col := fmt.Sprintf("%d/%d", passed, len(run.Results)+run.Skipped)
	if !run.Passed {
		col = "failed " + col
	}
	return col
}

// showDeploy prints one deploy of the app in full, with its smoke tests.
func showDeploy(ctx context.Context, o *HistoryOptions, c *apiclient.Client, team string) error {
	d, err := c.Deploy(ctx, o.Deploy)
	if err != nil {
		return err
	}
	if d.Team != team || d.App != o.App {
		return fmt.Errorf("deploy %d is of %s/%s, not %s/%s", d.ID, d.Team, d.App, team, o.App)
	}
	if o.Output != "table" {
		return printData(o.IO.Out, o.Output, d)
	}
	dur := "-"
	if d.StartedAt != nil && d.FinishedAt != nil {
		dur = d.FinishedAt.Sub(*d.StartedAt).Round(100 * time.Millisecond).String()
	}
	kind := d.Kind
	if d.SourceDeploy != 0 {
		kind += " of deploy " + strconv.FormatInt(d.SourceDeploy, 10)
	}
	if err := printFields(o.IO, [][2]string{
		{"deploy", strconv.FormatInt(d.ID, 10)}, {"app", d.Team + "/" + d.App}, {"env", d.Env},
		{"revision", strconv.FormatInt(d.Revision, 10)}, {"kind", kind}, {"state", d.State}, {"by", d.CreatedBy},
		{"created", ago(o.IO, d.CreatedAt)}, {"duration", dur}, {"reason", orDash(d.Reason)},
	}); err != nil {
		return err
	}
	// What the deploy published to its environment's platform repository, if anything:
	// most environments have no GitOps output (not_found), as have servers before it.
	g, err := c.DeployGitOps(ctx, d.ID)
	switch {
	case err == nil:
		fmt.Fprintln(o.IO.Out, gitOpsLine(g))
	case !apiclient.IsCode(err, "not_found"):
		return err
	}
	if d.Smoke == nil {
		fmt.Fprintln(o.IO.Out, "smoke tests: none ran")
		return nil
	}
	printSmoke(o.IO.Out, d.Smoke)
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// gitOpsLine is what a deploy published to its platform repository, in a line:
// "GitOps: pull request #N URL (open)" or "GitOps: commit SHA on BRANCH".
func gitOpsLine(g apiv1.GitOpsChange) string {
	if g.PR != 0 {
		return fmt.Sprintf("GitOps: pull request #%d %s (%s)", g.PR, g.URL, g.State)
	}
	return fmt.Sprintf("GitOps: commit %s on %s", g.Commit, g.Branch)
}
