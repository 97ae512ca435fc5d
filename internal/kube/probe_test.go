// These tests are of package kube itself, not kube_test, only so that the sweep of
// leftovers can be run at a later time than now (sweepProbes takes it): creation times are
// the API server's to set. Everything else goes through Pool's methods, as callers do.
package kube

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/kubetest"
)

// onKwok puts probe pods on the test cluster's simulated nodes, which mark them Running.
var onKwok = berth.Scheduling{NodeSelector: map[string]string{"type": "kwok"}}

// probeTest is a pool of the test cluster, an admin client to look at what it made, and
// an environment on the cluster.
type probeTest struct {
	pool *Pool
	cs   kubernetes.Interface
	env  berth.Environment
}

func newProbeTest(t *testing.T, sched berth.Scheduling) probeTest {
	t.Helper()
	return probeTest{
		pool: NewPool(slog.New(slog.NewTextHandler(io.Discard, nil)), 0, 0),
		cs:   kubetest.Client(t),
		env:  berth.Environment{Name: "probed", Kubeconfig: kubetest.Kubeconfig(t), Scheduling: sched},
	}
}

// newRun returns a run ID no other test uses (the probe namespace is the cluster's, shared
// by every test), whose pod, Secret and Service are deleted when the test ends.
func (pt probeTest) newRun(t *testing.T) int64 {
	t.Helper()
	run := 1 + rand.Int64N(1<<40)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := pt.pool.StopProbe(ctx, pt.env, run); err != nil {
			t.Errorf("clean up: %v", err)
		}
	})
	return run
}

func (pt probeTest) pod(t *testing.T, run int64) *corev1.Pod {
	t.Helper()
	p, err := pt.cs.CoreV1().Pods(berth.ProbeNamespace).Get(t.Context(), berth.ProbeName(run), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (pt probeTest) secret(t *testing.T, run int64) *corev1.Secret {
	t.Helper()
	s, err := pt.cs.CoreV1().Secrets(berth.ProbeNamespace).Get(t.Context(), berth.ProbeName(run), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (pt probeTest) service(t *testing.T, run int64) *corev1.Service {
	t.Helper()
	s, err := pt.cs.CoreV1().Services(berth.ProbeNamespace).Get(t.Context(), berth.ProbeName(run), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// waitStatus polls ProbePod until ok accepts its answer, and returns that.
func (pt probeTest) waitStatus(t *testing.T, run int64, ok func(berth.ProbePodStatus) bool) berth.ProbePodStatus {
	t.Helper()
	var st berth.ProbePodStatus
	kubetest.Eventually(t, 30*time.Second, func(ctx context.Context) error {
		var err error
		st, err = pt.pool.ProbePod(ctx, pt.env, run)
		if err != nil {
			return err
		}
		if !ok(st) {
			return errors.New("not yet: " + strings.ReplaceAll(strings.TrimSpace(strings.Join([]string{
				"created " + st.Created.String(), "running " + st.Running.String(), "waiting " + st.Waiting,
				"ended " + strconv.FormatBool(st.Ended), st.Message}, ", ")), "\n", " "))
		}
		return nil
	})
	return st
}

// StartProbe makes the namespace, service account, Service, Secret and Pod of a run with
// every field the agent relies on, and places the pod as the environment's defaults say.
func TestStartProbeCreatesItsObjects(t *testing.T) {
	sched := berth.Scheduling{
		NodeSelector: map[string]string{"type": "kwok"},
		Tolerations:  []berth.Toleration{{Key: "berth.dev/probes", Operator: berth.TolerationExists, Effect: berth.EffectNoSchedule}},
	}
	pt := newProbeTest(t, sched)
	run := pt.newRun(t)
	ctx := t.Context()
	before := time.Now()
	createdAt, err := pt.pool.StartProbe(ctx, pt.env, berth.ProbePod{
		Run: run, Image: "registry.example.com/berth:1.2.3",
		Env:      map[string]string{"BERTH_PROBE_SERVER": "http://berth:8080", "BERTH_PROBE_ENV": "probed", "A_FIRST": "1"},
		Secrets:  map[string]string{"BERTH_PROBE_TOKEN": "token-value", "BERTH_PROBE_DATABASE_URL": "postgres://u:p@db/x"},
		Deadline: 90*time.Second + time.Millisecond,
	})
	after := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	if createdAt.Before(before) || createdAt.After(after) {
		t.Errorf("StartProbe returned %s, want a time between its call (%s) and its return (%s)", createdAt, before, after)
	}
	core := pt.cs.CoreV1()

	ns, err := core.Namespaces().Get(ctx, berth.ProbeNamespace, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ns.Labels[LabelManagedBy] != ManagedBy {
		t.Errorf("namespace labels = %v, want %s=%s", ns.Labels, LabelManagedBy, ManagedBy)
	}
	sa, err := core.ServiceAccounts(berth.ProbeNamespace).Get(ctx, berth.ProbeServiceAccount, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sa.AutomountServiceAccountToken == nil || !*sa.AutomountServiceAccountToken {
		t.Errorf("service account automountServiceAccountToken = %v, want true", sa.AutomountServiceAccountToken)
	}
	runLabel := strconv.FormatInt(run, 10)
	svc := pt.service(t, run)
	wantPorts := []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: berth.ProbePort, TargetPort: intstr.FromInt32(berth.ProbePort)}}
	if svc.Spec.Type != corev1.ServiceTypeClusterIP || svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone {
		t.Errorf("service type %s, cluster IP %q: want a ClusterIP service with an IP", svc.Spec.Type, svc.Spec.ClusterIP)
	}
	if diff := cmp.Diff(map[string]string{"berth.dev/probe": "agent", "berth.dev/probe-run": runLabel}, svc.Spec.Selector); diff != "" {
		t.Errorf("service selector (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantPorts, svc.Spec.Ports); diff != "" {
		t.Errorf("service ports (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{LabelManagedBy: ManagedBy, "berth.dev/probe-run": runLabel}, svc.Labels); diff != "" {
		t.Errorf("service labels (-want +got):\n%s", diff)
	}

	pod := pt.pod(t, run)
	name := "probe-" + strconv.FormatInt(run, 10)
	if pod.Name != name {
		t.Errorf("pod name %s, want %s", pod.Name, name)
	}
	for k, v := range map[string]string{"berth.dev/probe": "agent", "berth.dev/probe-run": runLabel} {
		if pod.Labels[k] != v {
			t.Errorf("pod label %s = %q, want %q (labels %v)", k, pod.Labels[k], v, pod.Labels)
		}
	}
	spec := pod.Spec
	if spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("restartPolicy %s, want Never", spec.RestartPolicy)
	}
	if spec.ActiveDeadlineSeconds == nil || *spec.ActiveDeadlineSeconds != 91 {
		t.Errorf("activeDeadlineSeconds %v, want 91 (90.001s, rounded up)", spec.ActiveDeadlineSeconds)
	}
	if spec.ServiceAccountName != berth.ProbeServiceAccount {
		t.Errorf("serviceAccountName %q, want %q", spec.ServiceAccountName, berth.ProbeServiceAccount)
	}
	if diff := cmp.Diff(map[string]string{"type": "kwok"}, spec.NodeSelector); diff != "" {
		t.Errorf("nodeSelector (-want +got):\n%s", diff)
	}
	wantTol := corev1.Toleration{Key: "berth.dev/probes", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}
	found := false
	for _, tol := range spec.Tolerations {
		found = found || tol == wantTol
	}
	if !found {
		t.Errorf("tolerations %v lack the environment's %v", spec.Tolerations, wantTol)
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(spec.Containers))
	}
	ctr := spec.Containers[0]
	if ctr.Name != "agent" || ctr.Image != "registry.example.com/berth:1.2.3" || ctr.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("container %s image %s pull policy %s, want agent, the image, IfNotPresent", ctr.Name, ctr.Image, ctr.ImagePullPolicy)
	}
	if diff := cmp.Diff([]string{"probe", "agent"}, ctr.Args); diff != "" {
		t.Errorf("args (-want +got):\n%s", diff)
	}
	wantEnv := []corev1.EnvVar{{Name: "A_FIRST", Value: "1"}, {Name: "BERTH_PROBE_ENV", Value: "probed"},
		{Name: "BERTH_PROBE_SERVER", Value: "http://berth:8080"}}
	if diff := cmp.Diff(wantEnv, ctr.Env); diff != "" {
		t.Errorf("env, sorted by name (-want +got):\n%s", diff)
	}
	wantFrom := []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}}}}
	if diff := cmp.Diff(wantFrom, ctr.EnvFrom); diff != "" {
		t.Errorf("envFrom (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]corev1.ContainerPort{{Name: "http", ContainerPort: berth.ProbePort, Protocol: corev1.ProtocolTCP}}, ctr.Ports); diff != "" {
		t.Errorf("ports (-want +got):\n%s", diff)
	}
	if rp := ctr.ReadinessProbe; rp == nil || rp.HTTPGet == nil || rp.HTTPGet.Path != "/" ||
		rp.HTTPGet.Port != intstr.FromInt32(berth.ProbePort) || rp.PeriodSeconds != 1 {
		t.Errorf("readinessProbe %+v, want GET / on %d every second", rp, berth.ProbePort)
	}
	yes, no, uid := true, false, int64(65532)
	wantSec := &corev1.SecurityContext{RunAsNonRoot: &yes, RunAsUser: &uid, AllowPrivilegeEscalation: &no,
		ReadOnlyRootFilesystem: &yes, Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
	if diff := cmp.Diff(wantSec, ctr.SecurityContext); diff != "" {
		t.Errorf("securityContext (-want +got):\n%s", diff)
	}
	for what, q := range map[string]struct {
		got  resource.Quantity
		want string
	}{
		"cpu request":    {ctr.Resources.Requests[corev1.ResourceCPU], "50m"},
		"memory request": {ctr.Resources.Requests[corev1.ResourceMemory], "64Mi"},
		"memory limit":   {ctr.Resources.Limits[corev1.ResourceMemory], "128Mi"},
	} {
		if q.got.Cmp(resource.MustParse(q.want)) != 0 {
			t.Errorf("%s %s, want %s", what, q.got.String(), q.want)
		}
	}

	secret := pt.secret(t, run)
	gotData := map[string]string{}
	for k, v := range secret.Data {
		gotData[k] = string(v)
	}
	if diff := cmp.Diff(map[string]string{"BERTH_PROBE_TOKEN": "token-value", "BERTH_PROBE_DATABASE_URL": "postgres://u:p@db/x"}, gotData); diff != "" {
		t.Errorf("secret data (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{LabelManagedBy: ManagedBy, "berth.dev/probe-run": runLabel}, secret.Labels); diff != "" {
		t.Errorf("secret labels (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: name, UID: pod.UID}}, secret.OwnerReferences); diff != "" {
		t.Errorf("secret owners (-want +got):\n%s", diff)
	}
}

// A second start of the same run replaces its pod, Secret and Service (even one someone
// changed), and the new pod owns the new Secret.
func TestStartProbeReplacesAnEarlierAttempt(t *testing.T) {
	pt := newProbeTest(t, onKwok)
	run := pt.newRun(t)
	start := func(token string) {
		t.Helper()
		before := time.Now()
		createdAt, err := pt.pool.StartProbe(t.Context(), pt.env, berth.ProbePod{Run: run, Image: "berth:1",
			Secrets: map[string]string{"BERTH_PROBE_TOKEN": token}})
		if err != nil {
			t.Fatal(err)
		}
		if createdAt.Before(before) || createdAt.After(time.Now()) {
			t.Errorf("StartProbe returned %s, want a time during the call (from %s)", createdAt, before)
		}
	}
	start("first")
	first := pt.pod(t, run)
	pt.waitStatus(t, run, func(st berth.ProbePodStatus) bool { return !st.Running.IsZero() })
	services := pt.cs.CoreV1().Services(berth.ProbeNamespace)
	svc := pt.service(t, run)
	wantSelector := svc.Spec.Selector
	svc.Spec.Selector = map[string]string{"berth.dev/probe": "agent"}
	svc.Spec.Ports[0].TargetPort = intstr.FromInt32(9090)
	if _, err := services.Update(t.Context(), svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	start("second")
	second := pt.pod(t, run)
	if second.UID == first.UID {
		t.Fatalf("the pod is still the first attempt's (%s)", first.UID)
	}
	if second.Spec.ActiveDeadlineSeconds == nil || *second.Spec.ActiveDeadlineSeconds != 300 {
		t.Errorf("activeDeadlineSeconds %v, want the default 300", second.Spec.ActiveDeadlineSeconds)
	}
	secret := pt.secret(t, run)
	if got := string(secret.Data["BERTH_PROBE_TOKEN"]); got != "second" {
		t.Errorf("secret token %q, want the second attempt's", got)
	}
	if len(secret.OwnerReferences) != 1 || secret.OwnerReferences[0].UID != second.UID {
		t.Errorf("secret owners %v, want the second pod %s", secret.OwnerReferences, second.UID)
	}
	svc = pt.service(t, run)
	if diff := cmp.Diff(wantSelector, svc.Spec.Selector); diff != "" {
		t.Errorf("service selector after the second start (-want +got):\n%s", diff)
	}
	if got := svc.Spec.Ports[0].TargetPort; got != intstr.FromInt32(berth.ProbePort) {
		t.Errorf("service target port %s after the second start, want %d", got.String(), berth.ProbePort)
	}
}

// Runs sharing a cluster (of different environments, say) each get their own Service, in
// front of their own pod alone, so that no run's DNS or HTTP step reaches another's agent.
func TestStartProbeServicePerRun(t *testing.T) {
	pt := newProbeTest(t, onKwok)
	ctx := t.Context()
	other := pt.env
	other.Name = "probed-too"
	runs := []int64{pt.newRun(t), pt.newRun(t)}
	for i, env := range []berth.Environment{pt.env, other} {
		if _, err := pt.pool.StartProbe(ctx, env, berth.ProbePod{Run: runs[i], Image: "berth:1"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, run := range runs {
		want := []string{berth.ProbeName(run)}
		svc := pt.service(t, run)
		pods, err := pt.cs.CoreV1().Pods(berth.ProbeNamespace).List(ctx, metav1.ListOptions{
			LabelSelector: labels.SelectorFromSet(svc.Spec.Selector).String()})
		if err != nil {
			t.Fatal(err)
		}
		var selected []string
		for _, p := range pods.Items {
			selected = append(selected, p.Name)
		}
		if diff := cmp.Diff(want, selected); diff != "" {
			t.Errorf("pods service %s selects (-want +got):\n%s", svc.Name, diff)
		}
		// What the DNS and HTTP steps reach: the endpoints the cluster made of the selector.
		kubetest.Eventually(t, 30*time.Second, func(ctx context.Context) error {
			list, err := pt.cs.DiscoveryV1().EndpointSlices(berth.ProbeNamespace).List(ctx, metav1.ListOptions{
				LabelSelector: discoveryv1.LabelServiceName + "=" + svc.Name})
			if err != nil {
				return err
			}
			var got []string
			for _, sl := range list.Items {
				for _, ep := range sl.Endpoints {
					if ep.TargetRef != nil {
						got = append(got, ep.TargetRef.Name)
					}
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				return fmt.Errorf("endpoints of service %s (-want +got):\n%s", svc.Name, diff)
			}
			return nil
		})
	}
}

// StartProbe refuses what it cannot start before touching the cluster, and its errors
// never show a secret's value, even when the API server refuses the Secret.
func TestStartProbeErrors(t *testing.T) {
	pt := newProbeTest(t, onKwok)
	const value = "hunter2-very-secret"
	for _, tc := range []struct {
		name string
		pod  berth.ProbePod
		want string
	}{
		{"no run", berth.ProbePod{Image: "berth:1"}, "want a positive run ID"},
		{"no image", berth.ProbePod{Run: 1, Image: " "}, "no agent image"},
		{"negative deadline", berth.ProbePod{Run: 1, Image: "berth:1", Deadline: -time.Second}, "want a positive duration"},
		{"setting and secret", berth.ProbePod{Run: 1, Image: "berth:1", Env: map[string]string{"TOKEN": "x"},
			Secrets: map[string]string{"TOKEN": value}}, "TOKEN is both a setting and a secret"},
		{"invalid secret key", berth.ProbePod{Run: pt.newRun(t), Image: "berth:1",
			Secrets: map[string]string{"not a key!": value}}, "create secret " + berth.ProbeNamespace + "/probe-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pt.pool.StartProbe(t.Context(), pt.env, tc.pod)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) || !strings.Contains(msg, "on the cluster of probed") {
				t.Errorf("error %q, want it to say %q and the environment", msg, tc.want)
			}
			if strings.Contains(msg, value) {
				t.Errorf("error %q shows a secret's value", msg)
			}
		})
	}
}

// The retries of StartProbe's calls that carry the run's secrets log nothing of them, even
// when the API server (or a webhook it calls) echoes what it was sent in a server error, as
// a real one cannot be made to on demand.
func TestStartProbeLogsNoSecret(t *testing.T) {
	const value = "hunter2-very-secret"
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		st := metav1.Status{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Status"}, Status: metav1.StatusFailure,
			Code: http.StatusInternalServerError, Reason: metav1.StatusReasonInternalError,
			Message: "cannot store " + string(body) + " (" + value + ")"}
		if r.Method == http.MethodDelete {
			st.Code, st.Reason, st.Message = http.StatusNotFound, metav1.StatusReasonNotFound, "not found"
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(int(st.Code))
		_ = json.NewEncoder(w).Encode(st)
	})
	srv := httptest.NewServer(echo)
	defer srv.Close()
	var logs bytes.Buffer
	c, err := New(&rest.Config{Host: srv.URL}, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Backoff: Backoff{Initial: time.Millisecond, Max: time.Millisecond, Attempts: 2}})
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{"BERTH_PROBE_TOKEN": value}
	secret, _, pod, err := probeObjects(berth.Environment{Name: "probed"}, berth.ProbePod{Run: 1, Image: "berth:1", Secrets: secrets})
	if err != nil {
		t.Fatal(err)
	}
	errs := []error{
		replaceProbeObject(t.Context(), c, "secret", c.core.Secrets(berth.ProbeNamespace), secret, secrets),
		c.ownProbeSecret(t.Context(), secret.Name, pod, secrets),
	}
	if n := strings.Count(logs.String(), "retrying"); n != 2 {
		t.Errorf("%d retries logged, want one per call:\n%s", n, logs.String())
	}
	for _, text := range []string{logs.String(), errors.Join(errs...).Error()} {
		for _, v := range []string{value, base64.StdEncoding.EncodeToString([]byte(value))} {
			if strings.Contains(text, v) {
				t.Errorf("%q shows the secret's value", text)
			}
		}
	}
	if !strings.Contains(errs[0].Error(), "[hidden]") || !apierrors.IsInternalError(errs[0]) {
		t.Errorf("error %v: want it to be the API server's, with the value hidden", errs[0])
	}
}

// A pod on a simulated node is created, then running.
func TestProbePodRuns(t *testing.T) {
	pt := newProbeTest(t, onKwok)
	run := pt.newRun(t)
	before := time.Now().Truncate(time.Second)
	if _, err := pt.pool.StartProbe(t.Context(), pt.env, berth.ProbePod{Run: run, Image: "berth:1"}); err != nil {
		t.Fatal(err)
	}
	st := pt.waitStatus(t, run, func(st berth.ProbePodStatus) bool { return !st.Running.IsZero() })
	if st.Created.Before(before.Add(-time.Minute)) || st.Created.After(time.Now().Add(time.Minute)) {
		t.Errorf("created %s, want about now (%s)", st.Created, before)
	}
	if st.Running.Before(st.Created) {
		t.Errorf("running %s before created %s", st.Running, st.Created)
	}
	if st.Waiting != "" || st.Ended || st.Message != "" {
		t.Errorf("status %+v of a running pod says more than that", st)
	}
}

// A pod that does not run says why, in the cluster's words.
func TestProbePodSaysWhyItWaits(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sched berth.Scheduling
		image string
		want  []string
	}{
		{"unschedulable", berth.Scheduling{NodeSelector: map[string]string{"berth.dev/no-such-node": "x"}}, "berth:1",
			[]string{"Unschedulable: 0/", "didn't match Pod's node affinity/selector"}},
		{"image not pulled", onKwok, "registry.berth.test/unpullable:1",
			[]string{`ImagePullBackOff: Back-off pulling image "registry.berth.test/unpullable:1"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pt := newProbeTest(t, tc.sched)
			run := pt.newRun(t)
			if _, err := pt.pool.StartProbe(t.Context(), pt.env, berth.ProbePod{Run: run, Image: tc.image}); err != nil {
				t.Fatal(err)
			}
			st := pt.waitStatus(t, run, func(st berth.ProbePodStatus) bool { return st.Waiting != "" })
			t.Logf("waiting: %s", st.Waiting)
			for _, w := range tc.want {
				if !strings.Contains(st.Waiting, w) {
					t.Errorf("waiting %q, want it to say %q", st.Waiting, w)
				}
			}
			if !st.Running.IsZero() || st.Ended || st.Created.IsZero() {
				t.Errorf("status %+v: want created, not running, not ended", st)
			}
		})
	}
}

// A pod whose agent exited says so, with its exit code and why its log is missing (a
// simulated node keeps none).
func TestProbePodSaysHowItEnded(t *testing.T) {
	pt := newProbeTest(t, onKwok)
	run := pt.newRun(t)
	if _, err := pt.pool.StartProbe(t.Context(), pt.env, berth.ProbePod{Run: run, Image: "berth:1"}); err != nil {
		t.Fatal(err)
	}
	pt.waitStatus(t, run, func(st berth.ProbePodStatus) bool { return !st.Running.IsZero() })
	// kwok's chaos stage fails the container of a Running pod so labelled, as a kubelet
	// reports a container that exited with code 1.
	patch := []byte(`{"metadata":{"labels":{"pod-container-running-failed.stage.kwok.x-k8s.io":"true"}}}`)
	if _, err := pt.cs.CoreV1().Pods(berth.ProbeNamespace).Patch(t.Context(), berth.ProbeName(run), "application/merge-patch+json", patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	st := pt.waitStatus(t, run, func(st berth.ProbePodStatus) bool { return st.Ended })
	t.Logf("message: %s", st.Message)
	for _, w := range []string{"the agent exited with code 1 (containerFailed): container failed", "\n(its log "} {
		if !strings.Contains(st.Message, w) {
			t.Errorf("message %q, want it to say %q", st.Message, w)
		}
	}
	if st.Running.IsZero() || st.Waiting != "" {
		t.Errorf("status %+v: want a start time and no waiting reason", st)
	}
}

// StopProbe deletes the run's pod, Secret and Service, and again without complaint; the run then
// reads as ended, its pod deleted. A run never started is not found.
func TestStopProbe(t *testing.T) {
	pt := newProbeTest(t, onKwok)
	run := pt.newRun(t)
	ctx := t.Context()
	if _, err := pt.pool.StartProbe(ctx, pt.env, berth.ProbePod{Run: run, Image: "berth:1", Secrets: map[string]string{"K": "v"}}); err != nil {
		t.Fatal(err)
	}
	pt.waitStatus(t, run, func(st berth.ProbePodStatus) bool { return !st.Running.IsZero() })
	for range 2 {
		if err := pt.pool.StopProbe(ctx, pt.env, run); err != nil {
			t.Fatal(err)
		}
	}
	kubetest.Eventually(t, 30*time.Second, func(ctx context.Context) error {
		if _, err := pt.cs.CoreV1().Pods(berth.ProbeNamespace).Get(ctx, berth.ProbeName(run), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return errors.New("the pod is still there")
		}
		return nil
	})
	if _, err := pt.cs.CoreV1().Secrets(berth.ProbeNamespace).Get(ctx, berth.ProbeName(run), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get secret after stop: %v, want not found", err)
	}
	if _, err := pt.cs.CoreV1().Services(berth.ProbeNamespace).Get(ctx, berth.ProbeName(run), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get service after stop: %v, want not found", err)
	}
	st := pt.waitStatus(t, run, func(st berth.ProbePodStatus) bool { return st.Ended })
	t.Logf("message: %s", st.Message)
	if !strings.Contains(st.Message, "was deleted") {
		t.Errorf("message %q, want it to say the pod was deleted", st.Message)
	}

	_, err := pt.pool.ProbePod(ctx, pt.env, pt.newRun(t))
	if !errors.Is(err, berth.ErrNotFound) {
		t.Errorf("ProbePod of a run never started: %v, want ErrNotFound", err)
	}
}

// StopProbe's sweep deletes other runs' pods, Secrets and Services once they are older than ten
// minutes and than their deadline, and leaves younger ones.
func TestStopProbeSweepsLeftovers(t *testing.T) {
	pt := newProbeTest(t, onKwok)
	ctx := t.Context()
	leftover, long, current := pt.newRun(t), pt.newRun(t), pt.newRun(t)
	for _, p := range []berth.ProbePod{
		{Run: leftover, Image: "berth:1", Secrets: map[string]string{"K": "v"}},
		{Run: long, Image: "berth:1", Secrets: map[string]string{"K": "v"}, Deadline: time.Hour},
		{Run: current, Image: "berth:1"},
	} {
		if _, err := pt.pool.StartProbe(ctx, pt.env, p); err != nil {
			t.Fatal(err)
		}
	}
	c, err := pt.pool.For(ctx, pt.env)
	if err != nil {
		t.Fatal(err)
	}
	// Now: nothing is old enough.
	if err := c.c.sweepProbes(ctx, current, time.Now()); err != nil {
		t.Fatal(err)
	}
	pt.pod(t, leftover)
	pt.secret(t, leftover)
	pt.service(t, leftover)
	// Eleven minutes on: the five-minute run is a leftover, the hour-long one is not.
	if err := c.c.sweepProbes(ctx, current, time.Now().Add(11*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := pt.cs.CoreV1().Secrets(berth.ProbeNamespace).Get(ctx, berth.ProbeName(leftover), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("leftover secret: %v, want not found", err)
	}
	if _, err := pt.cs.CoreV1().Services(berth.ProbeNamespace).Get(ctx, berth.ProbeName(leftover), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("leftover service: %v, want not found", err)
	}
	kubetest.Eventually(t, 30*time.Second, func(ctx context.Context) error {
		if _, err := pt.cs.CoreV1().Pods(berth.ProbeNamespace).Get(ctx, berth.ProbeName(leftover), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			return errors.New("the leftover pod is still there")
		}
		return nil
	})
	pt.pod(t, long)
	pt.secret(t, long)
	pt.service(t, long)
	pt.pod(t, current)
	pt.service(t, current)
}

// The end of an agent's log is its last lines within probeLogBytes, with the run's secret
// values hidden, even one the cut would have split.
func TestProbeLogText(t *testing.T) {
	line := strings.Repeat("x", 99) + "\n" // 100 bytes
	many := strings.Repeat(line, 30) + "last line\n"
	secret := "s3cr3t-" + strings.Repeat("v", 40)
	for _, tc := range []struct {
		name    string
		r       io.Reader
		secrets map[string]string
		want    string
	}{
		{"short", strings.NewReader("one\ntwo\n"), nil, "the end of its log:\none\ntwo"},
		{"empty", strings.NewReader(""), nil, "(its log is empty)"},
		{"cut at a line", strings.NewReader(many), nil,
			"the end of its log:\n" + strings.Repeat(line, 20) + "last line"},
		{"one long line, cut in a character", strings.NewReader(strings.Repeat("é", 3000) + "x\n"), nil,
			"the end of its log:\n" + strings.Repeat("é", 1023) + "x"},
		{"secrets hidden", strings.NewReader("token " + secret + " and " + base64.StdEncoding.EncodeToString([]byte(secret)) + "\n"),
			map[string]string{"T": secret, "EMPTY": ""}, "the end of its log:\ntoken [hidden] and [hidden]"},
		{"secret at the cut", strings.NewReader(strings.Repeat("y", 2040) + secret + "\n"), map[string]string{"T": secret},
			"the end of its log:\n" + strings.Repeat("y", 2040) + "[hidden]"},
		{"read fails", iotest.ErrReader(errors.New("connection reset")), nil, "(its log could not be read: connection reset)"},
		{"read fails midway", io.MultiReader(strings.NewReader("started\n"), iotest.ErrReader(errors.New("connection reset"))), nil,
			"the end of what could be read of its log (connection reset):\nstarted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := probeLogText(tc.r, tc.secrets)
			if got != tc.want {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
			if body, ok := strings.CutPrefix(got, "the end of its log:\n"); ok && len(body) > probeLogBytes {
				t.Errorf("%d bytes of log, more than %d", len(body), probeLogBytes)
			}
		})
	}
}

// What a pod's status says, for the states the simulated nodes do not reach.
func TestProbePodStatus(t *testing.T) {
	created := metav1.NewTime(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	started := metav1.NewTime(created.Add(3 * time.Second))
	agent := func(s corev1.ContainerState) []corev1.ContainerStatus {
		return []corev1.ContainerStatus{{Name: "sidecar", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
			{Name: "agent", State: s}}
	}
	waiting := func(reason, msg string) []corev1.ContainerStatus {
		return agent(corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}})
	}
	for _, tc := range []struct {
		name    string
		status  corev1.PodStatus
		deleted bool
		want    berth.ProbePodStatus
		wantRan bool
	}{
		{"pending", corev1.PodStatus{Phase: corev1.PodPending}, false, berth.ProbePodStatus{Created: created.Time}, false},
		{"creating its container", corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: waiting("ContainerCreating", "")}, false,
			berth.ProbePodStatus{Created: created.Time}, false},
		{"no secret", corev1.PodStatus{Phase: corev1.PodPending,
			ContainerStatuses: waiting("CreateContainerConfigError", `secret "probe-1" not found`)}, false,
			berth.ProbePodStatus{Created: created.Time, Waiting: `CreateContainerConfigError: secret "probe-1" not found`}, false},
		{"long message", corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: waiting("ErrImagePull", strings.Repeat("m", 5000))}, false,
			berth.ProbePodStatus{Created: created.Time, Waiting: "ErrImagePull: " + strings.Repeat("m", maxProbeText) + "…"}, false},
		{"succeeded", corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: agent(corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", StartedAt: started}})}, false,
			berth.ProbePodStatus{Created: created.Time, Running: started.Time, Ended: true, Message: "the agent exited with code 0 (Completed)"}, true},
		{"out of memory", corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: agent(corev1.ContainerState{
			Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled", StartedAt: started}})}, false,
			berth.ProbePodStatus{Created: created.Time, Running: started.Time, Ended: true, Message: "the agent exited with code 137 (OOMKilled)"}, true},
		{"past its deadline", corev1.PodStatus{Phase: corev1.PodFailed, Reason: "DeadlineExceeded",
			Message: "Pod was active on the node longer than the specified deadline", ContainerStatuses: waiting("ImagePullBackOff", "Back-off")}, false,
			berth.ProbePodStatus{Created: created.Time, Ended: true,
				Message: "its pod failed: DeadlineExceeded: Pod was active on the node longer than the specified deadline; the agent never started: ImagePullBackOff: Back-off"}, false},
		{"deleted while unschedulable", corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{{
			Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: "Unschedulable", Message: "0/3 nodes are available"}}}, true,
			berth.ProbePodStatus{Created: created.Time, Ended: true,
				Message: "its pod is being deleted; the agent never started: Unschedulable: 0/3 nodes are available"}, false},
		{"deleted while running", corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: agent(corev1.ContainerState{
			Running: &corev1.ContainerStateRunning{StartedAt: started}})}, true,
			berth.ProbePodStatus{Created: created.Time, Running: started.Time, Ended: true, Message: "its pod is being deleted"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: created}, Status: tc.status}
			if tc.deleted {
				pod.DeletionTimestamp = &started
			}
			got, ran := probePodStatus(pod)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
			if ran != tc.wantRan {
				t.Errorf("ran = %t, want %t", ran, tc.wantRan)
			}
		})
	}
}
