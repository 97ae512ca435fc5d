package kube

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
)

// RolloutPhase is where a rollout stands.
type RolloutPhase string

// Rollout phases.
const (
	PhaseProgressing RolloutPhase = "Progressing"
	PhaseAvailable   RolloutPhase = "Available"
	PhaseFailed      RolloutPhase = "Failed"
)

// RolloutStatus is a Deployment's rollout as the cluster reports it.
type RolloutStatus struct {
	Phase RolloutPhase
	// Message says in a few words what the rollout waits for, or why it failed.
	Message string
	// Generation is the Deployment's spec generation; ObservedGeneration the one its
	// controller has acted on.
	Generation, ObservedGeneration int64
	// Revision is the controller's rollout number (deployment.kubernetes.io/revision).
	Revision string
	// Desired is spec.replicas; Updated, Ready and Available count the replicas of the
	// current template, ready ones and available ones; Old counts replicas of earlier
	// templates still running.
	Desired, Updated, Ready, Available, Old int32
}

// RolloutOptions tune WaitRollout.
type RolloutOptions struct {
	// Timeout fails the rollout with ReasonTimeout when it is not available by then;
	// zero leaves the bound to ctx and the Deployment's progress deadline.
	Timeout time.Duration
	// Progress, when set, is called with the first status and then on every change, from
	// WaitRollout's goroutine; it should return quickly.
	Progress func(RolloutStatus)
}

// Reasons a rollout fails with (RolloutError.Reason). Other kubelet reasons a container
// cannot start with, such as CreateContainerConfigError, pass through as they are.
const (
	ReasonProgressDeadlineExceeded = "ProgressDeadlineExceeded"
	ReasonCrashLoopBackOff         = "CrashLoopBackOff"
	ReasonImagePullBackOff         = "ImagePullBackOff"
	ReasonErrImagePull             = "ErrImagePull"
	// ReasonContainerFailing: containers of the new revision exited with errors repeatedly.
	ReasonContainerFailing = "ContainerFailing"
	// ReasonTimeout: RolloutOptions.Timeout passed.
	ReasonTimeout = "Timeout"
	// ReasonDeleted: the Deployment was deleted while it rolled out.
	ReasonDeleted = "DeploymentDeleted"
)

// RolloutError says a rollout failed and cannot succeed without a change.
type RolloutError struct {
	Namespace, Deployment string
	Reason                string
	Message               string
	// Pod names the pod whose state failed the rollout, if one did.
	Pod string
	// Status is the rollout's last status.
	Status RolloutStatus
}

func (e *RolloutError) Error() string {
	return fmt.Sprintf("rollout of deployment %s/%s failed: %s: %s", e.Namespace, e.Deployment, e.Reason, e.Message)
}

var errRolloutTimeout = errors.New("rollout timeout")

// WaitRollout watches Deployment namespace/name until its rollout completes — the
// controller observed the latest generation, and updated, ready and available replicas all
// equal the desired count with no old replicas left — and returns its final status.
//
// It fails with a *RolloutError as soon as the rollout cannot succeed: the Deployment's
// progress deadline passed, a pod of the new revision waits in CrashLoopBackOff,
// ImagePullBackOff or ErrImagePull, its containers exited with errors repeatedly, or
// o.Timeout passed. When ctx ends first it returns ctx's error instead, as the rollout
// itself has not failed. Watches reconnect on their own when the connection drops.
func (c *Cluster) WaitRollout(ctx context.Context, namespace, name string, o RolloutOptions) (RolloutStatus, error) {
	start := time.Now()
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, o.Timeout, errRolloutTimeout)
		defer cancel()
	}
	fail := func(st RolloutStatus, f *podFailure) (RolloutStatus, error) {
		st.Phase = PhaseFailed
		st.Message = f.Message
		return st, &RolloutError{Namespace: namespace, Deployment: name, Reason: f.Reason, Message: f.Message, Pod: f.Pod, Status: st}
	}
	ended := func(st RolloutStatus, w *rolloutWatch) (RolloutStatus, error) {
		if errors.Is(context.Cause(ctx), errRolloutTimeout) {
			msg := fmt.Sprintf("not available after %s: %s", o.Timeout, orDefault(st.Message, "no status yet"))
			if w != nil {
				if err := w.lastError(); err != nil {
					msg += fmt.Sprintf(" (last watch error: %v)", err)
				}
			}
			st, err := fail(st, &podFailure{Reason: ReasonTimeout, Message: msg})
			if o.Progress != nil {
				o.Progress(st)
			}
			return st, err
		}
		return st, fmt.Errorf("wait for rollout of deployment %s/%s: %w", namespace, name, context.Cause(ctx))
	}

	var d *appsv1.Deployment
	err := c.retry(ctx, "get deployment "+name, func(ctx context.Context) error {
		var err error
		d, err = c.apps.Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return ended(RolloutStatus{}, nil)
		}
		return RolloutStatus{}, fmt.Errorf("wait for rollout: get deployment %s/%s: %w", namespace, name, err)
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return RolloutStatus{}, fmt.Errorf("wait for rollout: deployment %s/%s: selector: %w", namespace, name, err)
	}

	w := c.watchRollout(ctx, namespace, name, sel)
	defer w.stop()
	if !cache.WaitForCacheSync(ctx.Done(), w.synced...) {
		return ended(deploymentStatus(d, start, time.Now()), w)
	}
	// Time-based rules (a stale deadline condition ripening) need a look now and then even
	// when nothing changes.
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var last RolloutStatus
	for first := true; ; first = false {
		st, failure, gone := w.evaluate(start, time.Now())
		if gone {
			st, failure = last, &podFailure{Reason: ReasonDeleted, Message: "the Deployment was deleted"}
		}
		if failure != nil {
			st.Phase, st.Message = PhaseFailed, failure.Message
		}
		if first || st != last {
			last = st
			if o.Progress != nil {
				o.Progress(st)
			}
		}
		switch {
		case st.Phase == PhaseAvailable:
			return st, nil
		case failure != nil:
			return fail(st, failure)
		}
		select {
		case <-ctx.Done():
			return ended(st, w)
		case <-w.changed:
		case <-tick.C:
		}
	}
}

// rolloutWatch keeps a Deployment, its ReplicaSets and their pods in informer caches,
// which list, watch, and relist after a dropped or expired watch by themselves.
type rolloutWatch struct {
	name    string
	deploys cache.Store
	rss     cache.Store
	pods    cache.Store
	synced  []cache.InformerSynced
	changed chan struct{}
	cancel  context.CancelFunc
	running sync.WaitGroup

	mu      sync.Mutex
	lastErr error
}

// resync re-delivers cached objects now and then, a safety net for a missed event.
const resync = 30 * time.Second

func (c *Cluster) watchRollout(ctx context.Context, namespace, name string, sel labels.Selector) *rolloutWatch {
	ctx, cancel := context.WithCancel(ctx)
	w := &rolloutWatch{name: name, changed: make(chan struct{}, 1), cancel: cancel}
	byName := func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
	}
	bySelector := func(o *metav1.ListOptions) { o.LabelSelector = sel.String() }
	deploys := c.apps.Deployments(namespace)
	rss := c.apps.ReplicaSets(namespace)
	pods := c.core.Pods(namespace)
	deployInf := newInformer(&appsv1.Deployment{}, byName, deploys.List, deploys.Watch)
	rsInf := newInformer(&appsv1.ReplicaSet{}, bySelector, rss.List, rss.Watch)
	podInf := newInformer(&corev1.Pod{}, bySelector, pods.List, pods.Watch)

	notify := func() {
		select {
		case w.changed <- struct{}{}:
		default:
		}
	}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { notify() },
		UpdateFunc: func(any, any) { notify() },
		DeleteFunc: func(any) { notify() },
	}
	for _, inf := range []cache.SharedIndexInformer{deployInf, rsInf, podInf} {
		_ = inf.SetWatchErrorHandlerWithContext(func(ctx context.Context, r *cache.Reflector, err error) {
			w.mu.Lock()
			w.lastErr = err
			w.mu.Unlock()
			cache.DefaultWatchErrorHandler(ctx, r, err)
		})
		_, _ = inf.AddEventHandler(handler)
		w.synced = append(w.synced, inf.HasSynced)
		w.running.Go(func() { inf.RunWithContext(ctx) })
	}
	w.deploys = deployInf.GetStore()
	w.rss = rsInf.GetStore()
	w.pods = podInf.GetStore()
	return w
}

// newInformer caches the objects of one resource that list and watch return, narrowed by
// narrow (a field or label selector). It does what an informer factory's informer does,
// without the factory, whose package links in every API group (see deps_test.go).
func newInformer[L runtime.Object](
	example runtime.Object,
	narrow func(*metav1.ListOptions),
	list func(context.Context, metav1.ListOptions) (L, error),
	watchFn func(context.Context, metav1.ListOptions) (watch.Interface, error),
) cache.SharedIndexInformer {
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			narrow(&o)
			return list(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			narrow(&o)
			return watchFn(ctx, o)
		},
	}
	return cache.NewSharedIndexInformerWithOptions(lw, example, cache.SharedIndexInformerOptions{ResyncPeriod: resync})
}

// stop ends the watches and waits until their informers have returned.
func (w *rolloutWatch) stop() {
	w.cancel()
	w.running.Wait()
}

func (w *rolloutWatch) lastError() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lastErr
}

// evaluate judges the rollout from the caches; gone reports a deleted Deployment.
func (w *rolloutWatch) evaluate(start, now time.Time) (st RolloutStatus, failure *podFailure, gone bool) {
	var d *appsv1.Deployment
	for _, obj := range w.deploys.List() {
		if dd := obj.(*appsv1.Deployment); dd.Name == w.name {
			d = dd
		}
	}
	if d == nil {
		return RolloutStatus{}, nil, true
	}
	rss := listAs[*appsv1.ReplicaSet](w.rss)
	pods := listAs[*corev1.Pod](w.pods)
	st, failure = judge(d, rss, pods, start, now)
	return st, failure, false
}

// judge combines the Deployment's status with what its current pods show.
func judge(d *appsv1.Deployment, rss []*appsv1.ReplicaSet, pods []*corev1.Pod, start, now time.Time) (RolloutStatus, *podFailure) {
	st := deploymentStatus(d, start, now)
	if st.Phase == PhaseAvailable {
		return st, nil
	}
	if rs := currentReplicaSet(d, rss); rs != nil {
		if f := podsFailure(ownedBy(rs, pods)); f != nil {
			return st, f
		}
	}
	if st.Phase == PhaseFailed {
		return st, &podFailure{Reason: ReasonProgressDeadlineExceeded, Message: st.Message}
	}
	return st, nil
}

func listAs[T any](s cache.Store) []T {
	objs := s.List()
	out := make([]T, 0, len(objs))
	for _, o := range objs {
		if t, ok := o.(T); ok {
			out = append(out, t)
		}
	}
	return out
}
