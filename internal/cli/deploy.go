package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
)

// DeployOptions are the inputs of `berth deploy`.
type DeployOptions struct {
	IO             *IOStreams
	App            string
	Team           string
	Env            string
	File           string
	Revision       int64
	Set            []string
	Wait           bool
	ForceConflicts bool
	NoAutoRollback bool
	Timeout        time.Duration
	// Refresh deploys what runs again, with current config and secrets.
	Refresh bool
}

// NewCmdDeploy returns `berth deploy`.
func NewCmdDeploy(s *IOStreams) *cobra.Command {
	o := &DeployOptions{IO: s}
	cmd := &cobra.Command{
		Use:   "deploy [APP] --env ENV",
		Short: "Deploy an app: send its berth.yaml (or name a stored revision) and watch the rollout",
		Long: `Sends the manifest (berth.yaml, or -f FILE) as the app's next revision and queues a
deploy to the environment. The first deploy of an app registers it under metadata.team.
Without a manifest, APP and a stored --revision (default: the latest) are deployed.

The server renders, applies with server-side apply, prunes what the revision no longer has,
and tracks the rollout; a rollout that fails rolls back automatically to the last good
deploy (unless --no-auto-rollback). With --wait it shows progress and exits 0 on success,
1 with the reason on failure.

With --refresh nothing new is sent: the revision and args that run in the environment are
deployed again, with the current config and secrets (see berth config, berth secrets); the
pods roll when a value they read changed. The app is APP, or the manifest's metadata.name.`,
		Example: `  berth deploy --env staging --wait
  berth deploy --env production --set version=1.4.2 --wait
  berth deploy reports --team insights --env staging --revision 12
  berth deploy -f deploy/berth.yaml --env staging --force-conflicts
  berth deploy reports --env production --refresh --wait`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.App = args[0]
			}
			return deployRun(cmd.Context(), o, cmd.Flags().Changed("file"))
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Env, "env", "", "environment to deploy to (required)")
	f.StringVarP(&o.File, "file", "f", defaultManifest, "manifest to send")
	f.StringVar(&o.Team, "team", "", "team of the app (default: metadata.team, or looked up)")
	f.Int64Var(&o.Revision, "revision", 0, "deploy this stored revision instead of sending a manifest")
	f.StringArrayVar(&o.Set, "set", nil, "set an arg: NAME=VALUE (repeatable)")
	f.BoolVar(&o.Wait, "wait", false, "follow the rollout until it ends; exit non-zero if it fails")
	f.BoolVar(&o.ForceConflicts, "force-conflicts", false, "take over fields another field manager owns")
	f.BoolVar(&o.NoAutoRollback, "no-auto-rollback", false, "leave a failed rollout as it is")
	f.DurationVar(&o.Timeout, "timeout", 0, "how long the rollout may take (default: the server's, 5m)")
	f.BoolVar(&o.Refresh, "refresh", false, "deploy what runs again with current config and secrets (no manifest is sent)")
	return cmd
}

func deployRun(ctx context.Context, o *DeployOptions, fileGiven bool) error {
	if o.Env == "" {
		return &UsageError{Err: errors.New("--env is required, for example --env staging")}
	}
	set, err := parseSet(o.Set)
	if err != nil {
		return err
	}
	if o.Timeout < 0 || o.Timeout > time.Hour {
		return &UsageError{Err: errors.New("--timeout must be between 0 and 1h")}
	}
	in := apiv1.CreateDeploy{Env: o.Env, Set: set, ForceConflicts: o.ForceConflicts, NoAutoRollback: o.NoAutoRollback,
		TimeoutSeconds: int(o.Timeout.Seconds()), Revision: o.Revision, App: o.App, Team: o.Team, Refresh: o.Refresh}
	if o.Refresh {
		if o.Revision != 0 || len(set) > 0 {
			return &UsageError{Err: errors.New("--refresh deploys the revision and args that run: drop --revision and --set")}
		}
		if in.App == "" {
			// The app of the manifest here; its content is not sent.
			m, err := loadManifest(o.IO, o.File)
			if err != nil {
				return err
			}
			in.App = m.Metadata.Name
			if in.Team == "" {
				in.Team = m.Metadata.Team
			}
		}
	}
	if o.Revision == 0 && !o.Refresh {
		data, err := os.ReadFile(o.File)
		switch {
		case errors.Is(err, fs.ErrNotExist) && !fileGiven && o.App != "":
			// No manifest here: deploy the app's latest stored revision.
		case err != nil:
			return fmt.Errorf("read manifest: %w (or deploy a stored revision with APP --revision N)", err)
		default:
			// Catch manifest errors here, with positions, before the round trip.
			if _, err := loadManifest(o.IO, o.File); err != nil {
				return err
			}
			in.Manifest = string(data)
		}
	}
	c, err := client()
	if err != nil {
		return err
	}
	if in.Manifest == "" {
		if in.Team, err = resolveTeam(ctx, c, in.App, in.Team); err != nil {
			return err
		}
	}
	d, err := c.CreateDeploy(ctx, in)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.IO.ErrOut, "deploy %d queued: %s/%s revision %d to %s\n", d.ID, d.Team, d.App, d.Revision, d.Env)
	if !o.Wait {
		fmt.Fprintf(o.IO.Out, "%d\n", d.ID)
		return nil
	}
	return watchDeploy(ctx, o.IO, c, d.ID)
}

// resolveTeam returns team, or the team of the only visible app called app.
func resolveTeam(ctx context.Context, c *apiclient.Client, app, team string) (string, error) {
	if team != "" {
		return team, nil
	}
	if app == "" {
		return "", &UsageError{Err: errors.New("name the app (APP argument) or send a manifest with -f")}
	}
	apps, err := c.Apps(ctx, "")
	if err != nil {
		return "", err
	}
	var teams []string
	for _, a := range apps {
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

// watchDeploy follows a deploy to its end: a progress bar in a terminal, one line per
// event in a pipe. A failure returns an error with the reason (and names the automatic
// rollback, which it then follows too).
func watchDeploy(ctx context.Context, s *IOStreams, c *apiclient.Client, id int64) error {
	d, err := c.StreamDeploy(ctx, id, func(ev apiv1.DeployEvent) { printProgress(s, id, ev) })
	if s.IsTerminal() {
		fmt.Fprintln(s.ErrOut)
	}
	if err != nil {
		return err
	}
	if d.State == "succeeded" {
		fmt.Fprintf(s.Out, "deploy %d succeeded: %s/%s revision %d is live in %s\n", d.ID, d.Team, d.App, d.Revision, d.Env)
		return nil
	}
	msg := fmt.Sprintf("deploy %d failed: %s", d.ID, d.Reason)
	if rb := findRollback(ctx, c, d); rb != 0 {
		fmt.Fprintf(s.ErrOut, "%s\nrolling back automatically (deploy %d) ...\n", msg, rb)
		r, err := c.StreamDeploy(ctx, rb, func(ev apiv1.DeployEvent) { printProgress(s, rb, ev) })
		if s.IsTerminal() {
			fmt.Fprintln(s.ErrOut)
		}
		if err == nil {
			msg += fmt.Sprintf("; automatic rollback %d to revision %d %s", r.ID, r.Revision, r.State)
		}
	}
	return errors.New(msg)
}

func findRollback(ctx context.Context, c *apiclient.Client, failed apiv1.Deploy) int64 {
	ds, err := c.Deploys(ctx, failed.Team, failed.App, failed.Env, 20)
	if err != nil {
		return 0
	}
	for _, d := range ds {
		if d.RollbackOf == failed.ID {
			return d.ID
		}
	}
	return 0
}

func printProgress(s *IOStreams, id int64, ev apiv1.DeployEvent) {
	if !s.IsTerminal() {
		line := fmt.Sprintf("deploy %d: %s", id, ev.Phase)
		if ev.Desired > 0 {
			line += fmt.Sprintf(" ready %d/%d updated %d available %d", ev.Ready, ev.Desired, ev.Updated, ev.Available)
		}
		if ev.Message != "" {
			line += " (" + ev.Message + ")"
		}
		fmt.Fprintln(s.ErrOut, line)
		return
	}
	const width = 24
	filled := 0
	if ev.Desired > 0 {
		filled = min(width, ev.Ready*width/ev.Desired)
	}
	fmt.Fprintf(s.ErrOut, "\r\033[K[%s%s] %d/%d ready  %s", strings.Repeat("#", filled), strings.Repeat(".", width-filled),
		ev.Ready, ev.Desired, ev.Phase)
}

// NewCmdHistory returns `berth history`.
func NewCmdHistory(s *IOStreams) *cobra.Command {
	var team, env string
	var limit int
	return listCmd(s, "history APP", "Show an app's deploys: revision, who, when, outcome",
		"  berth history reports --env production\n  berth history reports -o json",
		func(cmd *cobra.Command) {
			cmd.Args = cobra.ExactArgs(1)
			cmd.Aliases = nil
			cmd.Flags().StringVar(&team, "team", "", "team of the app (default: looked up)")
			cmd.Flags().StringVar(&env, "env", "", "only this environment")
			cmd.Flags().IntVar(&limit, "limit", 50, "at most this many deploys")
		},
		func(cmd *cobra.Command, c *apiclient.Client) ([]apiv1.Deploy, error) {
			t, err := resolveTeam(cmd.Context(), c, cmd.Flags().Arg(0), team)
			if err != nil {
				return nil, err
			}
			return c.Deploys(cmd.Context(), t, cmd.Flags().Arg(0), env, limit)
		},
		[]string{"DEPLOY", "ENV", "REVISION", "KIND", "STATE", "BY", "CREATED", "DURATION", "REASON"},
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
				d.CreatedBy, ago(s, d.CreatedAt), dur, orDash(truncate(d.Reason, 60))}
		})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

// NewCmdRollback returns `berth rollback`.
func NewCmdRollback(s *IOStreams) *cobra.Command {
	var team, env string
	var to int64
	var wait bool
	return actionCmd("rollback APP --env ENV [--to REVISION]", "Re-apply exactly the objects of an earlier successful deploy",
		"  berth rollback reports --env production --wait\n  berth rollback reports --env production --to 41", cobra.ExactArgs(1),
		func(cmd *cobra.Command) {
			cmd.Flags().StringVar(&team, "team", "", "team of the app (default: looked up)")
			cmd.Flags().StringVar(&env, "env", "", "environment (required)")
			cmd.Flags().Int64Var(&to, "to", 0, "revision to return to (default: the one before the current)")
			cmd.Flags().BoolVar(&wait, "wait", false, "follow the rollback until it ends")
		},
		func(cmd *cobra.Command, c *apiclient.Client, args []string) error {
			if env == "" {
				return &UsageError{Err: errors.New("--env is required")}
			}
			t, err := resolveTeam(cmd.Context(), c, args[0], team)
			if err != nil {
				return err
			}
			d, err := c.Rollback(cmd.Context(), t, args[0], apiv1.Rollback{Env: env, To: to})
			if err != nil {
				return err
			}
			fmt.Fprintf(s.ErrOut, "rollback %d queued: %s/%s back to revision %d (deploy %d's objects) in %s\n",
				d.ID, d.Team, d.App, d.Revision, d.SourceDeploy, d.Env)
			if !wait {
				fmt.Fprintf(s.Out, "%d\n", d.ID)
				return nil
			}
			return watchDeploy(cmd.Context(), s, c, d.ID)
		})
}

// NewCmdRedeploy returns `berth redeploy`, whose one subcommand is `team`.
func NewCmdRedeploy(s *IOStreams) *cobra.Command {
	var in apiv1.RedeployTeam
	var team string
	cmd := &cobra.Command{Use: "redeploy", Short: "Redeploy apps in bulk", Args: cobra.NoArgs}
	cmd.AddCommand(actionCmd("team --team TEAM", "Redeploy every app of a team, continue past failures, print a summary",
		`  berth redeploy team --team insights --env production
  berth redeploy team --team insights --exclude-app legacy --refresh --concurrency 8`, cobra.NoArgs,
		func(cmd *cobra.Command) {
			cmd.Flags().StringVar(&team, "team", "", "team (required)")
			cmd.Flags().StringVar(&in.Env, "env", "", "only this environment (default: every one the app runs in)")
			cmd.Flags().StringArrayVar(&in.Exclude, "exclude-app", nil, "leave this app alone (repeatable)")
			cmd.Flags().BoolVar(&in.Refresh, "refresh", false, "re-render the current revision with current configuration")
			cmd.Flags().IntVar(&in.Concurrency, "concurrency", 4, "deploys running at once")
		},
		func(cmd *cobra.Command, c *apiclient.Client, _ []string) error {
			if team == "" {
				return &UsageError{Err: errors.New("--team is required")}
			}
			if in.Concurrency < 1 || in.Concurrency > 100 {
				return &UsageError{Err: errors.New("--concurrency must be 1 to 100")}
			}
			ds, err := c.RedeployTeam(cmd.Context(), team, in)
			if err != nil {
				return err
			}
			fmt.Fprintf(s.ErrOut, "queued %d deploys of team %s\n", len(ds), team)
			return waitAll(cmd.Context(), s, c, ds)
		}))
	return cmd
}

// waitAll polls deploys until all are final, then prints a summary table; it fails if
// any deploy failed.
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
				fmt.Fprintf(s.ErrOut, "[%d/%d] %s/%s in %s: %s\n", len(final), len(ds), cur.Team, cur.App, cur.Env, cur.State)
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
	var rows [][]string
	failed := 0
	for _, d := range ds {
		f := final[d.ID]
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
