package alertrules

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Matcher is one label matcher of a PromQL selector: name, op (=, =~) and value. Berth's
// PromQL (these rules, internal/prom's golden signals) is written with Eq, Re, OneOf and
// Selector, so that no name or value can change a query.
type Matcher struct {
	name, op, value string
}

// Eq and Re are the matchers name="value" and name=~"regexp".
func Eq(name, value string) Matcher { return Matcher{name, "=", value} }
func Re(name, value string) Matcher { return Matcher{name, "=~", value} }

// OneOf matches name against any of values, literally: = for one, an alternation of
// quoted values for several (PromQL anchors regexps).
func OneOf(name string, values []string) Matcher {
	if len(values) == 1 {
		return Eq(name, values[0])
	}
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = regexp.QuoteMeta(v)
	}
	return Re(name, strings.Join(quoted, "|"))
}

// Selector writes metric{m1,m2,...} ({m1,...} without a metric). Values are quoted as Go strings: PromQL's string
// literals take every escape strconv.Quote writes (\\, \", \n, \x.., \u...., \U........),
// so any value, a DNS label or not, selects exactly itself.
func Selector(metric string, ms ...Matcher) string {
	var b strings.Builder
	b.WriteString(metric)
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(m.name)
		b.WriteString(m.op)
		b.WriteString(strconv.Quote(m.value))
	}
	b.WriteByte('}')
	return b.String()
}

// leRegexp matches the `le` label of the histogram bucket whose upper bound is seconds, in
// every form it may be stored in: clients write bounds as Go's shortest float ("1", "0.25",
// "1e-05"), some in plain decimals ("0.00001"), and Prometheus 3 normalizes classic
// histograms' `le` to OpenMetrics floats ("1" becomes "1.0", "0.25" stays "0.25"). So 1s
// is `1(\.0)?` and 250ms `0\.25`.
func leRegexp(seconds float64) string {
	plain := strconv.FormatFloat(seconds, 'f', -1, 64)
	short := strconv.FormatFloat(seconds, 'g', -1, 64)
	forms := []string{plain}
	if short != plain {
		forms = append(forms, short)
	}
	for i, f := range forms {
		if strings.ContainsAny(f, ".e") {
			forms[i] = regexp.QuoteMeta(f)
		} else {
			// Whole numbers gain ".0" in Prometheus 3 (FormatOpenMetricsFloat).
			forms[i] = regexp.QuoteMeta(f) + `(\.0)?`
		}
	}
	slices.Sort(forms)
	return strings.Join(forms, "|")
}

// promDuration writes d as a Prometheus duration rounded to the millisecond, largest units
// first as Prometheus itself writes them: 5m, 1h30m, 1d, 42s857ms. Less than 1ms is 1ms,
// since Prometheus takes no empty window.
func promDuration(d time.Duration) string {
	d = d.Round(time.Millisecond)
	if d < time.Millisecond {
		d = time.Millisecond
	}
	var b strings.Builder
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}, {time.Millisecond, "ms"}} {
		if n := d / u.unit; n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10))
			b.WriteString(u.name)
			d -= n * u.unit
		}
	}
	return b.String()
}

// num writes x as a PromQL number, to 12 significant digits so that float noise
// (99.9/100 is 0.9990000000000001) does not reach the rules.
func num(x float64) string {
	return strconv.FormatFloat(x, 'g', 12, 64)
}

// bytesText writes a memory limit as Kubernetes writes quantities: 64Mi, 1Gi, 1500.
func bytesText(n int64) string {
	for _, u := range []struct {
		unit int64
		name string
	}{{1 << 40, "Ti"}, {1 << 30, "Gi"}, {1 << 20, "Mi"}, {1 << 10, "Ki"}} {
		if n >= u.unit && n%u.unit == 0 {
			return strconv.FormatInt(n/u.unit, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}

// coresText writes a CPU limit: 1 core, 0.5 cores.
func coresText(c float64) string {
	if c == 1 {
		return "1 core"
	}
	return num(c) + " cores"
}

// percentText writes a percentage for people: 5%, 99.9%.
func percentText(p float64) string {
	return num(p) + "%"
}
