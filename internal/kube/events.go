package kube

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/berth-dev/berth/internal/berth"
)

// WatchEvents calls handle with every Kubernetes event in namespace — first those the
// cluster has now, then each one added or updated (the same event happening again) — until
// ctx ends, then returns nil. handle is called from one goroutine at a time and gets the
// event without environment, team or app, which the caller knows. A namespace that does
// not exist yet is watched all the same. Watches reconnect on their own after a dropped
// connection; each failure is logged.
func (c *Cluster) WatchEvents(ctx context.Context, namespace string, handle func(berth.ClusterEvent)) error {
	inf := c.eventInformer(namespace)
	_ = inf.SetWatchErrorHandlerWithContext(func(ctx context.Context, r *cache.Reflector, err error) {
		c.log.WarnContext(ctx, "watch events", "namespace", namespace, "err", err)
		cache.DefaultWatchErrorHandler(ctx, r, err)
	})
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if e, ok := obj.(*corev1.Event); ok {
				handle(seenNow(clusterEvent(e)))
			}
		},
		UpdateFunc: func(old, obj any) {
			o, _ := old.(*corev1.Event)
			e, ok := obj.(*corev1.Event)
			if ok && (o == nil || o.ResourceVersion != e.ResourceVersion) {
				handle(seenNow(clusterEvent(e)))
			}
		},
	})
	inf.RunWithContext(ctx)
	return nil
}

// WatchEvents calls handle, in env's cluster, with the events of namespace until ctx ends
// (see Cluster.WatchEvents).
func (p *Pool) WatchEvents(ctx context.Context, env berth.Environment, namespace string, handle func(berth.ClusterEvent)) error {
	c, err := p.For(ctx, env)
	if err != nil {
		return err
	}
	return c.c.WatchEvents(ctx, namespace, handle)
}

// eventInformer caches the events of namespace.
func (c *Cluster) eventInformer(namespace string) cache.SharedIndexInformer {
	evs := c.core.Events(namespace)
	inf := newInformer(&corev1.Event{}, func(*metav1.ListOptions) {}, evs.List, evs.Watch)
	// Only what clusterEvent reads is kept: a busy namespace holds many events.
	_ = inf.SetTransform(func(obj any) (any, error) {
		if e, ok := obj.(*corev1.Event); ok {
			e.ManagedFields = nil
			e.Annotations = nil
		}
		return obj, nil
	})
	return inf
}

// listEvents returns the events in namespace now.
func (c *Cluster) listEvents(ctx context.Context, namespace string) ([]berth.ClusterEvent, error) {
	var list *corev1.EventList
	err := c.retry(ctx, "list events in "+namespace, func(ctx context.Context) error {
		var err error
		list, err = c.core.Events(namespace).List(ctx, metav1.ListOptions{})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list events in %s: %w", namespace, err)
	}
	out := make([]berth.ClusterEvent, len(list.Items))
	for i := range list.Items {
		out[i] = clusterEvent(&list.Items[i])
	}
	return out, nil
}

// seenNow places an event of a core/v1 recorder, whose time is cut to the second, at the
// moment it was seen when that is within its second: events of the same second then keep
// the order they happened in among those timed to the microsecond (a deployment's last
// scale-down after its new pod started), instead of all sorting first in that second.
func seenNow(ev berth.ClusterEvent) berth.ClusterEvent {
	now := time.Now().UTC()
	if ev.LastAt.Nanosecond() == 0 && !now.Before(ev.LastAt) && now.Sub(ev.LastAt) < time.Second {
		ev.LastAt = now
	}
	return ev
}

// clusterEvent is a Kubernetes event in the domain's terms. Events come in two shapes: those
// of the core/v1 recorders (first and last timestamps to the second, a count) and those of
// events.k8s.io recorders (an event time to the microsecond, a series when repeated).
func clusterEvent(e *corev1.Event) berth.ClusterEvent {
	last := e.LastTimestamp.Time
	if e.Series != nil && !e.Series.LastObservedTime.IsZero() {
		last = e.Series.LastObservedTime.Time
	}
	if last.IsZero() || (!e.EventTime.IsZero() && e.Series == nil && e.EventTime.Time.Truncate(time.Second).Equal(last)) {
		// The event time says the same to the microsecond, which orders it among log lines.
		if !e.EventTime.IsZero() {
			last = e.EventTime.Time
		}
	}
	if last.IsZero() {
		last = e.CreationTimestamp.Time
	}
	first := e.FirstTimestamp.Time
	if first.IsZero() {
		first = e.EventTime.Time
	}
	if first.IsZero() || first.After(last) {
		first = last
	}
	count := int(e.Count)
	if e.Series != nil && int(e.Series.Count) > count {
		count = int(e.Series.Count)
	}
	if count < 1 {
		count = 1
	}
	return berth.ClusterEvent{
		UID:     string(e.UID),
		Type:    e.Type,
		Reason:  e.Reason,
		Object:  strings.ToLower(e.InvolvedObject.Kind) + "/" + e.InvolvedObject.Name,
		Message: strings.TrimSpace(e.Message),
		Count:   count,
		FirstAt: first.UTC(),
		LastAt:  last.UTC(),
	}
}
