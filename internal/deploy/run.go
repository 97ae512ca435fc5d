package deploy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/manifest"
	"github.com/berth-dev/berth/internal/provision"
	"github.com/berth-dev/berth/internal/smoke"
	"github.com/berth-dev/berth/internal/store"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// run is one attempt at one deploy by one worker.
type run struct {
	e     *Engine
	d     berth.Deploy
	owner string
	log   *slog.Logger
	// last is the progress last recorded, so only changes become events.
	last berth.RolloutStatus
	// secrets are the secret values this run applies, scrubbed from what it reports.
	secrets redactor

	// What the stages learn, in order.
	env        berth.Environment
	namespace  string
	preview    *berth.Preview               // the pull request's preview env is, if it is one
	rev        *manifest.Manifest           // the revision's manifest (not for re-applies)
	resources  *provision.Resolver          // what was provisioned (not for re-applies)
	content    []byte                       // the objects, in the stored form
	objs       []*unstructured.Unstructured // the objects to apply, secrets filled in
	deployment string                       // the Deployment among them, if any
	cluster    Cluster
	smoke      *berth.SmokeRun // what the verify stage found, if it ran
	// external: the environment's GitOps controller applies its branch; the run follows
	// the rollout only.
	external bool
}

// A deploy is an ordered list of stages. Each is a small function that records its own
// events and returns nil, or an error saying how the deploy ends: a *failure, or any
// other error, which fails the deploy with its message (a lost lease leaves it instead).
type stage struct {
	name string
	run  func(r *run, ctx context.Context) error
}

// stages are a deploy's stages, in order.
var stages = []stage{
	{"provision", (*run).provision}, // the declared resources, made real (provision.go)
	{"render", (*run).render},       // the objects: rendered from the revision, or an earlier deploy's
	{"resolve", (*run).resolve},     // their secret values, in memory
	{"images", (*run).images},       // a deploy from git: wait for its images (images.go)
	{"publish", (*run).publish},     // GitOps output: committed, or a pull request to wait for (gitops.go)
	{"apply", (*run).apply},         // server-side apply into the namespace
	{"prune", (*run).prune},         // delete what the revision no longer renders
	{"wait", (*run).wait},           // watch the Deployment's rollout
	{"verify", (*run).verify},       // run the revision's smoke tests (verify.go)
}

// failureKind says what a stage's failure means for the deploy.
type failureKind int

const (
	// failTerminal fails the deploy; nothing was applied that an automatic rollback
	// would restore (a refused apply changed nothing, or it failed before applying).
	failTerminal failureKind = iota
	// failRollout fails the deploy after its objects were applied: the rollout failed,
	// which the automatic rollback can mend.
	failRollout
	// failRetry leaves the deploy to whoever holds it next: this worker lost its lease.
	failRetry
)

// failure is why a stage failed; its reason never carries secret values, only what Berth
// and Kubernetes said about names and states.
type failure struct {
	kind   failureKind
	reason string
}

func (f *failure) Error() string { return f.reason }

func failf(format string, args ...any) error {
	return &failure{kind: failTerminal, reason: fmt.Sprintf(format, args...)}
}

// outcome is how a run ends.
type outcome struct {
	state  berth.DeployState
	reason string
	// rollback: a rollout failed; finish decides whether to roll back automatically.
	rollback bool
	// abandon: the deploy is not this worker's to finish.
	abandon bool
}

// execute runs the stages in order until one fails, and says how the deploy ends.
func (r *run) execute(ctx context.Context) outcome {
	for _, st := range stages {
		if err := st.run(r, ctx); err != nil {
			return r.judge(ctx, st.name, err)
		}
	}
	return outcome{state: berth.DeploySucceeded, reason: r.successReason()}
}

// successReason says a deploy succeeded, and how its smoke tests went: a rollback says
// they are the restored revision's.
func (r *run) successReason() string {
	if r.smoke == nil {
		return "available"
	}
	if r.d.Kind == berth.KindRollback || r.d.Kind == berth.KindAutoRollback {
		return fmt.Sprintf("available; the smoke tests of revision %d, which it restores: %s", r.d.Revision, smoke.Summary(*r.smoke))
	}
	return "available; " + smoke.Summary(*r.smoke)
}

// judge turns a stage's error into the deploy's outcome.
func (r *run) judge(ctx context.Context, stage string, err error) outcome {
	if errors.Is(err, errParked) {
		r.log.Info("deploy awaits the merge of its pull request")
		return outcome{abandon: true}
	}
	f := &failure{kind: failTerminal, reason: err.Error()}
	errors.As(err, &f)
	switch {
	case f.kind == failRetry, errors.Is(err, berth.ErrLeaseLost), ctx.Err() != nil:
		r.log.Info("deploy left unfinished", "stage", stage, "err", r.secrets.redact(err.Error()))
		return outcome{state: berth.DeployFailed, reason: "interrupted", abandon: true}
	}
	return outcome{state: berth.DeployFailed, reason: r.secrets.redact(f.reason), rollback: f.kind == failRollout}
}

// loadEnv finds the deploy's environment and namespace.
func (r *run) loadEnv(ctx context.Context) error {
	d := r.d
	env, err := r.e.st.Environment(ctx, d.Env)
	if errors.Is(err, berth.ErrNotFound) {
		return failf("environment %s no longer exists", d.Env)
	}
	if err != nil {
		return err
	}
	r.env, r.namespace = env, env.Namespace(d.Team, d.App)
	if env.PreviewBase != "" {
		p, err := r.e.st.PreviewOfEnv(ctx, env.Name)
		if err != nil && !errors.Is(err, berth.ErrNotFound) {
			return err
		}
		if err == nil {
			r.preview = &p
			if p.State != berth.PreviewActive {
				// A redeploy of the team, a rollback or a user's deploy must not bring back
				// what closing the pull request removed.
				return failf("%s is the preview of pull request #%d of %s/%s, which is %s: a preview deploys only while its pull request is open",
					env.Name, p.PR, p.Team, p.App, p.State)
			}
		}
	}
	return nil
}

// renderOptions are the options the deploy's revision renders (and provisions) with: for a
// pull request's preview, its preview environment's part of the manifest, and its hosts
// prefixed pr-N.
func (r *run) renderOptions() manifest.RenderOptions {
	o := manifest.RenderOptions{Env: r.d.Env, Team: r.d.Team, Namespace: r.namespace, Set: r.d.Args, Scheduling: r.env.Scheduling, AlertScale: r.e.o.AlertScale}
	if r.env.PreviewBase != "" {
		o.Section = r.env.PreviewBase
		if r.preview != nil {
			o.HostPrefix = fmt.Sprintf("pr-%d.", r.preview.PR)
		}
	}
	return o
}

// manifest returns the manifest of the deploy's revision, parsed once.
func (r *run) manifest(ctx context.Context) (*manifest.Manifest, error) {
	if r.rev != nil {
		return r.rev, nil
	}
	d := r.d
	rev, err := r.e.st.Revision(ctx, d.Team, d.App, d.Revision)
	if err != nil {
		return nil, err
	}
	m, err := manifest.Parse("berth.yaml", []byte(rev.Manifest))
	if err != nil {
		return nil, failf("revision %d: %v", d.Revision, err)
	}
	r.rev = m
	return m, nil
}

// render stores the objects to apply.
func (r *run) render(ctx context.Context) error {
	st, d := r.e.st, r.d
	var err error
	if d.ObjectsDigest != "" {
		// Published before this attempt (to the platform repository, a pull request
		// merged since): what was reviewed is what is applied.
		if c, err := st.GitOpsChange(ctx, d.ID); err == nil && c.State != berth.GitOpsClosed {
			r.content, err = st.Objects(ctx, d.ObjectsDigest)
			return err
		} else if !errors.Is(err, berth.ErrNotFound) && err != nil {
			return err
		}
	}
	if r.content, err = r.objects(ctx, r.namespace); err != nil {
		return err
	}
	return st.Tx(ctx, func(tx *store.Tx) error {
		_, err := tx.SetDeployObjects(ctx, d.ID, r.owner, r.content)
		return err
	})
}

// resolve decodes the stored objects and fills in their secret values: the only place
// secret values exist outside the store, in memory on their way to the cluster. A value
// that can't be read fails the deploy before anything is applied.
func (r *run) resolve(ctx context.Context) error {
	objs, err := manifest.DecodeStored(r.content)
	if err != nil {
		return failf("%v", err)
	}
	filled, err := fillSecrets(ctx, r.e.st, r.d.Env, objs)
	if err != nil {
		return failf("secrets: %v", err)
	}
	r.secrets = append(r.secrets, filled...)
	r.objs = objs
	for _, o := range objs {
		if o.GetKind() == "Deployment" {
			r.deployment = o.GetName()
		}
	}
	r.event(ctx, "rendered", fmt.Sprintf("%d objects for namespace %s (worker %s, attempt %d)", len(objs), r.namespace, r.owner, r.d.Attempts))
	return nil
}

// apply server-side applies the objects into the app's namespace, creating it if needed.
func (r *run) apply(ctx context.Context) error {
	d := r.d
	cluster, err := r.e.clusters(ctx, r.env)
	if err != nil {
		return failf("environment %s: %v", r.env.Name, err)
	}
	r.cluster = cluster
	if err := cluster.EnsureNamespace(ctx, r.namespace, map[string]string{manifest.LabelManagedBy: "berth", manifest.LabelPartOf: d.Team}); err != nil {
		return failf("namespace %s: %v", r.namespace, err)
	}
	if err := r.checkLease(ctx); err != nil {
		return err
	}
	objs := r.objs
	if r.external {
		// The environment's GitOps controller applies the branch; the Secrets' values
		// are never there, so Berth applies those.
		objs = nil
		for _, o := range r.objs {
			if o.GetKind() == "Secret" && o.GroupVersionKind().Group == "" {
				objs = append(objs, o)
			}
		}
		r.event(ctx, "applying", fmt.Sprintf("%d Secrets; the rest is the GitOps controller's to apply from the platform repository", len(objs)))
		if len(objs) == 0 {
			r.publishRules(ctx) // the rules' ConfigMap is the controller's; their file is ours
			return nil
		}
	} else {
		r.event(ctx, "applying", "")
	}
	if err := cluster.Apply(ctx, r.namespace, objs, d.Options.ForceConflicts); err != nil {
		return failf("%v", err)
	}
	r.publishRules(ctx)
	return nil
}

// prune deletes the app's Berth-owned objects in the environment that the deploy no
// longer has.
func (r *run) prune(ctx context.Context) error {
	d := r.d
	if r.external {
		return nil // the GitOps controller's to prune
	}
	pruned, err := r.cluster.Prune(ctx, r.namespace, map[string]string{
		manifest.LabelManagedBy: "berth", manifest.LabelName: d.App, manifest.LabelEnv: d.Env,
	}, r.objs)
	if err != nil {
		return failf("prune: %v", err)
	}
	if len(pruned) > 0 {
		r.event(ctx, "pruned", fmt.Sprintf("deleted %v", pruned))
	}
	return nil
}

// wait watches the Deployment's rollout until it is available, fails, or times out.
func (r *run) wait(ctx context.Context) error {
	if r.deployment == "" {
		return nil
	}
	timeout := r.e.o.DefaultTimeout
	if r.d.Options.TimeoutSeconds > 0 {
		timeout = time.Duration(r.d.Options.TimeoutSeconds) * time.Second
	}
	if r.external {
		if err := r.waitApplied(ctx, timeout); err != nil {
			return err
		}
	}
	if err := r.cluster.WaitRollout(ctx, r.namespace, r.deployment, timeout, func(p berth.RolloutStatus) { r.progress(ctx, p) }); err != nil {
		return &failure{kind: failRollout, reason: err.Error()}
	}
	return nil
}

// objects returns the JSON of the objects to apply: rendered from the deploy's revision
// with the environment's scheduling defaults, or, for rollbacks and plain redeploys,
// exactly those an earlier deploy stored (with the defaults of its time, as its config).
func (r *run) objects(ctx context.Context, namespace string) ([]byte, error) {
	st, d := r.e.st, r.d
	if d.SourceDeploy != 0 {
		src, err := st.Deploy(ctx, d.SourceDeploy)
		if err != nil {
			return nil, err
		}
		if src.ObjectsDigest == "" {
			return nil, failf("deploy %d has no stored objects to re-apply", src.ID)
		}
		return st.Objects(ctx, src.ObjectsDigest)
	}
	m, err := r.manifest(ctx)
	if err != nil {
		return nil, err
	}
	if r.resources == nil {
		// Render without what the provision stage made would resolve resources as offline
		// placeholders: a live deploy never carries one.
		return nil, failf("revision %d: its resources were not provisioned", d.Revision)
	}
	settings, err := LoadSettings(ctx, st, d.Team, d.App, r.env.Section())
	if err != nil {
		return nil, err
	}
	if r.preview != nil && r.preview.Fork {
		// A pull request from a fork runs code nobody with access reviewed: it gets no
		// secrets (the git job refuses a manifest that reads one; this holds for any deploy).
		settings = settings.WithoutSecrets()
	}
	opts := r.renderOptions()
	opts.Namespace, opts.Revision = namespace, strconv.FormatInt(d.Revision, 10)
	objs, err := Render(m, opts, settings, r.resources)
	if err != nil {
		return nil, failf("render revision %d for %s: %v", d.Revision, d.Env, err)
	}
	// A promotion's digests, or those a refresh of a deploy from git or a promotion
	// carries on: what ran keeps running, whatever its tags point at now.
	pinImages(objs, d.Images)
	return manifest.EncodeStored(objs)
}

func (r *run) checkLease(ctx context.Context) error {
	return r.e.st.Tx(ctx, func(tx *store.Tx) error { return tx.CheckLease(ctx, r.d.ID, r.owner) })
}

func (r *run) event(ctx context.Context, phase, msg string) {
	msg = r.secrets.redact(msg)
	if _, err := r.e.st.AddDeployEvent(ctx, berth.DeployEvent{DeployID: r.d.ID, Phase: phase, Message: msg,
		Desired: r.last.Desired, Updated: r.last.Updated, Ready: r.last.Ready, Available: r.last.Available}); err != nil && ctx.Err() == nil {
		r.log.Warn("record deploy event", "phase", phase, "err", err)
	}
}

func (r *run) progress(ctx context.Context, p berth.RolloutStatus) {
	if p == r.last {
		return
	}
	r.last = p
	r.event(ctx, p.Phase, p.Message)
}

// finish records the final state, its audit event and, for a failed deploy, the automatic
// rollback, in one transaction: a crash leaves either all of it or none (and then the
// deploy is resumed and finished by its next worker).
func (r *run) finish(ctx context.Context, out outcome) error {
	d, state, reason, rollback := r.d, out.state, out.reason, out.rollback
	if state == berth.DeployFailed && rollback {
		var off string
		var err error
		if rollback, off, err = r.rollbackPolicy(ctx); err != nil {
			return err
		}
		if off != "" {
			reason += "; " + off
		}
	}
	var rb berth.Deploy
	err := r.e.st.Tx(ctx, func(tx *store.Tx) error {
		fin, err := tx.FinishDeploy(ctx, d.ID, r.owner, state, reason)
		if err != nil {
			return err
		}
		if state == berth.DeploySucceeded {
			if err := r.settleResources(ctx, tx); err != nil {
				return err
			}
		}
		if _, err := tx.AddDeployEvent(ctx, berth.DeployEvent{DeployID: d.ID, Phase: string(state), Message: reason,
			Desired: r.last.Desired, Updated: r.last.Updated, Ready: r.last.Ready, Available: r.last.Available}); err != nil {
			return err
		}
		details := map[string]any{"deploy": d.ID, "revision": d.Revision, "env": d.Env, "kind": string(d.Kind)}
		outcome := berth.OutcomeSuccess
		if state == berth.DeployFailed {
			outcome = berth.OutcomeFailure
			details["reason"] = reason
			if rollback {
				if rb, err = r.autoRollback(ctx, tx, fin); err != nil {
					return err
				}
			}
			if rb.ID != 0 {
				details["rollback"] = rb.ID
			}
		}
		_, err = tx.AppendAudit(ctx, berth.AuditEvent{Actor: "system", Action: "deploy.finish",
			Target: berth.AppTarget(d.Team, d.App, d.Env), Team: d.Team, App: d.App,
			Outcome: outcome, Details: details})
		return err
	})
	if err != nil {
		return err
	}
	r.log.Info("deploy finished", "state", state, "reason", reason, "rollback", rb.ID)
	if rb.ID != 0 {
		r.e.Notify()
	}
	return nil
}

// rollbackPolicy decides whether a failed rollout of the deploy is rolled back
// automatically. It is not for rollbacks (rolling one back could loop), nor for a deploy
// that asked for none, nor when the app's manifest turned it off: deploy.autoRollback of
// the deploy's revision, merged for its environment, which also covers redeploys of that
// revision. For the last, off says so, for the deploy's reason.
func (r *run) rollbackPolicy(ctx context.Context) (rollback bool, off string, err error) {
	d := r.d
	if d.Kind == berth.KindRollback || d.Kind == berth.KindAutoRollback || d.Options.NoAutoRollback {
		return false, "", nil
	}
	rev, err := r.e.st.Revision(ctx, d.Team, d.App, d.Revision)
	if err != nil {
		return false, "", fmt.Errorf("revision %d: %w", d.Revision, err)
	}
	m, err := manifest.Parse("berth.yaml", []byte(rev.Manifest))
	if err != nil {
		// Only a revision this version of Berth no longer reads, and only when its
		// stored objects were re-applied; the platform's default stands.
		r.log.Warn("read deploy policy of revision", "revision", d.Revision, "err", err)
		return true, "", nil
	}
	if m.ForEnv(r.env.Section()).Deploy.NoAutoRollback {
		return false, fmt.Sprintf("automatic rollback is off for this app in %s (deploy.autoRollback: false in revision %d)", d.Env, d.Revision), nil
	}
	return true, "", nil
}

// autoRollback queues a rollback of a failed deploy to the app's last good deploy in the
// environment, if it has one; rollbackPolicy decides whether to call it.
func (r *run) autoRollback(ctx context.Context, tx *store.Tx, failed berth.Deploy) (berth.Deploy, error) {
	good, err := tx.LastSucceeded(ctx, failed.AppID, failed.Env, failed.ID)
	if errors.Is(err, berth.ErrNotFound) {
		return berth.Deploy{}, nil
	}
	if err != nil {
		return berth.Deploy{}, err
	}
	nd := berth.Redo(good, berth.KindAutoRollback, "system", berth.DeployOptions{})
	nd.RollbackOf = failed.ID
	return tx.EnqueueDeploy(ctx, nd)
}
