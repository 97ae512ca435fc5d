package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
)

// LogsOptions are the inputs of `berth logs`.
type LogsOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	App       string
	Team      string
	Env       string
	Follow    bool
	Since     string
	Tail      int
	Container string
	Pod       string
	Previous  bool
	// Timestamps starts each line with its time.
	Timestamps bool
	Output     string
}

// NewCmdLogs returns `berth logs`.
func NewCmdLogs(f *Factory, runF func(*LogsOptions) error) *cobra.Command {
	o := &LogsOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use:   "logs APP --env ENV",
		Short: "Show what an app's pods write, with the Kubernetes events of its objects, in time order",
		Long: `Every pod of the app in the environment, each line after its pod (and its container, when
the pod has several), coloured per pod on a terminal; the Kubernetes events of the app's
Deployment, ReplicaSets and pods in between, in time order, marked "event". The server
reads the cluster: no kubeconfig is needed, only the viewer role in the app's team.

It starts with each container's last 100 lines (--tail), or every line since --since. With
-f it goes on, following the pods a rollout starts and letting go of those that are gone,
until Ctrl-C; notices of pods coming and going go to standard error.`,
		Example: `  berth logs reports --env staging
  berth logs reports --env staging -f --since 10m
  berth logs reports --env production --pod reports-7d9f8-x2x4q --previous
  berth logs reports --env staging --tail 0 -f -o json | jq .`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.App = args[0]
			if runF != nil {
				return runF(o)
			}
			return logsRun(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Team, "team", "", "team of the app (default: looked up)")
	fl.StringVar(&o.Env, "env", "", "environment (required)")
	fl.BoolVarP(&o.Follow, "follow", "f", false, "go on with new lines, new pods and new events until Ctrl-C")
	fl.StringVar(&o.Since, "since", "", "start this long ago (10m, 2h) or at an RFC 3339 time")
	fl.IntVar(&o.Tail, "tail", -1, "lines of each container to start with (default 100, or every line since --since; at most 10000)")
	fl.StringVarP(&o.Container, "container", "c", "", "only this container")
	fl.StringVar(&o.Pod, "pod", "", "only this pod")
	fl.BoolVarP(&o.Previous, "previous", "p", false, "the previous instance of each container (the one that crashed)")
	fl.BoolVar(&o.Timestamps, "timestamps", false, "start each line with its time (RFC 3339, UTC)")
	fl.StringVarP(&o.Output, "output", "o", "text", "output format: text, or json (one record per line)")
	return cmd
}

func logsRun(ctx context.Context, o *LogsOptions) error {
	if err := checkLogsOptions(o); err != nil {
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
	p := newLogPrinter(o)
	err = c.StreamLogs(ctx, apiclient.LogQuery{Team: team, App: o.App, Env: o.Env, Pod: o.Pod, Container: o.Container,
		Since: o.Since, Tail: o.Tail, Previous: o.Previous, Follow: o.Follow}, p.print)
	if errors.Is(err, apiclient.ErrStreamEnded) {
		return errors.New("the server ended the log stream (did it restart?): run the command again to go on")
	}
	return err
}

func checkLogsOptions(o *LogsOptions) error {
	switch {
	case o.Env == "":
		return &UsageError{Err: errors.New("--env is required: name the environment whose pods to read (berth status APP lists them)")}
	case o.Output != "text" && o.Output != "json":
		return &UsageError{Err: fmt.Errorf("invalid output format %q: use text or json", o.Output)}
	case o.Tail < -1 || o.Tail > 10000:
		return &UsageError{Err: fmt.Errorf("--tail must be 0 to 10000 lines, not %d", o.Tail)}
	case o.Previous && o.Follow:
		return &UsageError{Err: errors.New("--previous reads a container that has ended: it cannot be followed (drop -f)")}
	}
	if o.Since != "" {
		if d, err := time.ParseDuration(o.Since); err == nil {
			if d < 0 {
				return &UsageError{Err: fmt.Errorf("--since %s is in the future: give how long ago, such as 10m", o.Since)}
			}
		} else if _, err := time.Parse(time.RFC3339, o.Since); err != nil {
			return &UsageError{Err: fmt.Errorf("--since %q: use a duration such as 10m or 2h, or an RFC 3339 time such as 2026-03-14T15:09:26Z", o.Since)}
		}
	}
	return nil
}

// logPrinter writes a log stream's records: lines after their pod, events marked as such,
// notices on standard error; coloured per pod on a terminal.
type logPrinter struct {
	o      *LogsOptions
	out    io.Writer
	errOut io.Writer
	color  bool
}

func newLogPrinter(o *LogsOptions) *logPrinter {
	return &logPrinter{o: o, out: o.IO.Out, errOut: o.IO.ErrOut, color: o.IO.IsTerminal() && o.Output == "text"}
}

// podColors are the ANSI colours pods get on a terminal, by a hash of their names.
var podColors = []string{"36", "32", "35", "34", "33", "96", "92", "95", "94", "93"}

func (p *logPrinter) paint(code, s string) string {
	if !p.color {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

func (p *logPrinter) print(r apiv1.LogRecord) error {
	if p.o.Output == "json" {
		data, err := json.Marshal(r)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(p.out, "%s\n", data)
		return err
	}
	var stamp string
	if p.o.Timestamps {
		stamp = r.Time.UTC().Format(time.RFC3339Nano) + " "
	}
	var err error
	switch {
	case r.Notice != "":
		_, err = fmt.Fprintf(p.errOut, "%s%s\n", stamp, p.paint("2", "berth: "+r.Notice))
	case r.Event != nil:
		ev := r.Event
		msg := ev.Message
		if ev.Count > 1 {
			msg += fmt.Sprintf(" (x%d)", ev.Count)
		}
		typ := ev.Type
		if typ == "Warning" {
			typ = p.paint("1;31", typ)
		}
		_, err = fmt.Fprintf(p.out, "%s%s  %s  %s  %s: %s\n", stamp, p.paint("1", "event"), typ, ev.Reason, ev.Object, oneLine(msg))
	default:
		src := r.Pod
		if r.Container != "" {
			src += "/" + r.Container
		}
		line := ""
		if r.Line != nil {
			line = *r.Line
		}
		_, err = fmt.Fprintf(p.out, "%s%s  %s\n", stamp, p.paint(podColor(r.Pod), src), line)
	}
	return err
}

func podColor(pod string) string {
	h := fnv.New32a()
	h.Write([]byte(pod))
	return podColors[h.Sum32()%uint32(len(podColors))]
}

// oneLine keeps an event's message on its line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
