package kube

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	"github.com/berth-dev/berth/internal/berth"
)

// Tuning of log streams.
const (
	// reorderWindow is how long a followed record waits for records of other containers
	// (and events) with earlier times, so that a stream fed by many connections comes out
	// in time order.
	reorderWindow = 400 * time.Millisecond
	// maxReorder bounds the records waiting to be put in order.
	maxReorder = 4096
	// maxBacklogBytes bounds what the start of a stream keeps of one container: its
	// newest lines within it.
	maxBacklogBytes = 2 << 20
	// backlogReaders is how many containers' logs the start of a stream reads at once,
	// and backlogTimeout how long one may take (a node that does not answer).
	backlogReaders = 8
	backlogTimeout = 30 * time.Second
	// retryMin and retryMax pace a followed container's reconnects while it waits to
	// start, restarts, or its stream drops.
	retryMin, retryMax = 500 * time.Millisecond, 5 * time.Second
)

// AppLogs streams what the containers of the pods q.Selector selects in namespace write,
// and the cluster's events about the app's objects (q.Events), to emit in time order: first
// the last q.Tail lines of each container (or those since q.Since) and the newest events,
// merged by time; then, with q.Follow, new lines, new pods as they start (a rollout's) and
// new events, until ctx ends, when it returns nil. Pods that are deleted stop being
// followed. emit is called from one goroutine; its error (the client went away) ends the
// stream and is returned. Lines are cut at berth.MaxLogLine bytes, and at most
// berth.MaxLogStreams containers are read at once.
func (c *Cluster) AppLogs(ctx context.Context, namespace string, q berth.LogQuery, emit func(berth.LogRecord) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sel := labels.SelectorFromSet(q.Selector)
	pods, err := c.appPods(ctx, namespace, sel.String(), q.Pod)
	if err != nil {
		return err
	}
	if q.Pod != "" && len(pods) == 0 {
		return fmt.Errorf("pod %s: %w: it is not one of the app's pods in namespace %s", q.Pod, berth.ErrNotFound, namespace)
	}
	if q.Container != "" && len(pods) > 0 && !slices.ContainsFunc(pods, func(p *corev1.Pod) bool { return hasContainer(p, q.Container) }) {
		return fmt.Errorf("container %s: %w: the app's pods have containers %s", q.Container, berth.ErrNotFound,
			strings.Join(containerNames(pods[0], ""), ", "))
	}
	s := &logStream{c: c, namespace: namespace, q: q, marks: map[streamKey]mark{}, seenEvents: map[string]int{}}
	start := time.Now()
	backlog, err := s.backlog(ctx, pods)
	if err != nil {
		return err
	}
	for _, r := range backlog {
		if err := emit(r); err != nil {
			return err
		}
	}
	if !q.Follow {
		return nil
	}
	if q.Tail == 0 && q.Since.IsZero() {
		s.from = start // only what is written from now on
	} else {
		s.from = q.Since
	}
	s.initial = map[string]bool{}
	for _, p := range pods {
		s.initial[p.Name] = true
	}
	return s.follow(ctx, sel, emit)
}

// AppLogs streams, in env's cluster, an app's logs and events (see Cluster.AppLogs).
func (p *Pool) AppLogs(ctx context.Context, env berth.Environment, namespace string, q berth.LogQuery, emit func(berth.LogRecord) error) error {
	c, err := p.For(ctx, env)
	if err != nil {
		return err
	}
	return c.c.AppLogs(ctx, namespace, q, emit)
}

// appPods lists the app's pods (only pod, when set), oldest first.
func (c *Cluster) appPods(ctx context.Context, namespace, selector, pod string) ([]*corev1.Pod, error) {
	opts := metav1.ListOptions{LabelSelector: selector}
	if pod != "" {
		opts.FieldSelector = fields.OneTermEqualSelector("metadata.name", pod).String()
	}
	var list *corev1.PodList
	err := c.retry(ctx, "list pods in "+namespace, func(ctx context.Context) error {
		var err error
		list, err = c.core.Pods(namespace).List(ctx, opts)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list the app's pods in %s: %w", namespace, err)
	}
	pods := pointers(list.Items)
	slices.SortFunc(pods, func(a, b *corev1.Pod) int {
		return cmp.Or(a.CreationTimestamp.Compare(b.CreationTimestamp.Time), strings.Compare(a.Name, b.Name))
	})
	return pods, nil
}

// containerNames are the containers of p a stream reads: only, when set (an init container
// too), or every app container.
func containerNames(p *corev1.Pod, only string) []string {
	var out []string
	for _, ctr := range p.Spec.Containers {
		if only == "" || ctr.Name == only {
			out = append(out, ctr.Name)
		}
	}
	for _, ctr := range p.Spec.InitContainers {
		if only != "" && ctr.Name == only {
			out = append(out, ctr.Name)
		}
	}
	return out
}

func hasContainer(p *corev1.Pod, name string) bool { return len(containerNames(p, name)) > 0 }

// streamKey is one container of one pod.
type streamKey struct{ pod, container string }

// mark is where a container's stream is: the time of the last line sent, and how many
// lines with that very time were sent, to skip on reconnecting (the API's sinceTime counts
// whole seconds).
type mark struct {
	at   time.Time
	seen int
}

func (m *mark) advance(t time.Time) {
	if t.Equal(m.at) {
		m.seen++
		return
	}
	m.at, m.seen = t, 1
}

// logStream is one AppLogs call.
type logStream struct {
	c         *Cluster
	namespace string
	q         berth.LogQuery
	// from is where followed containers without a mark start: q.Since, or the stream's
	// start when it began with no lines.
	from time.Time
	// initial are the pods the stream started with; others are announced as they come.
	initial map[string]bool

	mu         sync.Mutex
	marks      map[streamKey]mark
	seenEvents map[string]int // uid -> count sent, or seen when the stream started
}

// backlog reads the start of the stream: each container's last lines, and the newest
// events, in time order.
func (s *logStream) backlog(ctx context.Context, pods []*corev1.Pod) ([]berth.LogRecord, error) {
	var keys []streamKey
	var out []berth.LogRecord
pods:
	for _, p := range pods {
		for _, ctr := range containerNames(p, s.q.Container) {
			if len(keys) == berth.MaxLogStreams {
				out = append(out, notice(fmt.Sprintf("reading the first %d containers only: name a pod with --pod", berth.MaxLogStreams)))
				break pods
			}
			keys = append(keys, streamKey{p.Name, ctr})
		}
	}
	multi := multiContainer(pods)
	if s.q.Tail > 0 || !s.q.Since.IsZero() {
		results := make([][]berth.LogRecord, len(keys))
		sem := make(chan struct{}, backlogReaders)
		var wg sync.WaitGroup
		for i, k := range keys {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				results[i] = s.readBacklog(ctx, k, multi[k.pod])
			})
		}
		wg.Wait()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for _, rs := range results {
			out = append(out, rs...)
		}
	}
	if s.q.Events != nil {
		evs, err := s.c.listEvents(ctx, s.namespace)
		if err != nil {
			return nil, err
		}
		var mine []berth.ClusterEvent
		for _, ev := range evs {
			s.seenEvents[ev.UID] = ev.Count // old events are not sent again when following
			if s.q.Events(ev.Object) && (s.q.Since.IsZero() || !ev.LastAt.Before(s.q.Since)) {
				mine = append(mine, ev)
			}
		}
		slices.SortStableFunc(mine, func(a, b berth.ClusterEvent) int { return a.LastAt.Compare(b.LastAt) })
		if s.q.Since.IsZero() {
			mine = mine[max(0, len(mine)-s.q.Tail):]
		}
		for i := range mine {
			out = append(out, berth.LogRecord{Time: mine[i].LastAt, Event: &mine[i]})
		}
	}
	// Each container's lines are in order already; a stable sort keeps them so.
	slices.SortStableFunc(out, func(a, b berth.LogRecord) int { return a.Time.Compare(b.Time) })
	return out, nil
}

// multiContainer says, per pod, whether it has more than one container, whose lines then
// name their container.
func multiContainer(pods []*corev1.Pod) map[string]bool {
	out := map[string]bool{}
	for _, p := range pods {
		out[p.Name] = len(p.Spec.Containers) > 1
	}
	return out
}

// readBacklog reads the start of one container's log. A container that cannot be read
// (not started yet, no previous instance) is a notice, not a failure of the stream.
func (s *logStream) readBacklog(ctx context.Context, k streamKey, named bool) []berth.LogRecord {
	ctx, cancel := context.WithTimeout(ctx, backlogTimeout)
	defer cancel()
	tail := int64(berth.MaxLogTail)
	if s.q.Since.IsZero() {
		tail = int64(s.q.Tail)
	}
	// No LimitBytes: it would keep the oldest lines of the tail and drop the newest.
	opts := &corev1.PodLogOptions{Container: k.container, Timestamps: true, Previous: s.q.Previous, TailLines: &tail}
	if !s.q.Since.IsZero() {
		opts.SinceTime = &metav1.Time{Time: s.q.Since}
	}
	rc, err := s.c.core.Pods(s.namespace).GetLogs(k.pod, opts).Stream(ctx)
	if err != nil {
		return []berth.LogRecord{notice(fmt.Sprintf("%s: %s", streamName(k, named), logError(err)))}
	}
	defer rc.Close()
	var out []berth.LogRecord
	var m mark
	size, first, dropped := 0, 0, 0 // out[first:] are kept
	err = readLines(rc, func(t time.Time, line string) error {
		if !s.q.Since.IsZero() && t.Before(s.q.Since) {
			return nil // sinceTime counts whole seconds
		}
		m.advance(t)
		out = append(out, logRecord(k, named, t, line))
		for size += len(line); size > maxBacklogBytes; first, dropped = first+1, dropped+1 {
			size -= len(out[first].Line)
			out[first] = berth.LogRecord{}
		}
		return nil
	})
	out = out[first:]
	if dropped > 0 {
		out = append([]berth.LogRecord{notice(fmt.Sprintf("%s: its last %d lines only: with %d more they were over %d MiB",
			streamName(k, named), len(out), dropped, maxBacklogBytes>>20))}, out...)
		out[0].Time = out[1].Time
	}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		out = append(out, notice(fmt.Sprintf("%s: reading its log took over %s: cut there", streamName(k, named), backlogTimeout)))
	case err != nil && ctx.Err() == nil:
		out = append(out, notice(fmt.Sprintf("%s: reading its log: %v", streamName(k, named), err)))
	}
	if m.seen > 0 {
		s.mu.Lock()
		s.marks[k] = m
		s.mu.Unlock()
	}
	return out
}

func logRecord(k streamKey, named bool, t time.Time, line string) berth.LogRecord {
	r := berth.LogRecord{Time: t, Pod: k.pod, Line: line}
	if named {
		r.Container = k.container
	}
	return r
}

func notice(msg string) berth.LogRecord { return berth.LogRecord{Time: time.Now().UTC(), Notice: msg} }

func streamName(k streamKey, named bool) string {
	if named {
		return "pod " + k.pod + " container " + k.container
	}
	return "pod " + k.pod
}

// logError says why a container's log cannot be read, in the API server's words when it
// gave some ("container web in pod web-1 is waiting to start: ContainerCreating").
func logError(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Message != "" {
		return status.Status().Message
	}
	return err.Error()
}

// readLines calls fn with each line of a log read with timestamps, its time parsed off the
// front. A line longer than berth.MaxLogLine is cut there and the rest of it skipped.
func readLines(r io.Reader, fn func(t time.Time, line string) error) error {
	const stamp = len("2006-01-02T15:04:05.999999999Z07:00 ")
	br := bufio.NewReaderSize(r, berth.MaxLogLine+stamp)
	for {
		chunk, err := br.ReadSlice('\n')
		line := string(chunk)
		cut := false
		for errors.Is(err, bufio.ErrBufferFull) {
			cut = true
			_, err = br.ReadSlice('\n')
		}
		if len(line) > 0 {
			line = strings.TrimRight(line, "\r\n")
			t := time.Now().UTC()
			if ts, rest, ok := strings.Cut(line, " "); ok {
				if pt, perr := time.Parse(time.RFC3339Nano, ts); perr == nil {
					t, line = pt.UTC(), rest
				}
			}
			if cut {
				line = strings.ToValidUTF8(line, "") + " …[cut at " + fmt.Sprint(berth.MaxLogLine) + " bytes]"
			}
			if ferr := fn(t, line); ferr != nil {
				return ferr
			}
		}
		switch {
		case errors.Is(err, io.EOF):
			return nil
		case err != nil:
			return err
		}
	}
}

// follow goes on after the backlog: each container of each pod, the pods a rollout adds,
// and new events, through a window that puts them in time order, until ctx ends.
func (s *logStream) follow(ctx context.Context, sel labels.Selector, emit func(berth.LogRecord) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := make(chan berth.LogRecord, 256)
	send := func(r berth.LogRecord) bool {
		select {
		case out <- r:
			return true
		case <-ctx.Done():
			return false
		}
	}
	var running sync.WaitGroup
	defer running.Wait()
	defer cancel() // before Wait: the goroutines end with ctx

	pw := &podWatch{s: s, ctx: ctx, send: send, running: &running, pods: map[string]*followedPod{}, gone: make(chan struct{})}
	pods := s.c.core.Pods(s.namespace)
	podInf := newInformer(&corev1.Pod{}, func(o *metav1.ListOptions) {
		o.LabelSelector = sel.String()
		if s.q.Pod != "" {
			o.FieldSelector = fields.OneTermEqualSelector("metadata.name", s.q.Pod).String()
		}
	}, pods.List, pods.Watch)
	_, _ = podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { pw.changed(obj) },
		UpdateFunc: func(_, obj any) { pw.changed(obj) },
		DeleteFunc: pw.deleted,
	})
	running.Go(func() { podInf.RunWithContext(ctx) })
	if s.q.Events != nil {
		evInf := s.c.eventInformer(s.namespace)
		onEvent := func(obj any) {
			e, ok := obj.(*corev1.Event)
			if !ok {
				return
			}
			ev := seenNow(clusterEvent(e))
			if !s.q.Events(ev.Object) {
				return
			}
			s.mu.Lock()
			old, seen := s.seenEvents[ev.UID]
			s.seenEvents[ev.UID] = ev.Count
			s.mu.Unlock()
			if !seen || old != ev.Count {
				send(berth.LogRecord{Time: ev.LastAt, Event: &ev})
			}
		}
		_, _ = evInf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: onEvent, UpdateFunc: func(_, obj any) { onEvent(obj) }})
		running.Go(func() { evInf.RunWithContext(ctx) })
	}
	running.Go(func() {
		select {
		case <-pw.gone: // the one pod asked for (--pod) is gone
			cancel()
		case <-ctx.Done():
		}
	})
	return reorder(ctx, out, emit)
}

// reorder emits the records from in, each once it has waited reorderWindow, together with
// those that came later with earlier times, sorted by time; it returns when ctx ends (nil)
// or emit fails.
func reorder(ctx context.Context, in <-chan berth.LogRecord, emit func(berth.LogRecord) error) error {
	type pending struct {
		r       berth.LogRecord
		arrived time.Time
	}
	var buf []pending
	tick := time.NewTicker(reorderWindow / 4)
	defer tick.Stop()
	flush := func(all bool) error {
		due := time.Now().Add(-reorderWindow)
		var latest time.Time // the latest time among records that are due
		for _, p := range buf {
			if all || !p.arrived.After(due) {
				if p.r.Time.After(latest) {
					latest = p.r.Time
				}
			}
		}
		if latest.IsZero() && !all {
			return nil
		}
		var now, later []pending
		for _, p := range buf {
			if all || !p.arrived.After(due) || !p.r.Time.After(latest) {
				now = append(now, p)
			} else {
				later = append(later, p)
			}
		}
		slices.SortStableFunc(now, func(a, b pending) int { return a.r.Time.Compare(b.r.Time) })
		buf = later
		for _, p := range now {
			if err := emit(p.r); err != nil {
				return err
			}
		}
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case r := <-in:
			buf = append(buf, pending{r, time.Now()})
			if len(buf) >= maxReorder {
				if err := flush(true); err != nil {
					return err
				}
			}
		case <-tick.C:
			if err := flush(false); err != nil {
				return err
			}
		}
	}
}

// podWatch starts and stops the followers of pods as the pod informer reports them.
type podWatch struct {
	s       *logStream
	ctx     context.Context
	send    func(berth.LogRecord) bool
	running *sync.WaitGroup

	mu      sync.Mutex
	pods    map[string]*followedPod
	streams int
	full    bool // told that MaxLogStreams is reached
	// gone is closed when the one pod a stream asked for (--pod) is deleted.
	gone chan struct{}
}

type followedPod struct {
	cancel context.CancelFunc
	// nudges tell each of its containers' followers, without blocking, that it changed.
	nudges  []chan struct{}
	phase   corev1.PodPhase
	streams int
}

func (w *podWatch) changed(obj any) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if fp, ok := w.pods[p.Name]; ok {
		fp.phase = p.Status.Phase
		for _, n := range fp.nudges {
			select {
			case n <- struct{}{}:
			default:
			}
		}
		return
	}
	ctx, cancel := context.WithCancel(w.ctx)
	fp := &followedPod{cancel: cancel, phase: p.Status.Phase}
	w.pods[p.Name] = fp
	named := len(p.Spec.Containers) > 1
	if !w.s.initial[p.Name] {
		go w.send(notice("pod " + p.Name + " started: following it"))
	}
	for _, ctr := range containerNames(p, w.s.q.Container) {
		if w.streams >= berth.MaxLogStreams {
			if !w.full {
				w.full = true
				go w.send(notice(fmt.Sprintf("following %d containers already: not %s (name a pod with --pod)", berth.MaxLogStreams, p.Name)))
			}
			break
		}
		w.streams++
		fp.streams++
		k := streamKey{p.Name, ctr}
		nudge := make(chan struct{}, 1)
		fp.nudges = append(fp.nudges, nudge)
		w.running.Go(func() { w.s.followContainer(ctx, k, named, nudge, w) })
	}
}

func (w *podWatch) deleted(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	fp, ok := w.pods[p.Name]
	if !ok {
		return
	}
	fp.cancel()
	delete(w.pods, p.Name)
	w.streams -= fp.streams
	go w.send(notice("pod " + p.Name + " is gone: no longer following it"))
	if w.s.q.Pod == p.Name {
		select {
		case <-w.gone:
		default:
			close(w.gone)
		}
	}
}

// terminal reports whether pod has ended for good (Succeeded or Failed): its containers
// write nothing more.
func (w *podWatch) terminal(pod string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	fp, ok := w.pods[pod]
	return !ok || fp.phase == corev1.PodSucceeded || fp.phase == corev1.PodFailed
}

// followContainer reads one container's log as it is written, from its mark (or the
// stream's start), reconnecting when the stream ends — a restart, a dropped connection,
// a container that had not started — until ctx ends or the pod has ended for good.
func (s *logStream) followContainer(ctx context.Context, k streamKey, named bool, nudge <-chan struct{}, w *podWatch) {
	s.mu.Lock()
	m, ok := s.marks[k]
	s.mu.Unlock()
	if !ok {
		m = mark{at: s.from}
	}
	wait := retryMin
	var lastErr string
	for ctx.Err() == nil {
		opts := &corev1.PodLogOptions{Container: k.container, Follow: true, Timestamps: true}
		if !m.at.IsZero() {
			opts.SinceTime = &metav1.Time{Time: m.at.Truncate(time.Second)}
		}
		sent := 0
		rc, err := s.c.core.Pods(s.namespace).GetLogs(k.pod, opts).Stream(ctx)
		if err == nil {
			skip := m.seen
			at := m.at
			err = readLines(rc, func(t time.Time, line string) error {
				switch {
				case t.Before(at):
					return nil
				case t.Equal(at) && skip > 0:
					skip--
					return nil
				}
				m.advance(t)
				sent++
				if !w.send(logRecord(k, named, t, line)) {
					return ctx.Err()
				}
				return nil
			})
			rc.Close()
		}
		switch {
		case ctx.Err() != nil:
			return
		case apierrors.IsNotFound(err):
			return // the pod is gone; its deletion is announced
		case err != nil && logError(err) != lastErr && !apierrors.IsBadRequest(err):
			// Waiting to start is a bad request, and expected: only other failures are told.
			lastErr = logError(err)
			w.send(notice(fmt.Sprintf("%s: %s", streamName(k, named), lastErr)))
		}
		if err == nil && w.terminal(k.pod) {
			return
		}
		if sent > 0 {
			wait = retryMin
		}
		select {
		case <-ctx.Done():
			return
		case <-nudge:
		case <-time.After(wait):
			wait = min(2*wait, retryMax)
		}
	}
}
