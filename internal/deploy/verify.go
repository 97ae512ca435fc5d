package deploy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/manifest"
	"github.com/berth-dev/berth/internal/smoke"
	"github.com/berth-dev/berth/internal/store"
)

// verify runs the smoke tests of the deploy's revision, for its environment, against what
// the rollout made available; their results are kept with the deploy. A failing test fails
// the deploy like a failed rollout, so the automatic rollback mends it.
func (r *run) verify(ctx context.Context) error {
	m, err := r.manifest(ctx)
	if err != nil {
		return err
	}
	m = m.ForEnv(r.env.Section())
	if len(m.Smoke) == 0 {
		return nil
	}
	r.event(ctx, "verifying", fmt.Sprintf("running %d smoke test(s) of revision %d", len(m.Smoke), r.d.Revision))
	plan := smokePlan{m: m, env: r.env, team: r.d.Team, namespace: r.namespace, objs: r.objs,
		jobPrefix: "d" + strconv.FormatInt(r.d.ID, 10)}
	sr, err := plan.run(r.secrets.redact, func(res berth.SmokeResult) { r.event(ctx, "smoke", resultLine(res)) })
	if err != nil {
		return failf("smoke tests: %v", err)
	}
	res := sr.Do(ctx, r.cluster)
	res.Revision = r.d.Revision
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err := r.e.st.Tx(ctx, func(tx *store.Tx) error { return tx.SetDeploySmoke(ctx, r.d.ID, r.owner, res) }); err != nil {
		return err
	}
	r.smoke = &res
	if !res.Passed {
		return &failure{kind: failRollout, reason: smoke.Reason(res)}
	}
	return nil
}

// resultLine is a result as one line of a deploy's events.
func resultLine(res berth.SmokeResult) string {
	mark := "passed"
	if !res.Passed {
		mark = "failed: " + res.Detail
	}
	what := ""
	switch {
	case res.Kind == berth.SmokeHTTP && res.Status != 0:
		what = " (" + strconv.Itoa(res.Status) + ")"
	case res.Kind == berth.SmokeCommand && res.ExitCode >= 0:
		what = " (exit " + strconv.Itoa(res.ExitCode) + ")"
	}
	return fmt.Sprintf("%s %s%s in %s", res.Name, mark, what, res.Duration.Round(1e6))
}

// smokePlan is what running an app's smoke tests in an environment needs: its manifest
// merged for the environment and the objects that run now (their Service and images).
type smokePlan struct {
	m         *manifest.Manifest
	env       berth.Environment
	team      string
	namespace string
	objs      []*unstructured.Unstructured
	// jobPrefix makes the names of command checks' Jobs tell whose they are.
	jobPrefix string
}

// run turns the plan into a smoke.Run.
func (p smokePlan) run(redact func(string) string, progress func(berth.SmokeResult)) (smoke.Run, error) {
	m := p.m
	images := containerImages(p.objs)
	target := m.TargetURL(p.namespace)
	nonce := make([]byte, 2)
	_, _ = rand.Read(nonce)
	out := smoke.Run{Namespace: p.namespace, Budget: m.Deploy.SmokeBudget(), Redact: redact, Progress: progress}
	for i, c := range m.Smoke {
		step := smoke.Step{Check: c}
		if !c.IsCommand() {
			port, _, ok := m.ServicePort(c.Port)
			if !ok {
				return smoke.Run{}, fmt.Errorf("smoke[%d]: no service port %q", i, c.Port)
			}
			step.HTTP = smoke.HTTPRequest{Namespace: p.namespace, Service: m.Metadata.Name, Port: port, Method: c.HTTPMethod(), Path: c.Path}
			out.Steps = append(out.Steps, step)
			continue
		}
		image := c.Image
		if image == "" {
			name := c.Container
			if name == "" {
				for n := range m.Containers {
					name = n
				}
			}
			if image = images[name]; image == "" {
				return smoke.Run{}, fmt.Errorf("smoke[%d]: container %s does not run here: its image is unknown", i, name)
			}
		}
		base := jobName(m.Metadata.Name, p.jobPrefix+"-"+hex.EncodeToString(nonce), i)
		step.Job = func(attempt int) *batchv1.Job {
			return manifest.SmokeJob(m, c, manifest.SmokeJobOptions{
				Namespace: p.namespace, Env: p.env.Name, Team: p.team, Name: base + "-" + strconv.Itoa(attempt),
				Image: image, TargetURL: target, Scheduling: p.env.Scheduling,
			})
		}
		out.Steps = append(out.Steps, step)
	}
	return out, nil
}

// jobName is APP-smoke-ID-N, the app's name shortened so the whole stays a DNS label with
// room for the attempt's number.
func jobName(app, id string, i int) string {
	suffix := "-smoke-" + id + "-" + strconv.Itoa(i)
	if keep := 58 - len(suffix); len(app) > keep {
		app = app[:keep]
	}
	for len(app) > 0 && app[len(app)-1] == '-' {
		app = app[:len(app)-1]
	}
	return app + suffix
}

// containerImages returns the image of each container of the Deployment among objs.
func containerImages(objs []*unstructured.Unstructured) map[string]string {
	out := map[string]string{}
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		ctrs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		for _, c := range ctrs {
			cm, ok := c.(map[string]any)
			if !ok {
				continue
			}
			name, _ := cm["name"].(string)
			image, _ := cm["image"].(string)
			out[name] = image
		}
	}
	return out
}

// ErrNoSmokeTests says an app's deployed revision has no smoke tests for the environment.
var ErrNoSmokeTests = errors.New("no smoke tests")

// Smoke runs the smoke tests of d's revision, for its environment, against what runs there
// now, without a deploy: `berth smoke`. d is the deploy whose objects run there now, which
// say which images run.
func (e *Engine) Smoke(ctx context.Context, d berth.Deploy) (berth.SmokeRun, error) {
	env, err := e.st.Environment(ctx, d.Env)
	if err != nil {
		return berth.SmokeRun{}, err
	}
	rev, err := e.st.Revision(ctx, d.Team, d.App, d.Revision)
	if err != nil {
		return berth.SmokeRun{}, err
	}
	m, err := manifest.Parse("berth.yaml", []byte(rev.Manifest))
	if err != nil {
		return berth.SmokeRun{}, fmt.Errorf("revision %d: %w", d.Revision, err)
	}
	m = m.ForEnv(env.Section())
	if len(m.Smoke) == 0 {
		return berth.SmokeRun{}, fmt.Errorf("revision %d of %s/%s declares none for %s: %w", d.Revision, d.Team, d.App, d.Env, ErrNoSmokeTests)
	}
	content, err := e.st.Objects(ctx, d.ObjectsDigest)
	if err != nil {
		return berth.SmokeRun{}, err
	}
	objs, err := manifest.DecodeStored(content)
	if err != nil {
		return berth.SmokeRun{}, err
	}
	// The secret values the app uses, to redact from what the checks bring back.
	secrets, err := fillSecrets(ctx, e.st, d.Env, objs)
	if err != nil {
		return berth.SmokeRun{}, fmt.Errorf("secrets: %w", err)
	}
	cluster, err := e.clusters(ctx, env)
	if err != nil {
		return berth.SmokeRun{}, fmt.Errorf("environment %s: %w", env.Name, err)
	}
	ns := env.Namespace(d.Team, d.App)
	plan := smokePlan{m: m, env: env, team: d.Team, namespace: ns, objs: objs, jobPrefix: "now"}
	sr, err := plan.run(redactor(secrets).redact, nil)
	if err != nil {
		return berth.SmokeRun{}, err
	}
	res := sr.Do(ctx, cluster)
	res.Revision = d.Revision
	return res, ctx.Err()
}
