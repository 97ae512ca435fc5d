package manifest

import (
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/internal/manifest/alertrules"
)

// The pod annotations of an app with metrics:, the ones Prometheus's example Kubernetes
// configuration and Berth's (docs/monitoring.md) read to find what to scrape.
const (
	AnnotationScrape     = "prometheus.io/scrape"
	AnnotationScrapePort = "prometheus.io/port"
	AnnotationScrapePath = "prometheus.io/path"
)

// LabelPrometheusRules marks the ConfigMap holding an app's Prometheus rule file in its
// environment; RulesConfigMapKey is its key.
const (
	LabelPrometheusRules = "berth.dev/prometheus-rules"
	RulesConfigMapKey    = "rules.yaml"
)

// RulesConfigMapName is the ConfigMap holding app's Prometheus rules.
func RulesConfigMapName(app string) string { return app + "-alerts" }

// scrapeAnnotations adds what tells Prometheus to scrape the pods to a (the pod
// template's annotations), when the app declares metrics.
func (r *renderer) scrapeAnnotations(a map[string]string) {
	mt := r.m.Metrics
	if mt == nil {
		return
	}
	a[AnnotationScrape] = "true"
	a[AnnotationScrapePort] = strconv.Itoa(int(mt.Port))
	a[AnnotationScrapePath] = mt.MetricsPath()
}

// alertRules renders the app's alerts (alerts:, slo: and the defaults) for this
// environment; an empty file when there is nothing to alert on.
func (r *renderer) alertRules() alertrules.RuleFile {
	m := r.m
	a := alertrules.App{
		Team: r.team(), Name: m.Metadata.Name, Env: r.opts.Env, Namespace: r.opts.Namespace,
		Scale: r.opts.AlertScale,
		Alerts: alertrules.Thresholds{
			ErrorRatio: m.Alerts.ErrorRatio, P99Latency: m.Alerts.P99Latency, CPU: m.Alerts.CPU,
			Memory: m.Alerts.Memory, Restarts: m.Alerts.Restarts, For: m.Alerts.For, Disabled: m.Alerts.Disable,
		},
	}
	if mt := m.Metrics; mt != nil {
		a.Requests, a.Duration = mt.RequestsMetric(), mt.DurationMetric()
	}
	if s := m.SLO; s != nil {
		a.SLO = &alertrules.SLO{Availability: s.Availability}
		if s.Latency != nil {
			a.SLO.Latency = &alertrules.LatencySLO{Percent: s.Latency.Percent, Under: s.Latency.Under}
		}
	}
	names := make([]string, 0, len(m.Containers))
	for name := range m.Containers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		c := alertrules.Container{Name: name}
		c.CPULimit, c.MemoryLimit = m.Containers[name].Limits()
		a.Containers = append(a.Containers, c)
	}
	return alertrules.Render(a)
}

// rulesConfigMap is the ConfigMap holding the app's rule file, nil when it has no rules.
// It is applied, pruned and rolled back with the app's other objects; the server hands
// its rule file to the environment's Prometheus (docs/monitoring.md).
// An app rendered without a team (offline, with no metadata.team) has none: the rules
// select and label by team.
func (r *renderer) rulesConfigMap(meta metav1.ObjectMeta) *corev1.ConfigMap {
	if r.team() == "" {
		return nil
	}
	rules := r.alertRules()
	if rules.Empty() {
		return nil
	}
	meta.Labels[LabelPrometheusRules] = "true"
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: meta,
		Data:       map[string]string{RulesConfigMapKey: string(rules.YAML())},
	}
}
