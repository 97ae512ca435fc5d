package kube_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/kube"
)

// describe shows a record in a line, for failure messages.
func describe(r berth.LogRecord) string {
	at := r.Time.Format("15:04:05.000")
	switch {
	case r.Event != nil:
		return fmt.Sprintf("%s event %s %s %s", at, r.Event.Reason, r.Event.Object, r.Event.Message)
	case r.Notice != "":
		return at + " notice " + r.Notice
	}
	return at + " " + r.Pod + " " + r.Line
}

func describeAll(rs []berth.LogRecord) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString("  " + describe(r) + "\n")
	}
	return b.String()
}

// inOrder fails unless each record is no earlier than the one before it, give or take
// slack: the API gives most events' times in whole seconds.
func inOrder(t *testing.T, rs []berth.LogRecord, slack time.Duration) {
	t.Helper()
	for i := 1; i < len(rs); i++ {
		if rs[i].Time.Before(rs[i-1].Time.Add(-slack)) {
			t.Errorf("record %d is out of time order:\n%s", i, describeAll(rs))
			return
		}
	}
}

// TestAppLogsFollowsARollout runs examples/hello on the real node: the start of the stream
// is the pod's line and its events in time order; following it through a rolling update
// brings the new pod's lines, the rollout's events and notices of the pods coming and
// going, and ends with its context.
func TestAppLogsFollowsARollout(t *testing.T) {
	t.Parallel()
	rn, c := newRealNodeCluster(t)
	_, ns := rn.Namespace(t)
	ctx := context.Background()
	a := helloApp(t, rn, 1)
	a.vars = map[string]string{"VERSION": "1"}
	mustApply(t, c, ns, a.objects()...)
	if _, err := c.WaitRollout(ctx, ns, "web", kube.RolloutOptions{Timeout: 2 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	q := berth.LogQuery{Selector: a.selector(), Tail: 100,
		Events: func(object string) bool { return berth.ObjectApp(object, []string{"web"}) == "web" }}

	var start []berth.LogRecord
	if err := c.AppLogs(ctx, ns, q, func(r berth.LogRecord) error { start = append(start, r); return nil }); err != nil {
		t.Fatal(err)
	}
	var oldPod string
	reasons := map[string]bool{}
	for _, r := range start {
		switch {
		case r.Event != nil:
			reasons[r.Event.Reason] = true
		case strings.Contains(r.Line, "hello listening") && strings.Contains(r.Line, `"version":"1"`):
			oldPod = r.Pod
		}
	}
	for _, want := range []string{"ScalingReplicaSet", "SuccessfulCreate", "Scheduled", "Started"} {
		if !reasons[want] {
			t.Errorf("the start has no %s event:\n%s", want, describeAll(start))
		}
	}
	if !strings.HasPrefix(oldPod, "web-") {
		t.Fatalf("the start has no line of the pod:\n%s", describeAll(start))
	}
	inOrder(t, start, time.Second)

	// A rolling update to version 2, followed.
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	q.Follow = true
	recs := make(chan berth.LogRecord, 4096)
	done := make(chan error, 1)
	go func() {
		done <- c.AppLogs(fctx, ns, q, func(r berth.LogRecord) error { recs <- r; return nil })
	}()
	var got []berth.LogRecord
	waitFor := func(what string, cond func(berth.LogRecord) bool) berth.LogRecord {
		t.Helper()
		timeout := time.After(2 * time.Minute)
		for i := range got {
			if cond(got[i]) {
				return got[i]
			}
		}
		for {
			select {
			case r := <-recs:
				got = append(got, r)
				if cond(r) {
					return r
				}
			case err := <-done:
				t.Fatalf("the stream ended (%v) before %s:\n%s", err, what, describeAll(got))
			case <-timeout:
				t.Fatalf("no %s in 2 minutes:\n%s", what, describeAll(got))
			}
		}
	}
	waitFor("line of the old pod", func(r berth.LogRecord) bool { return r.Pod == oldPod })
	a.vars = map[string]string{"VERSION": "2"}
	mustApply(t, c, ns, a.deployment())
	newLine := waitFor("line of version 2", func(r berth.LogRecord) bool { return strings.Contains(r.Line, `"version":"2"`) })
	if newLine.Pod == oldPod || !strings.HasPrefix(newLine.Pod, "web-") {
		t.Errorf("version 2 wrote from pod %q, the old one was %s", newLine.Pod, oldPod)
	}
	waitFor("notice of the new pod", func(r berth.LogRecord) bool { return r.Notice == "pod "+newLine.Pod+" started: following it" })
	waitFor("scale-down event", func(r berth.LogRecord) bool {
		return r.Event != nil && r.Event.Reason == "ScalingReplicaSet" && strings.Contains(r.Event.Message, "Scaled down")
	})
	waitFor("notice of the old pod gone", func(r berth.LogRecord) bool { return r.Notice == "pod "+oldPod+" is gone: no longer following it" })
	var lines []berth.LogRecord
	for _, r := range got {
		if r.Notice == "" {
			lines = append(lines, r)
		}
	}
	inOrder(t, lines, time.Second)

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("the followed stream ended with %v, want nil at its context's end", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the followed stream did not end with its context")
	}
}

// TestAppLogsRefusals: a pod or container that is not the app's is an error naming what
// there is; a pod that has no previous instance is a notice, not a failure.
func TestAppLogsRefusals(t *testing.T) {
	t.Parallel()
	rn, c := newRealNodeCluster(t)
	_, ns := rn.Namespace(t)
	ctx := context.Background()
	a := helloApp(t, rn, 1)
	mustApply(t, c, ns, a.objects()...)
	if _, err := c.WaitRollout(ctx, ns, "web", kube.RolloutOptions{Timeout: 2 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	emit := func(berth.LogRecord) error { return nil }
	err := c.AppLogs(ctx, ns, berth.LogQuery{Selector: a.selector(), Pod: "web-nope", Tail: 1}, emit)
	if !errors.Is(err, berth.ErrNotFound) || !strings.Contains(err.Error(), "pod web-nope: not found: it is not one of the app's pods in namespace "+ns) {
		t.Errorf("an unknown pod: %v", err)
	}
	err = c.AppLogs(ctx, ns, berth.LogQuery{Selector: a.selector(), Container: "sidecar", Tail: 1}, emit)
	if !errors.Is(err, berth.ErrNotFound) || !strings.Contains(err.Error(), "container sidecar: not found: the app's pods have containers web") {
		t.Errorf("an unknown container: %v", err)
	}
	var recs []berth.LogRecord
	err = c.AppLogs(ctx, ns, berth.LogQuery{Selector: a.selector(), Previous: true, Tail: 10},
		func(r berth.LogRecord) error { recs = append(recs, r); return nil })
	if err != nil || len(recs) != 1 || !strings.Contains(recs[0].Notice, "previous terminated container") {
		t.Errorf("no previous instance: %v\n%s", err, describeAll(recs))
	}
	// The client went away: its error ends the stream.
	gone := errors.New("client went away")
	err = c.AppLogs(ctx, ns, berth.LogQuery{Selector: a.selector(), Tail: 10, Since: time.Now().Add(-time.Hour)},
		func(berth.LogRecord) error { return gone })
	if !errors.Is(err, gone) {
		t.Errorf("emit's error: %v", err)
	}
}
