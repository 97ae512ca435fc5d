package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/internal/api/apiv1"
	"github.com/berth-dev/berth/internal/apiclient"
	"github.com/berth-dev/berth/internal/kubetest"
)

// eventsKept is --events-max-per-app in TestRealNodeLogsAndEvents: fewer than two rollouts
// of two replicas make, so the bound shows.
const eventsKept = 6

// TestRealNodeLogsAndEvents follows examples/hello on the real node through a rolling
// update with `berth logs -f`: the old pods' lines, then the new pods', each after its pod,
// with the rollout's events in order between them and notices of the pods coming and
// going; Ctrl-C ends it. A viewer of another team is refused. The server keeps the events
// past the cluster's (all deleted here), and only the newest --events-max-per-app.
func TestRealNodeLogsAndEvents(t *testing.T) {
	srv := startServer(t, t.TempDir(), "--events-max-per-app", fmt.Sprint(eventsKept))
	cluster, ns := realNodeShop(t, srv)
	file := writeManifest(t, helloManifest("web", "web."+ns+".localhost"))
	if out, code := runBerth(t, srv, "deploy", "-f", file, "--env", "staging", "--wait"); code != 0 {
		t.Fatalf("deploy version 1: exit %d\n%s", code, out)
	}

	f := followLogs(t, srv, "logs", "web", "--env", "staging", "-f", "--timestamps")
	old := f.waitPods(t, `"version":"1"`, 2)
	start := time.Now()
	if out, code := runBerth(t, srv, "deploy", "-f", file, "--env", "staging", "--set", "version=2", "--wait"); code != 0 {
		t.Fatalf("deploy version 2: exit %d\n%s", code, out)
	}
	cur := f.waitPods(t, `"version":"2"`, 2)
	newRS, oldRS := replicaSet(cur[0]), replicaSet(old[0])
	scaledDown := "ScalingReplicaSet  deployment/web: Scaled down replica set " + oldRS
	f.waitLine(t, "the scale-down to 0 of "+oldRS, func(l string) bool { return strings.Contains(l, scaledDown) && strings.Contains(l, "to 0") })
	for _, p := range old {
		f.waitNotice(t, "pod "+p+" is gone: no longer following it")
	}
	t.Logf("followed the rollout in %s", time.Since(start).Round(time.Millisecond))

	// Ctrl-C ends it, at once and without an error.
	if err := f.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-f.done:
		if err != nil {
			t.Errorf("berth logs -f after Ctrl-C: %v\n%s", err, f.stderr())
		}
	case <-time.After(10 * time.Second):
		f.cmd.Process.Kill()
		t.Fatal("berth logs -f did not end on Ctrl-C")
	}

	lines := f.lines()
	at := func(what string, match func(string) bool) int {
		i := slices.IndexFunc(lines, match)
		if i < 0 {
			t.Fatalf("no %s in the output:\n%s", what, strings.Join(lines, "\n"))
		}
		return i
	}
	oldLine := at("line of an old pod", func(l string) bool { return strings.Contains(l, " "+old[0]+"  ") })
	scaledUp := at("scale-up of "+newRS, func(l string) bool {
		return strings.Contains(l, "event  Normal  ScalingReplicaSet  deployment/web: Scaled up replica set "+newRS)
	})
	newLine := at("line of a new pod", func(l string) bool { return strings.Contains(l, " "+cur[0]+"  ") })
	down := at("scale-down of "+oldRS, func(l string) bool { return strings.Contains(l, scaledDown) })
	if oldLine >= scaledUp || scaledUp >= newLine || scaledUp >= down {
		t.Errorf("out of order: old pod's line %d, scale-up %d, new pod's line %d, scale-down %d:\n%s",
			oldLine, scaledUp, newLine, down, strings.Join(lines, "\n"))
	}
	for _, pod := range cur {
		at("Started event of "+pod, func(l string) bool { return strings.Contains(l, "event  Normal  Started  pod/"+pod+": ") })
	}
	checkTimeOrder(t, lines)

	// A viewer of another team may not read shop's logs or events.
	bob := viewerOfOtherTeam(t, srv)
	for _, args := range [][]string{{"logs", "web", "--team", "shop", "--env", "staging"}, {"events", "web", "--team", "shop"}} {
		out, code := berthAs(t, srv, bob, args...)
		if code != 1 || !strings.Contains(out, "bob is not a member of team shop") {
			t.Errorf("berth %s as another team's viewer: exit %d\n%s", strings.Join(args, " "), code, out)
		}
	}

	// The server keeps the newest events of web in staging, no more than it was told: the
	// rollout's last scale-down happened, and the newest of web's events in the cluster
	// (the scale-down, or a terminating pod's failed readiness probe after it) is kept.
	cs := cluster.Client(t)
	var kept []apiv1.ClusterEvent
	kubetest.Eventually(t, time.Minute, func(ctx context.Context) error {
		kept = keptEvents(t, srv)
		evs, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		var newest time.Time
		scaledDownToZero := false
		for _, e := range evs.Items {
			if e.InvolvedObject.Name != "web" && !strings.HasPrefix(e.InvolvedObject.Name, "web-") {
				continue
			}
			if strings.HasPrefix(e.Message, "Scaled down replica set "+oldRS) && strings.HasSuffix(e.Message, "to 0") {
				scaledDownToZero = true
			}
			if when := eventTime(e); when.After(newest) {
				newest = when
			}
		}
		keptNewest := slices.ContainsFunc(evs.Items, func(e corev1.Event) bool {
			return eventTime(e).Equal(newest) && slices.ContainsFunc(kept, func(k apiv1.ClusterEvent) bool {
				return k.Reason == e.Reason && k.Message == strings.TrimSpace(e.Message)
			})
		})
		if len(kept) != eventsKept || !scaledDownToZero || !keptNewest {
			return fmt.Errorf("%d events kept (scaled down to 0: %t; the cluster's newest, of %s, kept: %t), want the newest %d: %s",
				len(kept), scaledDownToZero, newest.Format(time.RFC3339), keptNewest, eventsKept, eventWords(kept))
		}
		return nil
	})
	list, err := cs.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var first *apiv1.ClusterEvent // the cluster's oldest event about web's objects
	for _, e := range list.Items {
		when := e.LastTimestamp.Time // events.k8s.io events have an event time instead
		if when.IsZero() {
			when = e.EventTime.Time
		}
		if e.InvolvedObject.Name == "web" || strings.HasPrefix(e.InvolvedObject.Name, "web-") {
			if first == nil || when.Before(first.LastAt) {
				first = &apiv1.ClusterEvent{Reason: e.Reason, Object: strings.ToLower(e.InvolvedObject.Kind) + "/" + e.InvolvedObject.Name,
					Message: e.Message, LastAt: when}
			}
		}
	}
	if len(list.Items) <= eventsKept || first == nil {
		t.Fatalf("the cluster has %d events: the bound of %d shows nothing", len(list.Items), eventsKept)
	}
	if slices.ContainsFunc(kept, func(ev apiv1.ClusterEvent) bool { return ev.Object == first.Object && ev.Message == first.Message }) {
		t.Errorf("the oldest event (%s %s) is still kept past the bound: %s", first.Object, first.Message, eventWords(kept))
	}

	// Past the cluster's retention: its events are gone, Berth's are not.
	if err := cs.CoreV1().Events(ns).DeleteCollection(context.Background(), metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	kubetest.Eventually(t, time.Minute, func(ctx context.Context) error {
		l, err := cs.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
		if err == nil && len(l.Items) > 0 {
			err = fmt.Errorf("the cluster still has %d events", len(l.Items))
		}
		return err
	})
	if after := keptEvents(t, srv); eventWords(after) != eventWords(kept) {
		t.Errorf("after the cluster's events were deleted, berth events lists:\n%s\nwant:\n%s", eventWords(after), eventWords(kept))
	}
	out, code := runBerth(t, srv, "events", "web", "--env", "staging")
	for _, ev := range kept { // the table lists what is kept
		if code != 0 || !strings.Contains(out, ev.Reason) || !strings.Contains(out, ev.Object) {
			t.Errorf("berth events: exit %d, without %s %s:\n%s", code, ev.Reason, ev.Object, out)
		}
	}

	// A server shutting down ends the streams that follow, rather than wait for them until
	// its --shutdown-timeout (30s), and their clients say so.
	f = followLogs(t, srv, "logs", "web", "--env", "staging", "-f", "--timestamps")
	f.waitPods(t, `"version":"2"`, 1)
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-srv.done:
		srv.done <- err
		if err != nil {
			t.Errorf("server after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the server did not shut down within 15s of SIGTERM with a log stream open")
	}
	select {
	case err := <-f.done:
		if err == nil || !strings.Contains(f.stderr(), "the server ended the log stream") {
			t.Errorf("berth logs -f when the server shut down: %v\n%s", err, f.stderr())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("berth logs -f went on after the server shut down")
	}
}

// replicaSet is the ReplicaSet of a Deployment's pod: its name without the last part.
func replicaSet(pod string) string { return pod[:strings.LastIndexByte(pod, '-')] }

func keptEvents(t *testing.T, srv *serverProc) []apiv1.ClusterEvent {
	t.Helper()
	out, code := runBerth(t, srv, "events", "web", "--env", "staging", "-o", "json")
	var evs []apiv1.ClusterEvent
	if code != 0 || json.Unmarshal([]byte(out), &evs) != nil {
		t.Fatalf("berth events -o json: exit %d\n%s", code, out)
	}
	return evs
}

func eventWords(evs []apiv1.ClusterEvent) string {
	var w []string
	for _, ev := range evs {
		w = append(w, ev.Reason+" "+ev.Object+" "+ev.Message)
	}
	return strings.Join(w, "\n")
}

// checkTimeOrder fails unless the lines' times (--timestamps) never go back by more than a
// second: events mostly carry whole seconds.
func checkTimeOrder(t *testing.T, lines []string) {
	t.Helper()
	var last time.Time
	for i, l := range lines {
		stamp, _, _ := strings.Cut(l, " ")
		at, err := time.Parse(time.RFC3339Nano, stamp)
		if err != nil {
			t.Errorf("line %d has no time: %q", i, l)
			continue
		}
		if at.Before(last.Add(-time.Second)) {
			t.Errorf("line %d goes back in time:\n%s", i, strings.Join(lines[max(0, i-3):i+1], "\n"))
		}
		if at.After(last) {
			last = at
		}
	}
}

// viewerOfOtherTeam makes bob, a viewer of team other, and returns his token.
func viewerOfOtherTeam(t *testing.T, srv *serverProc) string {
	t.Helper()
	c, err := apiclient.New(srv.url, adminToken)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.CreateTeam(ctx, "other"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateUser(ctx, apiv1.CreateUser{Name: "bob"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetMember(ctx, "other", "bob", "viewer"); err != nil {
		t.Fatal(err)
	}
	tok, err := c.CreateToken(ctx, apiv1.CreateToken{Name: "laptop", User: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Secret
}

// berthAs runs the CLI against srv with token.
func berthAs(t *testing.T, srv *serverProc, token string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, berthBinary(t), args...)
	cmd.Env = append(os.Environ(), "BERTH_SERVER="+srv.url, "BERTH_TOKEN="+token, "BERTH_CONFIG="+filepath.Join(t.TempDir(), "config.json"))
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// followed is a running `berth logs -f`: its standard output line by line, its standard
// error whole.
type followed struct {
	cmd  *exec.Cmd
	done chan error
	errb *syncBuffer

	mu      sync.Mutex
	out     []string
	changed chan struct{}
}

func followLogs(t *testing.T, srv *serverProc, args ...string) *followed {
	t.Helper()
	cmd := exec.Command(berthBinary(t), args...)
	cmd.Env = append(os.Environ(), "BERTH_SERVER="+srv.url, "BERTH_TOKEN="+adminToken, "BERTH_CONFIG="+filepath.Join(t.TempDir(), "config.json"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	f := &followed{cmd: cmd, done: make(chan error, 1), errb: &syncBuffer{}, changed: make(chan struct{}, 1)}
	cmd.Stderr = f.errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			f.mu.Lock()
			f.out = append(f.out, sc.Text())
			f.mu.Unlock()
			f.nudge()
		}
	}()
	go func() { <-read; f.done <- cmd.Wait(); f.nudge() }()
	t.Cleanup(func() { cmd.Process.Kill() })
	return f
}

func (f *followed) nudge() {
	select {
	case f.changed <- struct{}{}:
	default:
	}
}

func (f *followed) lines() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.out)
}

func (f *followed) stderr() string { return string(f.errb.Bytes()) }

// waitFor waits until cond holds for what the command wrote, failing after two minutes or
// when the command ends.
func (f *followed) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	timeout := time.After(2 * time.Minute)
	for !cond() {
		select {
		case <-f.changed:
		case err := <-f.done:
			f.done <- err
			if !cond() {
				t.Fatalf("berth logs -f ended (%v) before %s:\n%s\nstderr:\n%s", err, what, strings.Join(f.lines(), "\n"), f.stderr())
			}
			return
		case <-time.After(time.Second): // standard error has no nudge
		case <-timeout:
			t.Fatalf("no %s in 2 minutes:\n%s\nstderr:\n%s", what, strings.Join(f.lines(), "\n"), f.stderr())
		}
	}
}

func (f *followed) waitLine(t *testing.T, what string, match func(string) bool) {
	t.Helper()
	f.waitFor(t, what, func() bool { return slices.ContainsFunc(f.lines(), match) })
}

func (f *followed) waitNotice(t *testing.T, notice string) {
	t.Helper()
	f.waitFor(t, "notice "+notice, func() bool { return strings.Contains(f.stderr(), "berth: "+notice) })
}

// waitPods waits for lines containing text from n pods and returns those pods, in the
// order their first such line came.
func (f *followed) waitPods(t *testing.T, text string, n int) []string {
	t.Helper()
	var pods []string
	f.waitFor(t, fmt.Sprintf("lines with %s from %d pods", text, n), func() bool {
		pods = pods[:0]
		for _, l := range f.lines() {
			// "<time> <pod>  <line>"
			_, rest, _ := strings.Cut(l, " ")
			pod, line, ok := strings.Cut(rest, "  ")
			if ok && strings.HasPrefix(pod, "web-") && strings.Contains(line, text) && !slices.Contains(pods, pod) {
				pods = append(pods, pod)
			}
		}
		return len(pods) >= n
	})
	return pods
}

// eventTime is when a Kubernetes event last happened, to the second: its last timestamp,
// or an events.k8s.io event's time (its series' last, when repeated).
func eventTime(e corev1.Event) time.Time {
	when := e.LastTimestamp.Time
	if e.Series != nil && !e.Series.LastObservedTime.IsZero() {
		when = e.Series.LastObservedTime.Time
	}
	if when.IsZero() {
		when = e.EventTime.Time
	}
	return when.Truncate(time.Second)
}
