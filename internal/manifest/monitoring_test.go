package manifest_test

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/berth-dev/berth/internal/manifest"
)

const monitored = `apiVersion: berth.dev/v1
metadata: {name: shop}
containers:
  web:
    image: nginx
    resources: {limits: {memory: 128Mi}}
metrics: {port: 9090, path: /stats, requests: shop_requests_total}
slo: {availability: "99.5%"}
alerts: {errorRatio: 2, for: 0s, disable: [restarts]}
environments:
  production:
    slo: {availability: 99.95}
    alerts: {memory: 80}
`

// metrics:, slo: and alerts: are acted on: the pods are annotated for scraping, and the
// rules ConfigMap holds rules made of each field, merged per environment, labelled with
// the team the app is deployed as.
func TestMonitoringRenders(t *testing.T) {
	m, err := manifest.Parse("berth.yaml", []byte(monitored))
	if err != nil {
		t.Fatal(err)
	}
	render := func(env string) (map[string]string, string) {
		objs, err := manifest.Render(m, manifest.RenderOptions{Env: env, Team: "retail", Namespace: "retail-" + env})
		if err != nil {
			t.Fatal(err)
		}
		var annotations map[string]string
		rules := ""
		for _, o := range objs {
			switch o := o.(type) {
			case *appsv1.Deployment:
				annotations = o.Spec.Template.Annotations
				if o.Spec.Template.Labels[manifest.LabelPartOf] != "retail" {
					t.Errorf("%s: pods labelled %v, want part-of retail", env, o.Spec.Template.Labels)
				}
			case *corev1.ConfigMap:
				if o.Name == manifest.RulesConfigMapName("shop") {
					rules = o.Data[manifest.RulesConfigMapKey]
					if o.Labels[manifest.LabelPrometheusRules] != "true" {
						t.Errorf("%s: rules ConfigMap labelled %v", env, o.Labels)
					}
				}
			}
		}
		return annotations, rules
	}
	a, staging := render("staging")
	if a[manifest.AnnotationScrape] != "true" || a[manifest.AnnotationScrapePort] != "9090" || a[manifest.AnnotationScrapePath] != "/stats" {
		t.Errorf("pod annotations %v", a)
	}
	for _, want := range []string{
		"name: berth.retail.shop.staging", `shop_requests_total{team="retail",app="shop",env="staging",namespace="retail-staging",code=~"5.."}`,
		"> 0.02", "http_request_duration_seconds_bucket", "/ 0.005 > 14.4", "BerthMemorySaturation", "> 0.9",
	} {
		if !strings.Contains(staging, want) {
			t.Errorf("staging's rules lack %q:\n%s", want, staging)
		}
	}
	for _, unwanted := range []string{"BerthRestarting", "for:"} {
		if strings.Contains(staging, unwanted) {
			t.Errorf("staging's rules have %q (restarts disabled, for: 0s):\n%s", unwanted, staging)
		}
	}
	_, production := render("production")
	for _, want := range []string{"/ 0.0005 > 14.4", "> 0.8", "> 0.02"} {
		if !strings.Contains(production, want) {
			t.Errorf("production's rules lack %q:\n%s", want, production)
		}
	}
}
