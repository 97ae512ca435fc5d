package kube

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ErrNotFound says the object asked for does not exist.
var ErrNotFound = errors.New("not found")

// LiveStatus is what runs for one Deployment: its rollout and its pods.
type LiveStatus struct {
	Namespace, Name string
	RolloutStatus
	// Images are the container images of the Deployment's current pod template.
	Images []string
	// Pods are the pods of every revision, current ones first, each group by name.
	Pods []PodState
}

// PodState is one pod as the cluster reports it.
type PodState struct {
	Name string
	// Phase is the pod's phase: Pending, Running, Succeeded, Failed or Unknown.
	Phase string
	Ready bool
	// Restarts adds up its containers' restarts.
	Restarts int32
	// Reason and Message say why it is not running or not ready, when something says so:
	// a container's waiting or failed-exit reason, or the pod's own (such as Evicted).
	Reason, Message string
	// Current is true for pods of the Deployment's current template, false for older ones.
	Current     bool
	Terminating bool
	Node        string
	Created     time.Time
}

// Status reports Deployment namespace/name and its pods now. The phase is Failed when its
// progress deadline passed or its current pods cannot start (see WaitRollout). A missing
// Deployment is an error wrapping ErrNotFound.
func (c *Cluster) Status(ctx context.Context, namespace, name string) (LiveStatus, error) {
	var d *appsv1.Deployment
	err := c.retry(ctx, "get deployment "+name, func(ctx context.Context) error {
		var err error
		d, err = c.apps.Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		return LiveStatus{}, fmt.Errorf("status of deployment %s/%s: %w", namespace, name, ErrNotFound)
	}
	if err != nil {
		return LiveStatus{}, fmt.Errorf("status of deployment %s/%s: %w", namespace, name, err)
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return LiveStatus{}, fmt.Errorf("status of deployment %s/%s: selector: %w", namespace, name, err)
	}
	list := metav1.ListOptions{LabelSelector: sel.String()}
	var rsList *appsv1.ReplicaSetList
	if err := c.retry(ctx, "list replicasets of "+name, func(ctx context.Context) error {
		var err error
		rsList, err = c.apps.ReplicaSets(namespace).List(ctx, list)
		return err
	}); err != nil {
		return LiveStatus{}, fmt.Errorf("status of deployment %s/%s: list replica sets: %w", namespace, name, err)
	}
	var podList *corev1.PodList
	if err := c.retry(ctx, "list pods of "+name, func(ctx context.Context) error {
		var err error
		podList, err = c.core.Pods(namespace).List(ctx, list)
		return err
	}); err != nil {
		return LiveStatus{}, fmt.Errorf("status of deployment %s/%s: list pods: %w", namespace, name, err)
	}
	rss := pointers(rsList.Items)
	pods := pointers(podList.Items)

	st, failure := judge(d, rss, pods, time.Time{}, time.Now())
	if failure != nil {
		st.Phase, st.Message = PhaseFailed, failure.Message
	}
	ls := LiveStatus{Namespace: namespace, Name: name, RolloutStatus: st}
	for _, ctr := range d.Spec.Template.Spec.Containers {
		ls.Images = append(ls.Images, ctr.Image)
	}
	current := currentReplicaSet(d, rss)
	for _, rs := range rss {
		if owner := metav1.GetControllerOf(rs); owner == nil || owner.UID != d.UID {
			continue
		}
		for _, p := range ownedBy(rs, pods) {
			ls.Pods = append(ls.Pods, podState(p, current != nil && rs.UID == current.UID))
		}
	}
	slices.SortStableFunc(ls.Pods, func(a, b PodState) int {
		if a.Current != b.Current {
			if a.Current {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return ls, nil
}

func podState(p *corev1.Pod, current bool) PodState {
	ps := PodState{
		Name:        p.Name,
		Phase:       string(p.Status.Phase),
		Current:     current,
		Terminating: p.DeletionTimestamp != nil,
		Node:        p.Spec.NodeName,
		Created:     p.CreationTimestamp.Time,
		Reason:      p.Status.Reason,
		Message:     p.Status.Message,
	}
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodReady {
			ps.Ready = cond.Status == corev1.ConditionTrue
		}
	}
	for _, cs := range containerStatuses(p) {
		ps.Restarts += cs.RestartCount
		if ps.Reason != "" {
			continue
		}
		switch {
		case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
			ps.Reason, ps.Message = cs.State.Waiting.Reason, cs.State.Waiting.Message
		case lastFailure(cs) != nil && !cs.Ready:
			t := lastFailure(cs)
			ps.Reason, ps.Message = orDefault(t.Reason, "Error"), describeExit(t)
		}
	}
	return ps
}

func pointers[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}
