package alertrules

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

const (
	// rateWindow is the window of the threshold alerts' rates.
	rateWindow = 5 * time.Minute
	// restartWindow is the window restarts are counted in.
	restartWindow = time.Hour
	// evalInterval is the evaluation interval the windows are sized for, Prometheus's
	// default; a scaled group is evaluated every evalInterval/Scale.
	evalInterval = time.Minute
)

// The severities of the alerts, which Alertmanager routes on. Only what users see pages:
// failing requests and a fast-burning SLO. Slow requests without an SLO, saturation and
// restarts are causes or early signs, and make tickets.
const (
	severityPage   = "page"
	severityTicket = "ticket"
)

// sloWindows are the windows an SLO's error ratio is recorded over: the long and short
// windows of its burn-rate alerts.
var sloWindows = []time.Duration{
	5 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 6 * time.Hour, 24 * time.Hour, 72 * time.Hour,
}

// burn is one condition of a burn-rate alert: the error budget burns more than factor
// times as fast as a 30-day SLO allows over both the long and the short window. The long
// window makes it significant, the short one makes the alert stop soon after the burning
// does.
type burn struct {
	long, short time.Duration
	factor      float64
}

// The burn-rate conditions of the Google SRE workbook's multiwindow, multi-burn-rate
// alerts: a page when 2% of a 30-day budget went in 1h or 5% in 6h, a ticket when 10% went
// in 1d or in 3d.
var (
	pageBurns   = []burn{{time.Hour, 5 * time.Minute, 14.4}, {6 * time.Hour, 30 * time.Minute, 6}}
	ticketBurns = []burn{{24 * time.Hour, 2 * time.Hour, 3}, {72 * time.Hour, 6 * time.Hour, 1}}
)

// Render renders the rules of a: one group, named by App.GroupName, of the threshold alerts
// on its requests and containers that are not disabled, then its SLO's recording rules and
// burn-rate alerts. Rules that would select nothing are left out (no request alerts without
// request metrics, no CPU alert without a CPU limit), so an app with nothing to alert on
// renders an Empty file. Render expects a valid App (see Validate).
func Render(a App) RuleFile {
	r := renderer{a: a, t: a.Alerts.withDefaults(), who: a.Name + " in " + a.Env}
	var rules []Rule
	for _, part := range []func() []Rule{
		r.errorRatio, r.p99Latency, r.cpu, r.memory, r.restarts, r.availabilitySLO, r.latencySLO,
	} {
		rules = append(rules, part()...)
	}
	if len(rules) == 0 {
		return RuleFile{}
	}
	return RuleFile{Groups: []Group{{Name: a.GroupName(), Interval: r.interval(), Rules: rules}}}
}

// renderer renders the rules of one app.
type renderer struct {
	a App
	// t are the app's thresholds, defaults filled in.
	t Thresholds
	// who names the app in alerts' text: "hello in dev".
	who string
}

// scaled is d divided by the app's Scale.
func (r renderer) scaled(d time.Duration) time.Duration {
	if !(r.a.Scale > 1) {
		return d
	}
	return time.Duration(float64(d) / r.a.Scale)
}

// window writes d, scaled, as a Prometheus duration.
func (r renderer) window(d time.Duration) string {
	return promDuration(r.scaled(d))
}

// interval is the group's evaluation interval: the Prometheus's own unless scaled.
func (r renderer) interval() string {
	if !(r.a.Scale > 1) {
		return ""
	}
	return r.window(evalInterval)
}

// appSeries selects metric's series of the app, which Berth's scrape configuration labels
// with team, app and env (from the pod's labels) and namespace, and extra. The namespace,
// when known, keeps out pods elsewhere that carry the same labels without being the app's.
func (r renderer) appSeries(metric string, extra ...Matcher) string {
	ms := []Matcher{Eq("team", r.a.Team), Eq("app", r.a.Name), Eq("env", r.a.Env)}
	if r.a.Namespace != "" {
		ms = append(ms, Eq("namespace", r.a.Namespace))
	}
	return Selector(metric, append(ms, extra...)...)
}

// recorded selects a series the app's recording rules recorded: summed by team, app and
// env over series appSeries selected, so of its namespace already.
func (r renderer) recorded(metric string) string {
	return Selector(metric, Eq("team", r.a.Team), Eq("app", r.a.Name), Eq("env", r.a.Env))
}

// containerSeries selects metric's series of the named containers of the app's pods in
// its namespace, as the kubelet labels them: the pods' names (PodPattern) tell the app's
// from other apps' in the same namespace, whose containers may have the same names.
func (r renderer) containerSeries(metric string, names ...string) string {
	return Selector(metric, Eq("namespace", r.a.Namespace), Re("pod", PodPattern(r.a.Name)), OneOf("container", names))
}

// PodPattern is a regular expression matching the names of the pods of app's Deployment,
// which Berth names after the app: APP-HASH-XXXXX, the ReplicaSet's pod-template hash (up
// to 10 characters) and 5 random ones. Kubernetes cuts the generated part of a name to 58
// characters, so past that only the prefix can be matched.
func PodPattern(app string) string {
	const maxGenerated = 58
	prefix := app + "-"
	if len(prefix)+11 <= maxGenerated {
		return regexp.QuoteMeta(prefix) + "[a-z0-9]{1,10}-[a-z0-9]{5}"
	}
	if len(prefix) > maxGenerated {
		prefix = prefix[:maxGenerated]
	}
	return regexp.QuoteMeta(prefix) + "[-a-z0-9]*"
}

// alert is an alerting rule labelled with the app and severity. hold says whether the
// condition must hold for the app's For before it fires.
func (r renderer) alert(name, severity, expr string, hold bool, summary, description string) Rule {
	rule := Rule{
		Alert: name,
		Expr:  expr,
		Labels: map[string]string{
			"team": r.a.Team, "app": r.a.Name, "env": r.a.Env, "severity": severity,
		},
		Annotations: map[string]string{"summary": summary, "description": description},
	}
	if hold && *r.t.For > 0 {
		rule.For = r.window(*r.t.For)
	}
	return rule
}

// containerAlert is a ticket on one container, labelled with its name as well: its series
// carry that label anyway, and it tells the container's rule from its siblings', which
// share the alert's name (promtool's duplicate-rules lint asks for that).
func (r renderer) containerAlert(name, container, expr, summary, description string) Rule {
	rule := r.alert(name, severityTicket, expr, true, summary, description)
	rule.Labels["container"] = container
	return rule
}

// errorRatio alerts when too many of the app's requests are answered 5xx.
func (r renderer) errorRatio() []Rule {
	if r.a.Requests == "" || !r.t.Enabled(AlertErrorRatio) {
		return nil
	}
	w := r.window(rateWindow)
	expr := fmt.Sprintf("sum(rate(%s[%s]))\n/\nsum(rate(%s[%s]))\n> %s",
		r.appSeries(r.a.Requests, Re("code", "5..")), w,
		r.appSeries(r.a.Requests), w,
		num(r.t.ErrorRatio/100))
	return []Rule{r.alert("BerthErrorRatioHigh", severityPage, expr, true,
		fmt.Sprintf("%s: more than %s of requests fail", r.who, percentText(r.t.ErrorRatio)),
		fmt.Sprintf("%s: {{ $value | humanizePercentage }} of requests failed (5xx) over %s (threshold %s).",
			r.who, w, percentText(r.t.ErrorRatio)))}
}

// p99Latency alerts when the app's 99th percentile request duration is too long.
func (r renderer) p99Latency() []Rule {
	if r.a.Duration == "" || !r.t.Enabled(AlertP99Latency) {
		return nil
	}
	w := r.window(rateWindow)
	limit := promDuration(r.t.P99Latency)
	expr := fmt.Sprintf("histogram_quantile(0.99, sum by (le) (rate(%s[%s])))\n> %s",
		r.appSeries(r.a.Duration+"_bucket"), w, num(r.t.P99Latency.Seconds()))
	return []Rule{r.alert("BerthLatencyP99High", severityTicket, expr, true,
		fmt.Sprintf("%s: p99 latency above %s", r.who, limit),
		fmt.Sprintf("%s: 99%% of requests took at most {{ $value | humanizeDuration }} over %s (threshold %s).",
			r.who, w, limit))}
}

// cpu alerts, for each container with a CPU limit, when a pod's container uses most of it:
// it is throttled at the limit.
func (r renderer) cpu() []Rule {
	if r.a.Namespace == "" || !r.t.Enabled(AlertCPU) {
		return nil
	}
	w := r.window(rateWindow)
	var rules []Rule
	for _, c := range r.a.Containers {
		if !(c.CPULimit > 0) {
			continue
		}
		expr := fmt.Sprintf("sum by (pod, container) (rate(%s[%s]))\n/ %s\n> %s",
			r.containerSeries("container_cpu_usage_seconds_total", c.Name), w,
			num(c.CPULimit), num(r.t.CPU/100))
		rules = append(rules, r.containerAlert("BerthCPUSaturation", c.Name, expr,
			fmt.Sprintf("%s: container %s near its CPU limit", r.who, c.Name),
			fmt.Sprintf("%s: container {{ $labels.container }} of pod {{ $labels.pod }} used {{ $value | humanizePercentage }} of its CPU limit (%s) over %s (threshold %s); it is throttled at the limit.",
				r.who, coresText(c.CPULimit), w, percentText(r.t.CPU))))
	}
	return rules
}

// memory alerts, for each container with a memory limit, when a pod's container's working
// set nears it: it is OOM-killed at the limit.
func (r renderer) memory() []Rule {
	if r.a.Namespace == "" || !r.t.Enabled(AlertMemory) {
		return nil
	}
	var rules []Rule
	for _, c := range r.a.Containers {
		if c.MemoryLimit <= 0 {
			continue
		}
		expr := fmt.Sprintf("sum by (pod, container) (%s)\n/ %s\n> %s",
			r.containerSeries("container_memory_working_set_bytes", c.Name),
			strconv.FormatInt(c.MemoryLimit, 10), num(r.t.Memory/100))
		rules = append(rules, r.containerAlert("BerthMemorySaturation", c.Name, expr,
			fmt.Sprintf("%s: container %s near its memory limit", r.who, c.Name),
			fmt.Sprintf("%s: container {{ $labels.container }} of pod {{ $labels.pod }} uses {{ $value | humanizePercentage }} of its memory limit (%s) (threshold %s); it is OOM-killed at the limit.",
				r.who, bytesText(c.MemoryLimit), percentText(r.t.Memory))))
	}
	return rules
}

// restarts alerts when a pod's container restarted too often within the last hour, read
// from the kubelet's resource metrics (/metrics/resource, what Berth's scrape configuration
// scrapes; no kube-state-metrics and its restart counter needed). There
// container_start_time_seconds is one series per (namespace, pod, container) whose value
// is when the running instance started: each restart changes it, so changes() over the
// hour counts the restarts. A replaced pod is a new pod and starts at 0.
func (r renderer) restarts() []Rule {
	if r.a.Namespace == "" || len(r.a.Containers) == 0 || !r.t.Enabled(AlertRestarts) {
		return nil
	}
	names := make([]string, len(r.a.Containers))
	for i, c := range r.a.Containers {
		names[i] = c.Name
	}
	w := r.window(restartWindow)
	expr := fmt.Sprintf("max by (pod, container) (changes(%s[%s]))\n> %d",
		r.containerSeries("container_start_time_seconds", names...), w, r.t.Restarts)
	return []Rule{r.alert("BerthRestarting", severityTicket, expr, true,
		fmt.Sprintf("%s: a container keeps restarting", r.who),
		fmt.Sprintf("%s: container {{ $labels.container }} of pod {{ $labels.pod }} restarted {{ $value }} times within %s (threshold %d).",
			r.who, w, r.t.Restarts))}
}

// availabilitySLO records the app's ratio of requests answered 5xx over each SLO window and
// alerts when it burns the error budget too fast.
func (r renderer) availabilitySLO() []Rule {
	s := r.a.SLO
	if s == nil || r.a.Requests == "" || !percentBelow100(s.Availability) {
		return nil
	}
	const record = "berth:slo_errors:ratio_rate"
	rules := r.records(record, func(w string) string {
		return fmt.Sprintf("sum by (team, app, env) (rate(%s[%s]))\n/\nsum by (team, app, env) (rate(%s[%s]))",
			r.appSeries(r.a.Requests, Re("code", "5..")), w, r.appSeries(r.a.Requests), w)
	})
	objective := fmt.Sprintf("its availability SLO (%s of requests not 5xx)", percentText(s.Availability))
	return append(rules, r.burnAlerts("BerthSLOAvailabilityBurn", "availability", record, s.Availability,
		"%s: requests fail at {{ $value | printf \"%%.1f\" }} times the rate %s allows (threshold %s).",
		objective)...)
}

// latencySLO records the app's ratio of requests slower than its latency objective over
// each SLO window, from the histogram bucket whose bound is the objective, and alerts when
// it burns the error budget too fast.
func (r renderer) latencySLO() []Rule {
	s := r.a.SLO
	if s == nil || s.Latency == nil || r.a.Duration == "" || !percentBelow100(s.Latency.Percent) || s.Latency.Under <= 0 {
		return nil
	}
	l := s.Latency
	const record = "berth:slo_slow_requests:ratio_rate"
	le := leRegexp(l.Under.Seconds())
	rules := r.records(record, func(w string) string {
		return fmt.Sprintf("1 - (\n  sum by (team, app, env) (rate(%s[%s]))\n  /\n  sum by (team, app, env) (rate(%s[%s]))\n)",
			r.appSeries(r.a.Duration+"_bucket", Re("le", le)), w, r.appSeries(r.a.Duration+"_count"), w)
	})
	objective := fmt.Sprintf("its latency SLO (%s of requests under %s)", percentText(l.Percent), promDuration(l.Under))
	return append(rules, r.burnAlerts("BerthSLOLatencyBurn", "latency", record, l.Percent,
		"%s: requests are slow at {{ $value | printf \"%%.1f\" }} times the rate %s allows (threshold %s).",
		objective)...)
}

// records renders a recording rule per SLO window named record plus the window, unscaled
// so that the names stay the same in tests (berth:slo_errors:ratio_rate5m), of expr over
// the scaled window. The series keep the app's team, app and env labels.
func (r renderer) records(record string, expr func(window string) string) []Rule {
	rules := make([]Rule, len(sloWindows))
	for i, w := range sloWindows {
		rules[i] = Rule{Record: record + promDuration(w), Expr: expr(r.window(w))}
	}
	return rules
}

// burnAlerts renders the page and the ticket burn-rate alerts named name on the ratios
// recorded as record, for the kind of objective (availability, latency) of percent. Their
// value is the burn rate over the long window that fired: the ratio of bad requests
// divided by the error budget. They fire without a `for`, as the workbook's do: the short
// window already asks that the burning be current. description is a format of who, objective (the SLO in
// words) and the thresholds.
func (r renderer) burnAlerts(name, kind, record string, percent float64, description, objective string) []Rule {
	budget := num((100 - percent) / 100)
	var rules []Rule
	for _, sev := range []struct {
		severity, pace string
		burns          []burn
	}{{severityPage, "fast", pageBurns}, {severityTicket, "steadily", ticketBurns}} {
		var conds, texts []string
		for _, b := range sev.burns {
			f := num(b.factor)
			conds = append(conds, fmt.Sprintf("(\n  %s / %s > %s\nand\n  %s / %s > %s\n)",
				r.recorded(record+promDuration(b.long)), budget, f,
				r.recorded(record+promDuration(b.short)), budget, f))
			texts = append(texts, fmt.Sprintf("%sx over %s and %s", f, r.window(b.long), r.window(b.short)))
		}
		rules = append(rules, r.alert(name, sev.severity, strings.Join(conds, "\nor\n"), false,
			fmt.Sprintf("%s: %s error budget burning %s", r.who, kind, sev.pace),
			fmt.Sprintf(description, r.who, objective, strings.Join(texts, ", or "))))
	}
	return rules
}
