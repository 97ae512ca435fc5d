package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
)

// NewCmdTrain returns `berth train`.
func NewCmdTrain(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "train",
		Aliases: []string{"trains"},
		Short:   "Deployment trains: promote what runs in one environment to another on a schedule, app after app",
		Long: `A deployment train leaves on a schedule (cron, in a time zone) and promotes what runs in
one environment to another (staging to production), app after app, in the order its apps
are named (every app of the team, by name, when none is). Before it leaves (15m unless
--announce says otherwise) it announces itself in the team's chat channel with what is on
it: each app with something pending and the commits that brings. Anyone on the team may
delay it (by 30m unless --delay says otherwise, at most twice a day unless --max-delays
says otherwise); a deployer may send it off at once, or freeze it while something is wrong.
If a car's deploy fails, the line stops there: the apps after it stay where they are.

Team admins create, change and delete trains. Commands that name a train find its team
(pass --team when two teams have a train of that name).`,
		Example: `  # Every weekday at 10:00 in Lisbon, staging to production
  berth train create release --team shop --schedule "0 10 * * 1-5" --time-zone Europe/Lisbon \
    --from staging --to production

  # What leaves next, and what is on it
  berth train status release

  # Not now: 30 minutes later
  berth train delay release`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(NewCmdTrainList(f, nil), NewCmdTrainCreate(f, nil), NewCmdTrainUpdate(f, nil), NewCmdTrainDelete(f, nil),
		NewCmdTrainShow(f, nil), NewCmdTrainStatus(f, nil), NewCmdTrainDelay(f, nil), NewCmdTrainDepart(f, nil),
		NewCmdTrainFreeze(f, nil), NewCmdTrainUnfreeze(f, nil))
	return cmd
}

// TrainListOptions are the inputs of `berth train list`.
type TrainListOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	// Team is the team whose trains are listed; "" lists every team's the caller sees.
	Team   string
	Output string
}

// NewCmdTrainList returns `berth train list`.
func NewCmdTrainList(f *Factory, runF func(*TrainListOptions) error) *cobra.Command {
	o := &TrainListOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use:     "list [--team TEAM]",
		Aliases: []string{"ls"},
		Short:   "List deployment trains: schedule, time zone, route, apps and whether they are frozen",
		Example: "  berth train list\n  berth train list --team shop -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return trainListRun(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.Team, "team", "", "only this team's trains (default: every team's you can see)")
	bindOutput(cmd, &o.Output)
	return cmd
}

func trainListRun(ctx context.Context, o *TrainListOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	ts, err := c.Trains(ctx, o.Team, "")
	if err != nil {
		return err
	}
	if len(ts) == 0 && o.Output == "table" {
		of, team := "of the teams you are in", "TEAM"
		if o.Team != "" {
			of, team = "in team "+o.Team, o.Team
		}
		fmt.Fprintf(o.IO.ErrOut, "no trains %s yet: berth train create NAME --team %s --schedule CRON --from ENV --to ENV makes one\n", of, team)
		return nil
	}
	return printList(o.IO, o.Output, ts, []string{"TEAM", "NAME", "SCHEDULE", "TIME ZONE", "ROUTE", "APPS", "FROZEN"}, func(t apiv1.Train) []string {
		return []string{t.Team, t.Name, t.Schedule, t.TimeZone, t.From + " → " + t.To, trainApps(t.Apps, "all"), frozenCell(t)}
	})
}

// TrainSettings are the flags of a train's settings, shared by create and update.
type TrainSettings struct {
	Apps               []string
	Schedule, TimeZone string
	From, To, Channel  string
	Announce, Delay    time.Duration
	MaxDelays          int
	// Changed names the settings given on the command line, by flag.
	Changed func(flag string) bool
}

func bindTrainSettings(cmd *cobra.Command, s *TrainSettings) {
	fl := cmd.Flags()
	fl.StringSliceVar(&s.Apps, "apps", nil, `the apps it carries, in departure order, comma-separated (default, or "": every app of the team, by name)`)
	fl.StringVar(&s.Schedule, "schedule", "", `when it leaves: five cron fields (minute hour day-of-month month day-of-week), such as "0 10 * * 1-5", or @daily`)
	fl.StringVar(&s.TimeZone, "time-zone", "", "the IANA time zone the schedule is read in, such as Europe/Lisbon (default UTC)")
	fl.StringVar(&s.From, "from", "", "the environment it promotes from, such as staging")
	fl.StringVar(&s.To, "to", "", "the environment it promotes to, such as production")
	fl.StringVar(&s.Channel, "channel", "", "the chat channel it announces itself in (default: the team's)")
	fl.DurationVar(&s.Announce, "announce", 0, "how long before it leaves it announces itself (default 15m)")
	fl.DurationVar(&s.Delay, "delay", 0, "how much one delay postpones it (default 30m)")
	fl.IntVar(&s.MaxDelays, "max-delays", 0, "how many times a day it may be delayed (default 2; 0: never)")
	s.Changed = fl.Changed
}

// check refuses settings the server would, before asking it.
func (s *TrainSettings) check() error {
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"announce", s.Announce}, {"delay", s.Delay}} {
		if s.Changed(d.flag) && d.v <= 0 {
			return &UsageError{Err: fmt.Errorf("--%s must be more than 0, such as 15m", d.flag)}
		}
	}
	if s.Changed("max-delays") && s.MaxDelays < 0 {
		return &UsageError{Err: fmt.Errorf("--max-delays must be 0 (never) or more, not %d", s.MaxDelays)}
	}
	return nil
}

// TrainCreateOptions are the inputs of `berth train create`.
type TrainCreateOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Team      string
	Name      string
	Settings  TrainSettings
	Output    string
}

// NewCmdTrainCreate returns `berth train create`.
func NewCmdTrainCreate(f *Factory, runF func(*TrainCreateOptions) error) *cobra.Command {
	o := &TrainCreateOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use:   "create NAME --team TEAM --schedule CRON [--time-zone TZ] --from ENV --to ENV [flags]",
		Short: "Create a deployment train (team admins)",
		Long: `Creates a train that leaves on --schedule, read in --time-zone, and promotes what runs in
--from to --to, app after app: the --apps named, in that order, or every app of the team
by name. It announces itself --announce before it leaves, in --channel or the team's chat
channel, with each app that has something pending and its commits; it may be delayed by
--delay at most --max-delays times a day (in its time zone).

The schedule is five cron fields: minute hour day-of-month month day-of-week.
  "0 10 * * 1-5"     10:00 on weekdays
  "30 9,15 * * *"    09:30 and 15:30 every day
  @daily             midnight`,
		Example: `  berth train create release --team shop --schedule "0 10 * * 1-5" --time-zone Europe/Lisbon \
    --from staging --to production

  berth train create backend --team shop --schedule "0 14 * * 2,4" --time-zone America/New_York \
    --from staging --to production --apps api,worker --channel C0123TRAINS --announce 30m --max-delays 1`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if runF != nil {
				return runF(o)
			}
			return trainCreateRun(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.Team, "team", "", "the team whose train it is (required)")
	bindTrainSettings(cmd, &o.Settings)
	bindOutput(cmd, &o.Output)
	return cmd
}

func trainCreateRun(ctx context.Context, o *TrainCreateOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	s := &o.Settings
	for _, req := range []struct{ flag, value, hint string }{
		{"team", o.Team, "the team whose train it is"},
		{"schedule", s.Schedule, `when it leaves, such as "0 10 * * 1-5" (10:00 on weekdays)`},
		{"from", s.From, "the environment it promotes from"},
		{"to", s.To, "the environment it promotes to"},
	} {
		if req.value == "" {
			return &UsageError{Err: fmt.Errorf("--%s is required: %s", req.flag, req.hint)}
		}
	}
	if err := s.check(); err != nil {
		return err
	}
	in := apiv1.CreateTrain{Name: o.Name, Apps: s.Apps, Schedule: s.Schedule, TimeZone: s.TimeZone, From: s.From, To: s.To, Channel: s.Channel}
	if s.Changed("announce") {
		in.Announce = apiv1.FormatDuration(s.Announce)
	}
	if s.Changed("delay") {
		in.Delay = apiv1.FormatDuration(s.Delay)
	}
	if s.Changed("max-delays") {
		in.MaxDelays = &s.MaxDelays
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	t, err := c.CreateTrain(ctx, o.Team, in)
	if err != nil {
		return err
	}
	if o.Output != "table" {
		return printData(o.IO.Out, o.Output, t)
	}
	fmt.Fprintf(o.IO.Out, "created train %s/%s: %s, %s\n", t.Team, t.Name, trainSummary(t), trainApps(t.Apps, "every app of the team"))
	fmt.Fprintf(o.IO.ErrOut, "its next departure: berth train show %s --team %s\n", t.Name, t.Team)
	return nil
}

// TrainUpdateOptions are the inputs of `berth train update`.
type TrainUpdateOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Team      string
	Name      string
	Settings  TrainSettings
	Output    string
}

// NewCmdTrainUpdate returns `berth train update`.
func NewCmdTrainUpdate(f *Factory, runF func(*TrainUpdateOptions) error) *cobra.Command {
	o := &TrainUpdateOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use:   "update NAME [--schedule CRON] [--time-zone TZ] [--from ENV] [--to ENV] [--apps APPS] [flags]",
		Short: "Change a deployment train's settings: only those given (team admins)",
		Long: `Changes the settings given, and only those; the flags are create's. A departure already
announced or delayed keeps its time; the next ones follow the new schedule. --apps ""
makes it carry every app of the team, by name.`,
		Example: `  # Leave at 09:30 instead
  berth train update release --schedule "30 9 * * 1-5"

  # Carry only api and web, in that order, and never be delayed
  berth train update release --apps api,web --max-delays 0`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if runF != nil {
				return runF(o)
			}
			return trainUpdateRun(cmd.Context(), o)
		},
	}
	bindTrainTeam(cmd, &o.Team)
	bindTrainSettings(cmd, &o.Settings)
	bindOutput(cmd, &o.Output)
	return cmd
}

func trainUpdateRun(ctx context.Context, o *TrainUpdateOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	s := &o.Settings
	var in apiv1.UpdateTrain
	str := func(flag string, v string, dst **string) {
		if s.Changed(flag) {
			*dst = &v
		}
	}
	str("schedule", s.Schedule, &in.Schedule)
	str("time-zone", s.TimeZone, &in.TimeZone)
	str("from", s.From, &in.From)
	str("to", s.To, &in.To)
	str("channel", s.Channel, &in.Channel)
	str("announce", apiv1.FormatDuration(s.Announce), &in.Announce)
	str("delay", apiv1.FormatDuration(s.Delay), &in.Delay)
	if s.Changed("apps") {
		apps := s.Apps
		if apps == nil {
			apps = []string{}
		}
		in.Apps = &apps
	}
	if s.Changed("max-delays") {
		in.MaxDelays = &s.MaxDelays
	}
	if in == (apiv1.UpdateTrain{}) {
		return &UsageError{Err: errors.New("nothing to change: give the settings to change, such as --schedule CRON (berth train update --help)")}
	}
	if err := s.check(); err != nil {
		return err
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	team, err := resolveTrainTeam(ctx, c, o.Name, o.Team)
	if err != nil {
		return err
	}
	t, err := c.UpdateTrain(ctx, team, o.Name, in)
	if err != nil {
		return err
	}
	if o.Output != "table" {
		return printData(o.IO.Out, o.Output, t)
	}
	fmt.Fprintf(o.IO.Out, "updated train %s/%s: %s, %s\n", t.Team, t.Name, trainSummary(t), trainApps(t.Apps, "every app of the team"))
	return nil
}

// TrainDeleteOptions are the inputs of `berth train delete`.
type TrainDeleteOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Team      string
	Name      string
}

// NewCmdTrainDelete returns `berth train delete`.
func NewCmdTrainDelete(f *Factory, runF func(*TrainDeleteOptions) error) *cobra.Command {
	o := &TrainDeleteOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use:     "delete NAME [--team TEAM]",
		Short:   "Delete a deployment train and its history (team admins); what it deployed stays",
		Example: "  berth train delete release --team shop",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if runF != nil {
				return runF(o)
			}
			return trainDeleteRun(cmd.Context(), o)
		},
	}
	bindTrainTeam(cmd, &o.Team)
	return cmd
}

func trainDeleteRun(ctx context.Context, o *TrainDeleteOptions) error {
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	team, err := resolveTrainTeam(ctx, c, o.Name, o.Team)
	if err != nil {
		return err
	}
	if err := c.DeleteTrain(ctx, team, o.Name); err != nil {
		return err
	}
	fmt.Fprintf(o.IO.Out, "deleted train %s/%s and its history\n", team, o.Name)
	return nil
}

// TrainShowOptions are the inputs of `berth train show` and `berth train status`.
type TrainShowOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Team      string
	Name      string
	// Runs is how many of the last runs show lists (status asks for one).
	Runs   int
	Output string
	Now    func() time.Time
}

// NewCmdTrainShow returns `berth train show`.
func NewCmdTrainShow(f *Factory, runF func(*TrainShowOptions) error) *cobra.Command {
	o := &TrainShowOptions{IO: f.IO, APIClient: f.apiClient, Now: time.Now}
	cmd := &cobra.Command{
		Use:   "show NAME [--team TEAM] [--runs N]",
		Short: "Show a deployment train: its settings, its next departure, the delays left today and its last runs with their cars",
		Long: `Shows the train's settings; its next departure in the train's time zone, how long until
then and how many delays it has left today; and its last runs, newest first, each with
its cars: the app, how many commits it carried, the deploy that promoted it (berth
history, or the dashboard's deploy page) and how that went. Times are in the train's
time zone. berth train status shows the commits on the next departure.`,
		Example: "  berth train show release\n  berth train show release --team shop --runs 5\n  berth train show release -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if runF != nil {
				return runF(o)
			}
			return trainShowRun(cmd.Context(), o)
		},
	}
	bindTrainTeam(cmd, &o.Team)
	cmd.Flags().IntVar(&o.Runs, "runs", 10, "how many of the last runs to list (1 to 100)")
	bindOutput(cmd, &o.Output)
	return cmd
}

// NewCmdTrainStatus returns `berth train status`.
func NewCmdTrainStatus(f *Factory, runF func(*TrainShowOptions) error) *cobra.Command {
	o := &TrainShowOptions{IO: f.IO, APIClient: f.apiClient, Now: time.Now, Runs: 1}
	cmd := &cobra.Command{
		Use:   "status NAME [--team TEAM]",
		Short: "Show a deployment train's next (or current) departure: when it leaves and what is on it, commit by commit",
		Long: `Shows what to check before the train leaves: when its next departure leaves (in the
train's time zone, and how long until then), how many delays it has left today, and its
cars: each app with what it promotes and the commits that brings (short SHA, message,
author). The cars are known once the train is announced; while it departs, each car's
state says how far it got. -o json prints what berth train show does, with the last run.`,
		Example: "  berth train status release\n  berth train status release --team shop -o json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if runF != nil {
				return runF(o)
			}
			return trainStatusRun(cmd.Context(), o)
		},
	}
	bindTrainTeam(cmd, &o.Team)
	bindOutput(cmd, &o.Output)
	return cmd
}

func (o *TrainShowOptions) fetch(ctx context.Context) (apiv1.TrainStatus, error) {
	if err := checkOutput(o.Output); err != nil {
		return apiv1.TrainStatus{}, err
	}
	if o.Runs < 1 || o.Runs > 100 {
		return apiv1.TrainStatus{}, &UsageError{Err: fmt.Errorf("--runs must be 1 to 100, not %d", o.Runs)}
	}
	c, err := o.APIClient()
	if err != nil {
		return apiv1.TrainStatus{}, err
	}
	team, err := resolveTrainTeam(ctx, c, o.Name, o.Team)
	if err != nil {
		return apiv1.TrainStatus{}, err
	}
	return c.Train(ctx, team, o.Name, o.Runs)
}

func trainShowRun(ctx context.Context, o *TrainShowOptions) error {
	st, err := o.fetch(ctx)
	if err != nil {
		return err
	}
	if o.Output != "table" {
		return printData(o.IO.Out, o.Output, st)
	}
	t, now := st.Train, o.Now()
	channel := "the team's chat channel"
	if t.Channel != "" {
		channel = t.Channel
	}
	rows := [][2]string{
		{"train", t.Team + "/" + t.Name},
		{"schedule", t.Schedule + " in " + t.TimeZone},
		{"route", t.From + " → " + t.To},
		{"apps", trainApps(t.Apps, "every app of the team, by name")},
		{"announces", t.Announce + " before it leaves, in " + channel},
		{"delays", fmt.Sprintf("%s each, at most %d a day; %s", t.Delay, t.MaxDelays, delaysLeft(st.DelaysLeft))},
	}
	if t.FrozenUntil != nil {
		rows = append(rows, [2]string{"frozen", frozenLine(t)})
	}
	rows = append(rows, [2]string{"next departure", nextLine(t, st.Next, now)})
	if err := printFields(o.IO, rows); err != nil {
		return err
	}
	fmt.Fprintln(o.IO.Out)
	if len(st.Runs) == 0 {
		fmt.Fprintln(o.IO.Out, "no runs yet: its departures are listed here once announced, delayed or sent off")
		return nil
	}
	var table [][]string
	for _, r := range st.Runs {
		run := []string{strconv.FormatInt(r.ID, 10), trainTime(r.Departs, t.TimeZone), r.State}
		if len(r.Cars) == 0 {
			table = append(table, append(run, "-", "-", "-", "-", orDash(r.Reason)))
			continue
		}
		for i, car := range r.Cars {
			if i > 0 {
				run = []string{"", "", ""}
			}
			deploy := "-"
			if car.Deploy != 0 {
				deploy = "#" + strconv.FormatInt(car.Deploy, 10)
			}
			reason := car.Reason
			if reason == "" && i == 0 {
				reason = r.Reason
			}
			table = append(table, append(run, car.App, strconv.Itoa(car.Total), deploy, car.State, orDash(reason)))
		}
	}
	return printTable(o.IO, []string{"RUN", "DEPARTS", "STATE", "APP", "COMMITS", "DEPLOY", "CAR", "REASON"}, table)
}

func trainStatusRun(ctx context.Context, o *TrainShowOptions) error {
	st, err := o.fetch(ctx)
	if err != nil {
		return err
	}
	if o.Output != "table" {
		return printData(o.IO.Out, o.Output, st)
	}
	t, w := st.Train, o.IO.Out
	fmt.Fprintf(w, "%s/%s, %s → %s: %s\n", t.Team, t.Name, t.From, t.To, nextLine(t, st.Next, o.Now()))
	if st.Next != nil && st.Next.State != "departing" {
		fmt.Fprintf(w, "%s (berth train delay %s)\n", delaysLeft(st.DelaysLeft), t.Name)
	}
	if t.FrozenUntil != nil {
		fmt.Fprintf(w, "frozen %s: it does not leave until then (berth train unfreeze %s)\n", frozenLine(t), t.Name)
	}
	next := st.Next
	if next == nil {
		return nil
	}
	fmt.Fprintln(w)
	if len(next.Cars) == 0 {
		if next.State == "scheduled" {
			fmt.Fprintf(w, "nothing on it yet: what is pending in %s is found when it is announced, %s before it leaves\n", t.From, t.Announce)
		} else {
			fmt.Fprintf(w, "nothing on it: every app runs in %s what it runs in %s\n", t.To, t.From)
		}
		return nil
	}
	for i, car := range next.Cars {
		if i > 0 {
			fmt.Fprintln(w)
		}
		target := fmt.Sprintf("new in %s", t.To)
		if car.Target != 0 {
			target = fmt.Sprintf("%s runs %d", t.To, car.Target)
		}
		state := car.State
		if car.Deploy != 0 {
			state += fmt.Sprintf(" (deploy #%d)", car.Deploy)
		}
		if car.Reason != "" {
			state += ": " + car.Reason
		}
		fmt.Fprintf(w, "%s  revision %d (%s), %s · %s\n", car.App, car.Revision, target, commitCount(car.Total), state)
		if len(car.Commits) == 0 {
			if car.Note != "" {
				fmt.Fprintf(w, "  no commits to show: %s\n", car.Note)
			}
			continue
		}
		var rows [][]string
		for _, cm := range car.Commits {
			rows = append(rows, []string{"  " + shortSHA(cm.SHA), cm.Message, commitAuthor(cm)})
		}
		if err := printRows(o.IO, rows); err != nil {
			return err
		}
		if more := car.Total - len(car.Commits); more > 0 {
			fmt.Fprintf(w, "  and %d more\n", more)
		}
	}
	return nil
}

// TrainActOptions are the inputs of `berth train delay`, `depart` and `unfreeze`.
type TrainActOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Team      string
	Name      string
	Output    string
	Now       func() time.Time
}

func newTrainActCmd(f *Factory, use, short, long, example string, runF func(*TrainActOptions) error,
	run func(context.Context, *TrainActOptions, *apiclient.Client, string) error) *cobra.Command {
	o := &TrainActOptions{IO: f.IO, APIClient: f.apiClient, Now: time.Now}
	cmd := &cobra.Command{
		Use: use + " NAME [--team TEAM]", Short: short, Long: long, Example: example, Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if runF != nil {
				return runF(o)
			}
			if err := checkOutput(o.Output); err != nil {
				return err
			}
			c, err := o.APIClient()
			if err != nil {
				return err
			}
			team, err := resolveTrainTeam(cmd.Context(), c, o.Name, o.Team)
			if err != nil {
				return err
			}
			return run(cmd.Context(), o, c, team)
		},
	}
	bindTrainTeam(cmd, &o.Team)
	bindOutput(cmd, &o.Output)
	return cmd
}

// NewCmdTrainDelay returns `berth train delay`.
func NewCmdTrainDelay(f *Factory, runF func(*TrainActOptions) error) *cobra.Command {
	return newTrainActCmd(f, "delay", "Postpone a deployment train's next departure by its delay (anyone on the team)",
		`Postpones the train's next departure by its delay (30m unless set), and says when it
leaves now. A train may be delayed a few times a day (2 unless set, counted in its time
zone); past that it is refused, saying when it leaves. Its chat channel is told. A
train that has left can no longer be delayed: freeze it to keep the next ones in.`,
		"  berth train delay release\n  berth train delay release --team shop -o json", runF,
		func(ctx context.Context, o *TrainActOptions, c *apiclient.Client, team string) error {
			d, err := c.DelayTrain(ctx, team, o.Name)
			if err != nil {
				return err
			}
			if o.Output != "table" {
				return printData(o.IO.Out, o.Output, d)
			}
			tz := trainZone(ctx, c, team, o.Name)
			fmt.Fprintf(o.IO.Out, "delayed train %s/%s: it leaves %s, %s; %s\n", team, o.Name, trainTime(d.Run.Departs, tz),
				fromNow(d.Run.Departs, o.Now()), delaysLeft(d.DelaysLeft))
			return nil
		})
}

// NewCmdTrainDepart returns `berth train depart`.
func NewCmdTrainDepart(f *Factory, runF func(*TrainActOptions) error) *cobra.Command {
	return newTrainActCmd(f, "depart", "Send a deployment train's next departure off now (deployers)",
		`Sends the train's next departure off now instead of at its time: the scheduler promotes
its cars, app after app, as it would have. Promotions into a protected environment
wait for their approvals as any would. A frozen train does not leave: unfreeze it first.`,
		"  berth train depart release\n  berth train depart release --team shop", runF,
		func(ctx context.Context, o *TrainActOptions, c *apiclient.Client, team string) error {
			run, err := c.DepartTrain(ctx, team, o.Name)
			if err != nil {
				return err
			}
			if o.Output != "table" {
				return printData(o.IO.Out, o.Output, run)
			}
			fmt.Fprintf(o.IO.Out, "sent train %s/%s off: run %d leaves now; berth train status %s --team %s follows it\n",
				team, o.Name, run.ID, o.Name, team)
			return nil
		})
}

// NewCmdTrainUnfreeze returns `berth train unfreeze`.
func NewCmdTrainUnfreeze(f *Factory, runF func(*TrainActOptions) error) *cobra.Command {
	return newTrainActCmd(f, "unfreeze", "End a deployment train's freeze: it leaves on its schedule again (deployers)", "",
		"  berth train unfreeze release", runF,
		func(ctx context.Context, o *TrainActOptions, c *apiclient.Client, team string) error {
			t, err := c.UnfreezeTrain(ctx, team, o.Name)
			if err != nil {
				return err
			}
			if o.Output != "table" {
				return printData(o.IO.Out, o.Output, t)
			}
			fmt.Fprintf(o.IO.Out, "unfroze train %s/%s: it leaves on its schedule again\n", t.Team, t.Name)
			return nil
		})
}

// TrainFreezeOptions are the inputs of `berth train freeze`.
type TrainFreezeOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Team      string
	Name      string
	// Until is an RFC 3339 time as given; For how long from now instead.
	Until  string
	For    time.Duration
	Reason string
	Output string
}

// NewCmdTrainFreeze returns `berth train freeze`.
func NewCmdTrainFreeze(f *Factory, runF func(*TrainFreezeOptions) error) *cobra.Command {
	o := &TrainFreezeOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use:   "freeze NAME (--for DURATION | --until TIME) --reason TEXT [--team TEAM]",
		Short: "Keep a deployment train in the station for a while, saying why (deployers)",
		Long: `Keeps the train in the station until --until (RFC 3339) or for --for from now: its
departures until then end held, saying why, and nothing is promoted. berth train
unfreeze ends it early. An environment's freeze window (berth envs freeze) holds every
train into it as well.`,
		Example: `  berth train freeze release --for 24h --reason "incident 42: checkout errors"
  berth train freeze release --until 2026-12-27T00:00:00Z --reason "holidays"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if runF != nil {
				return runF(o)
			}
			return trainFreezeRun(cmd.Context(), o)
		},
	}
	bindTrainTeam(cmd, &o.Team)
	cmd.Flags().DurationVar(&o.For, "for", 0, "how long it stays in, such as 24h (or --until)")
	cmd.Flags().StringVar(&o.Until, "until", "", "when it may leave again, RFC 3339 (or --for)")
	cmd.Flags().StringVar(&o.Reason, "reason", "", "why, for the team (required)")
	bindOutput(cmd, &o.Output)
	return cmd
}

func trainFreezeRun(ctx context.Context, o *TrainFreezeOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	if (o.Until == "") == (o.For == 0) {
		return &UsageError{Err: errors.New("give one of --for DURATION or --until TIME: when the train may leave again")}
	}
	if o.For < 0 {
		return &UsageError{Err: errors.New("--for must be positive, such as 24h")}
	}
	if strings.TrimSpace(o.Reason) == "" {
		return &UsageError{Err: errors.New("--reason is required: why the train stays in the station, for the team")}
	}
	var until time.Time
	if o.Until != "" {
		t, err := time.Parse(time.RFC3339, o.Until)
		if err != nil {
			return &UsageError{Err: fmt.Errorf("--until %q is not an RFC 3339 time, such as 2026-12-24T00:00:00Z", o.Until)}
		}
		until = t
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	team, err := resolveTrainTeam(ctx, c, o.Name, o.Team)
	if err != nil {
		return err
	}
	t, err := c.FreezeTrain(ctx, team, o.Name, until, o.For, o.Reason)
	if err != nil {
		return err
	}
	if o.Output != "table" {
		return printData(o.IO.Out, o.Output, t)
	}
	fmt.Fprintf(o.IO.Out, "froze train %s/%s %s: its departures until then end held; berth train unfreeze %s ends it\n",
		t.Team, t.Name, frozenLine(t), t.Name)
	return nil
}

func bindTrainTeam(cmd *cobra.Command, team *string) {
	cmd.Flags().StringVar(team, "team", "", "the train's team (default: the team that has a train of that name, looked up)")
}

// resolveTrainTeam returns team, or the one team the caller sees that has a train called
// name.
func resolveTrainTeam(ctx context.Context, c *apiclient.Client, name, team string) (string, error) {
	if team != "" {
		return team, nil
	}
	ts, err := c.Trains(ctx, "", name)
	if err != nil {
		return "", err
	}
	var teams []string
	for _, t := range ts {
		if t.Name == name {
			teams = append(teams, t.Team)
		}
	}
	switch len(teams) {
	case 0:
		return "", fmt.Errorf("no train %q that you can see: check the name (berth train list), or pass --team", name)
	case 1:
		return teams[0], nil
	}
	return "", &UsageError{Err: fmt.Errorf("train %q exists in teams %s: pass --team", name, strings.Join(teams, ", "))}
}

// trainZone is the time zone of team's train name, for saying when it leaves; UTC when
// the server does not say.
func trainZone(ctx context.Context, c *apiclient.Client, team, name string) string {
	ts, err := c.Trains(ctx, team, "")
	if err == nil {
		for _, t := range ts {
			if t.Name == name {
				return t.TimeZone
			}
		}
	}
	return "UTC"
}

// trainTime writes t in the time zone tz (an IANA name; UTC when unknown here).
func trainTime(t time.Time, tz string) string {
	loc, err := time.LoadLocation(tz)
	if err != nil || tz == "" {
		loc = time.UTC
	}
	return t.In(loc).Format("Mon 2006-01-02 15:04 MST")
}

// fromNow says how long from now t is, in days, hours and minutes: "in 2h 5m", or "5m ago".
func fromNow(t, now time.Time) string {
	d := t.Sub(now)
	past := d < 0
	if past {
		d = -d
	}
	d = d.Truncate(time.Minute)
	if d < time.Minute {
		if past {
			return "just now"
		}
		return "in less than a minute"
	}
	var parts []string
	if days := d / (24 * time.Hour); days > 0 {
		parts, d = append(parts, fmt.Sprintf("%dd", days)), d-days*24*time.Hour
	}
	if h := d / time.Hour; h > 0 {
		parts, d = append(parts, fmt.Sprintf("%dh", h)), d-h*time.Hour
	}
	if m := d / time.Minute; m > 0 {
		parts = append(parts, fmt.Sprintf("%dm", m))
	}
	if past {
		return strings.Join(parts, " ") + " ago"
	}
	return "in " + strings.Join(parts, " ")
}

// nextLine says when run (a train's next departure) leaves, and how it stands.
func nextLine(t apiv1.Train, run *apiv1.TrainRun, now time.Time) string {
	if run == nil {
		return fmt.Sprintf("none: its schedule %q never comes round", t.Schedule)
	}
	at := trainTime(run.Departs, t.TimeZone) + ", " + fromNow(run.Departs, now)
	var notes []string
	switch run.State {
	case "departing":
		return "left " + at + ", departing"
	case "announced":
		notes = append(notes, "announced")
	}
	if run.Delays > 0 {
		notes = append(notes, "delayed "+times(run.Delays))
	}
	if run.DepartedBy != "" {
		notes = append(notes, "sent off by "+run.DepartedBy)
	}
	if len(notes) > 0 {
		at += " (" + strings.Join(notes, ", ") + ")"
	}
	return at
}

func times(n int) string {
	if n == 1 {
		return "once"
	}
	return strconv.Itoa(n) + " times"
}

func delaysLeft(n int) string {
	switch n {
	case 0:
		return "no delays left today"
	case 1:
		return "1 delay left today"
	}
	return strconv.Itoa(n) + " delays left today"
}

func commitCount(n int) string {
	if n == 1 {
		return "1 commit"
	}
	return strconv.Itoa(n) + " commits"
}

// trainSummary is a train's schedule and route in a few words.
func trainSummary(t apiv1.Train) string {
	return fmt.Sprintf("%s in %s, %s → %s", t.Schedule, t.TimeZone, t.From, t.To)
}

func trainApps(apps []string, all string) string {
	if len(apps) == 0 {
		return all
	}
	return strings.Join(apps, ",")
}

func frozenLine(t apiv1.Train) string {
	if t.FrozenUntil == nil {
		return "-"
	}
	return fmt.Sprintf("until %s (%s)", trainTime(*t.FrozenUntil, t.TimeZone), t.FrozenReason)
}

func frozenCell(t apiv1.Train) string {
	if t.FrozenUntil == nil {
		return "-"
	}
	return "until " + t.FrozenUntil.UTC().Format(time.RFC3339)
}

func shortSHA(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// commitAuthor is a commit's author by name, and forge login when it differs.
func commitAuthor(c apiv1.Commit) string {
	switch {
	case c.AuthorName == "" && c.AuthorLogin == "":
		return "-"
	case c.AuthorName == "":
		return c.AuthorLogin
	case c.AuthorLogin == "" || c.AuthorLogin == c.AuthorName:
		return c.AuthorName
	}
	return c.AuthorName + " (" + c.AuthorLogin + ")"
}

// printRows writes rows aligned in columns, without a header.
func printRows(s *IOStreams, rows [][]string) error {
	tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}
