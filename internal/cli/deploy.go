package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/manifest"
)

// DeployOptions are the inputs of `berth deploy`.
type DeployOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	App       string
	Team      string
	Env       string
	File      string
	// FileGiven says -f was given: then a missing file is an error, not a deploy of the
	// app's latest stored revision.
	FileGiven      bool
	Revision       int64
	Set            []string
	Wait           bool
	ForceConflicts bool
	NoAutoRollback bool
	Timeout        time.Duration
	// Refresh deploys what runs again, with current config and secrets.
	Refresh bool
	// Emergency is why the deploy goes ahead inside a freeze window; "" for none.
	Emergency string
}

// NewCmdDeploy returns `berth deploy`.
func NewCmdDeploy(f *Factory, runF func(*DeployOptions) error) *cobra.Command {
	o := &DeployOptions{IO: f.IO, APIClient: f.apiClient}
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
pods roll when a value they read changed. The app is APP, or the manifest's metadata.name.

Into an environment inside a freeze window (berth envs freezes) a deploy is refused unless
--emergency says why it cannot wait; the reason goes to the audit log.`,
		Example: `  berth deploy --env staging --wait
  berth deploy --env production --set version=1.4.2 --wait
  berth deploy reports --team insights --env staging --revision 12
  berth deploy -f deploy/berth.yaml --env staging --force-conflicts
  berth deploy reports --env production --refresh --wait
  berth deploy --env production --emergency "checkout down: fix for INC-231" --wait`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.App = args[0]
			}
			o.FileGiven = cmd.Flags().Changed("file")
			if runF != nil {
				return runF(o)
			}
			return deployRun(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Env, "env", "", "environment to deploy to (required)")
	fl.StringVarP(&o.File, "file", "f", defaultManifest, "manifest to send")
	fl.StringVar(&o.Team, "team", "", "team of the app (default: metadata.team, or looked up)")
	fl.Int64Var(&o.Revision, "revision", 0, "deploy this stored revision instead of sending a manifest")
	fl.StringArrayVar(&o.Set, "set", nil, "set an arg: NAME=VALUE (repeatable)")
	fl.BoolVar(&o.Wait, "wait", false, "follow the rollout until it ends; exit non-zero if it fails")
	fl.BoolVar(&o.ForceConflicts, "force-conflicts", false, "take over fields another field manager owns")
	fl.BoolVar(&o.NoAutoRollback, "no-auto-rollback", false, "leave a failed rollout as it is")
	fl.DurationVar(&o.Timeout, "timeout", 0, "how long the rollout may take (default: the server's, 5m)")
	fl.BoolVar(&o.Refresh, "refresh", false, "deploy what runs again with current config and secrets (no manifest is sent)")
	fl.StringVar(&o.Emergency, "emergency", "", "deploy inside a freeze window of the environment, saying why (audited)")
	return cmd
}

func deployRun(ctx context.Context, o *DeployOptions) error {
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
		TimeoutSeconds: int(o.Timeout.Seconds()), Revision: o.Revision, App: o.App, Team: o.Team, Refresh: o.Refresh,
		Emergency: o.Emergency}
	if o.Refresh {
		if o.Revision != 0 || len(set) > 0 {
			return &UsageError{Err: errors.New("--refresh deploys the revision and args that run: drop --revision and --set")}
		}
		if in.App == "" {
			// The app of the manifest here; its content is not sent.
			m, err := loadManifest(ctx, o.IO, o.File)
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
		// The manifest as it renders here, its files[].source inlined: the server reads no
		// local file. Its errors, and the server's, name the file as the user gave it.
		data, err := manifest.InlineFile(ctx, o.File, o.File)
		var errs *manifest.Errors
		switch {
		case errors.Is(err, fs.ErrNotExist) && !o.FileGiven && o.App != "":
			// No manifest here: deploy the app's latest stored revision.
		case errors.As(err, &errs):
			return manifestError(o.IO, err)
		case err != nil:
			return fmt.Errorf("read manifest: %w (or deploy a stored revision with APP --revision N)", err)
		default:
			in.Manifest, in.ManifestName = string(data), o.File
		}
	}
	c, err := o.APIClient()
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
		printSmoke(s.Out, d.Smoke)
		return nil
	}
	printSmoke(s.ErrOut, d.Smoke)
	msg := fmt.Sprintf("deploy %d failed: %s", d.ID, d.Reason)
	// The server knows the rollback it queued, if any; without one (or the answer) there
	// is nothing more to follow.
	if rb, err := c.AutoRollback(ctx, d.ID); err == nil {
		fmt.Fprintf(s.ErrOut, "%s\nrolling back automatically (deploy %d) ...\n", msg, rb.ID)
		r, err := c.StreamDeploy(ctx, rb.ID, func(ev apiv1.DeployEvent) { printProgress(s, rb.ID, ev) })
		if s.IsTerminal() {
			fmt.Fprintln(s.ErrOut)
		}
		if err == nil {
			printSmoke(s.ErrOut, r.Smoke)
			msg += fmt.Sprintf("; automatic rollback %d to revision %d %s", r.ID, r.Revision, r.State)
		}
	}
	return errors.New(msg)
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
