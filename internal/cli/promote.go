package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
)

// PromoteOptions are the inputs of `berth promote`.
type PromoteOptions struct {
	IO             *IOStreams
	APIClient      func() (*apiclient.Client, error)
	App, Team      string
	From, To       string
	Wait           bool
	NoAutoRollback bool
	// Emergency is why the promotion goes ahead inside a freeze window of To; "" for none.
	Emergency string
	Output    string
}

// NewCmdPromote returns `berth promote`.
func NewCmdPromote(f *Factory, runF func(*PromoteOptions) error) *cobra.Command {
	o := &PromoteOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use:   "promote APP --from ENV --to ENV [--wait]",
		Short: "Deploy to an environment what runs in another: same revision, args and image digests",
		Long: `Deploys to --to what the app's last successful deploy in --from runs: its revision and
args, with its images pinned to the digests that deploy found in the registry (deploys from
git and promotions record them), so the target runs the very images the source does, even
if their tags moved since. The promotion is linked to its source deploy in the history.

Into a protected environment the promotion waits, awaiting approval, until a team admin or
one of the environment's allowed deployers other than you approves it (berth approvals).

Into an environment inside a freeze window (berth envs freezes) a promotion is refused
unless --emergency says why it cannot wait; the reason goes to the audit log.`,
		Example: `  berth promote web --from staging --to production
  berth promote web --from staging --to production --wait
  berth approvals list
  berth promote web --from staging --to production --emergency "checkout down: fix for INC-231"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.App = args[0]
			if runF != nil {
				return runF(o)
			}
			return promoteRun(cmd.Context(), o)
		},
	}
	bindOutput(cmd, &o.Output)
	cmd.Flags().StringVar(&o.Team, "team", "", "team of the app (default: looked up)")
	cmd.Flags().StringVar(&o.From, "from", "", "environment whose running deploy is promoted (required)")
	cmd.Flags().StringVar(&o.To, "to", "", "environment to deploy it to (required)")
	cmd.Flags().BoolVar(&o.Wait, "wait", false, "follow the promotion until it ends (through its approval, if it needs one)")
	cmd.Flags().BoolVar(&o.NoAutoRollback, "no-auto-rollback", false, "leave a failed rollout in place instead of rolling back")
	cmd.Flags().StringVar(&o.Emergency, "emergency", "", "deploy inside a freeze window of the environment, saying why (audited)")
	return cmd
}

func promoteRun(ctx context.Context, o *PromoteOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	if o.From == "" || o.To == "" {
		return &UsageError{Err: errors.New("--from and --to are required: the environment to promote from, and the one to promote to")}
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	team, err := resolveTeam(ctx, c, o.App, o.Team)
	if err != nil {
		return err
	}
	d, err := c.Promote(ctx, team, o.App, apiv1.Promote{From: o.From, To: o.To, NoAutoRollback: o.NoAutoRollback, Emergency: o.Emergency})
	if err != nil {
		return err
	}
	if o.Output != "table" && !o.Wait {
		return printData(o.IO.Out, o.Output, d)
	}
	fmt.Fprintf(o.IO.ErrOut, "promotion %d of %s/%s: revision %d from %s (deploy %d) to %s, %d image(s) pinned\n",
		d.ID, d.Team, d.App, d.Revision, o.From, d.PromotedFrom, d.Env, len(d.Images))
	if d.State == "awaiting-approval" {
		fmt.Fprintf(o.IO.ErrOut, "%s is protected: the promotion awaits approval by a team admin or an allowed deployer of %s (berth approvals approve %d --reason ...)\n",
			d.Env, d.Env, d.ID)
	}
	if !o.Wait {
		fmt.Fprintf(o.IO.Out, "%d\n", d.ID)
		return nil
	}
	return watchDeploy(ctx, o.IO, c, d.ID)
}

// ApprovalsOptions are the inputs of `berth approvals`.
type ApprovalsOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Team, Env string
	Output    string
	// Approve and Reject decide on deploy ID with Reason.
	ID      int64
	Approve bool
	Reason  string
}

// NewCmdApprovals returns `berth approvals list|approve|reject`.
func NewCmdApprovals(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "approvals",
		Short: "Deploys awaiting approval for protected environments: list, approve, reject",
		Long: `A deploy to a protected environment that a user did not do themselves (a promotion, or
a tag's promotion from git) waits for a team admin or an allowed deployer of the
environment, other than whoever asked for it, to approve it; it is then queued. A rejected
one fails with the reason. Every decision is audited with its author and reason.`,
	}
	list := &ApprovalsOptions{IO: f.IO, APIClient: f.apiClient}
	listCmd := &cobra.Command{
		Use: "list [--team T] [--env ENV]", Short: "Deploys awaiting approval, oldest first",
		Example: "  berth approvals list\n  berth approvals list --env production -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return approvalsListRun(cmd.Context(), list)
		},
	}
	bindOutput(listCmd, &list.Output)
	listCmd.Flags().StringVar(&list.Team, "team", "", "only this team's")
	listCmd.Flags().StringVar(&list.Env, "env", "", "only this environment's")
	cmd.AddCommand(listCmd, newCmdDecide(f, true), newCmdDecide(f, false))
	return cmd
}

func newCmdDecide(f *Factory, approve bool) *cobra.Command {
	o := &ApprovalsOptions{IO: f.IO, APIClient: f.apiClient, Approve: approve}
	verb, short := "approve", "Approve a deploy awaiting approval: it is queued"
	if !approve {
		verb, short = "reject", "Reject a deploy awaiting approval: it fails with your reason"
	}
	cmd := &cobra.Command{
		Use: verb + " DEPLOY_ID --reason TEXT", Short: short,
		Example: fmt.Sprintf("  berth approvals %s 42 --reason \"release 1.2 signed off\"", verb),
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id <= 0 {
				return &UsageError{Err: fmt.Errorf("%q is not a deploy id: see berth approvals list", args[0])}
			}
			o.ID = id
			return decideRun(cmd.Context(), o)
		},
	}
	bindOutput(cmd, &o.Output)
	cmd.Flags().StringVar(&o.Reason, "reason", "", "why, for the audit log (required)")
	return cmd
}

func approvalsListRun(ctx context.Context, o *ApprovalsOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	as, err := c.Approvals(ctx, o.Team, o.Env)
	if err != nil {
		return err
	}
	if o.Output != "table" {
		return printData(o.IO.Out, o.Output, as)
	}
	if len(as) == 0 {
		fmt.Fprintln(o.IO.ErrOut, "no deploys await approval")
		return nil
	}
	rows := make([][]string, 0, len(as))
	for _, a := range as {
		d := a.Deploy
		what := fmt.Sprintf("%s revision %d", d.Kind, d.Revision)
		if d.PromotedFrom != 0 {
			what += fmt.Sprintf(" (from deploy %d)", d.PromotedFrom)
		}
		rows = append(rows, []string{strconv.FormatInt(d.ID, 10), d.Team + "/" + d.App, d.Env, what, a.RequestedBy, ago(o.IO, a.RequestedAt)})
	}
	return printTable(o.IO, []string{"DEPLOY", "APP", "ENV", "WHAT", "REQUESTED BY", "SINCE"}, rows)
}

func decideRun(ctx context.Context, o *ApprovalsOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	if o.Reason == "" {
		return &UsageError{Err: errors.New("--reason is required: it goes to the audit log")}
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	d, err := c.Decide(ctx, o.ID, o.Approve, o.Reason)
	if err != nil {
		return err
	}
	if o.Output != "table" {
		return printData(o.IO.Out, o.Output, d)
	}
	if o.Approve {
		fmt.Fprintf(o.IO.Out, "approved deploy %d of %s/%s to %s: queued\n", d.ID, d.Team, d.App, d.Env)
	} else {
		fmt.Fprintf(o.IO.Out, "rejected deploy %d of %s/%s to %s: %s\n", d.ID, d.Team, d.App, d.Env, d.Reason)
	}
	return nil
}
