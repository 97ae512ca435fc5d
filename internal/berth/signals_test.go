package berth_test

import (
	"errors"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berth"
)

func TestSignalStep(t *testing.T) {
	for since, want := range map[time.Duration]time.Duration{
		time.Minute:        time.Second, // 0.5 s, rounded up to a whole second
		15 * time.Minute:   8 * time.Second,
		time.Hour:          30 * time.Second,
		6 * time.Hour:      3 * time.Minute,
		7 * 24 * time.Hour: 84 * time.Minute,
	} {
		got := berth.SignalStep(since)
		if got != want {
			t.Errorf("SignalStep(%s) = %s, want %s", since, got, want)
		}
		if since/got > berth.MaxSignalPoints {
			t.Errorf("SignalStep(%s) = %s: %d points, more than %d", since, got, since/got, berth.MaxSignalPoints)
		}
	}
}

func TestParseSignalsSince(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"1m": time.Minute, "90m": 90 * time.Minute, "1h30m": 90 * time.Minute, "7d": 7 * 24 * time.Hour, "2d": 48 * time.Hour, "168h": 7 * 24 * time.Hour,
	} {
		if got, err := berth.ParseSignalsSince(in); err != nil || got != want {
			t.Errorf("ParseSignalsSince(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for in, msg := range map[string]string{
		"":      `since: "" is not a duration: use one such as 15m, 6h or 7d`,
		"d":     `since: "d" is not a duration: use one such as 15m, 6h or 7d`,
		"-1d":   `since: "-1d" is not a duration: use one such as 15m, 6h or 7d`,
		"1.5d":  `since: "1.5d" is not a duration: use one such as 15m, 6h or 7d`,
		"59s":   "since: must be from 1m to 7d, not 59s",
		"8d":    "since: must be from 1m to 7d, not 8d",
		"9999d": `since: "9999d" is not a duration: use one such as 15m, 6h or 7d`,
		"-5m":   "since: must be from 1m to 7d, not -5m",
	} {
		_, err := berth.ParseSignalsSince(in)
		if !errors.Is(err, berth.ErrInvalid) || err.Error() != msg {
			t.Errorf("ParseSignalsSince(%q): %v, want %q", in, err, msg)
		}
	}
	for _, d := range []time.Duration{time.Minute, 15 * time.Minute, 90 * time.Minute, 6 * time.Hour, 7 * 24 * time.Hour} {
		if got, err := berth.ParseSignalsSince(berth.FormatSignalsSince(d)); err != nil || got != d {
			t.Errorf("%s written %q reads back as %s, %v", d, berth.FormatSignalsSince(d), got, err)
		}
	}
}

func TestFormatSignal(t *testing.T) {
	for _, c := range []struct {
		unit string
		v    float64
		want string
	}{
		{berth.UnitSeconds, 0.0123, "12.3ms"},
		{berth.UnitSeconds, 0.00042, "0.42ms"},
		{berth.UnitSeconds, 0.25, "250ms"},
		{berth.UnitSeconds, 1.5, "1.5s"},
		{berth.UnitPerSecond, 4.2, "4.2 req/s"},
		{berth.UnitPerSecond, 1234.6, "1235 req/s"},
		{berth.UnitPerSecond, 0, "0 req/s"},
		{berth.UnitRatio, 0.005, "0.5%"},
		{berth.UnitRatio, 1, "100%"},
		{berth.UnitCores, 0.12, "120m"},
		{berth.UnitCores, 1, "1 core"},
		{berth.UnitCores, 2.25, "2.25 cores"},
		{berth.UnitBytes, 50 << 20, "50 MiB"},
		{berth.UnitBytes, 1.5 * (1 << 30), "1.5 GiB"},
		{berth.UnitBytes, 2048, "2 KiB"},
		{berth.UnitBytes, 512, "512 B"},
		{"", 9.996, "10"},
	} {
		if got := berth.FormatSignal(c.unit, c.v); got != c.want {
			t.Errorf("FormatSignal(%q, %v) = %q, want %q", c.unit, c.v, got, c.want)
		}
	}
}
