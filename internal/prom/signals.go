package prom

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/manifest/alertrules"
)

// Client reads apps' golden signals from a Prometheus through its HTTP API: Berth's
// scrape configuration (ScrapeConfigs) labels the apps' series team, app and env, and the
// kubelet's container series namespace, pod and container.
type Client struct {
	// URL is the Prometheus's base URL, e.g. http://127.0.0.1:9090.
	URL string
	// HTTP makes the requests; nil is a client of http.DefaultTransport. Its own timeout,
	// if any, applies to each query as well as Timeout.
	HTTP *http.Client
	// MinWindow is the shortest window rates are taken over; 0 is DefaultMinWindow. Rates
	// need two samples in their window: tests that scrape every second shorten it.
	MinWindow time.Duration
	// Timeout bounds a whole Signals call; 0 is DefaultTimeout.
	Timeout time.Duration
}

// DefaultMinWindow is four samples at Prometheus's commonly used 15 s scrape interval:
// a rate over it survives a missed scrape.
const DefaultMinWindow = time.Minute

// DefaultTimeout bounds a Signals call: its queries run at once, each a handful of series
// over at most berth.MaxSignalPoints steps, which a healthy Prometheus answers in
// milliseconds.
const DefaultTimeout = 15 * time.Second

// maxAnswer bounds the body of one answer: a range query of one series of
// berth.MaxSignalPoints points is a few kilobytes.
const maxAnswer = 4 << 20

// Signals reads q's app's golden signals: latency (p50, p99), traffic and errors when q
// names its request metrics, then CPU and memory, each a series in that order, empty
// where Prometheus has no samples. Rates are taken over the larger of two steps (so every
// sample counts towards some point, whatever the step) and MinWindow.
func (c Client) Signals(ctx context.Context, q berth.SignalQuery) ([]berth.Series, error) {
	if c.URL == "" {
		return nil, errors.New("prometheus: no URL")
	}
	if !q.End.After(q.Start) {
		return nil, fmt.Errorf("prometheus at %s: the range %s to %s is empty", redacted(c.URL), q.Start.Format(time.RFC3339), q.End.Format(time.RFC3339))
	}
	hc := &http.Client{Transport: boundedTransport{http.DefaultTransport}}
	if c.HTTP != nil {
		cp := *c.HTTP
		rt := cp.Transport
		if rt == nil {
			rt = http.DefaultTransport
		}
		cp.Transport = boundedTransport{rt}
		hc = &cp
	}
	client, err := api.NewClient(api.Config{Address: c.URL, Client: hc})
	if err != nil {
		return nil, fmt.Errorf("prometheus at %s: %w", redacted(c.URL), err)
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	step := signalStep(q)
	minWindow := c.MinWindow
	if minWindow <= 0 {
		minWindow = DefaultMinWindow
	}
	window := max(2*step, minWindow)
	qs := signalQueries(q, window)
	out := make([]berth.Series, len(qs))
	errs := make([]error, len(qs))
	rng := v1.Range{Start: q.Start, End: q.End, Step: step}
	papi := v1.NewAPI(client)
	var wg sync.WaitGroup
	for i, sq := range qs {
		out[i] = sq.series
		wg.Go(func() {
			// The server gives up when the client does, rather than working on.
			v, _, _, err := papi.QueryRange(ctx, sq.expr, rng, v1.WithTimeout(timeout))
			if err != nil {
				errs[i] = fmt.Errorf("prometheus at %s: query %s of %s/%s in %s: %w", redacted(c.URL), sq.series.Name, q.Team, q.App, q.Env, err)
				return
			}
			points, err := matrixPoints(v)
			if err != nil {
				errs[i] = fmt.Errorf("prometheus at %s: query %s of %s/%s in %s: %w", redacted(c.URL), sq.series.Name, q.Team, q.App, q.Env, err)
				return
			}
			out[i].Points = points
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err // the first, in the order of the series: the others are likely the same
		}
	}
	return out, nil
}

// signalStep is q's step, raised to keep at most berth.MaxSignalPoints steps in the range
// and to a whole millisecond, Prometheus's resolution.
func signalStep(q berth.SignalQuery) time.Duration {
	span := q.End.Sub(q.Start)
	step := max(q.Step, (span+berth.MaxSignalPoints-1)/berth.MaxSignalPoints, time.Millisecond)
	if r := step % time.Millisecond; r != 0 {
		step += time.Millisecond - r
	}
	return step
}

// signalQuery is the PromQL of one signal, and its series without points.
type signalQuery struct {
	series berth.Series
	expr   string
}

// signalQueries are the queries of q's signals, rates over window.
//
// Every query aggregates to one series without labels (sum, max, or quantiles of the
// summed buckets), so an answer has at most one series. Selectors name their metric with
// __name__ and quote every value, so no name or value can change the query.
func signalQueries(q berth.SignalQuery, window time.Duration) []signalQuery {
	w := promDuration(window)
	app := func(metric string, extra ...alertrules.Matcher) string {
		ms := []alertrules.Matcher{eq("__name__", metric), eq(LabelTeam, q.Team), eq(LabelApp, q.App), eq(LabelEnv, q.Env)}
		if q.Namespace != "" {
			// Pods elsewhere carrying the app's labels are not the app's.
			ms = append(ms, eq("namespace", q.Namespace))
		}
		return selector(append(ms, extra...)...)
	}
	var out []signalQuery
	if q.Duration != "" {
		buckets := fmt.Sprintf("sum by (le) (rate(%s[%s]))", app(q.Duration+"_bucket"), w)
		out = append(out,
			signalQuery{berth.Series{Name: berth.SignalLatencyP50, Unit: berth.UnitSeconds,
				Help: "half of the requests took at most this long"}, "histogram_quantile(0.5, " + buckets + ")"},
			signalQuery{berth.Series{Name: berth.SignalLatencyP99, Unit: berth.UnitSeconds,
				Help: "99% of the requests took at most this long"}, "histogram_quantile(0.99, " + buckets + ")"})
	}
	if q.Requests != "" {
		all := fmt.Sprintf("sum(rate(%s[%s]))", app(q.Requests), w)
		failed := fmt.Sprintf("sum(rate(%s[%s]))", app(q.Requests, re("code", "5..")), w)
		out = append(out,
			signalQuery{berth.Series{Name: berth.SignalTraffic, Unit: berth.UnitPerSecond,
				Help: "requests answered per second"}, all},
			// An app that never failed has no 5xx series at all: its ratio is 0 wherever
			// it had requests, not missing.
			signalQuery{berth.Series{Name: berth.SignalErrors, Unit: berth.UnitRatio,
				Help: "share of the requests answered with a 5xx status"},
				fmt.Sprintf("(%s or 0 * %s) / %s", failed, all, all)})
	}
	containers := []alertrules.Matcher{eq("namespace", q.Namespace), re("pod", alertrules.PodPattern(q.App)), re("container", ".+")}
	if len(q.Containers) > 0 {
		containers[2] = oneOf("container", q.Containers)
	}
	kubelet := func(metric string) string {
		return selector(append([]alertrules.Matcher{eq("__name__", metric)}, containers...)...)
	}
	out = append(out,
		signalQuery{berth.Series{Name: berth.SignalCPU, Unit: berth.UnitCores, Limit: q.CPULimit,
			Help: "CPU the busiest pod used, its containers' together"},
			fmt.Sprintf("max(sum by (pod) (rate(%s[%s])))", kubelet("container_cpu_usage_seconds_total"), w)},
		signalQuery{berth.Series{Name: berth.SignalMemory, Unit: berth.UnitBytes, Limit: q.MemoryLimit,
			Help: "memory the largest pod used (working set), its containers' together"},
			fmt.Sprintf("max(sum by (pod) (%s))", kubelet("container_memory_working_set_bytes"))})
	return out
}

// matrixPoints are the points of a range query's answer: its one series, without the
// values no chart can show (NaN where a ratio or a quantile had no requests, ±Inf where a
// quantile fell in the +Inf bucket), which JSON cannot carry either.
func matrixPoints(v model.Value) ([]berth.Point, error) {
	m, ok := v.(model.Matrix)
	if !ok {
		return nil, fmt.Errorf("the answer is a %s, not a range of values", typeName(v))
	}
	switch len(m) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, fmt.Errorf("the answer holds %d series, want at most 1", len(m))
	}
	points := make([]berth.Point, 0, len(m[0].Values))
	for _, s := range m[0].Values {
		f := float64(s.Value)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		points = append(points, berth.Point{T: s.Timestamp.Time().UTC(), V: f})
	}
	return points, nil
}

func typeName(v model.Value) string {
	if v == nil {
		return "nothing"
	}
	return v.Type().String()
}

// The PromQL of the signals is written as the alert rules' is (alertrules.Selector).
var (
	eq    = alertrules.Eq
	re    = alertrules.Re
	oneOf = alertrules.OneOf
)

func selector(ms ...alertrules.Matcher) string { return alertrules.Selector("", ms...) }

// promDuration writes d as a Prometheus duration in milliseconds (90000ms): exact for any
// window, and no unit arithmetic to get wrong.
func promDuration(d time.Duration) string {
	return strconv.FormatInt(max(d.Milliseconds(), 1), 10) + "ms"
}

// boundedTransport fails answers longer than maxAnswer rather than reading them whole.
type boundedTransport struct{ rt http.RoundTripper }

func (t boundedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &boundedBody{rc: resp.Body, left: maxAnswer}
	return resp, nil
}

type boundedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more tells a body of exactly maxAnswer from a longer one.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, fmt.Errorf("the answer is longer than %d MiB", maxAnswer>>20)
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *boundedBody) Close() error { return b.rc.Close() }
