package deploy

import (
	"context"
	"fmt"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/manifest"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Rules is where the engine hands an app's alert rules, rendered into its rules ConfigMap
// (manifest.RulesConfigMapName), once they are applied: the Prometheus of the environment
// loads them from there.
type Rules interface {
	// Put makes rules the rule file of app in namespace of env, replacing the one before;
	// empty rules remove it.
	Put(ctx context.Context, env berth.Environment, namespace, app string, rules []byte) error
}

// publishRules hands the applied objects' rule file to Rules (none when the app has no
// rules any more, which removes the one before). A failure is an event and a warning, not
// a failed deploy: the app runs either way, and the next deploy hands them again.
func (r *run) publishRules(ctx context.Context) {
	if r.e.o.Rules == nil {
		return
	}
	var rules []byte
	for _, o := range r.objs {
		if o.GetKind() != "ConfigMap" || o.GetLabels()[manifest.LabelPrometheusRules] != "true" {
			continue
		}
		if s, ok, _ := unstructured.NestedString(o.Object, "data", manifest.RulesConfigMapKey); ok {
			rules = []byte(s)
		}
	}
	if err := r.e.o.Rules.Put(ctx, r.env, r.namespace, r.d.App, rules); err != nil {
		r.log.Warn("alert rules not handed to Prometheus", "err", err)
		r.event(ctx, "alerts", fmt.Sprintf("the alert rules were applied but not handed to Prometheus: %v", err))
		return
	}
	if len(rules) > 0 {
		r.event(ctx, "alerts", "alert rules handed to Prometheus")
	}
}
