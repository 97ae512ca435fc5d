package kube_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/kubetest"
)

// eventLog collects what WatchEvents hands out.
type eventLog struct {
	mu  sync.Mutex
	evs []berth.ClusterEvent
}

func (l *eventLog) add(ev berth.ClusterEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, ev)
}

// find returns the last event handed out with reason, or an error.
func (l *eventLog) find(reason string) (berth.ClusterEvent, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.evs) - 1; i >= 0; i-- {
		if l.evs[i].Reason == reason {
			return l.evs[i], nil
		}
	}
	return berth.ClusterEvent{}, fmt.Errorf("no %s event among %d", reason, len(l.evs))
}

// TestWatchEvents watches a namespace before it exists: the events of both recorder APIs
// come in the domain's terms (kind/name, times, counts), an event that happens again comes
// again with its count, and the watch ends with its context.
func TestWatchEvents(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	cs := kubetest.Client(t)
	ns := fmt.Sprintf("events-%d", time.Now().UnixNano()%1_000_000)
	ctx, cancel := context.WithCancel(context.Background())
	var l eventLog
	done := make(chan error, 1)
	go func() { done <- c.WatchEvents(ctx, ns, l.add) }()

	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{}) })
	first := time.Now().Add(-time.Minute).Truncate(time.Second)
	legacy := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "web.1", Namespace: ns},
		InvolvedObject: corev1.ObjectReference{Kind: "Deployment", Name: "web", Namespace: ns, APIVersion: "apps/v1"},
		Type:           corev1.EventTypeNormal, Reason: "ScalingReplicaSet", Message: "Scaled up replica set web-7d9f8 from 0 to 1\n",
		FirstTimestamp: metav1.NewTime(first), LastTimestamp: metav1.NewTime(first), Count: 1,
		Source: corev1.EventSource{Component: "deployment-controller"},
	}
	legacy, err := cs.CoreV1().Events(ns).Create(ctx, legacy, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	precise := time.Now().Add(-30 * time.Second).Truncate(time.Microsecond)
	modern := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "web-7d9f8-x2x4q.1", Namespace: ns},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "web-7d9f8-x2x4q", Namespace: ns, APIVersion: "v1"},
		Type:           corev1.EventTypeNormal, Reason: "Scheduled", Message: "Successfully assigned to berth-node",
		EventTime: metav1.NewMicroTime(precise), ReportingController: "default-scheduler", ReportingInstance: "default-scheduler-1",
		Action: "Binding",
	}
	if _, err := cs.CoreV1().Events(ns).Create(ctx, modern, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var scaled, scheduled berth.ClusterEvent
	kubetest.Eventually(t, 30*time.Second, func(context.Context) error {
		if scaled, err = l.find("ScalingReplicaSet"); err != nil {
			return err
		}
		scheduled, err = l.find("Scheduled")
		return err
	})
	if scaled.UID != string(legacy.UID) || scaled.Object != "deployment/web" || scaled.Type != "Normal" || scaled.Count != 1 ||
		scaled.Message != "Scaled up replica set web-7d9f8 from 0 to 1" || !scaled.FirstAt.Equal(first) || !scaled.LastAt.Equal(first) {
		t.Errorf("a core/v1 event: %+v", scaled)
	}
	if scheduled.Object != "pod/web-7d9f8-x2x4q" || !scheduled.LastAt.Equal(precise) || !scheduled.FirstAt.Equal(precise) || scheduled.Count != 1 {
		t.Errorf("an events.k8s.io event: %+v, want its time to the microsecond %s", scheduled, precise)
	}

	// It happens twice more: the cluster updates the event, the watch hands it out again.
	last := first.Add(40 * time.Second)
	legacy.Count, legacy.LastTimestamp = 3, metav1.NewTime(last)
	if _, err := cs.CoreV1().Events(ns).Update(ctx, legacy, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubetest.Eventually(t, 30*time.Second, func(context.Context) error {
		if scaled, err = l.find("ScalingReplicaSet"); err != nil || scaled.Count != 3 {
			return fmt.Errorf("%+v, %v", scaled, err)
		}
		return nil
	})
	if scaled.UID != string(legacy.UID) || !scaled.FirstAt.Equal(first) || !scaled.LastAt.Equal(last) {
		t.Errorf("the repeated event: %+v", scaled)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("WatchEvents ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WatchEvents did not end with its context")
	}
}
