package kube

import (
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// This file judges a rollout from objects alone: no I/O and no clock of its own, so the
// rules are table-tested and the same for WaitRollout and Status.

// revisionAnnotation is the rollout number the deployment controller keeps on Deployments
// and ReplicaSets.
const revisionAnnotation = "deployment.kubernetes.io/revision"

// failedRestarts is how many failed runs of the new revision's containers — restarts after
// a non-zero exit, or pods that ended Failed — fail a rollout. One crash may be a fluke;
// three in a row is the app.
const failedRestarts = 3

// fatalWaitReasons are the kubelet's reasons for a container that will not start without a
// change to the Deployment (or to what it references).
var fatalWaitReasons = map[string]bool{
	ReasonCrashLoopBackOff:       true,
	ReasonImagePullBackOff:       true,
	ReasonErrImagePull:           true,
	"InvalidImageName":           true,
	"ErrImageNeverPull":          true,
	"CreateContainerConfigError": true,
}

// kubeletCatchingUp reports whether a container waits on the kubelet itself rather than on
// the Deployment: "failed to sync secret cache: timed out waiting for the condition" (or
// configmap cache) is a CreateContainerConfigError that a busy kubelet clears by itself on
// its next try, where a missing Secret or key is not.
func kubeletCatchingUp(w *corev1.ContainerStateWaiting) bool {
	return w.Reason == "CreateContainerConfigError" && strings.Contains(w.Message, "failed to sync") && strings.Contains(w.Message, "cache")
}

// deploymentStatus is d's rollout as its status reports it. start is when the caller began
// watching (zero for "trust every condition"): a ProgressDeadlineExceeded condition from
// before start may be left from an earlier rollout — the controller keeps it until the new
// one makes progress — so it counts only once a whole progress deadline has passed since.
func deploymentStatus(d *appsv1.Deployment, start, now time.Time) RolloutStatus {
	desired := ptr.Deref(d.Spec.Replicas, 1)
	s := RolloutStatus{
		Generation:         d.Generation,
		ObservedGeneration: d.Status.ObservedGeneration,
		Revision:           d.Annotations[revisionAnnotation],
		Desired:            desired,
		Updated:            d.Status.UpdatedReplicas,
		Ready:              d.Status.ReadyReplicas,
		Available:          d.Status.AvailableReplicas,
		Old:                max(0, d.Status.Replicas-d.Status.UpdatedReplicas),
		Phase:              PhaseProgressing,
	}
	switch {
	case s.ObservedGeneration < s.Generation:
		s.Message = fmt.Sprintf("waiting for the deployment controller to observe generation %d", s.Generation)
	case deadlineExceeded(d, start, now) != nil:
		s.Phase = PhaseFailed
		s.Message = deadlineExceeded(d, start, now).Message
	case d.Spec.Paused:
		s.Message = "the Deployment is paused"
	case s.Updated < desired:
		s.Message = fmt.Sprintf("%d of %d replicas updated", s.Updated, desired)
	case s.Old > 0:
		s.Message = fmt.Sprintf("%d old replicas pending termination", s.Old)
	case s.Available < desired || s.Ready < desired:
		s.Message = fmt.Sprintf("%d of %d updated replicas available", min(s.Available, s.Ready), desired)
	case s.Updated > desired || s.Ready > desired || s.Available > desired:
		s.Message = fmt.Sprintf("%d extra replicas pending termination", max(s.Updated, s.Ready, s.Available)-desired)
	default:
		s.Phase = PhaseAvailable
		s.Message = fmt.Sprintf("%d of %d replicas available", s.Available, desired)
	}
	return s
}

// deadlineExceeded returns d's Progressing condition when it says the progress deadline
// passed and that is news (see deploymentStatus).
func deadlineExceeded(d *appsv1.Deployment, start, now time.Time) *appsv1.DeploymentCondition {
	for i := range d.Status.Conditions {
		c := &d.Status.Conditions[i]
		if c.Type != appsv1.DeploymentProgressing || c.Reason != ReasonProgressDeadlineExceeded {
			continue
		}
		// Allow a second of clock skew between the cluster and us.
		if start.IsZero() || !c.LastUpdateTime.Time.Before(start.Add(-time.Second)) {
			return c
		}
		deadline := time.Duration(ptr.Deref(d.Spec.ProgressDeadlineSeconds, 600)) * time.Second
		if now.Sub(start) >= deadline {
			return c
		}
	}
	return nil
}

// currentReplicaSet returns the ReplicaSet of d's current pod template, as the deployment
// controller picks it (the oldest one controlled by d whose template equals d's, ignoring
// the pod-template-hash label), or nil before the controller created it.
func currentReplicaSet(d *appsv1.Deployment, rss []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	var cands []*appsv1.ReplicaSet
	for _, rs := range rss {
		if owner := metav1.GetControllerOf(rs); owner != nil && owner.UID == d.UID && equalIgnoreHash(&d.Spec.Template, &rs.Spec.Template) {
			cands = append(cands, rs)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	return slices.MinFunc(cands, func(a, b *appsv1.ReplicaSet) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
}

func equalIgnoreHash(a, b *corev1.PodTemplateSpec) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	delete(a.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	delete(b.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
	return apiequality.Semantic.DeepEqual(a, b)
}

// ownedBy returns the pods rs controls, by name.
func ownedBy(rs *appsv1.ReplicaSet, pods []*corev1.Pod) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range pods {
		if owner := metav1.GetControllerOf(p); owner != nil && owner.UID == rs.UID {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b *corev1.Pod) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// podFailure is why pods of a revision cannot become ready.
type podFailure struct {
	Reason, Message, Pod string
}

// podsFailure says why the pods of the current revision cannot become ready, or nil when
// nothing shows that they cannot (they may still be starting).
func podsFailure(pods []*corev1.Pod) *podFailure {
	var failed []*corev1.Pod
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		for _, cs := range containerStatuses(p) {
			if w := cs.State.Waiting; w != nil && fatalWaitReasons[w.Reason] && !kubeletCatchingUp(w) {
				return &podFailure{Reason: w.Reason, Pod: p.Name,
					Message: fmt.Sprintf("pod %s: container %s: %s", p.Name, cs.Name, orDefault(w.Message, w.Reason))}
			}
			if t := lastFailure(cs); t != nil && cs.RestartCount >= failedRestarts {
				return &podFailure{Reason: ReasonContainerFailing, Pod: p.Name,
					Message: fmt.Sprintf("pod %s: container %s restarted %d times, last %s", p.Name, cs.Name, cs.RestartCount, describeExit(t))}
			}
		}
		// A pod that ended Failed on its own (not evicted or preempted, which set a pod
		// reason) is the app's doing; the ReplicaSet replaces it, so count across pods.
		if p.Status.Phase == corev1.PodFailed && p.Status.Reason == "" {
			failed = append(failed, p)
		}
	}
	if len(failed) >= failedRestarts {
		p := failed[len(failed)-1]
		msg := fmt.Sprintf("%d pods of the new revision failed; pod %s", len(failed), p.Name)
		for _, cs := range containerStatuses(p) {
			if t := cs.State.Terminated; t != nil && t.ExitCode != 0 {
				msg += fmt.Sprintf(": container %s %s", cs.Name, describeExit(t))
				break
			}
		}
		return &podFailure{Reason: ReasonContainerFailing, Pod: p.Name, Message: msg}
	}
	return nil
}

func containerStatuses(p *corev1.Pod) []corev1.ContainerStatus {
	return slices.Concat(p.Status.InitContainerStatuses, p.Status.ContainerStatuses)
}

// lastFailure returns the container's most recent exit when it was a failure.
func lastFailure(cs corev1.ContainerStatus) *corev1.ContainerStateTerminated {
	if t := cs.State.Terminated; t != nil {
		if t.ExitCode != 0 {
			return t
		}
		return nil
	}
	if t := cs.LastTerminationState.Terminated; t != nil && t.ExitCode != 0 {
		return t
	}
	return nil
}

func describeExit(t *corev1.ContainerStateTerminated) string {
	s := fmt.Sprintf("exited with code %d", t.ExitCode)
	if t.Reason != "" {
		s += " (" + t.Reason
		if t.Message != "" {
			s += ": " + t.Message
		}
		s += ")"
	}
	return s
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
