package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/manifest"
	"github.com/berth-dev/berth/internal/seal"
	"github.com/berth-dev/berth/internal/smoke"
	"github.com/berth-dev/berth/internal/store"
)

// fakeCluster is the engine's view of a cluster, scripted per test: it records the calls
// and fails the ones the test says to.
type fakeCluster struct {
	mu       sync.Mutex
	calls    []string
	applyErr error
	// rollout decides each rollout by the image of the applied Deployment.
	rollout func(ctx context.Context, image string) error
	image   string
	// pod is the pod template spec of the Deployment applied last.
	pod map[string]any
	// answer is the status an HTTP smoke check gets, by the image running; nil: 200.
	answer func(image, path string) int
	// jobs are the smoke Jobs run, in order; exit decides their exit codes (nil: 0).
	jobs []*batchv1.Job
	exit func(job *batchv1.Job) int
	// target, when set, runs the smoke checks instead.
	target smoke.Target
}

func (f *fakeCluster) HTTP(ctx context.Context, r smoke.HTTPRequest) (smoke.HTTPResponse, error) {
	if f.target != nil {
		return f.target.HTTP(ctx, r)
	}
	f.mu.Lock()
	img := f.image
	f.mu.Unlock()
	f.record(fmt.Sprintf("smoke %s %s/%s:%s%s", r.Method, r.Namespace, r.Service, r.Port, r.Path))
	status := 200
	if f.answer != nil {
		status = f.answer(img, r.Path)
	}
	return smoke.HTTPResponse{Status: status, Body: []byte(fmt.Sprintf("status %d from %s\ntoken=s3cr3t-value", status, img))}, nil
}

func (f *fakeCluster) Command(_ context.Context, r smoke.CommandRequest) (smoke.CommandResult, error) {
	f.mu.Lock()
	f.jobs = append(f.jobs, r.Job)
	f.mu.Unlock()
	f.record("smoke job " + r.Namespace)
	exit := 0
	if f.exit != nil {
		exit = f.exit(r.Job)
	}
	return smoke.CommandResult{ExitCode: exit, Log: []byte("checked \nexit " + strconv.Itoa(exit))}, nil
}

func (f *fakeCluster) record(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
}

func (f *fakeCluster) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeCluster) EnsureNamespace(_ context.Context, name string, _ map[string]string) error {
	f.record("namespace " + name)
	return nil
}

func (f *fakeCluster) Apply(_ context.Context, namespace string, objs []*unstructured.Unstructured, force bool) error {
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.GetKind())
		if o.GetKind() == "Deployment" {
			cs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			img, _, _ := unstructured.NestedString(cs[0].(map[string]any), "image")
			pod, _, _ := unstructured.NestedMap(o.Object, "spec", "template", "spec")
			f.mu.Lock()
			f.image, f.pod = img, pod
			f.mu.Unlock()
		}
	}
	f.record(fmt.Sprintf("apply %s %s force=%t", namespace, strings.Join(kinds, ","), force))
	return f.applyErr
}

func (f *fakeCluster) Drifted(context.Context, string, []*unstructured.Unstructured) ([]string, error) {
	return nil, nil
}

func (f *fakeCluster) Prune(_ context.Context, namespace string, _ map[string]string, _ []*unstructured.Unstructured) ([]string, error) {
	f.record("prune " + namespace)
	return nil, nil
}

func (f *fakeCluster) WaitRollout(ctx context.Context, namespace, deployment string, timeout time.Duration, progress func(berth.RolloutStatus)) error {
	f.mu.Lock()
	img := f.image
	f.mu.Unlock()
	f.record(fmt.Sprintf("wait %s/%s %s", namespace, deployment, timeout))
	progress(berth.RolloutStatus{Phase: "progressing", Desired: 1})
	if f.rollout != nil {
		if err := f.rollout(ctx, img); err != nil {
			return err
		}
	}
	progress(berth.RolloutStatus{Phase: "available", Desired: 1, Updated: 1, Ready: 1, Available: 1})
	return nil
}

// engineFixture is an engine on a real SQLite store, with one team, app, environment and
// a fake cluster.
type engineFixture struct {
	t       testing.TB
	st      *store.Store
	e       *Engine
	cluster *fakeCluster
	now     time.Time
	mu      sync.Mutex
}

const appManifest = `apiVersion: berth.dev/v1
metadata: {name: web, team: shop}
args: {image: "registry.example.com/web:1"}
containers:
  web: {image: "${args.image}"}
service: {ports: {http: {port: 80, targetPort: 8080}}}
`

func newEngineFixture(t testing.TB) *engineFixture {
	t.Helper()
	f := &engineFixture{t: t, cluster: &fakeCluster{}, now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	ctx := t.Context()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "berth.db"), store.WithClock(f.clock))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f.st = st
	err = st.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.CreateTeam(ctx, "shop"); err != nil {
			return err
		}
		if _, err := tx.CreateEnvironment(ctx, berth.Environment{Name: "staging", Kubeconfig: "/nonexistent/kubeconfig", NamespaceTemplate: berth.DefaultNamespaceTemplate}); err != nil {
			return err
		}
		if _, err := tx.CreateApp(ctx, "shop", "web", "alice"); err != nil {
			return err
		}
		_, err := tx.AddRevision(ctx, "shop", "web", appManifest, "alice")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	f.e, err = New(st, func(context.Context, berth.Environment) (Cluster, error) { return f.cluster, nil },
		slog.New(slog.NewTextHandler(io.Discard, nil)), Options{Workers: 1, Lease: 300 * time.Millisecond, DefaultTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *engineFixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *engineFixture) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

// addRevision stores manifest as the app's next revision.
func (f *engineFixture) addRevision(manifest string) int64 {
	f.t.Helper()
	var rev berth.Revision
	err := f.st.Tx(f.t.Context(), func(tx *store.Tx) (err error) {
		rev, err = tx.AddRevision(f.t.Context(), "shop", "web", manifest, "alice")
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return rev.Number
}

// enqueue queues a deploy of revision rev with image.
func (f *engineFixture) enqueue(rev int64, image string, o berth.DeployOptions) berth.Deploy {
	f.t.Helper()
	var d berth.Deploy
	err := f.st.Tx(f.t.Context(), func(tx *store.Tx) (err error) {
		d, err = tx.EnqueueDeploy(f.t.Context(), berth.NewDeploy{Team: "shop", App: "web", Env: "staging", Revision: rev,
			Kind: berth.KindDeploy, Args: map[string]string{"image": image}, Options: o, CreatedBy: "alice"})
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return d
}

// runNext claims the next deploy as owner and runs it to its end; it reports what it ran.
func (f *engineFixture) runNext(owner string) berth.Deploy {
	f.t.Helper()
	d, ok, err := f.st.ClaimDeploy(f.t.Context(), owner, f.e.o.Lease)
	if err != nil || !ok {
		f.t.Fatalf("claim: %v, %v", ok, err)
	}
	f.e.runLeased(f.t.Context(), d, owner)
	return f.deploy(d.ID)
}

// deployNow queues a deploy and runs it, and whatever was queued before it, as worker w1.
func (f *engineFixture) deployNow(rev int64, image string, o berth.DeployOptions) berth.Deploy {
	f.t.Helper()
	d := f.enqueue(rev, image, o)
	for {
		if ran := f.runNext("w1"); ran.ID == d.ID {
			return ran
		}
	}
}

func (f *engineFixture) deploy(id int64) berth.Deploy {
	f.t.Helper()
	d, err := f.st.Deploy(f.t.Context(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return d
}

func (f *engineFixture) phases(id int64) []string {
	f.t.Helper()
	evs, err := f.st.DeployEvents(f.t.Context(), id, 0)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Phase)
	}
	return out
}

// queued returns the deploys still waiting.
func (f *engineFixture) queued() []berth.Deploy {
	f.t.Helper()
	ds, err := f.st.Deploys(f.t.Context(), store.DeployFilter{States: []berth.DeployState{berth.DeployQueued}})
	if err != nil {
		f.t.Fatal(err)
	}
	return ds
}

var errCrashLoop = errors.New("pod web-1: CrashLoopBackOff")

// crashOn fails rollouts of images containing "bad".
func crashOn(_ context.Context, image string) error {
	if strings.Contains(image, "bad") {
		return errCrashLoop
	}
	return nil
}

func TestEngineStagesInOrder(t *testing.T) {
	f := newEngineFixture(t)
	d := f.deployNow(1, "registry.example.com/web:1", berth.DeployOptions{TimeoutSeconds: 42})
	if d.State != berth.DeploySucceeded || d.Reason != "available" || d.ObjectsDigest == "" {
		t.Fatalf("deploy = %s %q digest %q, want succeeded", d.State, d.Reason, d.ObjectsDigest)
	}
	want := []string{"namespace shop-staging", "apply shop-staging ServiceAccount,ConfigMap,Service,Deployment force=false", "prune shop-staging", "wait shop-staging/web 42s"}
	if got := f.cluster.Calls(); !slices.Equal(got, want) {
		t.Errorf("cluster calls:\n got %q\nwant %q", got, want)
	}
	if got := f.phases(d.ID); !slices.Equal(got, []string{"rendered", "applying", "progressing", "available", "succeeded"}) {
		t.Errorf("events %q", got)
	}
	evs, err := f.st.ListAudit(t.Context(), berth.AuditFilter{App: "web"})
	if err != nil || len(evs) != 1 || evs[0].Action != "deploy.finish" || evs[0].Outcome != berth.OutcomeSuccess ||
		evs[0].Target != "app/shop/web/env/staging" {
		t.Errorf("audit = %+v, %v; want one deploy.finish success", evs, err)
	}
}

// TestEngineAppliesSchedulingDefaults: a deploy renders the environment's scheduling
// defaults into the Deployment's pod template, applies and stores them; a change to the
// defaults reaches the next deploy that renders, while a rollback re-applies what ran.
func TestEngineAppliesSchedulingDefaults(t *testing.T) {
	f := newEngineFixture(t)
	setScheduling := func(sel map[string]string, ts []berth.Toleration) {
		t.Helper()
		err := f.st.Tx(t.Context(), func(tx *store.Tx) error {
			if err := tx.SetNodeSelector(t.Context(), "staging", sel); err != nil {
				return err
			}
			return tx.SetTolerations(t.Context(), "staging", ts)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	scheduling := func() (any, any) {
		f.cluster.mu.Lock()
		defer f.cluster.mu.Unlock()
		return f.cluster.pod["nodeSelector"], f.cluster.pod["tolerations"]
	}
	realNode := []any{map[string]any{"key": "berth.dev/real-node", "operator": "Equal", "value": "true", "effect": "NoSchedule"}}

	setScheduling(map[string]string{"berth.dev/real-node": "true"}, []berth.Toleration{
		{Key: "berth.dev/real-node", Operator: berth.TolerationEqual, Value: "true", Effect: berth.EffectNoSchedule}})
	first := f.deployNow(1, "registry.example.com/web:1", berth.DeployOptions{})
	if first.State != berth.DeploySucceeded {
		t.Fatalf("deploy %s: %s", first.State, first.Reason)
	}
	sel, tol := scheduling()
	if diff := cmp.Diff(map[string]any{"berth.dev/real-node": "true"}, sel); diff != "" {
		t.Errorf("applied nodeSelector (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(realNode, tol); diff != "" {
		t.Errorf("applied tolerations (-want +got):\n%s", diff)
	}
	stored, err := f.st.Objects(t.Context(), first.ObjectsDigest)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(stored), `"nodeSelector":{"berth.dev/real-node":"true"}`) {
		t.Errorf("stored objects lack the node selector: %s", stored)
	}

	// Cleared defaults: the next deploy's pods have none.
	setScheduling(nil, nil)
	second := f.deployNow(1, "registry.example.com/web:2", berth.DeployOptions{})
	if sel, tol := scheduling(); second.State != berth.DeploySucceeded || sel != nil || tol != nil {
		t.Errorf("deploy after clearing: %s, nodeSelector %v, tolerations %v; want none", second.State, sel, tol)
	}

	// A rollback to the first deploy re-applies its objects as they were.
	var rb berth.Deploy
	err = f.st.Tx(t.Context(), func(tx *store.Tx) (err error) {
		rb, err = tx.EnqueueDeploy(t.Context(), berth.Redo(first, berth.KindRollback, "alice", berth.DeployOptions{}))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if ran := f.runNext("w1"); ran.ID != rb.ID || ran.State != berth.DeploySucceeded {
		t.Fatalf("rollback %d %s, want %d succeeded", ran.ID, ran.State, rb.ID)
	}
	sel, tol = scheduling()
	if diff := cmp.Diff(realNode, tol); diff != "" || sel == nil {
		t.Errorf("rollback applied nodeSelector %v, tolerations (-want +got):\n%s", sel, diff)
	}
}

func TestEngineFailures(t *testing.T) {
	noRollback := appManifest + "deploy: {autoRollback: false}\n"
	for _, tc := range []struct {
		name     string
		manifest string // a later revision, for the failing deploy
		applyErr error
		options  berth.DeployOptions
		// first: whether a good deploy runs first (something to roll back to)
		first      bool
		wantReason string
		wantCalls  int // cluster calls of the failing deploy
		rollback   bool
	}{
		{name: "failed rollout rolls back to the last good deploy", first: true,
			wantReason: errCrashLoop.Error(), wantCalls: 4, rollback: true},
		{name: "failed rollout with nothing good before", wantReason: errCrashLoop.Error(), wantCalls: 4},
		{name: "--no-auto-rollback", first: true, options: berth.DeployOptions{NoAutoRollback: true},
			wantReason: errCrashLoop.Error(), wantCalls: 4},
		{name: "manifest turns automatic rollback off", first: true, manifest: noRollback,
			wantReason: "automatic rollback is off for this app in staging (deploy.autoRollback: false in revision 2)", wantCalls: 4},
		{name: "refused apply changes nothing to roll back", first: true, applyErr: errors.New(`apply Deployment web: field conflict on .spec.replicas with "helm"`),
			wantReason: `field conflict on .spec.replicas with "helm"`, wantCalls: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newEngineFixture(t)
			f.cluster.rollout = crashOn
			var good berth.Deploy
			if tc.first {
				good = f.deployNow(1, "registry.example.com/web:1", berth.DeployOptions{ForceConflicts: true})
			}
			before := len(f.cluster.Calls())
			rev := int64(1)
			if tc.manifest != "" {
				rev = f.addRevision(tc.manifest)
			}
			f.cluster.applyErr = tc.applyErr
			d := f.deployNow(rev, "registry.example.com/web:bad", tc.options)
			if d.State != berth.DeployFailed || !strings.Contains(d.Reason, tc.wantReason) {
				t.Errorf("deploy = %s %q, want failed with %q", d.State, d.Reason, tc.wantReason)
			}
			if got := len(f.cluster.Calls()) - before; got != tc.wantCalls {
				t.Errorf("%d cluster calls, want %d: %q", got, tc.wantCalls, f.cluster.Calls()[before:])
			}
			q := f.queued()
			if !tc.rollback {
				if len(q) != 0 {
					t.Fatalf("queued %+v, want no automatic rollback", q)
				}
				return
			}
			if len(q) != 1 || q[0].Kind != berth.KindAutoRollback || q[0].SourceDeploy != good.ID || q[0].RollbackOf != d.ID ||
				!q[0].Options.ForceConflicts || q[0].CreatedBy != "system" {
				t.Fatalf("queued %+v, want one automatic rollback re-applying deploy %d the way it was applied", q, good.ID)
			}
			f.cluster.applyErr = nil
			rb := f.runNext("w2")
			if rb.State != berth.DeploySucceeded || rb.ObjectsDigest != good.ObjectsDigest {
				t.Errorf("rollback = %s %q digest %s, want succeeded with the good deploy's objects %s", rb.State, rb.Reason, rb.ObjectsDigest, good.ObjectsDigest)
			}
			if f.cluster.image != "registry.example.com/web:1" {
				t.Errorf("rollback applied image %q", f.cluster.image)
			}
		})
	}
}

// A failed rollback is not rolled back in turn, whatever came before it.
func TestEngineRollbackIsNotRolledBack(t *testing.T) {
	f := newEngineFixture(t)
	f.cluster.rollout = crashOn
	f.deployNow(1, "registry.example.com/web:1", berth.DeployOptions{})
	f.deployNow(1, "registry.example.com/web:2", berth.DeployOptions{})
	bad := f.deployNow(1, "registry.example.com/web:bad", berth.DeployOptions{})
	if bad.State != berth.DeployFailed || len(f.queued()) != 1 {
		t.Fatalf("bad deploy %s, queued %d", bad.State, len(f.queued()))
	}
	f.cluster.rollout = func(context.Context, string) error { return errors.New("rollout timed out") }
	rb := f.runNext("w2")
	if rb.Kind != berth.KindAutoRollback || rb.State != berth.DeployFailed {
		t.Fatalf("rollback %s %s", rb.Kind, rb.State)
	}
	if q := f.queued(); len(q) != 0 {
		t.Errorf("a failed rollback queued %+v", q)
	}
}

// A worker that loses its lease mid-rollout leaves the deploy to the worker that holds it
// now, which takes it to its one final state.
func TestEngineLeaseLost(t *testing.T) {
	f := newEngineFixture(t)
	waiting := make(chan struct{})
	f.cluster.rollout = func(ctx context.Context, _ string) error {
		close(waiting)
		<-ctx.Done() // the first worker's context ends when its renewal fails
		return ctx.Err()
	}
	d := f.enqueue(1, "registry.example.com/web:1", berth.DeployOptions{})
	claimed, ok, err := f.st.ClaimDeploy(t.Context(), "w1", f.e.o.Lease)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	done := make(chan struct{})
	go func() { defer close(done); f.e.runLeased(t.Context(), claimed, "w1") }()
	<-waiting
	f.advance(time.Hour) // w1's lease has expired: w2 may claim the deploy
	again, ok, err := f.st.ClaimDeploy(t.Context(), "w2", f.e.o.Lease)
	if err != nil || !ok || again.ID != d.ID || again.Attempts != 2 {
		t.Fatalf("w2 claim = %+v, %v, %v", again, ok, err)
	}
	<-done
	if got := f.deploy(d.ID); got.State != berth.DeployRunning || got.LeaseOwner != "w2" {
		t.Fatalf("after w1 lost its lease: %s held by %q, want running held by w2", got.State, got.LeaseOwner)
	}
	f.cluster.rollout = nil
	f.e.runLeased(t.Context(), again, "w2")
	got := f.deploy(d.ID)
	if got.State != berth.DeploySucceeded {
		t.Fatalf("w2 finished %s %q", got.State, got.Reason)
	}
	final := 0
	for _, p := range f.phases(d.ID) {
		if p == "succeeded" || p == "failed" {
			final++
		}
	}
	if final != 1 {
		t.Errorf("events %q: want exactly one final state", f.phases(d.ID))
	}
}

// A deploy whose workers keep dying on it fails after MaxAttempts instead of looping.
func TestEngineGivesUp(t *testing.T) {
	f := newEngineFixture(t)
	d := f.enqueue(1, "registry.example.com/web:1", berth.DeployOptions{})
	for i := range f.e.o.MaxAttempts {
		if _, ok, err := f.st.ClaimDeploy(t.Context(), fmt.Sprintf("w%d", i), f.e.o.Lease); !ok || err != nil {
			t.Fatal(ok, err)
		}
		f.advance(time.Hour)
	}
	got := f.runNext("last")
	if got.State != berth.DeployFailed || !strings.Contains(got.Reason, "gave up after 5 attempts") || len(f.cluster.Calls()) != 0 {
		t.Errorf("deploy %d = %s %q after %d cluster calls", d.ID, got.State, got.Reason, len(f.cluster.Calls()))
	}
}

// A deploy whose environment was deleted fails before touching any cluster.
func TestEngineEnvironmentGone(t *testing.T) {
	f := newEngineFixture(t)
	d := f.enqueue(1, "registry.example.com/web:1", berth.DeployOptions{})
	if err := f.st.Tx(t.Context(), func(tx *store.Tx) error { return tx.DeleteEnvironment(t.Context(), "staging") }); err != nil {
		t.Fatalf("delete environment: %v", err)
	}
	got := f.runNext("w1")
	if got.ID != d.ID || got.State != berth.DeployFailed || got.Reason != "environment staging no longer exists" || len(f.cluster.Calls()) != 0 {
		t.Errorf("deploy = %s %q, %d cluster calls", got.State, got.Reason, len(f.cluster.Calls()))
	}
}

func TestNewRefusesUnsetOptions(t *testing.T) {
	for _, o := range []Options{{Workers: -1, Lease: time.Second, DefaultTimeout: time.Second}, {Workers: 1, DefaultTimeout: time.Second}, {Workers: 1, Lease: time.Second}} {
		if _, err := New(nil, nil, nil, o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}

const smokeManifest = `apiVersion: berth.dev/v1
metadata: {name: web, team: shop}
args: {image: "registry.example.com/web:1"}
containers:
  web: {image: "${args.image}"}
service: {ports: {http: {port: 80, targetPort: 8080}}}
smoke:
  - path: /health
  - {name: info, path: /info, retries: 0}
  - {command: [/web, check], timeout: 30s}
`

func TestVerifyRunsSmokeTestsAndRollsBackOnFailure(t *testing.T) {
	f := newEngineFixture(t)
	rev := f.addRevision(smokeManifest)
	// Images with "broken" answer 500 on /info; every other answer is 200.
	f.cluster.answer = func(image, path string) int {
		if strings.Contains(image, "broken") && path == "/info" {
			return 500
		}
		return 200
	}
	good := f.deployNow(rev, "registry.example.com/web:1", berth.DeployOptions{})
	if good.State != berth.DeploySucceeded || !strings.HasPrefix(good.Reason, "available; 3 smoke tests passed in ") {
		t.Fatalf("good deploy: %s %q", good.State, good.Reason)
	}
	if good.Smoke == nil || !good.Smoke.Passed || len(good.Smoke.Results) != 3 || good.Smoke.Revision != rev {
		t.Fatalf("stored smoke results: %+v", good.Smoke)
	}
	if r := good.Smoke.Results[2]; r.Kind != berth.SmokeCommand || r.Name != "command /web check" || !r.Passed {
		t.Errorf("command result %+v", r)
	}
	job := f.cluster.jobs[0]
	ctr := job.Spec.Template.Spec.Containers[0]
	if ctr.Image != "registry.example.com/web:1" || !slices.Equal(ctr.Command, []string{"/web", "check"}) ||
		job.Namespace != "shop-staging" || *job.Spec.ActiveDeadlineSeconds != 30 || job.Labels[manifest.LabelSmoke] != "true" {
		t.Errorf("smoke job %s/%s image %s command %v", job.Namespace, job.Name, ctr.Image, ctr.Command)
	}
	if ctr.Env[0].Name != "TARGET_URL" || ctr.Env[0].Value != "http://web.shop-staging.svc:80" {
		t.Errorf("job env %v", ctr.Env)
	}
	if got := f.phases(good.ID); !slices.Equal(got[len(got)-5:], []string{"verifying", "smoke", "smoke", "smoke", "succeeded"}) {
		t.Errorf("events %q", got)
	}

	bad := f.deployNow(rev, "registry.example.com/web:broken", berth.DeployOptions{})
	if bad.State != berth.DeployFailed || !strings.HasPrefix(bad.Reason, `smoke test "info" failed: got 500, want 200: status 500 from registry.example.com/web:broken`) {
		t.Fatalf("bad deploy: %s %q", bad.State, bad.Reason)
	}
	if bad.Smoke == nil || bad.Smoke.Passed || len(bad.Smoke.Results) != 2 || bad.Smoke.Skipped != 1 {
		t.Fatalf("stored results of the failed deploy: %+v", bad.Smoke)
	}
	q := f.queued()
	if len(q) != 1 || q[0].Kind != berth.KindAutoRollback || q[0].RollbackOf != bad.ID {
		t.Fatalf("queued after a failed smoke test: %+v", q)
	}
	rb := f.runNext("w1")
	want := fmt.Sprintf("available; the smoke tests of revision %d, which it restores: 3 smoke tests passed in ", rev)
	if rb.State != berth.DeploySucceeded || !strings.HasPrefix(rb.Reason, want) || rb.Smoke == nil || !rb.Smoke.Passed {
		t.Fatalf("rollback: %s %q (want prefix %q) smoke %+v", rb.State, rb.Reason, want, rb.Smoke)
	}
}

func TestVerifyCommandFailureAndRedaction(t *testing.T) {
	f := newEngineFixture(t)
	key, err := seal.NewKey(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	f.st.UseSecretsKey(key)
	// The app uses a secret whose value its answers print: it must never be stored.
	rev := f.addRevision(strings.Replace(smokeManifest, `  web: {image: "${args.image}"}`,
		`  web: {image: "${args.image}", variables: {TOKEN: "${secrets.TOKEN}"}}`, 1))
	if err := f.st.Tx(t.Context(), func(tx *store.Tx) error {
		_, err := tx.SetSetting(t.Context(), berth.SettingSecret, berth.Scope{Team: "shop", App: "web"}, "TOKEN", "s3cr3t-value", "alice")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	f.cluster.answer = func(string, string) int { return 200 }
	f.cluster.exit = func(*batchv1.Job) int { return 1 }
	d := f.deployNow(rev, "registry.example.com/web:1", berth.DeployOptions{})
	if d.State != berth.DeployFailed || d.Reason != `smoke test "command /web check" failed: exit code 1: checked | exit 1` {
		t.Fatalf("deploy: %s %q", d.State, d.Reason)
	}
	for _, r := range d.Smoke.Results {
		if strings.Contains(r.Excerpt, "s3cr3t-value") || (r.Kind == berth.SmokeHTTP && !strings.Contains(r.Excerpt, "token=(redacted)")) {
			t.Errorf("excerpt of %s: %q", r.Name, r.Excerpt)
		}
	}
	if r := d.Smoke.Results[2]; r.ExitCode != 1 || r.Excerpt != "checked \nexit 1" {
		t.Errorf("command result %+v", r)
	}
	// No earlier good deploy: nothing to roll back to.
	if q := f.queued(); len(q) != 0 {
		t.Errorf("queued %+v", q)
	}
}

// TestSmokeOnDemand: Engine.Smoke runs the checks of a deploy's revision against what runs,
// with the app's secret values redacted from what comes back, and says when there are none.
func TestSmokeOnDemand(t *testing.T) {
	f := newEngineFixture(t)
	key, err := seal.NewKey(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatal(err)
	}
	f.st.UseSecretsKey(key)
	rev := f.addRevision(strings.Replace(smokeManifest, `  web: {image: "${args.image}"}`,
		`  web: {image: "${args.image}", variables: {TOKEN: "${secrets.TOKEN}"}}`, 1))
	if err := f.st.Tx(t.Context(), func(tx *store.Tx) error {
		_, err := tx.SetSetting(t.Context(), berth.SettingSecret, berth.Scope{Team: "shop", App: "web"}, "TOKEN", "s3cr3t-value", "alice")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	d := f.deployNow(rev, "registry.example.com/web:1", berth.DeployOptions{})
	if d.State != berth.DeploySucceeded {
		t.Fatalf("deploy %s %q", d.State, d.Reason)
	}
	f.cluster.answer = func(string, string) int { return 503 }
	run, err := f.e.Smoke(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	if run.Passed || run.Revision != rev || len(run.Results) != 1 || run.Results[0].Status != 503 ||
		strings.Contains(run.Results[0].Excerpt, "s3cr3t-value") || !strings.Contains(run.Results[0].Excerpt, "token=(redacted)") {
		t.Errorf("run %+v", run)
	}
	if _, err := f.e.Smoke(t.Context(), f.deployNow(1, "registry.example.com/web:1", berth.DeployOptions{})); !errors.Is(err, ErrNoSmokeTests) {
		t.Errorf("revision 1 has no smoke tests: %v", err)
	}
}
