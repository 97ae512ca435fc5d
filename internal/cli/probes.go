package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/probe"
)

// Synthetic probes (docs/probes.md): `berth probe` runs an environment's probe and lists,
// shows and follows its runs (one command under two names, `berth probes`); `berth probe
// agent` is what runs inside the probe pod; `berth envs set-probe` and `berth envs probe`
// say how an environment is probed.

// NewCmdProbe returns `berth probe`, also called `berth probes`.
func NewCmdProbe(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "probe",
		Aliases: []string{"probes"},
		Short:   "Run environments' synthetic probes, and list and show their runs",
		Long: `A synthetic probe checks, from inside an environment's cluster, what an app there relies on.
Each run starts a probe pod (berth probe agent) in the namespace berth-probes and times
its steps, in order:

  scheduled    from the pod's creation to its running (measured by the server)
  dns          the cluster's DNS resolves the probe's Service
  http         a GET through that Service reaches the pod
  credentials  the pod's service account token is accepted by the API server
  database     a row written to and read back from the environment's PostgreSQL
  objectstore  an object put, read back and deleted in the environment's S3 bucket
  queue        a message published and received on the environment's NATS server

A step fails when it errs, and is slow when it passes but takes longer than its
threshold (berth envs probe ENV shows them). A run fails when a step fails, or when its
pod never runs or never reports. Runs go on a schedule (berth envs set-probe ENV
--interval 10m) or on demand (berth probe run); a failing probe and its recovery are
announced in the platform's chat channel.`,
		Example: `  # Probe staging now and wait for the result
  berth probe run --env staging

  # How every environment's probe is doing
  berth probes list

  # The latest run of production, step by step
  berth probes show --env production`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(NewCmdProbeRun(f, nil), NewCmdProbeAgent(f, nil), NewCmdProbesList(f, nil), NewCmdProbesShow(f, nil),
		NewCmdProbesRuns(f, nil))
	return cmd
}

// ProbeRunOptions are the inputs of `berth probe run`.
type ProbeRunOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Env       string
	NoWait    bool
	Timeout   time.Duration
	Output    string
}

// NewCmdProbeRun returns `berth probe run`.
func NewCmdProbeRun(f *Factory, runF func(*ProbeRunOptions) error) *cobra.Command {
	o := &ProbeRunOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use:   "run --env ENV [--no-wait] [--timeout 5m]",
		Short: "Run an environment's probe now, and wait for its steps",
		Long: `Queues a run of the environment's probe, or joins the run already queued or running
there (saying so), then follows it: its progress on standard error, then each step with
when it started (UTC), how long it took, and ok, FAILED or SLOW, and a summary line.

The command exits with status 1 when the run failed or a step was slow, so a script can
gate on it. --no-wait prints the run's id and returns at once (berth probes show ID
follows it); -o json prints the run as the API answers it.`,
		Example: `  berth probe run --env staging
  berth probe run --env production --timeout 10m -o json
  berth probe run --env staging --no-wait`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return probeRunRun(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVarP(&o.Env, "env", "e", "", "the environment to probe (required)")
	cmd.Flags().BoolVar(&o.NoWait, "no-wait", false, "queue the run and print its id, without waiting for it")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 5*time.Minute, "how long to wait for the run to end")
	bindOutput(cmd, &o.Output)
	return cmd
}

func probeRunRun(ctx context.Context, o *ProbeRunOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	if o.Env == "" {
		return &UsageError{Err: errors.New("--env is required: the environment to probe, such as staging")}
	}
	if o.Timeout <= 0 {
		return &UsageError{Err: fmt.Errorf("--timeout must be more than 0, such as 5m, not %s", o.Timeout)}
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	run, queued, err := c.RunProbe(ctx, o.Env)
	if err != nil {
		return err
	}
	if queued {
		fmt.Fprintf(o.IO.ErrOut, "run #%d queued in %s\n", run.ID, run.Env)
	} else {
		fmt.Fprintf(o.IO.ErrOut, "run #%d was already %s in %s (%s by %s): joining it\n", run.ID, run.State, run.Env, run.Trigger, run.CreatedBy)
	}
	if o.NoWait {
		if o.Output != "table" {
			return printData(o.IO.Out, o.Output, run)
		}
		fmt.Fprintln(o.IO.Out, run.ID)
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	run, err = followProbeRun(wctx, o.IO, c, run)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return fmt.Errorf("run #%d in %s is still %s after %s: berth probes show %d shows it when it ends", run.ID, run.Env, run.State, o.Timeout, run.ID)
		}
		return err
	}
	if o.Output != "table" {
		if err := printData(o.IO.Out, o.Output, run); err != nil {
			return err
		}
		if !run.Healthy {
			return errors.New(probeSummary(run))
		}
		return nil
	}
	if err := printProbeSteps(o.IO, run); err != nil {
		return err
	}
	fmt.Fprintln(o.IO.Out, probeSummary(run))
	if !run.Healthy {
		return &ExitError{Code: 1}
	}
	return nil
}

// followProbeRun polls run until it ends, saying on standard error when its state changes.
func followProbeRun(ctx context.Context, s *IOStreams, c *apiclient.Client, run apiv1.ProbeRun) (apiv1.ProbeRun, error) {
	state := run.State
	for attempt := 0; !jobDone(run.State); attempt++ {
		if err := probePollWait(ctx, attempt); err != nil {
			return run, err
		}
		got, err := c.ProbeRun(ctx, run.ID)
		if err != nil {
			return run, err
		}
		run = got
		if run.State != state && !jobDone(run.State) {
			fmt.Fprintf(s.ErrOut, "run #%d %s\n", run.ID, run.State)
		}
		state = run.State
	}
	return run, nil
}

// probePollWait waits before the attempt-th look at a run: every second, the first few
// sooner (100ms, doubling), as a run's pod may start at once.
func probePollWait(ctx context.Context, attempt int) error {
	d := time.Second
	if attempt < 4 {
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

// probeStepTime is how a step's start is shown: UTC, to the millisecond.
const probeStepTime = "2006-01-02T15:04:05.000Z"

// printProbeSteps writes a run's steps as a table.
func printProbeSteps(s *IOStreams, run apiv1.ProbeRun) error {
	rows := make([][]string, 0, len(run.Steps))
	for _, st := range run.Steps {
		result, text := "ok", st.Detail
		switch {
		case !st.OK:
			result, text = "FAILED", st.Error
		case st.Slow:
			result = "SLOW"
		}
		rows = append(rows, []string{st.Name, st.Started.UTC().Format(probeStepTime), took(apiv1.FromMilliseconds(st.DurationMs)), result,
			orDash(text)})
	}
	return printTable(s, []string{"STEP", "STARTED", "TOOK", "RESULT", "DETAIL"}, rows)
}

// took writes a step's or run's duration for people: 412µs, 3.2ms, 1.23s, 2m5s.
func took(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(100 * time.Microsecond).String()
	case d < time.Minute:
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// probeProblem says what went wrong with a step in a few words, as the server's reasons
// do: "queue failed: ...", "database slow: took 4.2s"; "" for a step that passed in time.
func probeProblem(st apiv1.ProbeStep) string {
	switch {
	case !st.OK:
		return st.Name + " failed: " + st.Error
	case st.Slow:
		return st.Name + " slow: took " + took(apiv1.FromMilliseconds(st.DurationMs))
	}
	return ""
}

// probeProblems lists what went wrong with a finished run: its failed and slow steps, or
// the reason it failed without them ("" for a healthy run).
func probeProblems(run apiv1.ProbeRun) []string {
	var out []string
	for _, st := range run.Steps {
		if p := probeProblem(st); p != "" {
			out = append(out, p)
		}
	}
	if len(out) == 0 && run.State == "failed" {
		out = append(out, cmp.Or(run.Reason, "no reason given"))
	}
	return out
}

// probeSummary says in one line how a run went: the server's reason when it gives one
// (it may say why besides the steps), else what the steps say.
func probeSummary(run apiv1.ProbeRun) string {
	head := fmt.Sprintf("run #%d in %s", run.ID, run.Env)
	switch {
	case !jobDone(run.State):
		return head + " is " + run.State
	case run.Healthy:
		return fmt.Sprintf("%s succeeded: %s passed in %s", head, plural(len(run.Steps), "step", "steps"),
			took(apiv1.FromMilliseconds(run.DurationMs)))
	}
	why := run.Reason
	if why == "" {
		why = strings.Join(probeProblems(run), "; ")
	}
	if run.State == "succeeded" {
		return head + " succeeded, but slowly: " + why
	}
	return head + " failed: " + why
}

// ProbeAgentOptions are the inputs of `berth probe agent`.
type ProbeAgentOptions struct {
	IO *IOStreams
	// Getenv reads the agent's configuration (probe.ConfigFromEnv).
	Getenv func(string) string
	// Listen is where the agent answers its own HTTP step.
	Listen string
	// AwaitService bounds the wait for the probe's Service to route to this pod, before
	// the steps start.
	AwaitService time.Duration
}

// NewCmdProbeAgent returns `berth probe agent`.
func NewCmdProbeAgent(f *Factory, runF func(*ProbeAgentOptions) error) *cobra.Command {
	o := &ProbeAgentOptions{IO: f.IO, Getenv: os.Getenv, AwaitService: 30 * time.Second}
	cmd := &cobra.Command{
		Use:   "agent [--listen :8080]",
		Short: "Run a probe's steps and report them: the command of the probe pod",
		Long: `What runs inside a probe pod: it answers HTTP on --listen (the probe Service's target, for
the http step), waits up to 30 seconds for the Service to reach it, runs the steps, one line
each on standard output, then sends the report to the server and prints a summary.

It needs no login: the server starts the pod with everything in environment variables
(` + probe.EnvServer + `, ` + probe.EnvToken + `, ` + probe.EnvRun + `, ` + probe.EnvEnv + `, and what each
step checks), and the run's token, good for one report, authenticates it. It exits with
status 0 once the report is sent, whatever the steps found; 1 when the report could not be
sent; 2 when its configuration is incomplete.`,
		Example: `  # As the probe pod runs it
  berth probe agent

  # By hand, against a local server, for a run the server started
  BERTH_PROBE_SERVER=http://127.0.0.1:8080 BERTH_PROBE_TOKEN=... BERTH_PROBE_RUN=12 BERTH_PROBE_ENV=dev \
    berth probe agent --listen 127.0.0.1:8081`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return probeAgentRun(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.Listen, "listen", ":"+strconv.Itoa(berth.ProbePort), "where to answer the http step (host:port)")
	return cmd
}

func probeAgentRun(ctx context.Context, o *ProbeAgentOptions) error {
	cfg, err := probe.ConfigFromEnv(o.Getenv)
	if err != nil {
		fmt.Fprintln(o.IO.ErrOut, "berth probe agent:", err)
		return &ExitError{Code: 2}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	served, listenErr := probe.Serve(ctx, o.Listen)
	if listenErr != nil {
		fmt.Fprintf(o.IO.ErrOut, "berth probe agent: answer HTTP on %s: %v; the http step will fail\n", o.Listen, listenErr)
	} else if cfg.HTTPURL != "" && !probe.AwaitService(ctx, cfg, o.AwaitService) {
		// The Service's endpoints lag behind the pod's start; this wait is not the step's time.
		fmt.Fprintf(o.IO.ErrOut, "berth probe agent: %s did not answer within %s; the http step will say why\n", redacted(cfg.HTTPURL), o.AwaitService)
	}
	report := probe.Run(ctx, cfg, o.IO.Out)
	if listenErr != nil {
		for i, st := range report.Steps {
			if st.Name == probe.StepHTTP && !st.OK {
				report.Steps[i].Error += fmt.Sprintf(" (the agent could not answer HTTP on %s: %v)", o.Listen, listenErr)
			}
		}
	}
	sendErr := probe.Send(ctx, cfg, report)
	fmt.Fprintf(o.IO.Out, "run %d in %s: %s\n", cfg.Run, cfg.Env, report.Summary())
	cancel()
	if served != nil {
		if err := <-served; err != nil {
			fmt.Fprintf(o.IO.ErrOut, "berth probe agent: answer HTTP on %s: %v\n", o.Listen, err)
		}
	}
	if sendErr != nil {
		return sendErr
	}
	fmt.Fprintf(o.IO.ErrOut, "reported run %d to %s\n", cfg.Run, redacted(cfg.Server))
	return nil
}

// redacted is a URL without the password it may hold.
func redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(a malformed URL)"
	}
	return u.Redacted()
}

// ProbesListOptions are the inputs of `berth probes list`.
type ProbesListOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Output    string
}

// NewCmdProbesList returns `berth probes list`.
func NewCmdProbesList(f *Factory, runF func(*ProbesListOptions) error) *cobra.Command {
	o := &ProbesListOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use: "list", Aliases: []string{"ls"}, Short: "How each environment's probe is doing: its latest run, its problem, its last success",
		Long: `One row per probed environment: its latest finished run (LATEST), how it ended and when,
how long its steps took, its first failed or slow step (PROBLEM; - when every step passed
in time), when a run last passed, and the run in flight, if any (RUNNING).`,
		Example: "  berth probes list\n  berth probes list -o json", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return probesListRun(cmd.Context(), o)
		},
	}
	bindOutput(cmd, &o.Output)
	return cmd
}

func probesListRun(ctx context.Context, o *ProbesListOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	sts, err := c.ProbeStatuses(ctx)
	if err != nil {
		return err
	}
	if len(sts) == 0 && o.Output == "table" {
		fmt.Fprintln(o.IO.ErrOut, "no environment is probed yet: berth probe run --env ENV runs one now, berth envs set-probe ENV --interval 10m on a schedule")
		return nil
	}
	return printList(o.IO, o.Output, sts, []string{"ENV", "LATEST", "STATE", "FINISHED", "TOOK", "PROBLEM", "LAST SUCCESS", "RUNNING"},
		func(st apiv1.ProbeStatus) []string {
			row := []string{st.Env, "-", "-", "-", "-", "-", "never", "-"}
			if r := st.Latest; r != nil {
				row[1], row[2], row[3], row[4] = "#"+strconv.FormatInt(r.ID, 10), r.State, whenPtr(o.IO, r.FinishedAt), runTook(*r)
				if ps := probeProblems(*r); len(ps) > 0 {
					row[5] = ps[0]
				}
			}
			if st.LastSuccess != nil {
				row[6] = ago(o.IO, *st.LastSuccess)
			}
			if r := st.Running; r != nil {
				row[7] = fmt.Sprintf("#%d %s", r.ID, r.State)
			}
			return row
		})
}

// whenPtr is ago of an optional time.
func whenPtr(s *IOStreams, t *time.Time) string {
	if t == nil {
		return "-"
	}
	return ago(s, *t)
}

// runTook is how long a finished run's steps took; - for a run without steps.
func runTook(r apiv1.ProbeRun) string {
	if len(r.Steps) == 0 {
		return "-"
	}
	return took(apiv1.FromMilliseconds(r.DurationMs))
}

// ProbesShowOptions are the inputs of `berth probes show`.
type ProbesShowOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	// Run is the run's id as given; Env instead names the environment whose latest run is
	// shown.
	Run    string
	Env    string
	Output string
}

// NewCmdProbesShow returns `berth probes show`.
func NewCmdProbesShow(f *Factory, runF func(*ProbesShowOptions) error) *cobra.Command {
	o := &ProbesShowOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use:   "show (RUN | --env ENV)",
		Short: "Show a probe run step by step: when each started, how long it took, what it found",
		Long: `Shows a probe run, by its id or the latest of an environment (--env): its state, trigger and
times, then each step with when it started (UTC, to the millisecond), how long it took,
ok, FAILED or SLOW, and what it checked or why it failed.`,
		Example: "  berth probes show 12\n  berth probes show --env production\n  berth probes show 12 -o json",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Run = args[0]
			}
			if runF != nil {
				return runF(o)
			}
			return probesShowRun(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVarP(&o.Env, "env", "e", "", "show the latest run of this environment")
	bindOutput(cmd, &o.Output)
	return cmd
}

func probesShowRun(ctx context.Context, o *ProbesShowOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	if (o.Run == "") == (o.Env == "") {
		return &UsageError{Err: errors.New("give a run's id (berth probes runs lists them) or --env ENV for the environment's latest run")}
	}
	var id int64
	if o.Run != "" {
		n, err := strconv.ParseInt(strings.TrimPrefix(o.Run, "#"), 10, 64)
		if err != nil || n <= 0 {
			return &UsageError{Err: fmt.Errorf("probe run id %q must be a number (berth probes runs lists them)", o.Run)}
		}
		id = n
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	var run apiv1.ProbeRun
	if id != 0 {
		if run, err = c.ProbeRun(ctx, id); err != nil {
			return err
		}
	} else {
		rs, err := c.ProbeRuns(ctx, o.Env, 1)
		if err != nil {
			return err
		}
		if len(rs) == 0 {
			return fmt.Errorf("environment %s has no probe run yet: berth probe run --env %s runs one", o.Env, o.Env)
		}
		run = rs[0]
	}
	if o.Output != "table" {
		return printData(o.IO.Out, o.Output, run)
	}
	fields := [][2]string{
		{"run", "#" + strconv.FormatInt(run.ID, 10)},
		{"env", run.Env},
		{"result", strings.TrimPrefix(probeSummary(run), fmt.Sprintf("run #%d in %s ", run.ID, run.Env))},
		{"trigger", run.Trigger + ", by " + run.CreatedBy},
		{"created", stamp(run.CreatedAt)},
	}
	if run.StartedAt != nil {
		fields = append(fields, [2]string{"started", stamp(*run.StartedAt)})
	}
	if run.FinishedAt != nil {
		fields = append(fields, [2]string{"finished", stamp(*run.FinishedAt)})
	}
	if run.Attempts > 1 {
		fields = append(fields, [2]string{"attempts", strconv.Itoa(run.Attempts) + " (a server stopped while running it; it started over)"})
	}
	if err := printFields(o.IO, fields); err != nil {
		return err
	}
	fmt.Fprintln(o.IO.Out)
	if len(run.Steps) == 0 {
		what := "no steps: the run ended before any"
		if !jobDone(run.State) {
			what = "no steps yet: they show when the run ends"
		}
		fmt.Fprintln(o.IO.Out, what)
		return nil
	}
	return printProbeSteps(o.IO, run)
}

// ProbesRunsOptions are the inputs of `berth probes runs`.
type ProbesRunsOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Env       string
	Limit     int
	Output    string
}

// NewCmdProbesRuns returns `berth probes runs`.
func NewCmdProbesRuns(f *Factory, runF func(*ProbesRunsOptions) error) *cobra.Command {
	o := &ProbesRunsOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use: "runs [--env ENV] [--limit N]", Short: "List probe runs, newest first",
		Long: `Lists probe runs, newest first, of every environment or one (--env): how each was
triggered, how it ended, how long its steps took and its first failed or slow step.
The server keeps the latest ` + strconv.Itoa(berth.MaxProbeRunsKept) + ` runs of each environment.`,
		Example: "  berth probes runs\n  berth probes runs --env production --limit 100\n  berth probes runs --env staging -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(o)
			}
			return probesRunsRun(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVarP(&o.Env, "env", "e", "", "only this environment's runs")
	cmd.Flags().IntVar(&o.Limit, "limit", 20, fmt.Sprintf("how many runs, 1 to %d", berth.MaxProbeRunsKept))
	bindOutput(cmd, &o.Output)
	return cmd
}

func probesRunsRun(ctx context.Context, o *ProbesRunsOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	if o.Limit < 1 || o.Limit > berth.MaxProbeRunsKept {
		return &UsageError{Err: fmt.Errorf("--limit must be 1 to %d, not %d", berth.MaxProbeRunsKept, o.Limit)}
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	rs, err := c.ProbeRuns(ctx, o.Env, o.Limit)
	if err != nil {
		return err
	}
	if len(rs) == 0 && o.Output == "table" {
		fmt.Fprintln(o.IO.ErrOut, "no probe runs yet: berth probe run --env ENV runs one")
		return nil
	}
	return printList(o.IO, o.Output, rs, []string{"ID", "ENV", "TRIGGER", "STATE", "CREATED", "TOOK", "PROBLEM"}, func(r apiv1.ProbeRun) []string {
		problem := "-"
		if ps := probeProblems(r); len(ps) > 0 {
			problem = ps[0]
		}
		return []string{strconv.FormatInt(r.ID, 10), r.Env, r.Trigger, r.State, ago(o.IO, r.CreatedAt), runTook(r), problem}
	})
}

// EnvsSetProbeOptions are the inputs of `berth envs set-probe`.
type EnvsSetProbeOptions struct {
	IO          *IOStreams
	APIClient   func() (*apiclient.Client, error)
	Env         string
	S3Endpoint  string
	S3Secure    bool
	S3Bucket    string
	S3Region    string
	S3AccessKey string
	// S3SecretKeyFile and QueueTokenFile hold the secrets, or are - for standard input.
	S3SecretKeyFile string
	QueueURL        string
	QueueTokenFile  string
	Interval        time.Duration
	// Thresholds are STEP=DURATION, as given.
	Thresholds []string
	Output     string
	Changed    func(flag string) bool
}

// NewCmdEnvsSetProbe returns `berth envs set-probe`.
func NewCmdEnvsSetProbe(f *Factory, runF func(*EnvsSetProbeOptions) error) *cobra.Command {
	o := &EnvsSetProbeOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use: "set-probe ENV [--s3-endpoint HOST:PORT --s3-bucket B --s3-access-key K --s3-secret-key-file FILE [--s3-region R] [--s3-secure]] " +
			"[--queue-url nats://HOST:PORT [--queue-token-file FILE]] [--interval 10m] [--threshold STEP=DURATION ...]",
		Short: "Set how an environment is probed: its object store and queue, how often, the steps' thresholds (global admins)",
		Long: `Replaces how the environment's synthetic probe runs (berth probe --help says what it checks);
what is not given is unset, so give every setting each time.

The objectstore step puts, reads back and deletes an object in --s3-bucket at
--s3-endpoint (host:port as probe pods reach it; https with --s3-secure); the queue step
publishes and receives a message on the NATS server at --queue-url. A step whose service
is not set fails, saying so. The database step uses the environment's PostgreSQL server
(berth envs set-postgres).

The S3 secret key and the queue's token are read from files (- for standard input, for
one of them), never from a flag's value: they travel in the request body, are sealed like
secrets, and are never shown again (berth envs probe says only whether they are set).

--interval runs the probe on a schedule (at least 1m; 0, the default, runs it only on
demand). --threshold sets how long a step may take before it counts as slow, once per
step; the others keep their defaults (berth envs probe ENV shows them all).`,
		Example: `  berth envs set-probe staging --interval 10m \
    --s3-endpoint 10.89.0.1:7070 --s3-bucket probes --s3-access-key probe --s3-secret-key-file s3.secret \
    --queue-url nats://nats.queues:4222 --queue-token-file nats.token \
    --threshold database=5s --threshold scheduled=90s
  pass show probes/s3 | berth envs set-probe production --s3-endpoint s3.eu-west-1.amazonaws.com --s3-secure \
    --s3-region eu-west-1 --s3-bucket acme-probes --s3-access-key AKIA... --s3-secret-key-file - --interval 5m
  berth envs set-probe dev --interval 0`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Env = args[0]
			if runF != nil {
				return runF(o)
			}
			return envsSetProbeRun(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.S3Endpoint, "s3-endpoint", "", "the S3-compatible store's host:port as probe pods reach it")
	fl.BoolVar(&o.S3Secure, "s3-secure", false, "reach the S3 store over TLS (https)")
	fl.StringVar(&o.S3Bucket, "s3-bucket", "", "the bucket the probe writes to (required with --s3-endpoint)")
	fl.StringVar(&o.S3Region, "s3-region", "", "the bucket's region, such as eu-west-1 (default: asked of the store)")
	fl.StringVar(&o.S3AccessKey, "s3-access-key", "", "the S3 access key (required with --s3-endpoint)")
	fl.StringVar(&o.S3SecretKeyFile, "s3-secret-key-file", "", "file holding the S3 secret key, or - for standard input (required with --s3-endpoint)")
	fl.StringVar(&o.QueueURL, "queue-url", "", "the NATS server as probe pods reach it, nats://HOST:PORT")
	fl.StringVar(&o.QueueTokenFile, "queue-token-file", "", "file holding the NATS server's token, or - for standard input")
	fl.DurationVar(&o.Interval, "interval", 0, fmt.Sprintf("how often the probe runs, at least %s (0: only on demand)", apiv1.FormatDuration(berth.MinProbeInterval)))
	fl.StringArrayVar(&o.Thresholds, "threshold", nil, "STEP=DURATION: how long a step may take before it is slow (repeatable)")
	bindOutput(cmd, &o.Output)
	o.Changed = fl.Changed
	return cmd
}

func envsSetProbeRun(ctx context.Context, o *EnvsSetProbeOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	in := apiv1.SetProbeSettings{S3Endpoint: o.S3Endpoint, S3Secure: o.S3Secure, S3Bucket: o.S3Bucket, S3Region: o.S3Region,
		S3AccessKey: o.S3AccessKey, QueueURL: o.QueueURL}
	if o.S3Endpoint == "" {
		for _, s3 := range []string{"s3-secure", "s3-bucket", "s3-region", "s3-access-key", "s3-secret-key-file"} {
			if o.Changed(s3) {
				return &UsageError{Err: fmt.Errorf("--%s is for the probe's object store: give --s3-endpoint HOST:PORT too", s3)}
			}
		}
	} else if err := need([3]string{"s3-bucket", o.S3Bucket, "the bucket the probe writes to"},
		[3]string{"s3-access-key", o.S3AccessKey, "the S3 access key"},
		[3]string{"s3-secret-key-file", o.S3SecretKeyFile, "a file holding the S3 secret key, or - for standard input"}); err != nil {
		return err
	}
	if o.QueueTokenFile != "" && o.QueueURL == "" {
		return &UsageError{Err: errors.New("--queue-token-file is for the probe's queue: give --queue-url nats://HOST:PORT too")}
	}
	if o.S3SecretKeyFile == "-" && o.QueueTokenFile == "-" {
		return &UsageError{Err: errors.New("only one of --s3-secret-key-file and --queue-token-file can be - (standard input)")}
	}
	switch {
	case o.Interval < 0:
		return &UsageError{Err: fmt.Errorf("--interval must not be negative: 0 runs the probe only on demand")}
	case o.Interval > 0 && o.Interval < berth.MinProbeInterval:
		return &UsageError{Err: fmt.Errorf("--interval %s is shorter than the minimum, %s: a run takes up to a few minutes (0 runs the probe only on demand)",
			o.Interval, apiv1.FormatDuration(berth.MinProbeInterval))}
	case o.Interval > 0:
		in.Interval = apiv1.FormatDuration(o.Interval)
	}
	thresholds, err := parseThresholds(o.Thresholds)
	if err != nil {
		return err
	}
	in.Thresholds = thresholds
	if o.S3SecretKeyFile != "" {
		if in.S3SecretKey, err = readToken(o.IO, o.S3SecretKeyFile); err != nil {
			return fmt.Errorf("--s3-secret-key-file: %w", err)
		}
	}
	if o.QueueTokenFile != "" {
		if in.QueueToken, err = readToken(o.IO, o.QueueTokenFile); err != nil {
			return fmt.Errorf("--queue-token-file: %w", err)
		}
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	ps, err := c.SetProbeSettings(ctx, o.Env, in)
	if err != nil {
		return err
	}
	if o.Output != "table" {
		return printData(o.IO.Out, o.Output, ps)
	}
	fmt.Fprintf(o.IO.Out, "environment %s: probe set; the secrets are sealed and never shown again\n", ps.Env)
	if err := printProbeSettings(o.IO, ps); err != nil {
		return err
	}
	fmt.Fprintf(o.IO.ErrOut, "berth probe run --env %s runs it now\n", ps.Env)
	return nil
}

// parseThresholds reads --threshold STEP=DURATION flags into the wire's form.
func parseThresholds(specs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, spec := range specs {
		step, value, ok := strings.Cut(spec, "=")
		if !ok || step == "" || value == "" {
			return nil, &UsageError{Err: fmt.Errorf("--threshold %q is not STEP=DURATION, such as database=5s", spec)}
		}
		if !slices.Contains(berth.ProbeSteps, step) {
			return nil, &UsageError{Err: fmt.Errorf("--threshold %s: %q is not a step: use one of %s", spec, step, strings.Join(berth.ProbeSteps, ", "))}
		}
		if _, dup := out[step]; dup {
			return nil, &UsageError{Err: fmt.Errorf("--threshold %s: the threshold of %s is given twice", spec, step)}
		}
		d, err := time.ParseDuration(value)
		if err != nil || d <= 0 || d > 10*time.Minute {
			return nil, &UsageError{Err: fmt.Errorf("--threshold %s: %q is not a duration between 0 and 10m, such as 500ms or 5s", spec, value)}
		}
		out[step] = apiv1.FormatDuration(d)
	}
	return out, nil
}

// EnvsProbeOptions are the inputs of `berth envs probe`.
type EnvsProbeOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	Env       string
	Output    string
}

// NewCmdEnvsProbe returns `berth envs probe`.
func NewCmdEnvsProbe(f *Factory, runF func(*EnvsProbeOptions) error) *cobra.Command {
	o := &EnvsProbeOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use: "probe ENV", Short: "Show how an environment is probed; its secrets only as set or not set",
		Example: "  berth envs probe staging\n  berth envs probe staging -o json", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Env = args[0]
			if runF != nil {
				return runF(o)
			}
			return envsProbeRun(cmd.Context(), o)
		},
	}
	bindOutput(cmd, &o.Output)
	return cmd
}

func envsProbeRun(ctx context.Context, o *EnvsProbeOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	ps, err := c.ProbeSettings(ctx, o.Env)
	if err != nil {
		return err
	}
	if o.Output != "table" {
		return printData(o.IO.Out, o.Output, ps)
	}
	return printProbeSettings(o.IO, ps)
}

// printProbeSettings writes an environment's probe settings as fields, each secret as set
// or not set.
func printProbeSettings(s *IOStreams, ps apiv1.ProbeSettings) error {
	isSet := func(b bool) string {
		if b {
			return "set"
		}
		return "not set"
	}
	interval := "on demand only (berth probe run --env " + ps.Env + ")"
	if ps.Interval != "" && ps.Interval != "0s" {
		interval = "every " + ps.Interval
	}
	fields := [][2]string{{"env", ps.Env}, {"runs", interval}}
	if ps.S3Endpoint == "" {
		fields = append(fields, [2]string{"object store", "none: the objectstore step fails (--s3-endpoint)"})
	} else {
		scheme := "http://"
		if ps.S3Secure {
			scheme = "https://"
		}
		fields = append(fields, [2]string{"object store", scheme + ps.S3Endpoint + ", bucket " + ps.S3Bucket},
			[2]string{"s3 region", orDash(ps.S3Region)}, [2]string{"s3 access key", ps.S3AccessKey},
			[2]string{"s3 secret key", isSet(ps.HasS3SecretKey)})
	}
	if ps.QueueURL == "" {
		fields = append(fields, [2]string{"queue", "none: the queue step fails (--queue-url)"})
	} else {
		fields = append(fields, [2]string{"queue", ps.QueueURL}, [2]string{"queue token", isSet(ps.HasQueueToken)})
	}
	var set, defaults []string
	for _, step := range berth.ProbeSteps {
		if d, ok := ps.Thresholds[step]; ok {
			set = append(set, step+" "+d)
		} else {
			defaults = append(defaults, step+" "+apiv1.FormatDuration(berth.DefaultProbeThresholds[step]))
		}
	}
	thresholds := strings.Join(set, ", ")
	if len(defaults) > 0 {
		thresholds = strings.TrimPrefix(thresholds+"; defaults: "+strings.Join(defaults, ", "), "; ")
	}
	fields = append(fields, [2]string{"thresholds", thresholds})
	updated := "never set"
	if ps.UpdatedAt != nil {
		updated = stamp(*ps.UpdatedAt) + ", by " + ps.UpdatedBy
	}
	fields = append(fields, [2]string{"updated", updated})
	return printFields(s, fields)
}
