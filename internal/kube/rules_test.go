package kube_test

import (
	"io"
	"log/slog"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/kube"
	"github.com/berth-dev/berth/internal/kubetest"
	"github.com/berth-dev/berth/internal/manifest"
)

// RuleConfigMaps finds the rules ConfigMaps of one environment's apps in every namespace,
// and nothing else.
func TestRuleConfigMaps(t *testing.T) {
	cs, ns1 := kubetest.Namespace(t)
	_, ns2 := kubetest.Namespace(t)
	ctx := t.Context()
	put := func(ns, name, app, env string, rules bool) {
		labels := map[string]string{manifest.LabelManagedBy: manifest.ManagedBy, manifest.LabelName: app, manifest.LabelEnv: env}
		if rules {
			labels[manifest.LabelPrometheusRules] = "true"
		}
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels},
			Data: map[string]string{manifest.RulesConfigMapKey: "groups: [" + ns + "/" + app + "/" + env + "]\n"}}
		if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	put(ns1, "web-alerts", "web", "staging", true)
	put(ns2, "api-alerts", "api", "staging", true)
	put(ns2, "api-alerts-prod", "api", "production", true) // another environment's
	put(ns2, "api-files", "api", "staging", false)         // not rules
	pool := kube.NewPool(slog.New(slog.NewTextHandler(io.Discard, nil)), 0, 0)
	got, err := pool.RuleConfigMaps(ctx, berth.Environment{Name: "staging", Kubeconfig: kubetest.Kubeconfig(t)})
	if err != nil {
		t.Fatal(err)
	}
	// The test cluster is shared: look at this test's namespaces only.
	mine := map[[2]string]string{}
	for k, v := range got {
		if k[0] == ns1 || k[0] == ns2 {
			mine[k] = string(v)
		}
	}
	want := map[[2]string]string{
		{ns1, "web"}: "groups: [" + ns1 + "/web/staging]\n",
		{ns2, "api"}: "groups: [" + ns2 + "/api/staging]\n",
	}
	if len(mine) != len(want) || mine[[2]string{ns1, "web"}] != want[[2]string{ns1, "web"}] || mine[[2]string{ns2, "api"}] != want[[2]string{ns2, "api"}] {
		t.Errorf("RuleConfigMaps = %v, want %v", mine, want)
	}
}
