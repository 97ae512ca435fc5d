package main

import (
	"context"
	"fmt"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/cli"
	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/kube"
	"github.com/berth-dev/berth/internal/manifest"
	"github.com/berth-dev/berth/internal/prom"
)

// ruleDir is where deploys hand apps' alert rules: --prometheus-rules-dir, reloading the
// Prometheus at --prometheus-url; nil without a directory.
func ruleDir(o *cli.ServerOptions) deploy.Rules {
	if o.PrometheusRulesDir == "" {
		return nil
	}
	return prom.RuleDir{Dir: o.PrometheusRulesDir, ReloadURL: o.PrometheusURL}
}

// appRemover removes an app from an environment: its objects from the cluster, then its
// rule file from the Prometheus's directory.
type appRemover struct {
	pool  *kube.Pool
	rules string // --prometheus-rules-dir
	url   string // --prometheus-url
}

func (r appRemover) RemoveApp(ctx context.Context, env berth.Environment, namespace string, selector map[string]string) ([]string, error) {
	objs, err := r.pool.RemoveApp(ctx, env, namespace, selector)
	if err != nil || r.rules == "" {
		return objs, err
	}
	if err := (prom.RuleDir{Dir: r.rules, ReloadURL: r.url}).Remove(ctx, env, namespace, selector[manifest.LabelName]); err != nil {
		return objs, fmt.Errorf("removed from the cluster, but not its alert rules: %w", err)
	}
	return objs, nil
}
