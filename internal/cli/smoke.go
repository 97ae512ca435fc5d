package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
)

// SmokeOptions are the inputs of `berth smoke`.
type SmokeOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	App       string
	Team      string
	Env       string
	Output    string
}

// NewCmdSmoke returns `berth smoke`.
func NewCmdSmoke(f *Factory, runF func(*SmokeOptions) error) *cobra.Command {
	o := &SmokeOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use:   "smoke APP --env ENV",
		Short: "Run an app's smoke tests against what runs now, without a deploy",
		Long: `Run the smoke tests of the revision that runs in the environment now (its newest finished
deploy's, including a failed one left without a rollback) against it, as a deploy's verify
stage does, and show each check's result. Nothing is deployed or rolled back. Exits 1 when a
check fails.

The checks are the manifest's smoke: list (docs/manifest.md): HTTP requests reach the app's
Service through the Kubernetes API server; commands run as Jobs in the app's namespace.
Running them needs the deployer role.`,
		Example: "  berth smoke reports --env production\n  berth smoke reports --env staging -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.App = args[0]
			if runF != nil {
				return runF(o)
			}
			return smokeRun(cmd.Context(), o)
		},
	}
	bindOutput(cmd, &o.Output)
	cmd.Flags().StringVar(&o.Team, "team", "", "team of the app (default: looked up)")
	cmd.Flags().StringVar(&o.Env, "env", "", "environment (required)")
	return cmd
}

func smokeRun(ctx context.Context, o *SmokeOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	if o.Env == "" {
		return &UsageError{Err: errors.New("--env is required")}
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	team, err := resolveTeam(ctx, c, o.App, o.Team)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.IO.ErrOut, "running the smoke tests of %s/%s in %s ...\n", team, o.App, o.Env)
	run, err := c.RunSmoke(ctx, team, o.App, o.Env)
	if err != nil {
		return err
	}
	if o.Output != "table" {
		if err := printData(o.IO.Out, o.Output, run); err != nil {
			return err
		}
	} else {
		printSmoke(o.IO.Out, &run)
	}
	if !run.Passed {
		return fmt.Errorf("the smoke tests of %s/%s in %s failed", team, o.App, o.Env)
	}
	return nil
}

// printSmoke writes a smoke run: a line per check with its outcome, time and attempts,
// then the failing check's excerpt.
func printSmoke(w io.Writer, run *apiv1.SmokeRun) {
	if run == nil {
		return
	}
	fmt.Fprintf(w, "smoke tests of revision %d: %s\n", run.Revision, smokeSummary(run))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range run.Results {
		mark, got := "ok", ""
		if !r.Passed {
			mark = "FAIL"
		}
		switch {
		case r.Kind == "http" && r.Status != 0:
			got = strconv.Itoa(r.Status)
		case r.Kind == "command" && r.ExitCode >= 0:
			got = "exit " + strconv.Itoa(r.ExitCode)
		default:
			got = "-"
		}
		row := "  " + mark + "\t" + r.Name + "\t" + got + "\t" + (time.Duration(r.DurationMs) * time.Millisecond).String()
		if r.Attempts > 1 {
			row += fmt.Sprintf("\t%d attempts", r.Attempts)
		}
		fmt.Fprintln(tw, row)
	}
	tw.Flush()
	for _, r := range run.Results {
		if r.Passed {
			continue
		}
		fmt.Fprintf(w, "%s: %s\n", r.Name, r.Detail)
		if r.Excerpt != "" {
			for line := range strings.Lines(r.Excerpt) {
				fmt.Fprintf(w, "  | %s", strings.TrimRight(line, "\n")+"\n")
			}
		}
	}
	if run.Skipped > 0 {
		fmt.Fprintf(w, "%d more not run after the failure\n", run.Skipped)
	}
}

// smokeSummary is a run in a few words: "3/3 passed in 412ms", "failed 2/3".
func smokeSummary(run *apiv1.SmokeRun) string {
	total := len(run.Results) + run.Skipped
	passed := 0
	for _, r := range run.Results {
		if r.Passed {
			passed++
		}
	}
	if run.Passed {
		return fmt.Sprintf("%d/%d passed in %s", passed, total, time.Duration(run.DurationMs)*time.Millisecond)
	}
	return fmt.Sprintf("failed, %d/%d passed", passed, total)
}
