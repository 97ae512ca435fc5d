package cli

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
)

// StatusOptions are the inputs of `berth status`.
type StatusOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	App       string
	Team      string
	Env       string
	Output    string
}

// NewCmdStatus returns `berth status`.
func NewCmdStatus(f *Factory, runF func(*StatusOptions) error) *cobra.Command {
	o := &StatusOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use:   "status APP [--env ENV]",
		Short: "Compare what Berth deployed with what runs: revision, replicas, pods, drift",
		Long: `For each environment the app was deployed to (or only --env): the last successful
deploy and the newest one, the Deployment's replicas, its pods and their states, and drift —
fields Berth set whose live value differs (someone ran kubectl edit or scale).`,
		Example: `  berth status reports
  berth status reports --env production -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.App = args[0]
			if runF != nil {
				return runF(o)
			}
			return statusRun(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.Team, "team", "", "team of the app (default: looked up)")
	cmd.Flags().StringVar(&o.Env, "env", "", "only this environment")
	bindOutput(cmd, &o.Output)
	return cmd
}

func statusRun(ctx context.Context, o *StatusOptions) error {
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
	st, err := c.AppStatus(ctx, team, o.App, o.Env)
	if err != nil {
		return err
	}
	if o.Output != "table" {
		return printData(o.IO.Out, o.Output, st)
	}
	printStatus(o.IO, st)
	return nil
}

func printStatus(s *IOStreams, st apiv1.AppStatus) {
	for i, e := range st.Envs {
		if i > 0 {
			fmt.Fprintln(s.Out)
		}
		fmt.Fprintf(s.Out, "%s/%s in %s (namespace %s)\n", st.Team, st.App, e.Env, e.Namespace)
		if d := e.Current; d != nil {
			fmt.Fprintf(s.Out, "  deployed:  revision %d (deploy %d by %s, %s)\n", d.Revision, d.ID, d.CreatedBy, ago(s, d.CreatedAt))
		}
		if d := e.Latest; d != nil && (e.Current == nil || d.ID != e.Current.ID) {
			fmt.Fprintf(s.Out, "  latest:    deploy %d of revision %d %s %s\n", d.ID, d.Revision, d.State, d.Reason)
		}
		if e.Error != "" {
			fmt.Fprintf(s.Out, "  live:      unknown: %s\n", e.Error)
			continue
		}
		l := e.Live
		if l == nil {
			continue
		}
		fmt.Fprintf(s.Out, "  live:      %s, %d/%d ready, %d updated, %d available\n", l.Phase, l.Ready, l.Desired, l.Updated, l.Available)
		if len(l.Pods) > 0 {
			rows := make([][]string, 0, len(l.Pods))
			for _, p := range l.Pods {
				rev := "current"
				if !p.Current {
					rev = "old"
				}
				rows = append(rows, []string{"  " + p.Name, p.Phase, strconv.FormatBool(p.Ready), strconv.Itoa(p.Restarts), rev, orDash(p.Reason)})
			}
			printTable(s, []string{"  POD", "PHASE", "READY", "RESTARTS", "TEMPLATE", "REASON"}, rows)
		}
		if len(l.Drift) == 0 {
			fmt.Fprintln(s.Out, "  drift:     none")
			continue
		}
		fmt.Fprintf(s.Out, "  drift:     %d field(s) differ from the deploy\n", len(l.Drift))
		rows := make([][]string, 0, len(l.Drift))
		for _, d := range l.Drift {
			rows = append(rows, []string{"  " + d.Object, d.Path, d.Desired, d.Live})
		}
		printTable(s, []string{"  OBJECT", "FIELD", "DEPLOYED", "LIVE"}, rows)
	}
}
