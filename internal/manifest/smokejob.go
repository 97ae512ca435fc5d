package manifest

import (
	"strconv"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berth-dev/berth/internal/berth"
)

// LabelSmoke marks the Jobs of command smoke checks. They do not carry LabelManagedBy:
// they are not part of what a deploy applies, so prune and drift leave them alone.
const LabelSmoke = "berth.dev/smoke"

// SmokeJobTTL is how long a finished smoke Job stays if Berth could not delete it.
const SmokeJobTTL = 10 * time.Minute

// ServicePort resolves a port reference (a service port's name or number, or "" when the
// Service has one port) to the port's name and number.
func (m *Manifest) ServicePort(ref string) (name string, port int32, ok bool) {
	name = portName(m, ref)
	if name == "" {
		return "", 0, false
	}
	return name, m.Service.Ports[name].Port, true
}

// TargetURL is the in-cluster URL of the app's Service in namespace: on its only port, or
// on its port named http, else on its first by name; "" without a Service.
func (m *Manifest) TargetURL(namespace string) string {
	if portCount(m) == 0 {
		return ""
	}
	_, port, ok := m.ServicePort("")
	if !ok {
		name := "http"
		if _, has := m.Service.Ports[name]; !has {
			name = servicePorts(m)[0]
		}
		port = m.Service.Ports[name].Port
	}
	return "http://" + m.Metadata.Name + "." + namespace + ".svc:" + strconv.Itoa(int(port))
}

// SmokeJobOptions say where and how a command smoke check runs.
type SmokeJobOptions struct {
	Namespace, Env, Team string
	// Name is the Job's name (a DNS label).
	Name string
	// Image is what runs the command: the check's own, or the image of the app's container
	// as it runs now.
	Image string
	// TargetURL is the app's Service, for the command's TARGET_URL.
	TargetURL string
	// Scheduling is the environment's scheduling defaults.
	Scheduling berth.Scheduling
}

// SmokeJob renders a command smoke check as a Job: one pod, never restarted or retried (the
// check's retries make new Jobs), limited to the check's timeout, with TARGET_URL,
// BERTH_APP and BERTH_ENV in its environment and no service-account token.
func SmokeJob(m *Manifest, c SmokeCheck, o SmokeJobOptions) *batchv1.Job {
	labels := map[string]string{LabelName: m.Metadata.Name, LabelEnv: o.Env, LabelSmoke: "true"}
	if o.Team != "" {
		labels[LabelPartOf] = o.Team
	}
	deadline := int64(max(1, c.AttemptTimeout().Round(time.Second)/time.Second))
	ttl := int32(SmokeJobTTL / time.Second)
	backoff := int32(0)
	grace := int64(5)
	no := false
	spec := corev1.PodSpec{
		RestartPolicy:                 corev1.RestartPolicyNever,
		AutomountServiceAccountToken:  &no,
		EnableServiceLinks:            &no,
		TerminationGracePeriodSeconds: &grace,
		Containers: []corev1.Container{{
			Name:    "smoke",
			Image:   o.Image,
			Command: c.Command,
			Env: []corev1.EnvVar{
				{Name: "TARGET_URL", Value: o.TargetURL},
				{Name: "BERTH_APP", Value: m.Metadata.Name},
				{Name: "BERTH_ENV", Value: o.Env},
			},
		}},
	}
	schedule(&spec, o.Scheduling)
	return &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: o.Namespace, Labels: labels},
		Spec: batchv1.JobSpec{
			BackoffLimit:            &backoff,
			ActiveDeadlineSeconds:   &deadline,
			TTLSecondsAfterFinished: &ttl,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       spec,
			},
		},
	}
}
