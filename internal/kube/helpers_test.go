package kube_test

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"

	"github.com/berth-dev/berth/internal/kube"
	"github.com/berth-dev/berth/internal/kubetest"
)

// newCluster returns a Cluster of the test cluster with quick retries.
func newCluster(t *testing.T) *kube.Cluster {
	t.Helper()
	c, err := kube.New(kubetest.Config(t), kube.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newRealNodeCluster returns the real node's cluster (see kubetest.RealNode) and a Cluster
// of it with quick retries.
func newRealNodeCluster(t *testing.T) (*kubetest.RealNodeCluster, *kube.Cluster) {
	t.Helper()
	rn := kubetest.RealNode(t)
	c, err := kube.New(rest.CopyConfig(rn.Config), kube.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return rn, c
}

// app describes a small app the way the manifest renderer would render it.
type app struct {
	name, env, image string
	replicas         int32
	// progressDeadline, when set, is the Deployment's progressDeadlineSeconds.
	progressDeadline int32
	minReadySeconds  int32
	podLabels        map[string]string
	vars             map[string]string // the container's environment
	// nodeSelector and tolerations place the pods: on the real node in helloApp.
	nodeSelector map[string]string
	tolerations  []corev1.Toleration
	// readiness and liveness are the container's probes, if any.
	readiness, liveness *corev1.Probe
}

// helloApp is web in staging running examples/hello on the real node, real containers that
// are ready when hello's /ready answers and restarted when /healthz does not. vars
// HELLO_FAIL=crash makes them exit at start, HELLO_FAIL=ready never ready (see
// examples/hello).
func helloApp(t *testing.T, rn *kubetest.RealNodeCluster, replicas int32) app {
	t.Helper()
	return app{
		name: "web", env: "staging", image: rn.HelloImage(t, "1"), replicas: replicas,
		nodeSelector: rn.NodeSelector(), tolerations: rn.Tolerations(),
		readiness: httpProbe("/ready"), liveness: httpProbe("/healthz"),
	}
}

// httpProbe probes GET path on hello's port every second: the kubelet's default of ten
// seconds would make every start in these tests take that long.
func httpProbe(path string) *corev1.Probe {
	return &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromInt32(8080)}},
		PeriodSeconds: 1,
	}
}

func (a app) labels() map[string]string {
	return map[string]string{
		kube.LabelManagedBy:          kube.ManagedBy,
		kube.LabelName:               a.name,
		kube.LabelEnv:                a.env,
		"app.kubernetes.io/instance": a.name + "-" + a.env,
	}
}

func (a app) selector() map[string]string {
	return map[string]string{kube.LabelName: a.name, kube.LabelEnv: a.env}
}

func (a app) meta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Labels: a.labels()}
}

func (a app) serviceAccount() *corev1.ServiceAccount {
	return &corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}, ObjectMeta: a.meta(a.name)}
}

func (a app) configMap(name string, data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: a.meta(name), Data: data}
}

func (a app) secret(name string, data map[string]string) *corev1.Secret {
	return &corev1.Secret{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}, ObjectMeta: a.meta(name), StringData: data}
}

func (a app) service() *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: a.meta(a.name),
		Spec: corev1.ServiceSpec{
			Selector: a.selector(),
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}},
		},
	}
}

func (a app) deployment() *appsv1.Deployment {
	replicas := a.replicas
	podLabels := a.labels()
	for k, v := range a.podLabels {
		podLabels[k] = v
	}
	var env []corev1.EnvVar
	for k, v := range a.vars {
		env = append(env, corev1.EnvVar{Name: k, Value: v})
	}
	d := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: a.meta(a.name),
		Spec: appsv1.DeploymentSpec{
			Replicas:        &replicas,
			MinReadySeconds: a.minReadySeconds,
			Selector:        &metav1.LabelSelector{MatchLabels: a.selector()},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
				Spec: corev1.PodSpec{
					ServiceAccountName: a.name,
					NodeSelector:       a.nodeSelector,
					Tolerations:        a.tolerations,
					Containers: []corev1.Container{{
						Name: "web", Image: a.image, Env: env,
						Ports:          []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
						ReadinessProbe: a.readiness,
						LivenessProbe:  a.liveness,
					}},
				},
			},
		},
	}
	if a.progressDeadline > 0 {
		d.Spec.ProgressDeadlineSeconds = &a.progressDeadline
	}
	return d
}

// objects is the app's full render.
func (a app) objects() []runtime.Object {
	return []runtime.Object{a.serviceAccount(), a.configMap(a.name+"-files", map[string]string{"a": "1"}), a.service(), a.deployment()}
}

func mustApply(t *testing.T, c *kube.Cluster, ns string, objs ...runtime.Object) {
	t.Helper()
	if _, err := c.Apply(context.Background(), ns, objs, kube.ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
}

// scaleDeployment does what `kubectl scale` does.
func scaleDeployment(t *testing.T, cs kubernetes.Interface, ns, name string, replicas int32) {
	t.Helper()
	scale := &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec:       autoscalingv1.ScaleSpec{Replicas: replicas},
	}
	// No resourceVersion: an unconditional update, as the controllers keep changing status.
	if _, err := cs.AppsV1().Deployments(ns).UpdateScale(context.Background(), name, scale, metav1.UpdateOptions{FieldManager: "kubectl-scale"}); err != nil {
		t.Fatal(err)
	}
}

// editDeployment does what `kubectl edit` does.
// editBackoff retries an edit for up to about 10 s.
var editBackoff = wait.Backoff{Steps: 30, Duration: 20 * time.Millisecond, Factor: 1.3, Jitter: 0.5, Cap: time.Second}

func editDeployment(t *testing.T, cs kubernetes.Interface, ns, name string, edit func(*appsv1.Deployment)) {
	t.Helper()
	// The controller manager updates the Deployment's status all along: on a loaded machine
	// client-go's DefaultRetry (5 tries in about 50 ms) can lose every race with it.
	err := retry.RetryOnConflict(editBackoff, func() error {
		d, err := cs.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		edit(d)
		_, err = cs.AppsV1().Deployments(ns).Update(context.Background(), d, metav1.UpdateOptions{FieldManager: "kubectl-edit"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
