package berth

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Signals are an app's four golden signals in one environment over the last Since, read
// from the environment's Prometheus: latency, traffic and errors from the app's own request
// metrics (metrics: in berth.yaml), saturation from its containers' CPU and memory.
type Signals struct {
	Team, App, Env string
	// End is when the range ends (the time of the request); it starts Since before.
	End   time.Time
	Since time.Duration
	// Step is the time between two points of a series.
	Step time.Duration
	// Series are the signals in SignalNames order; an app without metrics: has only cpu
	// and memory.
	Series []Series
}

// Series is one signal over time.
type Series struct {
	// Name is one of SignalNames.
	Name string
	// Unit is what the values count: one of the Unit constants.
	Unit string
	// Help says in a few words what the values are.
	Help string
	// Limit is what the value may not exceed (cpu, memory: the pod's limit); 0: none.
	Limit float64
	// Points are in time order; a time without a value (no samples, no requests to take a
	// ratio or a quantile of) has no point.
	Points []Point
}

// Point is a value at a time.
type Point struct {
	T time.Time
	V float64
}

// The names of the signals.
const (
	SignalLatencyP50 = "latency_p50"
	SignalLatencyP99 = "latency_p99"
	SignalTraffic    = "traffic"
	SignalErrors     = "errors"
	SignalCPU        = "cpu"
	SignalMemory     = "memory"
)

// SignalNames are the signals in the order they are shown.
var SignalNames = []string{SignalLatencyP50, SignalLatencyP99, SignalTraffic, SignalErrors, SignalCPU, SignalMemory}

// The units of the signals.
const (
	UnitSeconds   = "seconds"
	UnitPerSecond = "requests/s"
	UnitRatio     = "ratio" // 0 to 1
	UnitCores     = "cores"
	UnitBytes     = "bytes"
)

// Bounds of a signals request.
const (
	DefaultSignalsSince = time.Hour
	MinSignalsSince     = time.Minute
	MaxSignalsSince     = 7 * 24 * time.Hour
	// MaxSignalPoints bounds the points of a series: enough for a chart a few hundred
	// pixels wide, small enough to send every few seconds.
	MaxSignalPoints = 120
)

// SignalStep is the step of a range of since: since split into at most MaxSignalPoints
// steps, rounded up to a whole second (Prometheus's finest useful resolution: apps are
// scraped every few seconds at best).
func SignalStep(since time.Duration) time.Duration {
	step := (since + MaxSignalPoints - 1) / MaxSignalPoints
	if r := step % time.Second; r != 0 {
		step += time.Second - r
	}
	return max(step, time.Second)
}

// SignalQuery asks for an app's signals in one environment: what to select and how.
type SignalQuery struct {
	Team, App, Env string
	// Namespace is the app's namespace there, and Containers the names of its pod's
	// containers: what the kubelet's container metrics are selected by.
	Namespace  string
	Containers []string
	// Requests and Duration are the app's request counter and duration histogram; "" when
	// it declares no metrics:, which leaves latency, traffic and errors out.
	Requests, Duration string
	// Start, End and Step are the range; Step is raised as needed to keep at most
	// MaxSignalPoints points.
	Start, End time.Time
	Step       time.Duration
	// CPULimit (cores) and MemoryLimit (bytes) are a pod's limits, the sum over its
	// containers when each has one; 0: none.
	CPULimit, MemoryLimit float64
}

// Last is the series' newest point; false when it has none.
func (s Series) Last() (Point, bool) {
	if len(s.Points) == 0 {
		return Point{}, false
	}
	return s.Points[len(s.Points)-1], true
}

// Range is the least and the greatest value of the series; false when it has no points.
func (s Series) Range() (lo, hi float64, ok bool) {
	if len(s.Points) == 0 {
		return 0, 0, false
	}
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, p := range s.Points {
		lo, hi = min(lo, p.V), max(hi, p.V)
	}
	return lo, hi, true
}

// FormatSignal writes a value of a signal in unit for people, the same in the CLI and the
// dashboard: latencies in ms or s, ratios in percent, CPU in millicores below a core,
// memory in binary units.
func FormatSignal(unit string, v float64) string {
	switch unit {
	case UnitSeconds:
		if v < 1 {
			return sig3(v*1000) + "ms"
		}
		return sig3(v) + "s"
	case UnitPerSecond:
		return sig3(v) + " req/s"
	case UnitRatio:
		return sig3(v*100) + "%"
	case UnitCores:
		if v < 1 {
			return sig3(v*1000) + "m"
		}
		if v == 1 {
			return "1 core"
		}
		return sig3(v) + " cores"
	case UnitBytes:
		for _, u := range []struct {
			size float64
			name string
		}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
			if v >= u.size {
				return sig3(v/u.size) + " " + u.name
			}
		}
		return sig3(v) + " B"
	}
	return sig3(v)
}

// sig3 writes x to three significant digits, more for whole numbers above 999, without
// trailing zeros: 12.3, 0.0123, 250, 1234.
func sig3(x float64) string {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	decimals := max(0, 2-int(math.Floor(math.Log10(math.Abs(x)))))
	s := strconv.FormatFloat(x, 'f', decimals, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// ParseSignalsSince reads how far back signals go: a Go duration (90m, 1h30m) or whole
// days (7d), from MinSignalsSince to MaxSignalsSince.
func ParseSignalsSince(s string) (time.Duration, error) {
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok && n != "" && strings.Trim(n, "0123456789") == "" && len(n) <= 3 {
		days, _ := strconv.Atoi(n)
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, Invalid("since", "%q is not a duration: use one such as 15m, 6h or 7d", cut(s))
		}
	}
	if d < MinSignalsSince || d > MaxSignalsSince {
		return 0, Invalid("since", "must be from 1m to 7d, not %s", cut(s))
	}
	return d, nil
}

// FormatSignalsSince writes a duration to the second, the short way: 30s, 15m, 1h30m, 7d.
func FormatSignalsSince(d time.Duration) string {
	d = d.Round(time.Second)
	if d <= 0 {
		return "0s"
	}
	var b strings.Builder
	for _, u := range []struct {
		size time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / u.size; n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10) + u.name)
			d -= n * u.size
		}
	}
	return b.String()
}

// cut keeps an echoed value short.
func cut(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}
