package cli

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
)

// NewCmdRestore returns `berth restore`.
func NewCmdRestore(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "restore",
		Aliases: []string{"restores"},
		Short:   "Restore a backup of an app's data into an environment, and list restores",
		Long: `berth restore full brings a backup of an app's data back, into the environment it was taken
in or another (production's backup into sandbox): into scratch databases first, checked
against the backup's row counts and checksums, then swapped in. A failed restore leaves
the target as it was.`,
		Example: `  berth restore full --application reports --environment sandbox --backup-id 12 --wait
  berth restore list --application reports`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(NewCmdRestoreFull(f, nil), NewCmdRestoreList(f, nil))
	return cmd
}

// NewCmdDrills returns `berth drills`.
func NewCmdDrills(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "drills",
		Aliases: []string{"drill"},
		Short:   "Restore drills: prove backups restore, by restoring one into a throwaway database",
		Long: `A drill restores a backup into a throwaway database, checks every table's row count and
checksum against the backup's, records how long the restore took, and drops it. Backup
schedules run them (berth backup schedule --drill); berth drills run runs one now.`,
		Example: `  berth drills run --application reports --environment production --wait
  berth drills list --application reports`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(NewCmdDrillsRun(f, nil), NewCmdDrillsList(f, nil))
	return cmd
}

// RestoreFullOptions are the inputs of `berth restore full`.
type RestoreFullOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	App       string
	// Env is the environment restored into.
	Env        string
	Team       string
	BackupID   int64
	Force      bool
	ToRevision bool
	Wait       bool
	Output     string
}

// NewCmdRestoreFull returns `berth restore full`.
func NewCmdRestoreFull(f *Factory, runF func(*RestoreFullOptions) error) *cobra.Command {
	o := &RestoreFullOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use:   "full --application APP --environment TARGET --backup-id ID [--team TEAM] [--force] [--to-revision] [--wait]",
		Short: "Restore a backup of an app's data into an environment (team admins)",
		Long: `Restores the backup --backup-id of the app into the environment --environment: the one it
was taken in, or another, such as production's backup into sandbox. Each part is restored
into a scratch database (the target's resources are provisioned first when missing),
checked against the backup's row counts and checksums, and only then swapped in: a
failed restore leaves the target as it was. A target that already holds data is refused
unless --force. --to-revision also redeploys the revision that ran when the backup was
taken (which needs the right to deploy there).

The backup must have succeeded and still be kept, and be of --application (its team is
the backup's). It first says what it will do, then queues the restore; with --wait it follows it to its
end. A failed restore exits with status 1 and its reason, which names the part.`,
		Example: `  # Production's backup 12 into sandbox
  berth restore full --application reports --environment sandbox --backup-id 12 --wait

  # Back to last night's data in production, and the revision that ran then
  berth restore full -a reports -e production --backup-id 40 --force --to-revision --wait`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return restoreFullRun(cmd.Context(), o)
		},
	}
	bindBackupTarget(cmd, &o.App, &o.Env, "the app whose backup is restored", "the environment restored into", true)
	bindBackupTeam(cmd, &o.Team)
	fl := cmd.Flags()
	fl.Int64Var(&o.BackupID, "backup-id", 0, "the backup to restore (required; berth backups list)")
	fl.BoolVar(&o.Force, "force", false, "restore over the data the target holds")
	fl.BoolVar(&o.ToRevision, "to-revision", false, "also redeploy the revision that ran when the backup was taken")
	fl.BoolVar(&o.Wait, "wait", false, "follow the restore until it ends; exit non-zero if it fails")
	bindOutput(cmd, &o.Output)
	return cmd
}

func restoreFullRun(ctx context.Context, o *RestoreFullOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	if err := need([3]string{"application", o.App, "the app whose backup is restored"},
		[3]string{"environment", o.Env, "the environment restored into, such as sandbox"}); err != nil {
		return err
	}
	if o.BackupID <= 0 {
		return &UsageError{Err: fmt.Errorf("--backup-id is required: the backup to restore (berth backups list --application %s)", o.App)}
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	d, err := c.Backup(ctx, o.BackupID)
	if err != nil {
		return err
	}
	b := d.Backup
	if b.App != o.App || (o.Team != "" && b.Team != o.Team) {
		return fmt.Errorf("backup %d is of %s/%s, not of %s: check --backup-id (berth backups list --application %s)",
			b.ID, b.Team, b.App, o.App, o.App)
	}
	switch {
	case b.State != "succeeded":
		return fmt.Errorf("backup %d %s: only a successful backup can be restored (berth backups list --application %s --state succeeded)",
			b.ID, map[string]string{"queued": "is queued", "running": "is still running", "failed": "failed: " + b.Reason}[b.State], b.App)
	case b.PrunedAt != nil:
		return fmt.Errorf("backup %d was pruned by retention on %s: its data is no longer in the store", b.ID, b.PrunedAt.UTC().Format(time.DateOnly))
	}
	what := fmt.Sprintf("restores backup %d of %s/%s (%s, %s, %s, %s) into %s", b.ID, b.Team, b.App, b.Environment,
		b.CreatedAt.UTC().Format("2006-01-02 15:04 UTC"), plural(backupTables(b), "table", "tables"), rowCount(backupRows(b)), o.Env)
	if o.Force {
		what += ", over the data there"
	}
	if o.ToRevision {
		if b.Revision != 0 {
			what += fmt.Sprintf(", then redeploys revision %d", b.Revision)
		} else {
			what += ", then redeploys the revision that ran then"
		}
	}
	fmt.Fprintln(o.IO.ErrOut, what)
	r, err := c.StartRestore(ctx, b.ID, apiv1.StartRestore{Environment: o.Env, Team: b.Team, App: b.App, Force: o.Force, ToRevision: o.ToRevision})
	if err != nil {
		return err
	}
	fmt.Fprintf(o.IO.ErrOut, "restore %d queued\n", r.ID)
	if !o.Wait {
		if o.Output != "table" {
			return printData(o.IO.Out, o.Output, r)
		}
		fmt.Fprintf(o.IO.Out, "%d\n", r.ID)
		return nil
	}
	if r, err = followRestore(ctx, o.IO, c, r); err != nil {
		return err
	}
	if o.Output != "table" {
		if err := printData(o.IO.Out, o.Output, r); err != nil {
			return err
		}
	} else if r.State == "succeeded" {
		line := fmt.Sprintf("restore %d succeeded: backup %d of %s/%s is restored into %s in %s, checked: %s, %s", r.ID, b.ID, b.Team, b.App,
			r.Environment, restoreDuration(r), plural(backupTables(b), "table", "tables"), rowCount(backupRows(b)))
		if r.Deploy != 0 {
			line += fmt.Sprintf("; deploy %d redeploys revision %d (berth history %s --env %s)", r.Deploy, b.Revision, b.App, r.Environment)
		}
		fmt.Fprintln(o.IO.Out, line)
	}
	return restoreFailure(r)
}

// restoreFailure is the error of a failed restore or drill, naming its reason; nil
// otherwise.
func restoreFailure(r apiv1.Restore) error {
	if r.State != "failed" {
		return nil
	}
	kind := "restore"
	if r.Drill {
		kind = "drill"
	}
	return fmt.Errorf("%s %d of backup %d into %s failed: %s", kind, r.ID, r.BackupID, r.Environment, r.Reason)
}

// followRestore polls restore (or drill) r until it ends, saying on standard error when
// its state or step changes.
func followRestore(ctx context.Context, s *IOStreams, c *apiclient.Client, r apiv1.Restore) (apiv1.Restore, error) {
	kind := "restore"
	if r.Drill {
		kind = "drill"
	}
	last := restoreState(r)
	for attempt := 0; !jobDone(r.State); attempt++ {
		if err := pollWait(ctx, attempt); err != nil {
			return r, err
		}
		got, err := c.Restore(ctx, r.ID)
		if err != nil {
			return r, err
		}
		r = got
		if now := restoreState(r); now != last {
			last = now
			fmt.Fprintf(s.ErrOut, "%s %d: %s\n", kind, r.ID, now)
		}
	}
	return r, nil
}

// DrillsRunOptions are the inputs of `berth drills run`.
type DrillsRunOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	App       string
	Env       string
	Team      string
	BackupID  int64
	Wait      bool
	Output    string
}

// NewCmdDrillsRun returns `berth drills run`.
func NewCmdDrillsRun(f *Factory, runF func(*DrillsRunOptions) error) *cobra.Command {
	o := &DrillsRunOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use:   "run --application APP --environment ENV [--backup-id ID] [--wait]",
		Short: "Drill a backup now: restore it into a throwaway database and check it (deployers)",
		Long: `Restores a backup of the app in the environment (--backup-id, or the latest kept) into a
throwaway database, checks every table's row count and checksum against the backup's,
and drops it; the environment's data is not touched. With --wait it follows the drill to
its end and says how long the restore took; a failed drill exits with status 1 and its
reason, which names the part.`,
		Example: `  berth drills run --application reports --environment production --wait
  berth drills run -a reports -e production --backup-id 12`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return drillsRunRun(cmd.Context(), o)
		},
	}
	bindBackupTarget(cmd, &o.App, &o.Env, "the app whose backup is drilled", "the environment the backup is of", true)
	bindBackupTeam(cmd, &o.Team)
	cmd.Flags().Int64Var(&o.BackupID, "backup-id", 0, "the backup to drill (default: the latest kept)")
	cmd.Flags().BoolVar(&o.Wait, "wait", false, "follow the drill until it ends; exit non-zero if it fails")
	bindOutput(cmd, &o.Output)
	return cmd
}

func drillsRunRun(ctx context.Context, o *DrillsRunOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	if err := need([3]string{"application", o.App, "the app whose backup is drilled"},
		[3]string{"environment", o.Env, "the environment the backup is of, such as production"}); err != nil {
		return err
	}
	if o.BackupID < 0 {
		return &UsageError{Err: fmt.Errorf("--backup-id must be a backup's id, not %d", o.BackupID)}
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	team, err := resolveTeam(ctx, c, o.App, o.Team)
	if err != nil {
		return err
	}
	r, err := c.StartDrill(ctx, team, o.App, apiv1.StartDrill{Environment: o.Env, BackupID: o.BackupID})
	if err != nil {
		return err
	}
	fmt.Fprintf(o.IO.ErrOut, "drill %d queued: backup %d of %s/%s in %s, into a throwaway database\n", r.ID, r.BackupID, team, o.App, o.Env)
	if !o.Wait {
		if o.Output != "table" {
			return printData(o.IO.Out, o.Output, r)
		}
		fmt.Fprintf(o.IO.Out, "%d\n", r.ID)
		return nil
	}
	if r, err = followRestore(ctx, o.IO, c, r); err != nil {
		return err
	}
	if o.Output != "table" {
		if err := printData(o.IO.Out, o.Output, r); err != nil {
			return err
		}
	} else if r.State == "succeeded" {
		fmt.Fprintf(o.IO.Out, "drill %d succeeded: backup %d of %s/%s in %s restores in %s, and every table matches the backup\n",
			r.ID, r.BackupID, r.Team, r.App, r.Environment, restoreDuration(r))
	}
	return restoreFailure(r)
}

// RestoreListOptions are the inputs of `berth drills list` and `berth restore list`.
type RestoreListOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	// Drills lists drills rather than restores.
	Drills bool
	App    string
	Env    string
	Team   string
	Limit  int
	Output string
}

// NewCmdDrillsList returns `berth drills list`.
func NewCmdDrillsList(f *Factory, runF func(*RestoreListOptions) error) *cobra.Command {
	return newCmdRestoreList(f, runF, true)
}

// NewCmdRestoreList returns `berth restore list`.
func NewCmdRestoreList(f *Factory, runF func(*RestoreListOptions) error) *cobra.Command {
	return newCmdRestoreList(f, runF, false)
}

func newCmdRestoreList(f *Factory, runF func(*RestoreListOptions) error, drills bool) *cobra.Command {
	o := &RestoreListOptions{IO: f.IO, APIClient: f.apiClient, Drills: drills}
	kind, envUsage := "restores", "only restores into this environment"
	cmd := &cobra.Command{
		Use:     "list [--application APP] [--environment ENV] [--team TEAM]",
		Aliases: []string{"ls"},
		Short:   "List restores, newest first: the backup, the target, how it went and how long it took",
		Long: `Lists the restores of an app (--application), of a team (--team), or of every team you are
in, newest first: the backup restored, the environment restored into, the state and the
reason of a failure, and the measured restore time.`,
		Example: "  berth restore list --application reports\n  berth restore list --team shop -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return restoreListRun(cmd.Context(), o)
		},
	}
	if drills {
		kind, envUsage = "drills", "only drills of this environment's backups"
		cmd.Short = "List restore drills, newest first: the backup drilled, how it went and how long the restore took"
		cmd.Long = `Lists the drills of an app (--application), of a team (--team), or of every team you
are in, newest first: the backup drilled, the state and the reason of a failure (which
names the part and the table), the measured restore time (from the first byte read to
the last checksum compared) and when it ran.`
		cmd.Example = "  berth drills list --application reports\n  berth drills list --team shop --environment production -o json"
	}
	bindBackupTarget(cmd, &o.App, &o.Env, "only this app's "+kind, envUsage, false)
	cmd.Flags().StringVar(&o.Team, "team", "", "only this team's "+kind+" (default: the app's, or every team you are in)")
	cmd.Flags().IntVar(&o.Limit, "limit", 0, "at most this many per team, 1 to 1000 (default 100)")
	bindOutput(cmd, &o.Output)
	return cmd
}

func restoreListRun(ctx context.Context, o *RestoreListOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	if o.Limit < 0 || o.Limit > 1000 {
		return &UsageError{Err: fmt.Errorf("--limit must be 1 to 1000, not %d", o.Limit)}
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	teams, err := backupTeams(ctx, c, o.App, o.Team)
	if err != nil {
		return err
	}
	var rs []apiv1.Restore
	for _, team := range teams {
		more, err := c.Restores(ctx, team, o.Drills, apiclient.JobQuery{App: o.App, Env: o.Env, Limit: o.Limit})
		if err != nil {
			return err
		}
		rs = append(rs, more...)
	}
	slices.SortStableFunc(rs, func(a, b apiv1.Restore) int { return cmp.Compare(b.ID, a.ID) })
	if len(rs) == 0 && o.Output == "table" {
		if o.Drills {
			fmt.Fprintf(o.IO.ErrOut, "no drills %s yet: berth drills run --application APP --environment ENV runs one\n", backupsOf(o.App, o.Env, teams))
		} else {
			fmt.Fprintf(o.IO.ErrOut, "no restores %s yet\n", backupsOf(o.App, o.Env, teams))
		}
		return nil
	}
	return printList(o.IO, o.Output, rs, []string{"ID", "BACKUP", "APP", "ENV", "STATE", "DURATION", "WHEN", "REASON"}, func(r apiv1.Restore) []string {
		app := r.App
		if len(teams) > 1 {
			app = r.Team + "/" + r.App
		}
		return []string{strconv.FormatInt(r.ID, 10), strconv.FormatInt(r.BackupID, 10), app, r.Environment, restoreState(r),
			restoreDuration(r), ago(o.IO, restoreWhen(r)), orDash(r.Reason)}
	})
}

// restoreState is a restore's state, with its step while it runs.
func restoreState(r apiv1.Restore) string {
	if r.State == "running" && r.Step != "" {
		return "running (" + r.Step + ")"
	}
	return r.State
}

// restoreDuration is the measured restore time of a finished restore or drill.
func restoreDuration(r apiv1.Restore) string {
	if !jobDone(r.State) || r.DurationSeconds <= 0 {
		return "-"
	}
	return time.Duration(r.DurationSeconds * float64(time.Second)).Round(100 * time.Millisecond).String()
}

// restoreWhen is when a restore ended, or was queued while it has not.
func restoreWhen(r apiv1.Restore) time.Time {
	if r.FinishedAt != nil {
		return *r.FinishedAt
	}
	return r.CreatedAt
}
