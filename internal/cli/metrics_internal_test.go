package cli

import (
	"math"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

// TestSparkline: each character is the greatest value of its slice of the range, scaled
// from 0 to the greatest of all; slices without a point are blanks.
func TestSparkline(t *testing.T) {
	start := time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC)
	at := func(sec int, v float64) apiv1.SignalPoint {
		return apiv1.SignalPoint{T: start.Add(time.Duration(sec) * time.Second), V: v}
	}
	end := start.Add(80 * time.Second) // 8 columns of 10 s
	for _, c := range []struct {
		name   string
		points []apiv1.SignalPoint
		width  int
		want   string
	}{
		{"no points", nil, 8, "        "},
		{"a ramp", []apiv1.SignalPoint{at(0, 0), at(10, 1), at(20, 2), at(30, 3), at(40, 4), at(50, 5), at(60, 6), at(70, 7)}, 8, "▁▂▃▄▅▆▇█"},
		{"all zero", []apiv1.SignalPoint{at(0, 0), at(10, 0), at(79, 0)}, 8, "▁▁     ▁"},
		{"gaps", []apiv1.SignalPoint{at(0, 2), at(35, 2), at(70, 1)}, 8, "█  █   ▅"},
		{"the greatest of a column", []apiv1.SignalPoint{at(0, 1), at(5, 8), at(9, 2), at(10, 4)}, 8, "█▅      "},
		{"the end is in the last column", []apiv1.SignalPoint{at(80, 3)}, 8, "       █"},
		{"outside the range, NaN and Inf are left out",
			[]apiv1.SignalPoint{at(-5, 100), at(81, 100), at(20, math.NaN()), at(30, math.Inf(1)), at(40, 1)}, 8, "    █   "},
		{"negative values sit at the bottom", []apiv1.SignalPoint{at(0, -1), at(10, 1)}, 8, "▁█      "},
		{"no width", []apiv1.SignalPoint{at(0, 1)}, 0, ""},
		{"half width", []apiv1.SignalPoint{at(0, 1), at(25, 2), at(79, 4)}, 4, "▃▅ █"},
	} {
		if got := sparkline(c.points, start, end, c.width); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	if got := sparkline([]apiv1.SignalPoint{at(0, 1)}, end, start, 8); got != "" {
		t.Errorf("a range ending before it starts: %q, want nothing", got)
	}
}
