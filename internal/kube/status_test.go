package kube_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/kube"
	"github.com/berth-dev/berth/internal/kubetest"
)

func TestStatus(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	_, ns := kubetest.Namespace(t)
	ctx := context.Background()
	a := app{name: "web", env: "staging", image: "registry.example.com/web:1", replicas: 2}
	mustApply(t, c, ns, a.objects()...)
	if _, err := c.WaitRollout(ctx, ns, "web", kube.RolloutOptions{Timeout: 30 * time.Second}); err != nil {
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
		if !p.Current || !p.Ready || p.Phase != "Running" || p.Reason != "" || p.Node == "" || p.Created.IsZero() {
			t.Errorf("pod %+v, want current, ready and running", p)
		}
	}

	// A crashing revision: its pod shows why, the old ones keep running.
	a.image = kubetest.CrashLoopImage + ":2"
	mustApply(t, c, ns, a.deployment())
	kubetest.Eventually(t, 30*time.Second, func(ctx context.Context) error {
		st, err = c.Status(ctx, ns, "web")
		if err != nil {
			return err
		}
		if st.Phase != kube.PhaseFailed {
			return errors.New("phase " + string(st.Phase) + ": " + st.Message)
		}
		return nil
	})
	if len(st.Pods) != 3 {
		t.Fatalf("%d pods, want 2 old and 1 new: %+v", len(st.Pods), st.Pods)
	}
	p := st.Pods[0]
	if !p.Current || p.Ready || p.Reason != kube.ReasonCrashLoopBackOff || p.Restarts != 3 || p.Message == "" {
		t.Errorf("new pod %+v, want current, not ready, in CrashLoopBackOff after 3 restarts", p)
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
