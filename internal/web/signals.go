package web

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/authz"
	"github.com/berth-dev/berth/internal/berth"
)

// signalsView is the app page's golden signals in one environment: a small chart per
// signal, or one line saying why there are none.
type signalsView struct {
	Env string
	// Others are the other environments the app runs in, to switch to (?env=).
	Others []string
	Since  string
	// Problem says why there are no charts: no Prometheus, Prometheus down.
	Problem string
	Charts  []chart
	// NoRequests: the app declares no request metrics, so only CPU and memory are shown.
	NoRequests bool
}

// chart is one signal drawn as an inline SVG polyline, chartWidth × chartHeight.
type chart struct {
	Name, Title, Help string
	// Last is the newest value, Range the least and greatest; "" without points.
	Last, Range string
	// Limit is the pod's limit, written like the values; "" for none.
	Limit string
	// Lines are the polylines' points attributes, one per stretch without a gap.
	Lines []string
	// LimitY is the height of the limit line when it falls inside the chart; "": none.
	LimitY string
}

// The size of a chart, in SVG user units (and CSS pixels).
const (
	chartWidth  = 240
	chartHeight = 48
	chartPad    = 2
)

var signalTitles = map[string]string{
	berth.SignalLatencyP50: "Latency p50", berth.SignalLatencyP99: "Latency p99", berth.SignalTraffic: "Traffic",
	berth.SignalErrors: "Errors", berth.SignalCPU: "CPU", berth.SignalMemory: "Memory",
}

// appSignals reads the signals of the app in env (want, or else the first of envs, the
// environments it runs in) over since; nil when it runs nowhere. Failures are the view's
// one line, not the page's: the rest of the page does not need Prometheus.
// signalsPageTimeout bounds how long the app page waits for its golden signals.
const signalsPageTimeout = 3 * time.Second

func (h *Handler) appSignals(ctx context.Context, p *authz.Principal, team, app string, envs []string, want, since string) *signalsView {
	if len(envs) == 0 && want == "" {
		return nil
	}
	v := &signalsView{Env: want}
	if v.Env == "" {
		v.Env = envs[0]
	}
	for _, e := range envs {
		if e != v.Env {
			v.Others = append(v.Others, e)
		}
	}
	d := berth.DefaultSignalsSince
	if since != "" {
		var err error
		if d, err = berth.ParseSignalsSince(since); err != nil {
			v.Since, v.Problem = since, err.Error()
			return v
		}
	}
	v.Since = berth.FormatSignalsSince(d)
	// The page waits for the charts: a slow Prometheus must not hold up the rest of it.
	ctx, cancel := context.WithTimeout(ctx, signalsPageTimeout)
	defer cancel()
	sig, err := h.svc.AppSignals(ctx, p, team, app, v.Env, d)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		v.Problem = fmt.Sprintf("Prometheus did not answer within %s: try berth metrics %s --env %s.", signalsPageTimeout, app, v.Env)
		return v
	case errors.Is(err, berth.ErrUnavailable), errors.Is(err, berth.ErrNotFound), errors.Is(err, berth.ErrInvalid):
		v.Problem = err.Error()
		return v
	case err != nil:
		h.log.ErrorContext(ctx, "read golden signals", "team", team, "app", app, "env", v.Env, "err", err)
		v.Problem = "The signals could not be read: the server's log says why."
		return v
	}
	v.Charts, v.NoRequests = signalCharts(sig), true
	for _, se := range sig.Series {
		if se.Name == berth.SignalTraffic {
			v.NoRequests = false
		}
	}
	return v
}

// signalCharts draws each series of sig over its range: time from left to right, values
// from 0 at the bottom to the greatest at the top (or the limit, when the values come near
// it), the line broken where a step has no point.
func signalCharts(sig berth.Signals) []chart {
	end := sig.End
	start := end.Add(-sig.Since)
	span := float64(sig.Since)
	out := make([]chart, 0, len(sig.Series))
	for _, se := range sig.Series {
		c := chart{Name: se.Name, Title: signalTitles[se.Name], Help: se.Help}
		if c.Title == "" {
			c.Title = se.Name
		}
		if se.Limit > 0 {
			c.Limit = berth.FormatSignal(se.Unit, se.Limit)
		}
		lo, hi, ok := se.Range()
		if !ok || span <= 0 {
			out = append(out, c)
			continue
		}
		last, _ := se.Last()
		c.Last = berth.FormatSignal(se.Unit, last.V)
		c.Range = berth.FormatSignal(se.Unit, lo) + " – " + berth.FormatSignal(se.Unit, hi)
		top := hi
		if se.Limit > 0 && hi >= se.Limit/2 {
			top = max(hi, se.Limit)
		}
		y := func(v float64) float64 {
			if top <= 0 {
				return chartHeight - chartPad
			}
			return chartHeight - chartPad - max(v, 0)/top*(chartHeight-2*chartPad)
		}
		if se.Limit > 0 && se.Limit <= top {
			c.LimitY = num(max(y(se.Limit), chartPad))
		}
		gap := 1.5 * float64(sig.Step)
		var line []string
		var prev time.Time
		flush := func() {
			if len(line) == 1 { // a lone point: a dash, since a polyline of one point draws nothing
				x, yv, _ := strings.Cut(line[0], ",")
				xf, _ := strconv.ParseFloat(x, 64)
				line = []string{num(max(xf-1, 0)) + "," + yv, num(min(xf+1, chartWidth)) + "," + yv}
			}
			if len(line) > 0 {
				c.Lines = append(c.Lines, strings.Join(line, " "))
			}
			line = nil
		}
		for _, p := range se.Points {
			if p.T.Before(start) || p.T.After(end) {
				continue
			}
			if len(line) > 0 && sig.Step > 0 && float64(p.T.Sub(prev)) > gap {
				flush()
			}
			x := float64(p.T.Sub(start)) / span * chartWidth
			line = append(line, num(x)+","+num(y(p.V)))
			prev = p.T
		}
		flush()
		out = append(out, c)
	}
	return out
}

// num writes an SVG coordinate to a tenth of a unit.
func num(x float64) string { return strconv.FormatFloat(math.Round(x*10)/10, 'f', -1, 64) }
