package kube

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ktypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func TestPodsFailure(t *testing.T) {
	waiting := func(reason string) corev1.ContainerStatus {
		return corev1.ContainerStatus{Name: "web", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: "msg"}}}
	}
	restarted := func(n int32, exit int32) corev1.ContainerStatus {
		return corev1.ContainerStatus{Name: "web", RestartCount: n,
			State:                corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
			LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: exit, Reason: "Error"}}}
	}
	pod := func(name string, phase corev1.PodPhase, cs ...corev1.ContainerStatus) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.PodStatus{Phase: phase, ContainerStatuses: cs}}
	}
	failed := func(name string) *corev1.Pod {
		return pod(name, corev1.PodFailed, corev1.ContainerStatus{Name: "web",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 2, Reason: "Error"}}})
	}
	evicted := failed("evicted")
	evicted.Status.Reason = "Evicted"
	deleting := pod("deleting", corev1.PodRunning, waiting("CrashLoopBackOff"))
	deleting.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	initCrash := pod("init", corev1.PodPending)
	initCrash.Status.InitContainerStatuses = []corev1.ContainerStatus{waiting("CrashLoopBackOff")}

	tests := []struct {
		name       string
		pods       []*corev1.Pod
		wantReason string // "" for no failure
		wantInMsg  string
	}{
		{"none", nil, "", ""},
		{"starting", []*corev1.Pod{pod("a", corev1.PodPending, waiting("ContainerCreating"))}, "", ""},
		{"crash loop", []*corev1.Pod{pod("a", corev1.PodRunning, waiting("CrashLoopBackOff"))}, ReasonCrashLoopBackOff, "pod a: container web: msg"},
		{"init container crash loop", []*corev1.Pod{initCrash}, ReasonCrashLoopBackOff, "pod init"},
		{"image pull back-off", []*corev1.Pod{pod("a", corev1.PodPending, waiting("ImagePullBackOff"))}, ReasonImagePullBackOff, ""},
		{"image pull error", []*corev1.Pod{pod("a", corev1.PodPending, waiting("ErrImagePull"))}, ReasonErrImagePull, ""},
		{"config error", []*corev1.Pod{pod("a", corev1.PodPending, waiting("CreateContainerConfigError"))}, "CreateContainerConfigError", ""},
		{"a busy kubelet's secret cache", []*corev1.Pod{pod("a", corev1.PodPending, corev1.ContainerStatus{Name: "web", State: corev1.ContainerState{
			Waiting: &corev1.ContainerStateWaiting{Reason: "CreateContainerConfigError", Message: "failed to sync secret cache: timed out waiting for the condition"}}})}, "", ""},
		{"restarted after errors", []*corev1.Pod{pod("a", corev1.PodRunning, restarted(3, 137))}, ReasonContainerFailing, "restarted 3 times, last exited with code 137 (Error)"},
		{"restarted twice", []*corev1.Pod{pod("a", corev1.PodRunning, restarted(2, 1))}, "", ""},
		{"restarted cleanly", []*corev1.Pod{pod("a", corev1.PodRunning, restarted(5, 0))}, "", ""},
		{"three failed pods", []*corev1.Pod{failed("a"), failed("b"), failed("c")}, ReasonContainerFailing, "3 pods of the new revision failed; pod c: container web exited with code 2"},
		{"two failed pods", []*corev1.Pod{failed("a"), failed("b")}, "", ""},
		{"evictions are not failures", []*corev1.Pod{failed("a"), failed("b"), evicted}, "", ""},
		{"terminating pods do not count", []*corev1.Pod{deleting}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := podsFailure(tt.pods)
			switch {
			case tt.wantReason == "" && f != nil:
				t.Fatalf("podsFailure = %+v, want none", f)
			case tt.wantReason == "":
				return
			case f == nil:
				t.Fatalf("podsFailure = nil, want %s", tt.wantReason)
			}
			if f.Reason != tt.wantReason || !strings.Contains(f.Message, tt.wantInMsg) {
				t.Errorf("podsFailure = %+v, want reason %s and a message with %q", f, tt.wantReason, tt.wantInMsg)
			}
		})
	}
}

func TestDeploymentStatus(t *testing.T) {
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	deploy := func(gen, observed int64, desired, replicas, updated, ready, available int32, conds ...appsv1.DeploymentCondition) *appsv1.Deployment {
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Generation: gen},
			Spec:       appsv1.DeploymentSpec{Replicas: ptr.To(desired), ProgressDeadlineSeconds: ptr.To[int32](10)},
			Status: appsv1.DeploymentStatus{ObservedGeneration: observed, Replicas: replicas, UpdatedReplicas: updated,
				ReadyReplicas: ready, AvailableReplicas: available, Conditions: conds},
		}
	}
	timedOut := func(at time.Time) appsv1.DeploymentCondition {
		return appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse,
			Reason: ReasonProgressDeadlineExceeded, Message: "timed out", LastUpdateTime: metav1.Time{Time: at}}
	}
	tests := []struct {
		name  string
		d     *appsv1.Deployment
		now   time.Time
		phase RolloutPhase
		msg   string
	}{
		{"complete", deploy(2, 2, 3, 3, 3, 3, 3), start, PhaseAvailable, "3 of 3 replicas available"},
		{"zero replicas", deploy(1, 1, 0, 0, 0, 0, 0), start, PhaseAvailable, "0 of 0"},
		{"not observed", deploy(3, 2, 3, 3, 3, 3, 3), start, PhaseProgressing, "observe generation 3"},
		{"updating", deploy(2, 2, 3, 4, 1, 3, 3), start, PhaseProgressing, "1 of 3 replicas updated"},
		{"old pods left", deploy(2, 2, 3, 4, 3, 4, 4), start, PhaseProgressing, "1 old replicas pending termination"},
		{"not yet available", deploy(2, 2, 3, 3, 3, 3, 2), start, PhaseProgressing, "2 of 3 updated replicas available"},
		{"extra pods", deploy(2, 2, 2, 3, 3, 3, 3), start, PhaseProgressing, "1 extra replicas"},
		{"deadline passed during the wait", deploy(2, 2, 3, 4, 1, 3, 3, timedOut(start.Add(5*time.Second))), start.Add(6 * time.Second), PhaseFailed, "timed out"},
		{"stale deadline condition", deploy(2, 2, 3, 4, 1, 3, 3, timedOut(start.Add(-time.Minute))), start.Add(5 * time.Second), PhaseProgressing, "1 of 3 replicas updated"},
		{"stale condition ripens after a deadline", deploy(2, 2, 3, 4, 1, 3, 3, timedOut(start.Add(-time.Minute))), start.Add(10 * time.Second), PhaseFailed, "timed out"},
		{"old condition before the controller observed", deploy(3, 2, 3, 4, 1, 3, 3, timedOut(start)), start, PhaseProgressing, "observe generation 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := deploymentStatus(tt.d, start, tt.now)
			if got.Phase != tt.phase || !strings.Contains(got.Message, tt.msg) {
				t.Errorf("deploymentStatus = %s %q, want %s with %q", got.Phase, got.Message, tt.phase, tt.msg)
			}
		})
	}
}

func TestCurrentReplicaSet(t *testing.T) {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{UID: "d"}}
	d.Spec.Template.Labels = map[string]string{"app": "web"}
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "web", Image: "web:2"}}
	rs := func(name, image string, owner string, created int) *appsv1.ReplicaSet {
		r := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: name, UID: ktypes.UID("rs-" + name),
			CreationTimestamp: metav1.Time{Time: time.Unix(int64(created), 0)},
			OwnerReferences:   []metav1.OwnerReference{{UID: "d", Controller: ptr.To(true)}}}}
		r.OwnerReferences[0].UID = ktypes.UID(owner)
		r.Spec.Template.Labels = map[string]string{"app": "web", appsv1.DefaultDeploymentUniqueLabelKey: name}
		r.Spec.Template.Spec.Containers = []corev1.Container{{Name: "web", Image: image}}
		return r
	}
	rss := []*appsv1.ReplicaSet{rs("old", "web:1", "d", 1), rs("other-owner", "web:2", "x", 1), rs("newer", "web:2", "d", 3), rs("new", "web:2", "d", 2)}
	if got := currentReplicaSet(d, rss); got == nil || got.Name != "new" {
		t.Errorf("currentReplicaSet = %v, want the oldest matching one, new", got)
	}
	if got := currentReplicaSet(d, rss[:2]); got != nil {
		t.Errorf("currentReplicaSet = %s, want none", got.Name)
	}
}
