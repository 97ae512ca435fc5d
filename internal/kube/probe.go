package kube

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/manifest"
)

// The Kubernetes side of synthetic probes (see berth.ProbePod): in each environment's
// cluster, a namespace and service account shared by every run, and per run a Service, a
// Secret and a Pod named berth.ProbeName(run), all labelled with the run.

// Labels of the probe's objects. A run's Service selects its pod alone, by both; its
// Secret and Service carry labelProbeRun only, by which the leftover sweep finds them.
const (
	labelProbe    = "berth.dev/probe"
	probeAgent    = "agent" // labelProbe's value on agent pods
	labelProbeRun = "berth.dev/probe-run"
)

// Tuning of probe pods.
const (
	// probeContainer is the agent's container in its pod.
	probeContainer = "agent"
	// defaultProbeDeadline bounds the life of a pod whose berth.ProbePod says nothing.
	defaultProbeDeadline = 5 * time.Minute
	// probeStopGrace is how long, in seconds, an agent has to stop: it reports as it goes,
	// so nothing is lost by cutting it short.
	probeStopGrace = 1
	// probeReplaceWait is how long StartProbe waits for an earlier attempt's pod to go
	// before deleting it at once (its node may be gone and never confirm).
	probeReplaceWait = 15 * time.Second
	// probeLeftoverAge is the age from which the pods, Secrets and Services of other runs
	// are leftovers of a server that crashed mid-run: runs take minutes.
	probeLeftoverAge = 10 * time.Minute
	// probeSweepLimit bounds the objects one StopProbe lists for leftovers; any more go
	// with the next run's.
	probeSweepLimit = 500
	// probeLogLines and probeLogBytes bound the end of an ended agent's log that ProbePod
	// reports; probeLogRead bounds what it reads to find it (lines can be long).
	probeLogLines   = 20
	probeLogBytes   = 2 << 10
	probeLogRead    = 1 << 20
	probeLogTimeout = 10 * time.Second
	// maxProbeText bounds each text of the cluster's (a scheduler's or kubelet's message)
	// that ProbePod passes on, as it ends up in the run's stored reason.
	maxProbeText = 1 << 10
)

// StartProbe creates, on env's cluster, what pod.Run needs: the probe namespace and
// service account when missing, then the run's Service in front of its pod alone, its
// Secret holding pod.Secrets and its Pod, replacing any an earlier attempt of the run left.
// It returns once the Pod exists, with the moment, by this client's clock, just before it
// asked for the Pod: where the run's scheduled step starts, leaving out the time spent
// removing an earlier attempt's pod. Neither its errors nor what it logs hold a value of
// pod.Secrets.
func (p *Pool) StartProbe(ctx context.Context, env berth.Environment, pod berth.ProbePod) (time.Time, error) {
	createdAt, err := p.startProbe(ctx, env, pod)
	if err != nil {
		return time.Time{}, redact(fmt.Errorf("start probe run %d on the cluster of %s: %w", pod.Run, env.Name, err), pod.Secrets)
	}
	return createdAt, nil
}

func (p *Pool) startProbe(ctx context.Context, env berth.Environment, pod berth.ProbePod) (time.Time, error) {
	secret, service, podObj, err := probeObjects(env, pod)
	if err != nil {
		return time.Time{}, err
	}
	ec, err := p.For(ctx, env)
	if err != nil {
		return time.Time{}, err
	}
	c := ec.c
	if err := c.EnsureNamespace(ctx, berth.ProbeNamespace, map[string]string{LabelManagedBy: ManagedBy}); err != nil {
		return time.Time{}, err
	}
	if err := c.ensureProbeServiceAccount(ctx); err != nil {
		return time.Time{}, err
	}
	// An earlier attempt's pod goes first, so its agent stops before the new one starts
	// and never runs without its Secret's values.
	if err := c.removeProbePod(ctx, podObj.Name); err != nil {
		return time.Time{}, err
	}
	if err := replaceProbeObject(ctx, c, "service", c.core.Services(berth.ProbeNamespace), service, nil); err != nil {
		return time.Time{}, err
	}
	if err := replaceProbeObject(ctx, c, "secret", c.core.Secrets(berth.ProbeNamespace), secret, pod.Secrets); err != nil {
		return time.Time{}, err
	}
	createdAt := time.Now()
	created, err := c.createProbePod(ctx, podObj)
	if err != nil {
		return time.Time{}, err
	}
	// The Secret is made before its Pod, which needs it to start, so only now can it be
	// owned; StopProbe and the leftover sweep delete it anyway, so a failure here costs
	// nothing but the garbage collector's help.
	if err := c.ownProbeSecret(ctx, secret.Name, created, pod.Secrets); err != nil {
		c.log.Warn("make the probe pod own its secret", "namespace", berth.ProbeNamespace, "secret", secret.Name, "err", err)
	}
	return createdAt, nil
}

// probeObjects builds run's Secret, Service and Pod, checking what the API server would
// take badly or silently (a setting that is also a secret would hide the secret).
func probeObjects(env berth.Environment, pod berth.ProbePod) (*corev1.Secret, *corev1.Service, *corev1.Pod, error) {
	switch {
	case pod.Run <= 0:
		return nil, nil, nil, fmt.Errorf("run %d: want a positive run ID", pod.Run)
	case strings.TrimSpace(pod.Image) == "":
		return nil, nil, nil, errors.New("no agent image")
	case pod.Deadline < 0:
		return nil, nil, nil, fmt.Errorf("deadline %s: want a positive duration (0 for %s)", pod.Deadline, defaultProbeDeadline)
	}
	for _, k := range slices.Sorted(maps.Keys(pod.Secrets)) {
		if _, ok := pod.Env[k]; ok {
			return nil, nil, nil, fmt.Errorf("%s is both a setting and a secret of the agent", k)
		}
	}
	if err := env.Scheduling.Validate(); err != nil {
		return nil, nil, nil, fmt.Errorf("the scheduling defaults of %s: %w", env.Name, err)
	}
	name := berth.ProbeName(pod.Run)
	run := strconv.FormatInt(pod.Run, 10)
	yes, no := true, false
	runLabels := map[string]string{LabelManagedBy: ManagedBy, labelProbeRun: run}

	data := make(map[string][]byte, len(pod.Secrets))
	for k, v := range pod.Secrets {
		data[k] = []byte(v)
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: berth.ProbeNamespace, Labels: runLabels},
		Type:       corev1.SecretTypeOpaque,
		// A run's secrets never change; immutable, they cost the kubelet no watch.
		Immutable: &yes,
		Data:      data,
	}
	// The DNS and HTTP steps reach the agent through its own Service: one shared by every
	// run would also lead to the agents of other environments on the cluster.
	service := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: berth.ProbeNamespace, Labels: runLabels},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: map[string]string{labelProbe: probeAgent, labelProbeRun: run},
			Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: berth.ProbePort,
				TargetPort: intstr.FromInt32(berth.ProbePort)}},
		},
	}

	deadline := defaultProbeDeadline
	if pod.Deadline > 0 {
		deadline = pod.Deadline
	}
	deadlineSecs := int64(deadline / time.Second)
	if deadline%time.Second != 0 {
		deadlineSecs++ // never shorter than asked
	}
	var vars []corev1.EnvVar
	for _, k := range slices.Sorted(maps.Keys(pod.Env)) {
		vars = append(vars, corev1.EnvVar{Name: k, Value: pod.Env[k]})
	}
	uid := int64(65532)
	grace := int64(5)
	spec := corev1.PodSpec{
		RestartPolicy:         corev1.RestartPolicyNever,
		ActiveDeadlineSeconds: &deadlineSecs,
		ServiceAccountName:    berth.ProbeServiceAccount,
		// The credentials step uses the token; the pod's word holds whatever the service
		// account says, should someone have changed it.
		AutomountServiceAccountToken: &yes,
		// The agent finds its Service through DNS, which is what it tests; variables of
		// every Service in the namespace would only be noise.
		EnableServiceLinks:            &no,
		TerminationGracePeriodSeconds: &grace,
		Containers: []corev1.Container{{
			Name:  probeContainer,
			Image: pod.Image,
			Args:  []string{"probe", "agent"},
			Env:   vars,
			EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{
				LocalObjectReference: corev1.LocalObjectReference{Name: name}}}},
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: berth.ProbePort, Protocol: corev1.ProtocolTCP}},
			// Every second, not Kubernetes' 10: the HTTP step waits for the Service to
			// reach the pod, which happens only once it is ready.
			ReadinessProbe: &corev1.Probe{
				ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
					Path: "/", Port: intstr.FromInt32(berth.ProbePort)}},
				PeriodSeconds: 1,
			},
			ImagePullPolicy: corev1.PullIfNotPresent,
			Resources: corev1.ResourceRequirements{
				Requests: corev1.ResourceList{
					corev1.ResourceCPU:    resource.MustParse("50m"),
					corev1.ResourceMemory: resource.MustParse("64Mi"),
				},
				Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
			},
			// The restricted Pod Security Standard's settings, so the probe runs in
			// clusters that enforce it.
			SecurityContext: &corev1.SecurityContext{
				RunAsNonRoot:             &yes,
				RunAsUser:                &uid,
				AllowPrivilegeEscalation: &no,
				ReadOnlyRootFilesystem:   &yes,
				Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
		}},
	}
	// The probe checks what the environment's apps rely on, so it runs where they run.
	manifest.Schedule(&spec, env.Scheduling)
	podObj := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: berth.ProbeNamespace,
			Labels: map[string]string{LabelManagedBy: ManagedBy, labelProbe: probeAgent, labelProbeRun: run}},
		Spec: spec,
	}
	return secret, service, podObj, nil
}

// ensureProbeServiceAccount creates the agents' service account unless it exists. An
// existing one is left as it is: the platform team may have annotated it (for a cloud
// identity) or bound it to roles.
func (c *Cluster) ensureProbeServiceAccount(ctx context.Context) error {
	yes := true
	sa := &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Name: berth.ProbeServiceAccount, Namespace: berth.ProbeNamespace,
			Labels: map[string]string{LabelManagedBy: ManagedBy}},
		AutomountServiceAccountToken: &yes,
	}
	err := c.retry(ctx, "create probe service account", func(ctx context.Context) error {
		_, err := c.core.ServiceAccounts(berth.ProbeNamespace).Create(ctx, sa, metav1.CreateOptions{FieldManager: FieldManager})
		return err
	})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create service account %s/%s: %w", berth.ProbeNamespace, berth.ProbeServiceAccount, err)
	}
	return nil
}

// removeProbePod deletes pod name, if it exists, and waits until it is gone so its name is
// free: gracefully first, then at once after probeReplaceWait.
func (c *Cluster) removeProbePod(ctx context.Context, name string) error {
	ref := berth.ProbeNamespace + "/" + name
	pods := c.core.Pods(berth.ProbeNamespace)
	forceAt := time.Now().Add(probeReplaceWait)
	giveUpAt := forceAt.Add(probeReplaceWait)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	forced := false
	for {
		var got *corev1.Pod
		err := c.retry(ctx, "get probe pod", func(ctx context.Context) error {
			var err error
			got, err = pods.Get(ctx, name, metav1.GetOptions{})
			return err
		})
		switch {
		case apierrors.IsNotFound(err):
			return nil
		case err != nil:
			return fmt.Errorf("get pod %s: %w", ref, err)
		}
		now := time.Now()
		if now.After(giveUpAt) {
			return fmt.Errorf("pod %s of an earlier attempt is still there after being deleted (finalizers: %s)",
				ref, strings.Join(got.Finalizers, ", "))
		}
		if got.DeletionTimestamp == nil || !forced && now.After(forceAt) {
			grace := int64(probeStopGrace)
			if now.After(forceAt) {
				grace, forced = 0, true
			}
			uid := got.UID
			err := c.retry(ctx, "delete probe pod", func(ctx context.Context) error {
				return pods.Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &grace,
					Preconditions: &metav1.Preconditions{UID: &uid}})
			})
			// Conflict: the precondition failed, another pod has the name now; the next
			// round looks at that one.
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				return fmt.Errorf("delete pod %s of an earlier attempt: %w", ref, err)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for pod %s of an earlier attempt to go: %w", ref, context.Cause(ctx))
		case <-tick.C:
		}
	}
}

// replaceProbeObject makes obj, a run's Secret or Service (kind), replacing one an
// earlier attempt left. The values of secrets are hidden in the errors of its calls,
// before retry logs them: the API server, or a webhook it calls, may echo what it was sent.
func replaceProbeObject[T metav1.Object](ctx context.Context, c *Cluster, kind string, api interface {
	Create(context.Context, T, metav1.CreateOptions) (T, error)
	Delete(context.Context, string, metav1.DeleteOptions) error
}, obj T, secrets map[string]string) error {
	ref := berth.ProbeNamespace + "/" + obj.GetName()
	err := c.retry(ctx, "delete probe "+kind, func(ctx context.Context) error {
		return redact(api.Delete(ctx, obj.GetName(), metav1.DeleteOptions{}), secrets)
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete %s %s of an earlier attempt: %w", kind, ref, err)
	}
	tried := false
	err = c.retry(ctx, "create probe "+kind, func(ctx context.Context) error {
		_, err := api.Create(ctx, obj, metav1.CreateOptions{FieldManager: FieldManager})
		if tried && apierrors.IsAlreadyExists(err) {
			return nil // an earlier try made it and its answer was lost
		}
		tried = true
		return redact(err, secrets)
	})
	if err != nil {
		return fmt.Errorf("create %s %s: %w", kind, ref, err)
	}
	return nil
}

// createProbePod makes the run's Pod and returns it as created.
func (c *Cluster) createProbePod(ctx context.Context, pod *corev1.Pod) (*corev1.Pod, error) {
	pods := c.core.Pods(berth.ProbeNamespace)
	var created *corev1.Pod
	tried := false
	err := c.retry(ctx, "create probe pod", func(ctx context.Context) error {
		var err error
		created, err = pods.Create(ctx, pod, metav1.CreateOptions{FieldManager: FieldManager})
		if tried && apierrors.IsAlreadyExists(err) {
			// An earlier try made it and its answer was lost: the name was free before.
			created, err = pods.Get(ctx, pod.Name, metav1.GetOptions{})
		}
		tried = true
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create pod %s/%s: %w", berth.ProbeNamespace, pod.Name, err)
	}
	return created, nil
}

// ownProbeSecret makes pod the owner of Secret name, so the garbage collector removes the
// Secret with the Pod. The values of secrets are hidden in its errors, as the Secret comes
// back in the answer.
func (c *Cluster) ownProbeSecret(ctx context.Context, name string, pod *corev1.Pod, secrets map[string]string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"ownerReferences": []metav1.OwnerReference{{
		APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID}}}})
	if err != nil {
		return err
	}
	return c.retry(ctx, "own probe secret", func(ctx context.Context) error {
		_, err := c.core.Secrets(berth.ProbeNamespace).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: FieldManager})
		return redact(err, secrets)
	})
}

// ProbePod says how run's pod on env's cluster is doing. A run whose pod is gone but left
// traces (its Secret, the cluster's events about the pod) ended: its pod was deleted. A run
// without any is unknown: the error wraps berth.ErrNotFound.
//
// Every time the API serves for a pod, creationTimestamp and a container's startedAt
// alike, counts whole seconds. Created is the pod's creationTimestamp: of the whole-second
// times, the one that is the pod's creation by definition (the PodScheduled condition's
// time is the scheduler's, later, and missing for a pod never scheduled). It is the API
// server's clock, Running the node's; both are truncated alike, so Running-Created is the
// time to start within a second.
func (p *Pool) ProbePod(ctx context.Context, env berth.Environment, run int64) (berth.ProbePodStatus, error) {
	fail := func(err error) (berth.ProbePodStatus, error) {
		return berth.ProbePodStatus{}, fmt.Errorf("probe run %d on the cluster of %s: %w", run, env.Name, err)
	}
	if run <= 0 {
		return fail(fmt.Errorf("want a positive run ID: %w", berth.ErrNotFound))
	}
	ec, err := p.For(ctx, env)
	if err != nil {
		return fail(err)
	}
	c := ec.c
	name := berth.ProbeName(run)
	ref := berth.ProbeNamespace + "/" + name
	var pod *corev1.Pod
	err = c.retry(ctx, "get probe pod", func(ctx context.Context) error {
		var err error
		pod, err = c.core.Pods(berth.ProbeNamespace).Get(ctx, name, metav1.GetOptions{})
		return err
	})
	switch {
	case apierrors.IsNotFound(err):
		was, err := c.probePodWas(ctx, name)
		switch {
		case err != nil:
			return fail(err)
		case !was:
			return fail(fmt.Errorf("pod %s: %w", ref, berth.ErrNotFound))
		}
		return berth.ProbePodStatus{Ended: true, Message: "its pod " + ref + " was deleted before the run ended"}, nil
	case err != nil:
		return fail(fmt.Errorf("get pod %s: %w", ref, err))
	}
	st, ran := probePodStatus(pod)
	if st.Ended && ran {
		st.Message += "\n" + c.probeLog(ctx, name)
	}
	return st, nil
}

// probePodWas says whether pod name left traces of having existed: its Secret (which the
// garbage collector removes soon after it) or events about it (which the cluster keeps an
// hour by default).
func (c *Cluster) probePodWas(ctx context.Context, name string) (bool, error) {
	ref := berth.ProbeNamespace + "/" + name
	err := c.retry(ctx, "get probe secret", func(ctx context.Context) error {
		_, err := c.core.Secrets(berth.ProbeNamespace).Get(ctx, name, metav1.GetOptions{})
		return err
	})
	switch {
	case err == nil:
		return true, nil
	case !apierrors.IsNotFound(err):
		return false, fmt.Errorf("get secret %s: %w", ref, err)
	}
	var events *corev1.EventList
	err = c.retry(ctx, "list probe pod events", func(ctx context.Context) error {
		var err error
		events, err = c.core.Events(berth.ProbeNamespace).List(ctx, metav1.ListOptions{Limit: 1,
			FieldSelector: fields.Set{"involvedObject.kind": "Pod", "involvedObject.name": name}.String()})
		return err
	})
	if err != nil {
		return false, fmt.Errorf("list the events of pod %s: %w", ref, err)
	}
	return len(events.Items) > 0, nil
}

// probePodStatus reads what the pod's status says, and whether its agent ran (so has a
// log). An ended pod's Message says how it ended, without its log.
func probePodStatus(pod *corev1.Pod) (st berth.ProbePodStatus, ran bool) {
	st.Created = pod.CreationTimestamp.Time
	var cs *corev1.ContainerStatus
	for i := range pod.Status.ContainerStatuses {
		if pod.Status.ContainerStatuses[i].Name == probeContainer {
			cs = &pod.Status.ContainerStatuses[i]
		}
	}
	var term *corev1.ContainerStateTerminated
	if cs != nil {
		term = cs.State.Terminated
		switch {
		case cs.State.Running != nil:
			st.Running, ran = cs.State.Running.StartedAt.Time, true
		case term != nil:
			// It may have started and stopped between two looks.
			st.Running, ran = term.StartedAt.Time, true
		}
	}
	waiting := probeWaiting(pod, cs)
	st.Ended = term != nil || pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded ||
		pod.DeletionTimestamp != nil
	if !st.Ended {
		st.Waiting = waiting
		return st, ran
	}
	var how []string
	if pod.DeletionTimestamp != nil {
		how = append(how, "its pod is being deleted")
	}
	if term != nil {
		s := fmt.Sprintf("the agent exited with code %d", term.ExitCode)
		if term.Reason != "" {
			s += " (" + term.Reason + ")"
		}
		if term.Message != "" {
			s += ": " + clip(term.Message, maxProbeText)
		}
		how = append(how, s)
	}
	switch phase := pod.Status.Phase; {
	case phase == corev1.PodFailed && (pod.Status.Reason != "" || term == nil):
		s := "its pod failed"
		if pod.Status.Reason != "" {
			s += ": " + pod.Status.Reason
		}
		if pod.Status.Message != "" {
			s += ": " + clip(pod.Status.Message, maxProbeText)
		}
		how = append(how, s)
	case phase == corev1.PodSucceeded && term == nil:
		how = append(how, "its pod succeeded")
	}
	if !ran && waiting != "" {
		how = append(how, "the agent never started: "+waiting)
	}
	st.Message = strings.Join(how, "; ")
	return st, ran
}

// probeWaiting says why the pod does not run yet, when the cluster says so: the
// scheduler's reason (Unschedulable), or the kubelet's for its container (ImagePullBackOff,
// CreateContainerConfigError, ...). Creating the container is no reason: it is the way to
// running.
func probeWaiting(pod *corev1.Pod, cs *corev1.ContainerStatus) string {
	for _, cond := range pod.Status.Conditions {
		if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse && cond.Reason != "" {
			return reasonText(cond.Reason, cond.Message)
		}
	}
	if cs == nil || cs.State.Waiting == nil {
		return ""
	}
	switch w := cs.State.Waiting; w.Reason {
	case "", "ContainerCreating", "PodInitializing":
		return ""
	default:
		return reasonText(w.Reason, w.Message)
	}
}

func reasonText(reason, message string) string {
	if message == "" {
		return reason
	}
	return reason + ": " + clip(message, maxProbeText)
}

// probeLog returns the end of the agent's log, or says why there is none. Values of the
// run's Secret are hidden in it: the agent should never write them, and were it to, they
// would end up stored with the run and shown to whoever may read probe runs.
func (c *Cluster) probeLog(ctx context.Context, name string) string {
	ctx, cancel := context.WithTimeout(ctx, probeLogTimeout)
	defer cancel()
	var secret *corev1.Secret
	err := c.retry(ctx, "get probe secret", func(ctx context.Context) error {
		var err error
		secret, err = c.core.Secrets(berth.ProbeNamespace).Get(ctx, name, metav1.GetOptions{})
		return err
	})
	var values map[string]string
	switch {
	case err == nil:
		values = make(map[string]string, len(secret.Data))
		for k, v := range secret.Data {
			values[k] = string(v)
		}
	case !apierrors.IsNotFound(err):
		return "(its log is not shown: the run's secret, whose values it must not show, could not be read: " +
			clip(logError(err), maxProbeText) + ")"
	}
	tail := int64(probeLogLines)
	rc, err := c.core.Pods(berth.ProbeNamespace).GetLogs(name, &corev1.PodLogOptions{Container: probeContainer, TailLines: &tail}).Stream(ctx)
	if err != nil {
		return "(its log could not be read: " + clip(logError(err), maxProbeText) + ")"
	}
	defer rc.Close()
	return probeLogText(rc, values)
}

// probeLogText is the end of the log r reads: its last probeLogBytes at most, from a
// line's start unless the last line alone is longer, with the values of secrets hidden
// first, so that none is cut in half and shown in part.
func probeLogText(r io.Reader, secrets map[string]string) string {
	full, err := io.ReadAll(io.LimitReader(r, probeLogRead))
	text := strings.TrimRight(hideValues(string(full), secrets), "\r\n")
	if len(text) > probeLogBytes {
		text = text[len(text)-probeLogBytes:]
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			text = text[i+1:]
		}
	}
	text = strings.ToValidUTF8(text, "") // a character cut at the start
	switch {
	case err != nil && text == "":
		return "(its log could not be read: " + clip(err.Error(), maxProbeText) + ")"
	case err != nil:
		return "the end of what could be read of its log (" + clip(err.Error(), maxProbeText) + "):\n" + text
	case text == "":
		return "(its log is empty)"
	}
	return "the end of its log:\n" + text
}

// clip cuts s to at most n bytes, at a character's start, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// StopProbe deletes run's Pod, Secret and Service on env's cluster (missing ones are fine),
// giving the agent probeStopGrace to stop. It also deletes the pods, Secrets and Services
// of other runs older than probeLeftoverAge (and than their pod's deadline), which a server
// that crashed mid-run left; failing that is logged, not returned, as it is no fault of this
// run's.
func (p *Pool) StopProbe(ctx context.Context, env berth.Environment, run int64) error {
	fail := func(err error) error {
		return fmt.Errorf("stop probe run %d on the cluster of %s: %w", run, env.Name, err)
	}
	if run <= 0 {
		return fail(errors.New("want a positive run ID"))
	}
	ec, err := p.For(ctx, env)
	if err != nil {
		return fail(err)
	}
	c := ec.c
	name := berth.ProbeName(run)
	grace := int64(probeStopGrace)
	var errs []error
	err = c.retry(ctx, "delete probe pod", func(ctx context.Context) error {
		return c.core.Pods(berth.ProbeNamespace).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &grace})
	})
	if err != nil && !apierrors.IsNotFound(err) {
		errs = append(errs, fmt.Errorf("delete pod %s/%s: %w", berth.ProbeNamespace, name, err))
	}
	err = c.retry(ctx, "delete probe secret", func(ctx context.Context) error {
		return c.core.Secrets(berth.ProbeNamespace).Delete(ctx, name, metav1.DeleteOptions{})
	})
	if err != nil && !apierrors.IsNotFound(err) {
		errs = append(errs, fmt.Errorf("delete secret %s/%s: %w", berth.ProbeNamespace, name, err))
	}
	err = c.retry(ctx, "delete probe service", func(ctx context.Context) error {
		return c.core.Services(berth.ProbeNamespace).Delete(ctx, name, metav1.DeleteOptions{})
	})
	if err != nil && !apierrors.IsNotFound(err) {
		errs = append(errs, fmt.Errorf("delete service %s/%s: %w", berth.ProbeNamespace, name, err))
	}
	if err := c.sweepProbes(ctx, run, time.Now()); err != nil {
		c.log.Warn("delete leftover probe pods, secrets and services", "env", env.Name, "err", err)
	}
	if len(errs) > 0 {
		return fail(errors.Join(errs...))
	}
	return nil
}

// sweepProbes deletes the pods, Secrets and Services of runs other than run that are
// leftovers at now: older than probeLeftoverAge, and a pod also older than its deadline
// and a minute, so that a long run (of another environment on the same cluster) is left
// alone. A Secret or Service goes unless its pod stays.
func (c *Cluster) sweepProbes(ctx context.Context, run int64, now time.Time) error {
	sel := metav1.ListOptions{LabelSelector: labelProbeRun + "," + labelProbeRun + "!=" + strconv.FormatInt(run, 10),
		Limit: probeSweepLimit}
	var errs []error
	var pods *corev1.PodList
	err := c.retry(ctx, "list probe pods", func(ctx context.Context) error {
		var err error
		pods, err = c.core.Pods(berth.ProbeNamespace).List(ctx, sel)
		return err
	})
	if err != nil {
		return fmt.Errorf("list probe pods: %w", err)
	}
	grace := int64(probeStopGrace)
	staying := map[string]bool{}
	for _, pod := range pods.Items {
		age := now.Sub(pod.CreationTimestamp.Time)
		old := age >= probeLeftoverAge
		if d := pod.Spec.ActiveDeadlineSeconds; d != nil && int64(age/time.Second)-60 <= *d {
			old = false
		}
		if !old {
			staying[pod.Name] = true
			continue
		}
		uid := pod.UID
		err := c.retry(ctx, "delete leftover probe pod", func(ctx context.Context) error {
			return c.core.Pods(berth.ProbeNamespace).Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &grace,
				Preconditions: &metav1.Preconditions{UID: &uid}})
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			errs = append(errs, fmt.Errorf("delete pod %s: %w", pod.Name, err))
		}
	}
	sweep := func(kind string, m metav1.ObjectMeta, del func(context.Context, string, metav1.DeleteOptions) error) {
		if staying[m.Name] || now.Sub(m.CreationTimestamp.Time) < probeLeftoverAge {
			return
		}
		err := c.retry(ctx, "delete leftover probe "+kind, func(ctx context.Context) error {
			return del(ctx, m.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &m.UID}})
		})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			errs = append(errs, fmt.Errorf("delete %s %s: %w", kind, m.Name, err))
		}
	}
	var secrets *corev1.SecretList
	err = c.retry(ctx, "list probe secrets", func(ctx context.Context) error {
		var err error
		secrets, err = c.core.Secrets(berth.ProbeNamespace).List(ctx, sel)
		return err
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("list probe secrets: %w", err))
	} else {
		for _, s := range secrets.Items {
			sweep("secret", s.ObjectMeta, c.core.Secrets(berth.ProbeNamespace).Delete)
		}
	}
	var services *corev1.ServiceList
	err = c.retry(ctx, "list probe services", func(ctx context.Context) error {
		var err error
		services, err = c.core.Services(berth.ProbeNamespace).List(ctx, sel)
		return err
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("list probe services: %w", err))
	} else {
		for _, s := range services.Items {
			sweep("service", s.ObjectMeta, c.core.Services(berth.ProbeNamespace).Delete)
		}
	}
	return errors.Join(errs...)
}

// redactedError is an error whose text has secret values hidden; it unwraps to the
// original so callers can still tell what failed (apierrors.IsForbidden, ...).
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redact hides the values of secrets in err's text (nil stays nil). The API server does
// not echo a Secret's data in its errors today; an error, which ends up in logs and stored
// runs, is no place to rely on that.
func redact(err error, secrets map[string]string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	hidden := hideValues(msg, secrets)
	if hidden == msg {
		return err
	}
	return &redactedError{msg: hidden, err: err}
}

// hideValues replaces in s every value of secrets, as given and as base64 (how a Secret's
// data travels in JSON), longest first so that no part of a longer one is left.
func hideValues(s string, secrets map[string]string) string {
	var values []string
	for _, v := range secrets {
		if v != "" {
			values = append(values, v, base64.StdEncoding.EncodeToString([]byte(v)))
		}
	}
	slices.SortFunc(values, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	for _, v := range values {
		s = strings.ReplaceAll(s, v, "[hidden]")
	}
	return s
}
