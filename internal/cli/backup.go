package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
)

// Backups of apps' data (docs/backups.md): `berth backup` takes them and sets their
// schedules, `berth backups` lists and shows them (one command under two names),
// `berth restore` and `berth drills` (backup_restore.go) bring them back, and
// `berth backup-stores` (backup_stores.go) says where they go.

// NewCmdBackup returns `berth backup`, also called `berth backups`.
func NewCmdBackup(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "backup",
		Aliases: []string{"backups"},
		Short:   "Back up apps' data, list and show backups, and schedule backups and restore drills",
		Long: `A backup holds, for each postgres resource of an app in an environment, a dump of its
database (sealed with a backup key, written to the environment's backup store, with its
size, SHA-256 and each table's row count and checksum), and what brings the app back: the
revision deployed, its args, the versions of its config and secrets, its resources.

Backups are jobs: berth backup full queues one and, with --wait, follows it to its end.
berth restore full brings one back into an environment; berth drills run proves one can
be, by restoring it into a throwaway database checked against it. berth backup schedule
takes them (and drills them) on a schedule, keeping the last few, dailies and weeklies.

The app's team is looked up from its name; pass --team when two teams have an app of
that name. --app and --env may stand for --application and --environment.`,
		Example: `  # Back up reports's data in production, and wait for it
  berth backup full --application reports --environment production --wait

  # Every night at 03:00 in Lisbon, with a drill on Sundays
  berth backup schedule -a reports -e production --cron "0 3 * * *" --drill "0 5 * * 0" --time-zone Europe/Lisbon

  # What there is
  berth backups list --application reports
  berth backups show 12`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(NewCmdBackupFull(f, nil), NewCmdBackupTeam(f, nil), NewCmdBackupList(f, nil), NewCmdBackupShow(f, nil),
		NewCmdBackupSchedule(f, nil), NewCmdBackupSchedules(f, nil))
	return cmd
}

// bindBackupTarget binds the app and environment flags by the names
// (--application, --environment), also taking -a and -e, and --app and --env as the other
// commands name them.
// A required pair says so in its usage.
func bindBackupTarget(cmd *cobra.Command, app, env *string, appUsage, envUsage string, required bool) {
	cmd.Flags().StringVarP(app, "application", "a", "", appUsage+alsoFlag("app", required))
	bindBackupEnv(cmd, env, envUsage, required)
}

// bindBackupEnv binds --environment (or -e, --env).
func bindBackupEnv(cmd *cobra.Command, env *string, usage string, required bool) {
	fl := cmd.Flags()
	fl.StringVarP(env, "environment", "e", "", usage+alsoFlag("env", required))
	fl.SetNormalizeFunc(backupFlagName)
}

func alsoFlag(name string, required bool) string {
	if required {
		return " (required; or --" + name + ")"
	}
	return " (or --" + name + ")"
}

// backupFlagName reads --app as --application and --env as --environment.
func backupFlagName(_ *pflag.FlagSet, name string) pflag.NormalizedName {
	switch name {
	case "app":
		name = "application"
	case "env":
		name = "environment"
	}
	return pflag.NormalizedName(name)
}

func bindBackupTeam(cmd *cobra.Command, team *string) {
	cmd.Flags().StringVar(team, "team", "", "team of the app (default: looked up)")
}

// need returns a usage error for the first required flag with no value.
func need(flags ...[3]string) error {
	for _, f := range flags {
		if f[1] == "" {
			return &UsageError{Err: fmt.Errorf("--%s is required: %s", f[0], f[2])}
		}
	}
	return nil
}

// BackupFullOptions are the inputs of `berth backup full`.
type BackupFullOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	App       string
	Env       string
	Team      string
	Wait      bool
	Output    string
}

// NewCmdBackupFull returns `berth backup full`.
func NewCmdBackupFull(f *Factory, runF func(*BackupFullOptions) error) *cobra.Command {
	o := &BackupFullOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use:   "full --application APP --environment ENV [--team TEAM] [--wait]",
		Short: "Back up an app's data in an environment (deployers)",
		Long: `Queues a backup of the app's data in the environment: each of its postgres resources is
dumped (pg_dump, custom format), sealed and written to the environment's backup store,
with each table's row count and checksum, and what brings the app back.

Without --wait it prints the backup's id (berth backups show ID follows it). With --wait
it follows the backup to its end, then prints its size and parts; a failed backup exits
with status 1 and its reason.`,
		Example: `  berth backup full --application reports --environment production --wait
  berth backup full -a reports -e staging --team insights
  berth backup full --app reports --env production --wait -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return backupFullRun(cmd.Context(), o)
		},
	}
	bindBackupTarget(cmd, &o.App, &o.Env, "the app whose data is backed up", "the environment it runs in", true)
	bindBackupTeam(cmd, &o.Team)
	cmd.Flags().BoolVar(&o.Wait, "wait", false, "follow the backup until it ends; exit non-zero if it fails")
	bindOutput(cmd, &o.Output)
	return cmd
}

func backupFullRun(ctx context.Context, o *BackupFullOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	if err := need([3]string{"application", o.App, "the app whose data is backed up"},
		[3]string{"environment", o.Env, "the environment whose data is backed up, such as production"}); err != nil {
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
	b, err := c.StartBackup(ctx, team, o.App, o.Env)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.IO.ErrOut, "backup %d queued: %s/%s in %s, to backup store %s\n", b.ID, b.Team, b.App, b.Environment, b.Store)
	if !o.Wait {
		if o.Output != "table" {
			return printData(o.IO.Out, o.Output, b)
		}
		fmt.Fprintf(o.IO.Out, "%d\n", b.ID)
		return nil
	}
	b, err = followBackup(ctx, o.IO, c, b)
	if err != nil {
		return err
	}
	if o.Output != "table" {
		if err := printData(o.IO.Out, o.Output, b); err != nil {
			return err
		}
	} else if b.State == "succeeded" {
		printBackupResult(o.IO, b)
	}
	return backupFailure(b)
}

// backupFailure is the error of a failed backup, naming its reason; nil otherwise.
func backupFailure(b apiv1.Backup) error {
	if b.State == "failed" {
		return fmt.Errorf("backup %d of %s/%s in %s failed: %s", b.ID, b.Team, b.App, b.Environment, b.Reason)
	}
	return nil
}

// followBackup polls backup b until it ends, saying on standard error when its state
// changes and as each part is written.
func followBackup(ctx context.Context, s *IOStreams, c *apiclient.Client, b apiv1.Backup) (apiv1.Backup, error) {
	state, parts := b.State, len(b.Parts)
	for attempt := 0; !jobDone(b.State); attempt++ {
		if err := pollWait(ctx, attempt); err != nil {
			return b, err
		}
		d, err := c.Backup(ctx, b.ID)
		if err != nil {
			return b, err
		}
		b = d.Backup
		// Parts are written while it runs: said after it starts, before it ends.
		if b.State != state && !jobDone(b.State) {
			fmt.Fprintf(s.ErrOut, "backup %d: %s\n", b.ID, b.State)
		}
		for ; parts < len(b.Parts); parts++ {
			p := b.Parts[parts]
			fmt.Fprintf(s.ErrOut, "backup %d: part %s written (%s, %s)\n", b.ID, p.Resource, humanSize(p.Size), rowCount(p.Rows))
		}
		if b.State != state && jobDone(b.State) {
			fmt.Fprintf(s.ErrOut, "backup %d: %s\n", b.ID, b.State)
		}
		state = b.State
	}
	return b, nil
}

// printBackupResult says what a successful backup holds: its size, and its parts with
// their rows.
func printBackupResult(s *IOStreams, b apiv1.Backup) {
	fmt.Fprintf(s.Out, "backup %d succeeded: %s/%s in %s, %s in %s, %s\n", b.ID, b.Team, b.App, b.Environment, humanSize(b.Size),
		plural(len(b.Parts), "part", "parts"), rowCount(backupRows(b)))
	var rows [][]string
	for _, p := range b.Parts {
		rows = append(rows, []string{"  " + p.Resource, p.Type, humanSize(p.Size), plural(len(p.Tables), "table", "tables"), rowCount(p.Rows)})
	}
	_ = printRows(s, rows)
}

// jobDone reports whether a backup, restore or drill state is final.
func jobDone(state string) bool { return state == "succeeded" || state == "failed" }

// pollWait waits before the attempt-th poll of a job: 100ms, doubling up to 5s.
func pollWait(ctx context.Context, attempt int) error {
	d := 5 * time.Second
	if attempt < 6 {
		d = 100 * time.Millisecond << attempt
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// BackupTeamOptions are the inputs of `berth backup team`.
type BackupTeamOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Team      string
	Env       string
	Wait      bool
	Output    string
}

// NewCmdBackupTeam returns `berth backup team`.
func NewCmdBackupTeam(f *Factory, runF func(*BackupTeamOptions) error) *cobra.Command {
	o := &BackupTeamOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use:   "team --team TEAM --environment ENV [--wait]",
		Short: "Back up the data of every app of a team in an environment (deployers)",
		Long: `Queues one backup per app of the team that has a postgres resource in the environment.
With --wait it follows them all to their end; if any failed it exits with status 1,
naming each with its reason.`,
		Example: `  berth backup team --team shop --environment production
  berth backup team --team shop --env production --wait -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return backupTeamRun(cmd.Context(), o)
		},
	}
	bindBackupEnv(cmd, &o.Env, "the environment whose data is backed up", true)
	cmd.Flags().StringVar(&o.Team, "team", "", "the team whose apps are backed up (required)")
	cmd.Flags().BoolVar(&o.Wait, "wait", false, "follow the backups until they end; exit non-zero if one fails")
	bindOutput(cmd, &o.Output)
	return cmd
}

func backupTeamRun(ctx context.Context, o *BackupTeamOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	if err := need([3]string{"team", o.Team, "the team whose apps are backed up"},
		[3]string{"environment", o.Env, "the environment whose data is backed up, such as production"}); err != nil {
		return err
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	bs, err := c.StartTeamBackup(ctx, o.Team, o.Env)
	if err != nil {
		return err
	}
	var names []string
	for _, b := range bs {
		names = append(names, fmt.Sprintf("%s (backup %d)", b.App, b.ID))
	}
	fmt.Fprintf(o.IO.ErrOut, "queued %s of team %s in %s: %s\n", plural(len(bs), "backup", "backups"), o.Team, o.Env, strings.Join(names, ", "))
	if o.Wait {
		for i := range bs {
			if bs[i], err = followBackup(ctx, o.IO, c, bs[i]); err != nil {
				return err
			}
		}
	}
	if o.Output != "table" {
		if err := printData(o.IO.Out, o.Output, bs); err != nil {
			return err
		}
	} else {
		err := printList(o.IO, o.Output, bs, []string{"ID", "APP", "ENV", "STATE", "SIZE", "ROWS"}, func(b apiv1.Backup) []string {
			return []string{strconv.FormatInt(b.ID, 10), b.App, b.Environment, b.State, backupSize(b), backupRowsCell(b)}
		})
		if err != nil {
			return err
		}
	}
	var failed []string
	for _, b := range bs {
		if b.State == "failed" {
			failed = append(failed, fmt.Sprintf("backup %d of %s: %s", b.ID, b.App, b.Reason))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %s of team %s in %s failed: %s", len(failed), plural(len(bs), "backup", "backups"), o.Team, o.Env,
			strings.Join(failed, "; "))
	}
	return nil
}

// BackupListOptions are the inputs of `berth backups list`.
type BackupListOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	App       string
	Env       string
	Team      string
	State     string
	Limit     int
	Output    string
}

// NewCmdBackupList returns `berth backups list`.
func NewCmdBackupList(f *Factory, runF func(*BackupListOptions) error) *cobra.Command {
	o := &BackupListOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use:     "list [--application APP] [--environment ENV] [--team TEAM]",
		Aliases: []string{"ls"},
		Short:   "List backups, newest first: state, size, rows, when and why they were taken",
		Long: `Lists the backups of an app (--application), of a team (--team), or of every team you are
in, newest first. SIZE is what the backup takes in its store (encrypted); ROWS counts the
rows of every table it holds. A backup retention pruned says so in STATE: its data is
gone from the store, its record stays. TRIGGER is manual, schedule or team.`,
		Example: `  berth backups list --application reports
  berth backups list --team shop --environment production --state failed
  berth backups list -a reports -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return backupListRun(cmd.Context(), o)
		},
	}
	bindBackupTarget(cmd, &o.App, &o.Env, "only this app's backups", "only backups of this environment", false)
	cmd.Flags().StringVar(&o.Team, "team", "", "only this team's backups (default: the app's, or every team you are in)")
	cmd.Flags().StringVar(&o.State, "state", "", "only backups in this state: queued, running, succeeded or failed")
	cmd.Flags().IntVar(&o.Limit, "limit", 0, "at most this many backups per team, 1 to 1000 (default 100)")
	bindOutput(cmd, &o.Output)
	return cmd
}

func backupListRun(ctx context.Context, o *BackupListOptions) error {
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
	var bs []apiv1.Backup
	for _, team := range teams {
		more, err := c.Backups(ctx, team, apiclient.JobQuery{App: o.App, Env: o.Env, State: o.State, Limit: o.Limit})
		if err != nil {
			return err
		}
		bs = append(bs, more...)
	}
	slices.SortStableFunc(bs, func(a, b apiv1.Backup) int { return cmp.Compare(b.ID, a.ID) })
	if len(bs) == 0 && o.Output == "table" {
		fmt.Fprintf(o.IO.ErrOut, "no backups %s yet: berth backup full --application APP --environment ENV takes one\n", backupsOf(o.App, o.Env, teams))
		return nil
	}
	return printList(o.IO, o.Output, bs, []string{"ID", "APP", "ENV", "STATE", "SIZE", "ROWS", "CREATED", "TRIGGER"}, func(b apiv1.Backup) []string {
		app := b.App
		if len(teams) > 1 {
			app = b.Team + "/" + b.App
		}
		return []string{strconv.FormatInt(b.ID, 10), app, b.Environment, backupState(b), backupSize(b), backupRowsCell(b),
			ago(o.IO, b.CreatedAt), b.Trigger}
	})
}

// backupTeams returns the teams a listing covers: --team, the team of --application, or
// every team the caller is in.
func backupTeams(ctx context.Context, c *apiclient.Client, app, team string) ([]string, error) {
	if team != "" || app != "" {
		t, err := resolveTeam(ctx, c, app, team)
		return []string{t}, err
	}
	ts, err := c.Teams(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out, nil
}

// backupsOf says whose backups a listing was of.
func backupsOf(app, env string, teams []string) string {
	of := "in the teams you are in"
	switch {
	case app != "":
		of = "of " + teams[0] + "/" + app
	case len(teams) == 1:
		of = "in team " + teams[0]
	}
	if env != "" {
		of += " in " + env
	}
	return of
}

// BackupShowOptions are the inputs of `berth backups show`.
type BackupShowOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	ID        int64
	Output    string
}

// NewCmdBackupShow returns `berth backups show`.
func NewCmdBackupShow(f *Factory, runF func(*BackupShowOptions) error) *cobra.Command {
	o := &BackupShowOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a backup: what it holds, its parts with each table's rows and checksum, its restores and drills",
		Long: `Shows everything about a backup: its state (and why it failed), where it is stored and the
key it is sealed with; what brings the app back (the revision deployed, its args, the
versions of its config and secrets, its resources); each part with its size, SHA-256
and tables, each with its row count and checksum; and the restores and drills made of it.`,
		Example: "  berth backups show 12\n  berth backups show 12 -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := jobArg("backup", args[0])
			if err != nil {
				return err
			}
			o.ID = id
			if runF != nil {
				return runF(o)
			}
			return backupShowRun(cmd.Context(), o)
		},
	}
	bindOutput(cmd, &o.Output)
	return cmd
}

func backupShowRun(ctx context.Context, o *BackupShowOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	d, err := c.Backup(ctx, o.ID)
	if err != nil {
		return err
	}
	if o.Output != "table" {
		return printData(o.IO.Out, o.Output, d)
	}
	b, w := d.Backup, o.IO.Out
	state := backupState(b)
	if b.Reason != "" {
		state += ": " + b.Reason
	}
	fields := [][2]string{
		{"backup", strconv.FormatInt(b.ID, 10)},
		{"app", b.Team + "/" + b.App},
		{"environment", b.Environment},
		{"state", state},
		{"trigger", b.Trigger + ", by " + b.CreatedBy},
		{"store", storeLine(b)},
		{"created", stamp(b.CreatedAt)},
	}
	if b.StartedAt != nil {
		fields = append(fields, [2]string{"started", stamp(*b.StartedAt)})
	}
	if b.FinishedAt != nil {
		took := ""
		if b.StartedAt != nil {
			took = fmt.Sprintf(" (took %s)", b.FinishedAt.Sub(*b.StartedAt).Round(100*time.Millisecond))
		}
		fields = append(fields, [2]string{"finished", stamp(*b.FinishedAt) + took})
	}
	if b.PrunedAt != nil {
		fields = append(fields, [2]string{"pruned", stamp(*b.PrunedAt) + ": retention deleted its data from the store"})
	}
	fields = append(fields, [2]string{"size", humanSize(b.Size)})
	deployed := "none: the app had no successful deploy there"
	if b.Revision != 0 {
		deployed = fmt.Sprintf("revision %d (deploy %d)", b.Revision, b.Deploy)
	}
	var args, config, secrets, resources []string
	for _, k := range slices.Sorted(maps.Keys(b.Args)) {
		args = append(args, k+"="+b.Args[k])
	}
	for _, v := range b.Config {
		config = append(config, fmt.Sprintf("%s v%d", v.Name, v.Version))
	}
	for _, v := range b.Secrets {
		secrets = append(secrets, fmt.Sprintf("%s v%d", v.Name, v.Version))
	}
	for _, r := range b.Resources {
		resources = append(resources, fmt.Sprintf("%s (%s, %s)", r.Name, r.Type, r.Provisioner))
	}
	fields = append(fields, [2]string{"deployed", deployed}, [2]string{"args", orDash(strings.Join(args, ", "))},
		[2]string{"config", orDash(strings.Join(config, ", "))}, [2]string{"secrets", orDash(strings.Join(secrets, ", "))},
		[2]string{"resources", orDash(strings.Join(resources, ", "))})
	if err := printFields(o.IO, fields); err != nil {
		return err
	}
	if len(b.Parts) > 0 {
		fmt.Fprintln(w)
		var parts, tables [][]string
		for _, p := range b.Parts {
			parts = append(parts, []string{p.Resource, p.Type, humanSize(p.Size), strconv.Itoa(len(p.Tables)), groupDigits(p.Rows), p.SHA256, p.Object})
			for _, t := range p.Tables {
				tables = append(tables, []string{p.Resource, t.Schema + "." + t.Table, groupDigits(t.Rows), t.Checksum})
			}
		}
		if err := printTable(o.IO, []string{"PART", "TYPE", "SIZE", "TABLES", "ROWS", "SHA-256", "OBJECT"}, parts); err != nil {
			return err
		}
		if len(tables) > 0 {
			fmt.Fprintln(w)
			if err := printTable(o.IO, []string{"PART", "TABLE", "ROWS", "CHECKSUM"}, tables); err != nil {
				return err
			}
		}
	}
	fmt.Fprintln(w)
	jobs := append(append([]apiv1.Restore{}, d.Restores...), d.Drills...)
	if len(jobs) == 0 {
		if b.State == "succeeded" && b.PrunedAt == nil {
			fmt.Fprintf(w, "no restores or drills of it yet: berth drills run --application %s --environment %s --backup-id %d proves it restores\n",
				b.App, b.Environment, b.ID)
		} else {
			fmt.Fprintln(w, "no restores or drills of it")
		}
		return nil
	}
	slices.SortStableFunc(jobs, func(a, b apiv1.Restore) int { return cmp.Compare(b.ID, a.ID) })
	var rows [][]string
	for _, r := range jobs {
		kind := "restore"
		if r.Drill {
			kind = "drill"
		}
		rows = append(rows, []string{strconv.FormatInt(r.ID, 10), kind, r.Environment, restoreState(r), restoreDuration(r),
			ago(o.IO, restoreWhen(r)), orDash(r.Reason)})
	}
	return printTable(o.IO, []string{"ID", "KIND", "INTO", "STATE", "DURATION", "WHEN", "REASON"}, rows)
}

func storeLine(b apiv1.Backup) string {
	if b.KeyID == "" {
		return b.Store
	}
	return b.Store + " (sealed with key " + b.KeyID + ")"
}

// BackupScheduleOptions are the inputs of `berth backup schedule`.
type BackupScheduleOptions struct {
	IO         *IOStreams
	APIClient  func() (*apiclient.Client, error)
	App        string
	Env        string
	Team       string
	Cron       string
	Drill      string
	TimeZone   string
	KeepLast   int
	KeepDaily  int
	KeepWeekly int
	StaleAfter time.Duration
	// Delete removes the schedule instead.
	Delete bool
	Output string
	// Changed names the flags given on the command line.
	Changed func(flag string) bool
}

// NewCmdBackupSchedule returns `berth backup schedule`.
func NewCmdBackupSchedule(f *Factory, runF func(*BackupScheduleOptions) error) *cobra.Command {
	o := &BackupScheduleOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use:   "schedule --application APP --environment ENV (--cron CRON [--drill CRON] [flags] | --delete)",
		Short: "Back up an app's data on a schedule, drill the latest backup on another, and keep some (team admins)",
		Long: `Backs up the app's data in the environment on --cron, and on --drill restores the latest
backup into a throwaway database, checks it against the backup's row counts and
checksums, records how long the restore took, and drops it: a failed drill is announced
in the team's chat channel. Both are read in --time-zone (UTC unless given). Setting a
schedule again replaces it; --delete removes it (the backups made stay).

Retention keeps the newest --keep-last backups, plus the newest of each of the last
--keep-daily days and --keep-weekly weeks; the rest are pruned from the store. Without
any --keep-* it keeps the last 7, 7 daily and 4 weekly; with some, the others are 0.
A latest backup older than --stale-after (twice the schedule's interval unless given)
is announced as stale.

The schedules are five cron fields: minute hour day-of-month month day-of-week.
  "0 3 * * *"     03:00 every day
  "0 5 * * 0"     05:00 on Sundays
  "0 */6 * * *"   every 6 hours`,
		Example: `  berth backup schedule --application reports --environment production --cron "0 3 * * *"
  berth backup schedule -a reports -e production --cron "0 3 * * *" --drill "0 5 * * 0" --time-zone Europe/Lisbon \
    --keep-last 3 --keep-daily 14 --keep-weekly 8 --stale-after 36h
  berth backup schedule -a reports -e production --delete`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return backupScheduleRun(cmd.Context(), o)
		},
	}
	bindBackupTarget(cmd, &o.App, &o.Env, "the app whose data is backed up", "the environment it runs in", true)
	bindBackupTeam(cmd, &o.Team)
	fl := cmd.Flags()
	fl.StringVar(&o.Cron, "cron", "", `when backups run: five cron fields, such as "0 3 * * *" (required unless --delete)`)
	fl.StringVar(&o.Drill, "drill", "", `when the latest backup is drilled, such as "0 5 * * 0" (default: never)`)
	fl.StringVar(&o.TimeZone, "time-zone", "", "the IANA time zone the schedules are read in, such as Europe/Lisbon (default UTC)")
	fl.IntVar(&o.KeepLast, "keep-last", 0, "keep the newest N backups")
	fl.IntVar(&o.KeepDaily, "keep-daily", 0, "keep the newest backup of each of the last N days")
	fl.IntVar(&o.KeepWeekly, "keep-weekly", 0, "keep the newest backup of each of the last N weeks")
	fl.DurationVar(&o.StaleAfter, "stale-after", 0, "announce the latest backup as stale when it is older, such as 36h")
	fl.BoolVar(&o.Delete, "delete", false, "remove the schedule: no more scheduled backups or drills (the backups made stay)")
	bindOutput(cmd, &o.Output)
	o.Changed = fl.Changed
	return cmd
}

func backupScheduleRun(ctx context.Context, o *BackupScheduleOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	if err := need([3]string{"application", o.App, "the app whose data is backed up"},
		[3]string{"environment", o.Env, "the environment it runs in, such as production"}); err != nil {
		return err
	}
	settings := []string{"cron", "drill", "time-zone", "keep-last", "keep-daily", "keep-weekly", "stale-after"}
	if o.Delete {
		for _, s := range settings {
			if o.Changed(s) {
				return &UsageError{Err: fmt.Errorf("--delete removes the schedule: drop --%s", s)}
			}
		}
	} else {
		if o.Cron == "" {
			return &UsageError{Err: errors.New(`--cron is required: when backups run, such as "0 3 * * *" (03:00 every day); --delete removes the schedule`)}
		}
		for _, k := range []struct {
			flag string
			n    int
		}{{"keep-last", o.KeepLast}, {"keep-daily", o.KeepDaily}, {"keep-weekly", o.KeepWeekly}} {
			if k.n < 0 || k.n > 1000 {
				return &UsageError{Err: fmt.Errorf("--%s must be 0 to 1000, not %d", k.flag, k.n)}
			}
		}
		if o.Changed("keep-last") || o.Changed("keep-daily") || o.Changed("keep-weekly") {
			if o.KeepLast == 0 && o.KeepDaily == 0 && o.KeepWeekly == 0 {
				return &UsageError{Err: errors.New("the --keep-* flags keep no backup: keep at least the last one (--keep-last 1)")}
			}
		}
		if o.Changed("stale-after") && o.StaleAfter <= 0 {
			return &UsageError{Err: fmt.Errorf("--stale-after must be more than 0, such as 36h, not %s", o.StaleAfter)}
		}
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	team, err := resolveTeam(ctx, c, o.App, o.Team)
	if err != nil {
		return err
	}
	if o.Delete {
		if err := c.DeleteBackupSchedule(ctx, team, o.App, o.Env); err != nil {
			return err
		}
		fmt.Fprintf(o.IO.Out, "deleted the backup schedule of %s/%s in %s: no more scheduled backups or drills; its backups stay\n", team, o.App, o.Env)
		return nil
	}
	in := apiv1.SetBackupSchedule{Cron: o.Cron, Drill: o.Drill, TimeZone: o.TimeZone, KeepLast: o.KeepLast, KeepDaily: o.KeepDaily,
		KeepWeekly: o.KeepWeekly}
	if o.StaleAfter > 0 {
		in.StaleAfter = apiv1.FormatDuration(o.StaleAfter)
	}
	sc, err := c.SetBackupSchedule(ctx, team, o.App, o.Env, in)
	if err != nil {
		return err
	}
	if o.Output != "table" {
		return printData(o.IO.Out, o.Output, sc)
	}
	fmt.Fprintf(o.IO.Out, "backups of %s/%s in %s: %s\n", sc.Team, sc.App, sc.Environment, scheduleSummary(sc))
	return nil
}

// scheduleSummary says when a schedule backs up and drills, what it keeps and when the
// latest backup is stale.
func scheduleSummary(sc apiv1.BackupSchedule) string {
	drill := "no drills"
	if sc.Drill != "" {
		drill = "drills " + sc.Drill
	}
	stale := "stale after twice the schedule's interval"
	if sc.StaleAfter != "" {
		stale = "stale after " + sc.StaleAfter
	}
	return fmt.Sprintf("%s, %s (%s); %s; %s", sc.Cron, drill, sc.TimeZone, retention(sc), stale)
}

// retention says which backups a schedule keeps.
func retention(sc apiv1.BackupSchedule) string {
	var keep []string
	if sc.KeepLast > 0 {
		keep = append(keep, fmt.Sprintf("the last %d", sc.KeepLast))
	}
	if sc.KeepDaily > 0 {
		keep = append(keep, fmt.Sprintf("%d daily", sc.KeepDaily))
	}
	if sc.KeepWeekly > 0 {
		keep = append(keep, fmt.Sprintf("%d weekly", sc.KeepWeekly))
	}
	return "keeps " + strings.Join(keep, ", ")
}

// BackupSchedulesOptions are the inputs of `berth backup schedules`.
type BackupSchedulesOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Team      string
	Output    string
}

// NewCmdBackupSchedules returns `berth backup schedules`.
func NewCmdBackupSchedules(f *Factory, runF func(*BackupSchedulesOptions) error) *cobra.Command {
	o := &BackupSchedulesOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use:   "schedules [--team TEAM]",
		Short: "List backup schedules: when each app's data is backed up and drilled, and what is kept",
		Long: `Lists the backup schedules of a team, or of every team you are in: the backup and drill
schedules with their time zone, the retention (KEEP: the last N, daily, weekly) and when
the latest backup is stale (default: twice the schedule's interval).`,
		Example: "  berth backup schedules\n  berth backup schedules --team shop -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return backupSchedulesRun(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.Team, "team", "", "only this team's schedules (default: every team you are in)")
	bindOutput(cmd, &o.Output)
	return cmd
}

func backupSchedulesRun(ctx context.Context, o *BackupSchedulesOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	teams, err := backupTeams(ctx, c, "", o.Team)
	if err != nil {
		return err
	}
	var ss []apiv1.BackupSchedule
	for _, team := range teams {
		more, err := c.BackupSchedules(ctx, team)
		if err != nil {
			return err
		}
		ss = append(ss, more...)
	}
	if len(ss) == 0 && o.Output == "table" {
		of := "in the teams you are in"
		if o.Team != "" {
			of = "in team " + o.Team
		}
		fmt.Fprintf(o.IO.ErrOut, "no backup schedules %s yet: berth backup schedule --application APP --environment ENV --cron CRON sets one\n", of)
		return nil
	}
	return printList(o.IO, o.Output, ss, []string{"TEAM", "APP", "ENV", "BACKUPS", "DRILLS", "TIME ZONE", "KEEP", "STALE AFTER"},
		func(s apiv1.BackupSchedule) []string {
			keep := fmt.Sprintf("last %d, %d daily, %d weekly", s.KeepLast, s.KeepDaily, s.KeepWeekly)
			stale := s.StaleAfter
			if stale == "" {
				stale = "default"
			}
			return []string{s.Team, s.App, s.Environment, s.Cron, orDash(s.Drill), s.TimeZone, keep, stale}
		})
}

// jobArg reads the id argument of a backup or restore.
func jobArg(kind, arg string) (int64, error) {
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || id <= 0 {
		return 0, &UsageError{Err: fmt.Errorf("%q is not a %s id: give its number, such as 12 (berth backups list)", arg, kind)}
	}
	return id, nil
}

func backupState(b apiv1.Backup) string {
	if b.PrunedAt != nil {
		return b.State + ", pruned"
	}
	return b.State
}

func backupSize(b apiv1.Backup) string {
	if b.Size == 0 && b.State != "succeeded" {
		return "-"
	}
	return humanSize(b.Size)
}

func backupRows(b apiv1.Backup) int64 {
	var n int64
	for _, p := range b.Parts {
		n += p.Rows
	}
	return n
}

func backupRowsCell(b apiv1.Backup) string {
	if len(b.Parts) == 0 {
		return "-"
	}
	return groupDigits(backupRows(b))
}

func backupTables(b apiv1.Backup) int {
	n := 0
	for _, p := range b.Parts {
		n += len(p.Tables)
	}
	return n
}

// humanSize writes n bytes in binary units: 512 B, 4.0 KiB, 1.2 GiB.
func humanSize(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, unit := float64(n)/1024, 0
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB"}
	for v >= 1024 && unit < len(units)-1 {
		v, unit = v/1024, unit+1
	}
	return fmt.Sprintf("%.1f %s", v, units[unit])
}

// groupDigits writes n with a comma between groups of three digits: 1,204.
func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func rowCount(n int64) string {
	if n == 1 {
		return "1 row"
	}
	return groupDigits(n) + " rows"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// stamp writes a time of a backup or restore, in UTC.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }
