package apiv1

import (
	"time"

	"github.com/berth-dev/berth/internal/berth"
)

// Signals is an app's golden signals in one environment over the last sinceSeconds, read
// from the server's Prometheus: GET /teams/{team}/apps/{app}/envs/{env}/metrics.
type Signals struct {
	Team string `json:"team"`
	App  string `json:"app"`
	Env  string `json:"env"`
	// End is when the range ends; it starts sinceSeconds before.
	End          time.Time `json:"end"`
	SinceSeconds int64     `json:"sinceSeconds"`
	// StepSeconds is the time between two points of a series.
	StepSeconds int64 `json:"stepSeconds"`
	// Series are latency_p50, latency_p99, traffic and errors (for apps that declare
	// metrics:), then cpu and memory.
	Series []SignalSeries `json:"series"`
}

// SignalSeries is one signal over time.
type SignalSeries struct {
	// Name is latency_p50, latency_p99, traffic, errors, cpu or memory.
	Name string `json:"name"`
	// Unit is seconds, requests/s, ratio (0 to 1), cores or bytes.
	Unit string `json:"unit"`
	Help string `json:"help"`
	// Limit is the pod's limit (cpu, memory), in the series' unit; absent: none.
	Limit float64 `json:"limit,omitempty"`
	// Points are in time order; a time without a value has no point.
	Points []SignalPoint `json:"points"`
}

// SignalPoint is a value at a time.
type SignalPoint struct {
	T time.Time `json:"t"`
	V float64   `json:"v"`
}

// FromSignals is the wire form of an app's signals.
func FromSignals(s berth.Signals) Signals {
	out := Signals{Team: s.Team, App: s.App, Env: s.Env, End: s.End.UTC(), SinceSeconds: int64(s.Since / time.Second),
		StepSeconds: int64(s.Step / time.Second), Series: make([]SignalSeries, 0, len(s.Series))}
	for _, se := range s.Series {
		ws := SignalSeries{Name: se.Name, Unit: se.Unit, Help: se.Help, Limit: se.Limit, Points: make([]SignalPoint, 0, len(se.Points))}
		for _, p := range se.Points {
			ws.Points = append(ws.Points, SignalPoint{T: p.T.UTC(), V: p.V})
		}
		out.Series = append(out.Series, ws)
	}
	return out
}
