package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
)

// EventsOptions are the inputs of `berth events`.
type EventsOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	App       string
	Team      string
	Env       string
	Since     string
	Type      string
	Limit     int
	Output    string
}

// NewCmdEvents returns `berth events`.
func NewCmdEvents(f *Factory, runF func(*EventsOptions) error) *cobra.Command {
	o := &EventsOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use:   "events APP",
		Short: "Show the Kubernetes events of an app's objects that Berth kept, oldest first",
		Long: `The events Kubernetes recorded about the app's Deployment, ReplicaSets and pods — scheduled,
pulled, started, scaled, probes failing, back-offs — which the server keeps past the
cluster's own retention (an hour), up to its --events-max-per-app newest per app and
environment and for --events-max-age. An event that happened again is one row with its
count, first and last time.`,
		Example: `  berth events reports
  berth events reports --env production --type Warning --since 24h
  berth events reports -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.App = args[0]
			if runF != nil {
				return runF(o)
			}
			return eventsRun(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Team, "team", "", "team of the app (default: looked up)")
	fl.StringVar(&o.Env, "env", "", "only this environment")
	fl.StringVar(&o.Since, "since", "", "only events seen in this long (1h, 24h) or since an RFC 3339 time")
	fl.StringVar(&o.Type, "type", "", "only events of this type: Normal or Warning")
	fl.IntVar(&o.Limit, "limit", 0, "at most this many, the newest (default and most: 1000)")
	bindOutput(cmd, &o.Output)
	return cmd
}

func eventsRun(ctx context.Context, o *EventsOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	switch o.Type {
	case "", "Normal", "Warning":
	default:
		return &UsageError{Err: fmt.Errorf("--type %q: use Normal or Warning", o.Type)}
	}
	if o.Limit < 0 || o.Limit > 1000 {
		return &UsageError{Err: errors.New("--limit must be 1 to 1000")}
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	team, err := resolveTeam(ctx, c, o.App, o.Team)
	if err != nil {
		return err
	}
	evs, err := c.ClusterEvents(ctx, team, o.App, apiclient.EventFilter{Env: o.Env, Since: o.Since, Type: o.Type, Limit: o.Limit})
	if err != nil {
		return err
	}
	if len(evs) == 0 && o.Output == "table" {
		fmt.Fprintf(o.IO.ErrOut, "no events of %s/%s kept%s\n", team, o.App, eventsScope(o))
		return nil
	}
	return printList(o.IO, o.Output, evs, []string{"LAST SEEN", "ENV", "TYPE", "REASON", "OBJECT", "COUNT", "MESSAGE"},
		func(ev apiv1.ClusterEvent) []string {
			return []string{ago(o.IO, ev.LastAt), ev.Env, ev.Type, ev.Reason, ev.Object, strconv.Itoa(ev.Count), oneLine(ev.Message)}
		})
}

func eventsScope(o *EventsOptions) string {
	s := ""
	if o.Env != "" {
		s += " in " + o.Env
	}
	if o.Type != "" {
		s += " of type " + o.Type
	}
	if o.Since != "" {
		s += " since " + o.Since
	}
	return s
}
