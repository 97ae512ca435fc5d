package prom

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/berth-dev/berth/internal/manifest"
)

// ScrapeOptions say what a Prometheus scrapes for Berth.
type ScrapeOptions struct {
	// Kubeconfig is the file Prometheus finds the cluster's pods and nodes with
	// (kubernetes_sd_configs); "" for none of the Kubernetes jobs.
	Kubeconfig string
	// Namespaces limits the pods found to these namespaces; empty: every namespace.
	Namespaces []string
	// CAFile, CertFile and KeyFile are the TLS files the kubelets' resource metrics are
	// scraped with: the cluster's CA and a client certificate the kubelets accept.
	CAFile, CertFile, KeyFile string
	// Berth lists Berth servers (host:port) whose own /metrics to scrape.
	Berth []string
	// Interval is the scrape interval; "" keeps Prometheus's global one. A Prometheus
	// duration, e.g. 15s.
	Interval string
}

// The labels Berth's scrape configuration puts on apps' series, from their pods' labels:
// what the rendered alert rules (internal/manifest/alertrules) select by.
const (
	LabelTeam = "team"
	LabelApp  = "app"
	LabelEnv  = "env"
)

// The jobs of ScrapeConfigs.
const (
	JobPods    = "berth-pods"
	JobKubelet = "berth-kubelet"
	JobBerth   = "berth"
)

type relabel struct {
	SourceLabels []string `yaml:"source_labels,omitempty,flow"`
	Separator    string   `yaml:"separator,omitempty"`
	Regex        string   `yaml:"regex,omitempty"`
	TargetLabel  string   `yaml:"target_label,omitempty"`
	Replacement  *string  `yaml:"replacement,omitempty"`
	Action       string   `yaml:"action,omitempty"`
}

type sdConfig struct {
	Role           string      `yaml:"role"`
	KubeconfigFile string      `yaml:"kubeconfig_file"`
	Namespaces     *namespaces `yaml:"namespaces,omitempty"`
}

type namespaces struct {
	Names []string `yaml:"names,flow"`
}

type tlsConfig struct {
	CAFile   string `yaml:"ca_file,omitempty"`
	CertFile string `yaml:"cert_file,omitempty"`
	KeyFile  string `yaml:"key_file,omitempty"`
}

type staticConfig struct {
	Targets []string `yaml:"targets,flow"`
}

type scrapeConfig struct {
	JobName        string         `yaml:"job_name"`
	ScrapeInterval string         `yaml:"scrape_interval,omitempty"`
	Scheme         string         `yaml:"scheme,omitempty"`
	MetricsPath    string         `yaml:"metrics_path,omitempty"`
	TLSConfig      *tlsConfig     `yaml:"tls_config,omitempty"`
	KubernetesSD   []sdConfig     `yaml:"kubernetes_sd_configs,omitempty"`
	StaticConfigs  []staticConfig `yaml:"static_configs,omitempty"`
	Relabel        []relabel      `yaml:"relabel_configs,omitempty"`
	MetricRelabel  []relabel      `yaml:"metric_relabel_configs,omitempty"`
}

// metaLabel is the Kubernetes service discovery's label holding a pod's label or
// annotation named name: every character not allowed in a label name becomes '_'.
func metaLabel(kind, name string) string {
	var b strings.Builder
	for _, r := range name {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return "__meta_kubernetes_pod_" + kind + "_" + b.String()
}

// ScrapeConfigs renders the scrape_configs entries (a YAML list) that find what Berth
// deploys: pods annotated prometheus.io/scrape (manifest.AnnotationScrape, at the port and
// path of their annotations), labelled team, app and env from their pods' labels; every
// node's kubelet's resource metrics (/metrics/resource: each container's CPU, memory and
// start time, labelled namespace, pod and container, which the saturation and restart
// alerts read; the CRI's numbers, so whatever the container runtime); and Berth's own
// metrics.
func ScrapeConfigs(o ScrapeOptions) ([]byte, error) {
	var jobs []scrapeConfig
	if o.Kubeconfig != "" {
		var ns *namespaces
		if len(o.Namespaces) > 0 {
			ns = &namespaces{Names: o.Namespaces}
		}
		replace := func(s string) *string { return &s }
		jobs = append(jobs, scrapeConfig{
			JobName: JobPods, ScrapeInterval: o.Interval,
			KubernetesSD: []sdConfig{{Role: "pod", KubeconfigFile: o.Kubeconfig, Namespaces: ns}},
			Relabel: []relabel{
				{SourceLabels: []string{metaLabel("annotation", manifest.AnnotationScrape)}, Regex: "true", Action: "keep"},
				{SourceLabels: []string{"__meta_kubernetes_pod_phase"}, Regex: "Running", Action: "keep"},
				// One target per pod, not per declared container port.
				{SourceLabels: []string{"__address__", metaLabel("annotation", manifest.AnnotationScrapePort)}, Regex: `(.+?)(?::\d+)?;(\d+)`,
					Replacement: replace("$1:$2"), TargetLabel: "__address__"},
				{SourceLabels: []string{metaLabel("annotation", manifest.AnnotationScrapePath)}, Regex: "(.+)", TargetLabel: "__metrics_path__"},
				{SourceLabels: []string{metaLabel("label", manifest.LabelPartOf)}, TargetLabel: LabelTeam},
				{SourceLabels: []string{metaLabel("label", manifest.LabelName)}, TargetLabel: LabelApp},
				{SourceLabels: []string{metaLabel("label", manifest.LabelEnv)}, TargetLabel: LabelEnv},
				{SourceLabels: []string{"__meta_kubernetes_namespace"}, TargetLabel: "namespace"},
				{SourceLabels: []string{"__meta_kubernetes_pod_name"}, TargetLabel: "pod"},
			},
		})
		if o.CertFile != "" {
			jobs = append(jobs, scrapeConfig{
				JobName: JobKubelet, ScrapeInterval: o.Interval, Scheme: "https", MetricsPath: "/metrics/resource",
				TLSConfig:    &tlsConfig{CAFile: o.CAFile, CertFile: o.CertFile, KeyFile: o.KeyFile},
				KubernetesSD: []sdConfig{{Role: "node", KubeconfigFile: o.Kubeconfig}},
				Relabel: []relabel{
					// Nodes kwok simulates (the dev cluster's) run no kubelet to scrape.
					{SourceLabels: []string{"__meta_kubernetes_node_annotation_kwok_x_k8s_io_node"}, Regex: ".+", Action: "drop"},
					{SourceLabels: []string{"__meta_kubernetes_node_name"}, TargetLabel: "node"},
				},
			})
		}
	}
	if len(o.Berth) > 0 {
		jobs = append(jobs, scrapeConfig{JobName: JobBerth, ScrapeInterval: o.Interval, StaticConfigs: []staticConfig{{Targets: o.Berth}}})
	}
	if len(jobs) == 0 {
		return nil, fmt.Errorf("nothing to scrape: no kubeconfig and no Berth server")
	}
	return yaml.Marshal(jobs)
}

// Config renders a whole Prometheus configuration: global intervals, the scrape configs
// of ScrapeConfigs, and rule_files loading ruleGlobs.
func Config(interval string, scrapeConfigs []byte, ruleGlobs []string) []byte {
	var b strings.Builder
	b.WriteString("# Written by Berth (internal/prom).\nglobal:\n")
	if interval != "" {
		b.WriteString("  scrape_interval: " + interval + "\n  evaluation_interval: " + interval + "\n")
	}
	if len(ruleGlobs) > 0 {
		b.WriteString("rule_files:\n")
		for _, g := range ruleGlobs {
			b.WriteString("  - " + strconv.Quote(g) + "\n")
		}
	}
	if len(scrapeConfigs) > 0 {
		b.WriteString("scrape_configs:\n")
		for line := range strings.Lines(string(scrapeConfigs)) {
			b.WriteString("  " + line)
		}
	}
	return []byte(b.String())
}
