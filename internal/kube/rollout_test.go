package kube_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/internal/kube"
	"github.com/berth-dev/berth/internal/kubetest"
)

// recorder keeps every status WaitRollout reported.
type recorder struct {
	mu   sync.Mutex
	seen []kube.RolloutStatus
}

func (r *recorder) progress(s kube.RolloutStatus) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, s)
}

func (r *recorder) statuses() []kube.RolloutStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]kube.RolloutStatus(nil), r.seen...)
}

func TestWaitRolloutSucceedsAndFollowsAnImageChange(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	_, ns := kubetest.Namespace(t)
	ctx := context.Background()
	a := app{name: "web", env: "staging", image: "registry.example.com/web:1", replicas: 3}
	mustApply(t, c, ns, a.objects()...)

	var rec recorder
	st, err := c.WaitRollout(ctx, ns, "web", kube.RolloutOptions{Timeout: 60 * time.Second, Progress: rec.progress})
	if err != nil {
		t.Fatal(err)
	}
	want := kube.RolloutStatus{Phase: kube.PhaseAvailable, Desired: 3, Updated: 3, Ready: 3, Available: 3, Revision: "1"}
	if got := comparable(st); got != want {
		t.Errorf("final status %+v, want %+v", got, want)
	}
	checkProgress(t, rec.statuses(), st)

	a.image = "registry.example.com/web:2"
	mustApply(t, c, ns, a.deployment())
	var rec2 recorder
	st, err = c.WaitRollout(ctx, ns, "web", kube.RolloutOptions{Timeout: 60 * time.Second, Progress: rec2.progress})
	if err != nil {
		t.Fatal(err)
	}
	want.Revision = "2"
	if got := comparable(st); got != want || st.ObservedGeneration != st.Generation || st.Generation != 2 {
		t.Errorf("final status %+v, want %+v at generation 2", st, want)
	}
	seen := rec2.statuses()
	checkProgress(t, seen, st)
	// The wait starts right after the apply: the first status is the rollout under way.
	if seen[0].Phase != kube.PhaseProgressing {
		t.Errorf("first status after the image change is %+v, want Progressing", seen[0])
	}
}

// comparable drops the fields a test cannot predict.
func comparable(s kube.RolloutStatus) kube.RolloutStatus {
	s.Message, s.Generation, s.ObservedGeneration = "", 0, 0
	return s
}

// checkProgress: every report differs from the one before, and the last is the result.
func checkProgress(t *testing.T, seen []kube.RolloutStatus, final kube.RolloutStatus) {
	t.Helper()
	if len(seen) == 0 {
		t.Fatal("Progress was never called")
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] == seen[i-1] {
			t.Errorf("Progress called twice with %+v", seen[i])
		}
	}
	if seen[len(seen)-1] != final {
		t.Errorf("last progress %+v, want the final status %+v", seen[len(seen)-1], final)
	}
}

// A rollout that cannot become ready fails fast, with the reason, within the progress
// deadline; the previous revision keeps serving. Real containers on the real node fail as
// they would on any cluster: a process that exits, a tag the registry lacks, a readiness
// probe that never passes, a liveness probe that kills the container after it was ready.
func TestWaitRolloutDetectsFailures(t *testing.T) {
	t.Parallel()
	// failFast is the progress deadline of the revisions whose pods show why they fail: far
	// beyond within, so only WaitRollout reading the pods can report their reason in time.
	const failFast = 120
	tests := []struct {
		name string
		edit func(*app)
		// reasons are what the kubelet may call the failure; the first it reports wins.
		reasons []string
		// inMessage, when set, is in the error's message.
		inMessage string
		within    time.Duration
	}{
		{
			name:    "crash loop",
			edit:    func(a *app) { a.vars = map[string]string{"HELLO_FAIL": "crash"}; a.progressDeadline = failFast },
			reasons: []string{kube.ReasonCrashLoopBackOff},
			within:  30 * time.Second,
		},
		{
			// The registry answers that it has no such manifest: ErrImagePull, then
			// ImagePullBackOff between retries.
			name: "image pull",
			edit: func(a *app) {
				a.image = strings.TrimSuffix(a.image, ":1") + ":missing"
				a.progressDeadline = failFast
			},
			reasons:   []string{kube.ReasonErrImagePull, kube.ReasonImagePullBackOff},
			inMessage: "hello:missing",
			within:    30 * time.Second,
		},
		{
			name:    "never ready",
			edit:    func(a *app) { a.vars = map[string]string{"HELLO_FAIL": "ready"}; a.progressDeadline = 5 },
			reasons: []string{kube.ReasonProgressDeadlineExceeded},
			within:  20 * time.Second, // the 5 s deadline, and the controller noticing
		},
		{
			// Ready for a second or two, then killed by the liveness probe, over and over.
			// The Deployment would count such pods available for that moment, so this
			// rollout fails only with minReadySeconds longer than the pods live. The
			// kubelet restarts a killed container with a back-off, which it reports as
			// CrashLoopBackOff from the second kill on (kube.ReasonContainerFailing, for
			// pods that end Failed, cannot happen to a Deployment's pods on a real kubelet:
			// they restart in place; TestPodsFailure keeps that rule).
			name: "pods failing after being ready",
			edit: func(a *app) {
				a.liveness = httpProbe("/gone") // hello answers 404
				a.liveness.InitialDelaySeconds = 2
				a.liveness.FailureThreshold = 1
				a.minReadySeconds = 30
				a.progressDeadline = failFast
			},
			reasons: []string{kube.ReasonCrashLoopBackOff},
			within:  30 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rn, c := newRealNodeCluster(t)
			cs, ns := rn.Namespace(t)
			ctx := context.Background()
			a := helloApp(t, rn, 2)
			mustApply(t, c, ns, a.objects()...)
			if _, err := c.WaitRollout(ctx, ns, "web", kube.RolloutOptions{Timeout: 2 * time.Minute}); err != nil {
				t.Fatal(err)
			}

			// The failing revision's own progress deadline: a busy test machine may take
			// longer than a short one to start the first revision.
			tt.edit(&a)
			mustApply(t, c, ns, a.deployment())
			begin := time.Now()
			var rec recorder
			st, err := c.WaitRollout(ctx, ns, "web", kube.RolloutOptions{Timeout: 60 * time.Second, Progress: rec.progress})
			took := time.Since(begin)
			var re *kube.RolloutError
			if !errors.As(err, &re) {
				t.Fatalf("WaitRollout = %+v, %v; want a *RolloutError", st, err)
			}
			t.Logf("failed after %s: %v", took.Round(10*time.Millisecond), err)
			if !slices.Contains(tt.reasons, re.Reason) {
				t.Errorf("reason %q, want one of %q", re.Reason, tt.reasons)
			}
			if !strings.Contains(re.Message, tt.inMessage) {
				t.Errorf("message %q does not say %q", re.Message, tt.inMessage)
			}
			if took > tt.within {
				t.Errorf("detected after %s, want within %s", took, tt.within)
			}
			if st.Phase != kube.PhaseFailed || re.Status != st || re.Message == "" || re.Namespace != ns || re.Deployment != "web" {
				t.Errorf("status %+v, error %+v", st, re)
			}
			if re.Reason != kube.ReasonProgressDeadlineExceeded && re.Pod == "" {
				t.Errorf("the error names no pod: %+v", re)
			}
			if seen := rec.statuses(); seen[len(seen)-1].Phase != kube.PhaseFailed {
				t.Errorf("last progress %+v, want Failed", seen[len(seen)-1])
			}
			// maxUnavailable keeps old pods serving while the new ones fail.
			d, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if d.Status.AvailableReplicas == 0 {
				t.Errorf("no replicas available after the failed rollout: %+v", d.Status)
			}
		})
	}
}

// neverReady is hello on the real node answering 503 on /ready: a rollout that never ends.
func neverReady(t *testing.T, rn *kubetest.RealNodeCluster, replicas int32) app {
	t.Helper()
	a := helloApp(t, rn, replicas)
	a.vars = map[string]string{"HELLO_FAIL": "ready"}
	return a
}

func TestWaitRolloutTimeoutAndCancel(t *testing.T) {
	t.Parallel()
	rn, c := newRealNodeCluster(t)
	_, ns := rn.Namespace(t)
	a := neverReady(t, rn, 1)
	mustApply(t, c, ns, a.objects()...)

	begin := time.Now()
	var rec recorder
	st, err := c.WaitRollout(context.Background(), ns, "web", kube.RolloutOptions{Timeout: time.Second, Progress: rec.progress})
	var re *kube.RolloutError
	if !errors.As(err, &re) || re.Reason != kube.ReasonTimeout {
		t.Fatalf("WaitRollout = %v, want a %s RolloutError", err, kube.ReasonTimeout)
	}
	checkProgress(t, rec.statuses(), st)
	if st.Phase != kube.PhaseFailed || !strings.Contains(st.Message, "not available after 1s") {
		t.Errorf("status %+v, want Failed, not available after 1s", st)
	}
	if took := time.Since(begin); took > 3*time.Second {
		t.Errorf("a 1s timeout took %s", took)
	}

	// The caller giving up is not the rollout failing.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err = c.WaitRollout(ctx, ns, "web", kube.RolloutOptions{Timeout: time.Minute})
	if errors.As(err, &re) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitRollout after the caller's deadline = %v, want context.DeadlineExceeded", err)
	}

	_, err = c.WaitRollout(context.Background(), ns, "nothing", kube.RolloutOptions{Timeout: time.Minute})
	if err == nil || errors.As(err, &re) {
		t.Fatalf("WaitRollout of a missing Deployment = %v, want a plain error", err)
	}
}

func TestWaitRolloutReportsADeletedDeployment(t *testing.T) {
	t.Parallel()
	rn, c := newRealNodeCluster(t)
	cs, ns := rn.Namespace(t)
	a := neverReady(t, rn, 1)
	mustApply(t, c, ns, a.objects()...)
	// Delete it once WaitRollout watches: its first report comes after its caches synced.
	watching := make(chan struct{})
	var once sync.Once
	deleted := make(chan error, 1)
	go func() {
		<-watching
		deleted <- cs.AppsV1().Deployments(ns).Delete(context.Background(), "web", metav1.DeleteOptions{})
	}()
	_, err := c.WaitRollout(context.Background(), ns, "web", kube.RolloutOptions{
		Timeout:  30 * time.Second,
		Progress: func(kube.RolloutStatus) { once.Do(func() { close(watching) }) },
	})
	once.Do(func() { close(watching) }) // when WaitRollout ended without a report
	if err := <-deleted; err != nil {
		t.Fatal(err)
	}
	var re *kube.RolloutError
	if !errors.As(err, &re) || re.Reason != kube.ReasonDeleted {
		t.Fatalf("WaitRollout = %v, want a %s RolloutError", err, kube.ReasonDeleted)
	}
}

// After a rollout failed on its progress deadline, rolling back must not trip over the
// ProgressDeadlineExceeded condition the controller keeps until the rollback progresses.
func TestWaitRolloutAfterRollbackOfAFailedRollout(t *testing.T) {
	t.Parallel()
	rn, c := newRealNodeCluster(t)
	_, ns := rn.Namespace(t)
	ctx := context.Background()
	// The deadline only needs to outlast the rollback: the stale condition is there at once.
	good := helloApp(t, rn, 2)
	good.progressDeadline = 60
	mustApply(t, c, ns, good.objects()...)
	if _, err := c.WaitRollout(ctx, ns, "web", kube.RolloutOptions{Timeout: 2 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	bad := good
	bad.vars = map[string]string{"HELLO_FAIL": "ready"}
	bad.progressDeadline = 3
	mustApply(t, c, ns, bad.deployment())
	_, err := c.WaitRollout(ctx, ns, "web", kube.RolloutOptions{Timeout: 30 * time.Second})
	var re *kube.RolloutError
	if !errors.As(err, &re) || re.Reason != kube.ReasonProgressDeadlineExceeded {
		t.Fatalf("bad rollout: %v, want %s", err, kube.ReasonProgressDeadlineExceeded)
	}

	mustApply(t, c, ns, good.deployment())
	st, err := c.WaitRollout(ctx, ns, "web", kube.RolloutOptions{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatalf("rollback: %v", err)
	}
	if st.Available != 2 || st.Old != 0 || st.Revision != "3" {
		t.Errorf("after the rollback: %+v, want 2 available at revision 3", st)
	}
}
