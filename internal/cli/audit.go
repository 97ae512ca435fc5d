package cli

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
)

// AuditOptions are the inputs of `berth audit`.
type AuditOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Filter    apiclient.AuditFilter
	Output    string
}

// NewCmdAudit returns `berth audit`, with its subcommand `verify`.
func NewCmdAudit(f *Factory, runF func(*AuditOptions) error) *cobra.Command {
	o := &AuditOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use: "audit", Short: "Show the audit log: who did what, when, with what outcome",
		Example: "  berth audit --team insights --since 24h\n  berth audit --app reports -o json\n  berth audit verify",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return auditRun(cmd.Context(), o)
		},
	}
	bindOutput(cmd, &o.Output)
	fl := cmd.Flags()
	fl.StringVar(&o.Filter.Team, "team", "", "only this team's events")
	fl.StringVar(&o.Filter.App, "app", "", "only this app's events")
	fl.StringVar(&o.Filter.Actor, "actor", "", "only this user's events")
	fl.StringVar(&o.Filter.Since, "since", "", "only events since a duration ago (24h) or an RFC 3339 time")
	fl.IntVar(&o.Filter.Limit, "limit", 100, "at most this many events")
	cmd.AddCommand(NewCmdAuditVerify(f, nil))
	return cmd
}

func auditRun(ctx context.Context, o *AuditOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	evs, err := c.Audit(ctx, o.Filter)
	if err != nil {
		return err
	}
	return printList(o.IO, o.Output, evs, []string{"ID", "TIME", "ACTOR", "ACTION", "TARGET", "OUTCOME"},
		func(e apiv1.AuditEvent) []string {
			return []string{strconv.FormatInt(e.ID, 10), ago(o.IO, e.Time), e.Actor, e.Action, e.Target, e.Outcome}
		})
}

// AuditVerifyOptions are the inputs of `berth audit verify`.
type AuditVerifyOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
}

// NewCmdAuditVerify returns `berth audit verify`.
func NewCmdAuditVerify(f *Factory, runF func(*AuditVerifyOptions) error) *cobra.Command {
	o := &AuditVerifyOptions{IO: f.IO, APIClient: f.apiClient}
	return &cobra.Command{
		Use:     "verify",
		Short:   "Check the audit log's hash chain for edited, inserted or deleted events (global admins)",
		Example: "  berth audit verify",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return auditVerifyRun(cmd.Context(), o)
		},
	}
}

func auditVerifyRun(ctx context.Context, o *AuditVerifyOptions) error {
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	v, err := c.VerifyAudit(ctx)
	if err != nil {
		return err
	}
	if v.OK {
		fmt.Fprintf(o.IO.Out, "audit log intact (%d events checked)\n", v.Events)
		return nil
	}
	for _, p := range v.Problems {
		fmt.Fprintf(o.IO.Out, "event %d: %s\n", p.ID, p.Problem)
	}
	return fmt.Errorf("audit log tampered with: %d problem(s)", len(v.Problems))
}
