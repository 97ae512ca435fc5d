package kube_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/kube"
	"github.com/berth-dev/berth/internal/kubetest"
)

// TestStatus runs on the real node: the crashing revision's pod is a real container that
// exits 1 at start, whose restarts and back-off the kubelet reports.
func TestStatus(t *testing.T) {
	t.Parallel()
	rn, c := newRealNodeCluster(t)
	_, ns := rn.Namespace(t)
	ctx := context.Background()
	a := helloApp(t, rn, 2)
	mustApply(t, c, ns, a.objects()...)
	if _, err := c.WaitRollout(ctx, ns, "web", kube.RolloutOptions{Timeout: 2 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	st, err := c.Status(ctx, ns, "web")
	if err != nil {
		t.Fatal(err)
	}
	if st.Phase != kube.PhaseAvailable || st.Available != 2 || len(st.Pods) != 2 || st.Images[0] != a.image {
		t.Fatalf("status %+v, want 2 available pods of %s", st, a.image)
	}
	for _, p := range st.Pods {
		if !p.Current || !p.Ready || p.Phase != "Running" || p.Reason != "" || p.Node != rn.Node.Name || p.Created.IsZero() {
			t.Errorf("pod %+v, want current, ready and running on %s", p, rn.Node.Name)
		}
	}

	// A crashing revision: its pod shows why, the old ones keep running. Between its
	// back-offs the container runs for a moment, so wait for a look that catches it waiting.
	a.vars = map[string]string{"HELLO_FAIL": "crash"}
	mustApply(t, c, ns, a.deployment())
	kubetest.Eventually(t, 60*time.Second, func(ctx context.Context) error {
		st, err = c.Status(ctx, ns, "web")
		if err != nil {
			return err
		}
		if st.Phase != kube.PhaseFailed {
			return errors.New("phase " + string(st.Phase) + ": " + st.Message)
		}
		if len(st.Pods) == 0 || st.Pods[0].Reason != kube.ReasonCrashLoopBackOff {
			return fmt.Errorf("failed (%s), but no pod waits in CrashLoopBackOff: %+v", st.Message, st.Pods)
		}
		return nil
	})
	if len(st.Pods) != 3 {
		t.Fatalf("%d pods, want 2 old and 1 new: %+v", len(st.Pods), st.Pods)
	}
	// The kubelet restarts a container at once after its first exit and backs off from the
	// second on: CrashLoopBackOff comes after one restart or more.
	p := st.Pods[0]
	if !p.Current || p.Ready || p.Reason != kube.ReasonCrashLoopBackOff || p.Restarts < 1 || p.Message == "" {
		t.Errorf("new pod %+v, want current, not ready, in CrashLoopBackOff after a restart", p)
	}
	for _, p := range st.Pods[1:] {
		if p.Current || !p.Ready {
			t.Errorf("old pod %+v, want ready and not current", p)
		}
	}

	if _, err := c.Status(ctx, ns, "nothing"); !errors.Is(err, kube.ErrNotFound) {
		t.Errorf("Status of a missing Deployment = %v, want ErrNotFound", err)
	}
}
