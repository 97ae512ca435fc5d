package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/cli"
	"github.com/berth-dev/berth/internal/deploy"
	"github.com/berth-dev/berth/internal/kube"
	"github.com/berth-dev/berth/internal/manifest"
	"github.com/berth-dev/berth/internal/prom"
	"github.com/berth-dev/berth/internal/store"
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

// rulesSyncEvery is how often syncRules makes the rules directory whole again.
const rulesSyncEvery = 5 * time.Minute

// syncRules keeps --prometheus-rules-dir in step with the rules ConfigMaps on every
// environment's cluster, at start and then every interval: deploys write the directory as
// they go, and this mends what they cannot see (a directory added or lost since, another
// replica's deploys, a renamed namespace). An
// environment whose cluster does not answer is left as it is until the next round.
func syncRules(ctx context.Context, st *store.Store, pool *kube.Pool, dir prom.RuleDir, every time.Duration, log *slog.Logger) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		envs, err := st.Environments(ctx)
		if err != nil && ctx.Err() == nil {
			log.Warn("alert rules not synced: list environments", "err", err)
		}
		for _, env := range envs {
			files, err := pool.RuleConfigMaps(ctx, env)
			if err != nil {
				if ctx.Err() == nil {
					log.Warn("alert rules not synced", "env", env.Name, "err", err)
				}
				continue
			}
			wrote, removed, err := dir.Sync(ctx, env, files)
			switch {
			case err != nil:
				log.Warn("alert rules synced, Prometheus not reloaded", "env", env.Name, "wrote", wrote, "removed", removed, "err", err)
			case wrote+removed > 0:
				log.Info("alert rules synced from the cluster", "env", env.Name, "wrote", wrote, "removed", removed)
			}
		}
		t.Reset(every)
	}
}
