package alertrules

import (
	"regexp"
	"testing"
	"time"
)

func TestPromDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{5 * time.Minute, "5m"},
		{time.Hour, "1h"},
		{90 * time.Minute, "1h30m"},
		{24 * time.Hour, "1d"},
		{72 * time.Hour, "3d"},
		{25 * time.Hour, "1d1h"},
		{5 * time.Second, "5s"},
		{250 * time.Millisecond, "250ms"},
		{1500 * time.Millisecond, "1s500ms"},
		{5*time.Minute/7 + 300*time.Microsecond, "42s857ms"},
		{time.Microsecond, "1ms"},
		{0, "1ms"},
	} {
		if got := promDuration(tc.d); got != tc.want {
			t.Errorf("promDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestScaled(t *testing.T) {
	for _, tc := range []struct {
		scale float64
		d     time.Duration
		want  string
	}{
		{0, 5 * time.Minute, "5m"},
		{1, 5 * time.Minute, "5m"},
		{60, 5 * time.Minute, "5s"},
		{60, time.Hour, "1m"},
		{60, 72 * time.Hour, "1h12m"},
		{60, 30 * time.Minute, "30s"},
		{600, 5 * time.Minute, "500ms"},
		{7, 5 * time.Minute, "42s857ms"},
	} {
		r := renderer{a: App{Scale: tc.scale}}
		if got := r.window(tc.d); got != tc.want {
			t.Errorf("Scale %v: window(%v) = %q, want %q", tc.scale, tc.d, got, tc.want)
		}
	}
}

// TestLeRegexp checks the `le` regexps against the label values a histogram's bucket may
// have, as PromQL matches them: anchored at both ends.
func TestLeRegexp(t *testing.T) {
	for _, tc := range []struct {
		under time.Duration
		want  string
		match []string
		not   []string
	}{
		{time.Second, `1(\.0)?`, []string{"1", "1.0"}, []string{"10", "1.5", "0.1", "11.0"}},
		{250 * time.Millisecond, `0\.25`, []string{"0.25"}, []string{"0.250", "0x25", "0.2", "0.255"}},
		{10 * time.Second, `10(\.0)?`, []string{"10", "10.0"}, []string{"1", "100", "1.0"}},
		{2500 * time.Millisecond, `2\.5`, []string{"2.5"}, []string{"2", "2.50"}},
		{10 * time.Microsecond, `0\.00001|1e-05`, []string{"1e-05", "0.00001"}, []string{"1e-5", "0.0001"}},
	} {
		got := leRegexp(tc.under.Seconds())
		if got != tc.want {
			t.Errorf("leRegexp(%v) = %q, want %q", tc.under, got, tc.want)
		}
		re := regexp.MustCompile(`^(?:` + got + `)$`)
		for _, le := range tc.match {
			if !re.MatchString(le) {
				t.Errorf("%v: %q does not match le=%q", tc.under, got, le)
			}
		}
		for _, le := range tc.not {
			if re.MatchString(le) {
				t.Errorf("%v: %q matches le=%q", tc.under, got, le)
			}
		}
	}
}

func TestSelector(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  string
		want string
	}{
		{"plain", Selector("up", Eq("team", "demo"), Re("code", "5..")), `up{team="demo",code=~"5.."}`},
		{"escaped", Selector("up", Eq("app", "a\"b\\c\nd\té")), `up{app="a\"b\\c\nd\té"}`},
		{"control", Selector("up", Eq("env", "\x00\u2028")), `up{env="\x00\u2028"}`},
		{"one of one", Selector("up", OneOf("container", []string{"web"})), `up{container="web"}`},
		{"one of several", Selector("up", OneOf("container", []string{"web", "side.car"})), `up{container=~"web|side\\.car"}`},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, tc.got, tc.want)
		}
	}
}

func TestNumbers(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{num(99.9 / 100), "0.999"},
		{num((100 - 99.9) / 100), "0.001"},
		{num((100 - 99.99) / 100), "0.0001"},
		{num(5.0 / 100), "0.05"},
		{num(14.4), "14.4"},
		{num(2), "2"},
		{bytesText(64 << 20), "64Mi"},
		{bytesText(1 << 30), "1Gi"},
		{bytesText(1536 << 20), "1536Mi"},
		{bytesText(1000), "1000"},
		{coresText(1), "1 core"},
		{coresText(0.25), "0.25 cores"},
		{percentText(99.95), "99.95%"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
