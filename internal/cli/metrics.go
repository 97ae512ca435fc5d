package cli

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/berth"
)

// MetricsOptions are the inputs of `berth metrics`.
type MetricsOptions struct {
	IO        *IOStreams
	APIClient func() (*apiclient.Client, error)
	App       string
	Team      string
	Env       string
	Since     string
	Output    string
}

// sparkWidth is the characters of a sparkline: a third of an 120-column terminal.
const sparkWidth = 40

// NewCmdMetrics returns `berth metrics`.
func NewCmdMetrics(f *Factory, runF func(*MetricsOptions) error) *cobra.Command {
	o := &MetricsOptions{IO: f.IO, APIClient: f.apiClient}
	cmd := &cobra.Command{
		Use:   "metrics APP --env ENV [--since 1h]",
		Short: "Show an app's golden signals: latency, traffic, errors, CPU and memory",
		Long: `The four golden signals of the app in one environment over the last hour (--since), read
by the server from its Prometheus: the median and 99th percentile of request durations,
requests per second, the share of requests answered 5xx, and the CPU and memory of the
busiest pod against its limits. One line per signal: its newest value, its least and
greatest over the range, and a sparkline of the range (a blank where there was no sample).

Latency, traffic and errors come from the app's own request metrics, which it declares
with metrics: in berth.yaml; CPU and memory from the kubelet, for every app.`,
		Example: `  berth metrics reports --env production
  berth metrics reports --env staging --since 15m
  berth metrics reports --env production --since 7d -o json | jq '.series[] | {name, last: .points[-1].v}'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.App = args[0]
			if runF != nil {
				return runF(o)
			}
			return metricsRun(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Team, "team", "", "team of the app (default: looked up)")
	fl.StringVar(&o.Env, "env", "", "environment (required)")
	fl.StringVar(&o.Since, "since", "1h", "how far back: 1m to 7d, e.g. 15m, 6h, 7d")
	bindOutput(cmd, &o.Output)
	return cmd
}

func metricsRun(ctx context.Context, o *MetricsOptions) error {
	if err := checkOutput(o.Output); err != nil {
		return err
	}
	if o.Env == "" {
		return &UsageError{Err: errors.New("--env is required: name the environment whose signals to read (berth status APP lists them)")}
	}
	if _, err := berth.ParseSignalsSince(o.Since); err != nil {
		var ie *berth.InvalidError
		if errors.As(err, &ie) {
			return &UsageError{Err: fmt.Errorf("--since %s", ie.Reason)}
		}
		return &UsageError{Err: err}
	}
	c, err := o.APIClient()
	if err != nil {
		return err
	}
	team, err := resolveTeam(ctx, c, o.App, o.Team)
	if err != nil {
		return err
	}
	sig, err := c.Signals(ctx, team, o.App, o.Env, o.Since)
	if err != nil {
		return err
	}
	if o.Output != "table" {
		return printData(o.IO.Out, o.Output, sig)
	}
	return printSignals(o.IO, sig)
}

func printSignals(s *IOStreams, sig apiv1.Signals) error {
	since := time.Duration(sig.SinceSeconds) * time.Second
	end := sig.End
	start := end.Add(-since)
	fmt.Fprintf(s.Out, "%s/%s in %s, the last %s (a point every %s)\n", sig.Team, sig.App, sig.Env,
		berth.FormatSignalsSince(since), berth.FormatSignalsSince(time.Duration(sig.StepSeconds)*time.Second))
	rows := make([][]string, 0, len(sig.Series))
	requests := false
	for _, se := range sig.Series {
		if se.Name == berth.SignalTraffic {
			requests = true
		}
		row := []string{se.Name, "-", "-", "-", "no samples"}
		if n := len(se.Points); n > 0 {
			lo, hi := math.Inf(1), math.Inf(-1)
			for _, p := range se.Points {
				lo, hi = min(lo, p.V), max(hi, p.V)
			}
			row[1], row[2], row[3] = berth.FormatSignal(se.Unit, se.Points[n-1].V), berth.FormatSignal(se.Unit, lo), berth.FormatSignal(se.Unit, hi)
			row[4] = sparkline(se.Points, start, end, sparkWidth)
		}
		if se.Limit > 0 {
			row[4] += "  of limit " + berth.FormatSignal(se.Unit, se.Limit)
		}
		rows = append(rows, row)
	}
	if err := printTable(s, []string{"SIGNAL", "NOW", "MIN", "MAX", "LAST " + strings.ToUpper(berth.FormatSignalsSince(since))}, rows); err != nil {
		return err
	}
	if !requests {
		fmt.Fprintln(s.Out, "Latency, traffic and errors need the app's request metrics: declare them with metrics: in berth.yaml (docs/manifest.md).")
	}
	return nil
}

// sparkTicks are the levels of a sparkline, lowest first.
var sparkTicks = []rune("▁▂▃▄▅▆▇█")

// sparkline draws points from start to end in width characters: each character is the
// greatest value of its slice of time (a spike stays visible), scaled from 0 to the
// greatest value of all; a slice without a point is a blank.
func sparkline(points []apiv1.SignalPoint, start, end time.Time, width int) string {
	span := end.Sub(start)
	if width <= 0 || span <= 0 {
		return ""
	}
	cols := make([]float64, width)
	has := make([]bool, width)
	top := 0.0
	for _, p := range points {
		if math.IsNaN(p.V) || math.IsInf(p.V, 0) || p.T.Before(start) || p.T.After(end) {
			continue
		}
		i := int(int64(p.T.Sub(start)) * int64(width) / int64(span))
		if i == width { // the point at end itself
			i--
		}
		if !has[i] || p.V > cols[i] {
			cols[i] = p.V
		}
		has[i] = true
		top = max(top, p.V)
	}
	var b strings.Builder
	for i := range width {
		switch {
		case !has[i]:
			b.WriteByte(' ')
		case top <= 0 || cols[i] <= 0:
			b.WriteRune(sparkTicks[0])
		default:
			level := int(math.Round(cols[i] / top * float64(len(sparkTicks)-1)))
			b.WriteRune(sparkTicks[min(max(level, 0), len(sparkTicks)-1)])
		}
	}
	return b.String()
}
