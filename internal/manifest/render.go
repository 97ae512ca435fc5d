package manifest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/berth-dev/berth/internal/berth"
)

// Labels and annotations Berth sets on what it renders.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelInstance  = "app.kubernetes.io/instance"
	LabelPartOf    = "app.kubernetes.io/part-of"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	LabelEnv       = "berth.dev/env"
	LabelRevision  = "berth.dev/revision"

	// AnnotationChecksum on the pod template changes whenever referenced
	// config, secrets or files change, which rolls the pods.
	AnnotationChecksum = "berth.dev/config-checksum"

	ManagedBy = "berth"
)

// ErrInvalidOption marks errors in RenderOptions rather than in the
// manifest, such as --set of an undeclared arg.
var ErrInvalidOption = errors.New("invalid render option")

// RenderOptions say which environment to render and how.
type RenderOptions struct {
	Env          string            // environment name; required
	Namespace    string            // set on every object when not ""
	Revision     string            // berth.dev/revision label; omitted when ""
	Set          map[string]string // arg values, overriding defaults and the environment's; and git.NAME: ${git.NAME} (GitArgs)
	IngressClass string            // used when the manifest sets no ingressClass
	Resolver     Resolver          // nil means OfflineResolver
	// Scheduling is the environment's scheduling defaults, added to every pod template:
	// its node selector merged into the pod's, its tolerations appended to the pod's.
	Scheduling berth.Scheduling
	// HostPrefix goes before every host the app exposes: a pull request's preview answers
	// on pr-7.shop.example.com where its base answers on shop.example.com. "" or a DNS
	// label followed by a dot.
	HostPrefix string
	// Section names the environment whose part of the manifest's environments: applies, when
	// it is not Env: a pull request's preview renders with its preview environment's.
	Section string
	// Team is the team the app is deployed as; "" takes metadata.team. It labels the pods
	// (app.kubernetes.io/part-of) and the alert rules.
	Team string
	// AlertScale divides the time windows of the app's alert rules (alertrules.App.Scale):
	// 0 or 1 for real ones; tests shorten them.
	AlertScale float64
}

// MaxAlertScale bounds RenderOptions.AlertScale: at 60, 5m windows are 5s and the rules
// are evaluated every second; shorter would be shorter than any scrape interval.
const MaxAlertScale = 60

// SectionEnv is the environment whose part of the manifest's environments: applies.
func (o RenderOptions) SectionEnv() string {
	if o.Section != "" {
		return o.Section
	}
	return o.Env
}

// Object is a rendered Kubernetes object with its apiVersion and kind set.
type Object interface {
	runtime.Object
	metav1.Object
}

// Render renders environment opts.Env of m into Kubernetes objects, in the
// order they are best applied: ServiceAccount, ConfigMap, Service,
// Deployment, HorizontalPodAutoscaler, PodDisruptionBudget, Ingress. It is
// a pure function of its arguments. Problems in the manifest (say, a secret
// the Resolver does not know) are *Errors; problems in opts wrap
// ErrInvalidOption.
func Render(m *Manifest, opts RenderOptions) ([]Object, error) {
	if m == nil {
		return nil, fmt.Errorf("%w: no manifest", ErrInvalidOption)
	}
	if msg, _ := checkDNSLabel(opts.Env); msg != "" {
		return nil, fmt.Errorf("%w: environment %q: %s", ErrInvalidOption, opts.Env, msg)
	}
	if opts.Namespace != "" {
		if msg, _ := checkDNSLabel(opts.Namespace); msg != "" {
			return nil, fmt.Errorf("%w: namespace %q: %s", ErrInvalidOption, opts.Namespace, msg)
		}
	}
	if opts.Revision != "" && !isLabelValue(opts.Revision) {
		return nil, fmt.Errorf("%w: revision %q: must be a label value: at most 63 letters, digits, '-', '_' and '.'", ErrInvalidOption, opts.Revision)
	}
	if opts.HostPrefix != "" {
		label, ok := strings.CutSuffix(opts.HostPrefix, ".")
		if msg, _ := checkDNSLabel(label); !ok || msg != "" {
			return nil, fmt.Errorf("%w: host prefix %q: want a DNS label and a dot, such as pr-7.", ErrInvalidOption, opts.HostPrefix)
		}
	}
	if opts.Team != "" {
		if msg, _ := checkDNSLabel(opts.Team); msg != "" {
			return nil, fmt.Errorf("%w: team %q: %s", ErrInvalidOption, opts.Team, msg)
		}
	}
	if !(opts.AlertScale == 0 || opts.AlertScale >= 1 && opts.AlertScale <= MaxAlertScale) {
		return nil, fmt.Errorf("%w: alert scale %g: want 0, or 1 to %d", ErrInvalidOption, opts.AlertScale, MaxAlertScale)
	}
	if opts.Section != "" {
		if msg, _ := checkDNSLabel(opts.Section); msg != "" {
			return nil, fmt.Errorf("%w: section environment %q: %s", ErrInvalidOption, opts.Section, msg)
		}
	}
	if opts.IngressClass != "" && !isDNS1123Subdomain(opts.IngressClass) {
		return nil, fmt.Errorf("%w: ingress class %q: must be a DNS name", ErrInvalidOption, opts.IngressClass)
	}
	if err := opts.Scheduling.Validate(); err != nil {
		return nil, fmt.Errorf("%w: environment %q: scheduling defaults: %v", ErrInvalidOption, opts.Env, err)
	}
	if err := checkSet(m, opts.Set); err != nil {
		return nil, err
	}

	r := newRenderer(m, opts)
	objs := r.render()
	if err := r.errs.err(); err != nil {
		return nil, err
	}
	return objs, nil
}

func newRenderer(m *Manifest, opts RenderOptions) *renderer {
	em := m.ForEnv(opts.SectionEnv())
	r := &renderer{m: em, opts: opts, errs: &errorList{}, resolved: map[string]Value{}}
	if r.opts.Resolver == nil {
		r.opts.Resolver = OfflineResolver{}
	}
	r.args = maps.Clone(em.Args)
	if r.args == nil {
		r.args = map[string]string{}
	}
	for k, v := range opts.Set {
		if name, ok := strings.CutPrefix(k, gitSetPrefix); ok {
			if r.git == nil {
				r.git = map[string]string{}
			}
			r.git[name] = v
			continue
		}
		r.args[k] = v
	}
	return r
}

// ExpandResource returns resource name of m as environment opts.Env declares it, with the
// args, metadata and other resources' outputs its params take filled in; outputs come from
// opts.Resolver as text (a provisioner runs before rendering, in memory, so it may see
// secret outputs: see ResourceOrder for the order).
func ExpandResource(m *Manifest, opts RenderOptions, name string) (*Resource, error) {
	if m == nil {
		return nil, fmt.Errorf("%w: no manifest", ErrInvalidOption)
	}
	if err := checkSet(m, opts.Set); err != nil {
		return nil, err
	}
	r := newRenderer(m, opts)
	res := r.m.Resources[name]
	if res == nil {
		return nil, fmt.Errorf("%w: no resource %q in environment %s", ErrInvalidOption, name, opts.Env)
	}
	out := r.expandResource(name, res)
	if err := r.errs.err(); err != nil {
		return nil, err
	}
	return out, nil
}

type renderer struct {
	m        *Manifest
	opts     RenderOptions
	args     map[string]string
	git      map[string]string // ${git.NAME} values, by NAME
	errs     *errorList
	resolved map[string]Value // by placeholder, so each is resolved once
	sums     []string         // checksum inputs
}

// team is the team the app is deployed as.
func (r *renderer) team() string {
	if r.opts.Team != "" {
		return r.opts.Team
	}
	return r.m.Metadata.Team
}

func (r *renderer) fail(path, msg, hint string) {
	r.errs.add(r.m.errorAt(path, msg, hint))
}

func (r *renderer) render() []Object {
	app := r.m.Metadata.Name
	instance := app + "-" + r.opts.Env
	if len(instance) > validation.LabelValueMaxLength {
		r.fail("metadata.name", fmt.Sprintf("%q with environment %q is %d characters, more than the 63 a label value may have", app, r.opts.Env, len(instance)), "shorten the app or environment name")
		return nil
	}
	selector := map[string]string{LabelName: app, LabelInstance: instance}
	// The revision stays off the pod template: a deploy that changes
	// nothing in the pods must not restart them.
	podLabels := maps.Clone(r.m.Metadata.Labels)
	if podLabels == nil {
		podLabels = map[string]string{}
	}
	maps.Copy(podLabels, selector)
	podLabels[LabelManagedBy] = ManagedBy
	podLabels[LabelEnv] = r.opts.Env
	if team := r.team(); team != "" {
		podLabels[LabelPartOf] = team
	}
	labels := maps.Clone(podLabels)
	if r.opts.Revision != "" {
		labels[LabelRevision] = r.opts.Revision
	}
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: r.opts.Namespace, Labels: maps.Clone(labels)}
	}

	pod, files := r.podSpec(app)
	var objs []Object
	objs = append(objs, &corev1.ServiceAccount{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: meta(app),
		// App pods rarely need the Kubernetes API; a token they do not use
		// is only something to steal.
		AutomountServiceAccountToken: new(false),
	})
	if files != nil {
		cm := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: meta(FilesConfigMapName(app))}
		for _, f := range files {
			if f.binary != nil {
				if cm.BinaryData == nil {
					cm.BinaryData = map[string][]byte{}
				}
				cm.BinaryData[f.key] = f.binary
			} else {
				if cm.Data == nil {
					cm.Data = map[string]string{}
				}
				cm.Data[f.key] = f.content
			}
			r.sums = append(r.sums, "file "+f.key+" "+hash(f.content+string(f.binary)))
		}
		objs = append(objs, cm)
	}
	if cm := r.rulesConfigMap(meta(RulesConfigMapName(app))); cm != nil {
		objs = append(objs, cm)
	}
	if ports := servicePorts(r.m); len(ports) > 0 {
		svc := &corev1.Service{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
			ObjectMeta: meta(app),
			Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Selector: selector},
		}
		for _, name := range ports {
			sp := r.m.Service.Ports[name]
			target := sp.TargetPort
			if target == 0 {
				target = sp.Port
			}
			proto := corev1.ProtocolTCP
			if sp.Protocol != "" {
				proto = corev1.Protocol(sp.Protocol)
			}
			svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{
				Name: name, Port: sp.Port, TargetPort: intstr.FromInt32(target), Protocol: proto,
			})
		}
		objs = append(objs, svc)
	}

	slices.Sort(r.sums)
	annotations := maps.Clone(r.m.Metadata.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[AnnotationChecksum] = hash(strings.Join(r.sums, "\n"))
	r.scrapeAnnotations(annotations)
	dep := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: meta(app),
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: selector},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels, Annotations: annotations},
				Spec:       pod,
			},
		},
	}
	if len(r.m.Metadata.Annotations) > 0 {
		dep.Annotations = maps.Clone(r.m.Metadata.Annotations)
	}
	minReplicas := int32(1)
	if r.m.Replicas != nil {
		minReplicas = *r.m.Replicas
	}
	if a := r.m.Autoscale; a != nil {
		// The autoscaler owns the replica count: leaving it out of the
		// Deployment keeps each deploy from resetting it.
		minReplicas = max(a.Min, minReplicas)
	} else {
		dep.Spec.Replicas = new(minReplicas)
	}
	objs = append(objs, dep)

	if a := r.m.Autoscale; a != nil {
		objs = append(objs, &autoscalingv2.HorizontalPodAutoscaler{
			TypeMeta:   metav1.TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"},
			ObjectMeta: meta(app),
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: app},
				MinReplicas:    new(minReplicas),
				MaxReplicas:    a.Max,
				Metrics: []autoscalingv2.MetricSpec{{
					Type: autoscalingv2.ResourceMetricSourceType,
					Resource: &autoscalingv2.ResourceMetricSource{
						Name:   corev1.ResourceCPU,
						Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: new(a.CPU)},
					},
				}},
			},
		})
	}
	if minReplicas > 1 {
		// One pod at a time may go for node drains; with a single replica a
		// budget would block drains forever, so there is none.
		one := intstr.FromInt32(1)
		objs = append(objs, &policyv1.PodDisruptionBudget{
			TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
			ObjectMeta: meta(app),
			Spec: policyv1.PodDisruptionBudgetSpec{
				MaxUnavailable: &one,
				Selector:       &metav1.LabelSelector{MatchLabels: selector},
			},
		})
	}
	if ing := r.ingress(app); ing != nil {
		ing.ObjectMeta = meta(app)
		objs = append(objs, ing)
	}
	return objs
}

// FilesConfigMapName is the ConfigMap holding the app's container files.
func FilesConfigMapName(app string) string { return app + "-files" }

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

type renderedFile struct {
	key     string
	content string
	binary  []byte
	mode    *int32
}

func (r *renderer) podSpec(app string) (corev1.PodSpec, []renderedFile) {
	spec := corev1.PodSpec{ServiceAccountName: app}
	var files []renderedFile
	volumes := map[string]bool{}
	for _, name := range sortedKeys(r.m.Containers) {
		c := r.m.Containers[name]
		path := join("containers", name)
		ctr := corev1.Container{Name: name, Image: r.image(join(path, "image"), c.Image)}
		env := &envBuilder{r: r}
		for i, s := range c.Command {
			ctr.Command = append(ctr.Command, env.splice(index(join(path, "command"), i), s))
		}
		for i, s := range c.Args {
			ctr.Args = append(ctr.Args, env.splice(index(join(path, "args"), i), s))
		}
		for _, k := range sortedKeys(c.Variables) {
			env.variable(join(join(path, "variables"), k), k, c.Variables[k])
		}
		ctr.Env = env.build()

		sorted := slices.Clone(c.Files)
		slices.SortFunc(sorted, func(a, b File) int { return strings.Compare(a.Target, b.Target) })
		for i, f := range sorted {
			key := name + "-" + strconv.Itoa(i)
			rf := renderedFile{key: key}
			switch {
			case f.Source != "":
				r.fail(join(f.path, "source"), "file "+quote(f.Source)+" was not read", "render with berth render, which reads it, or inline it as content")
			case f.BinaryContent != nil:
				rf.binary = f.BinaryContent
			case f.NoExpand:
				rf.content = f.Content
			default:
				rf.content = r.textOnly(join(f.path, "content"), f.Content, allowText)
			}
			if f.Mode != "" {
				if v, err := strconv.ParseUint(f.Mode, 8, 32); err == nil && v <= 0o777 {
					rf.mode = new(int32(v))
				}
			}
			files = append(files, rf)
			ctr.VolumeMounts = append(ctr.VolumeMounts, corev1.VolumeMount{
				Name: filesVolume, MountPath: f.Target, SubPath: key, ReadOnly: true,
			})
		}
		for _, v := range c.Volumes {
			if !volumes[v.Source] {
				volumes[v.Source] = true
				if src := r.volume(v); src != nil {
					spec.Volumes = append(spec.Volumes, corev1.Volume{Name: v.Source, VolumeSource: *src})
				}
			}
			ctr.VolumeMounts = append(ctr.VolumeMounts, corev1.VolumeMount{
				Name: v.Source, MountPath: v.Target, SubPath: strings.TrimPrefix(v.Path, "/"), ReadOnly: v.ReadOnly,
			})
		}
		slices.SortFunc(ctr.VolumeMounts, func(a, b corev1.VolumeMount) int { return strings.Compare(a.MountPath, b.MountPath) })
		if c.Resources != nil {
			ctr.Resources = r.compute(join(path, "resources"), c.Resources)
		}
		ctr.LivenessProbe = probe(c.LivenessProbe)
		if ctr.ReadinessProbe = probe(c.ReadinessProbe); ctr.ReadinessProbe != nil {
			// Every ReadinessPeriod seconds, not Kubernetes' 10: a pod whose app was not
			// listening yet at the first probe takes traffic (and its rollout, a preview, is
			// Available) seconds after it is ready, not up to 10.
			ctr.ReadinessProbe.PeriodSeconds = ReadinessPeriod
		}
		spec.Containers = append(spec.Containers, ctr)
	}
	if files != nil {
		vol := corev1.Volume{Name: filesVolume, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: FilesConfigMapName(app)},
		}}}
		for _, f := range files {
			vol.ConfigMap.Items = append(vol.ConfigMap.Items, corev1.KeyToPath{Key: f.key, Path: f.key, Mode: f.mode})
		}
		spec.Volumes = append(spec.Volumes, vol)
	}
	slices.SortFunc(spec.Volumes, func(a, b corev1.Volume) int { return strings.Compare(a.Name, b.Name) })
	schedule(&spec, r.opts.Scheduling)
	return spec, files
}

// schedule adds an environment's scheduling defaults to a pod: its node selector merged in,
// the environment's value winning a key both set (the manifest has no node selector today;
// were one added, the platform's placement would still hold), and its tolerations appended,
// each once.
func schedule(spec *corev1.PodSpec, s berth.Scheduling) {
	if len(s.NodeSelector) > 0 {
		if spec.NodeSelector == nil {
			spec.NodeSelector = make(map[string]string, len(s.NodeSelector))
		}
		maps.Copy(spec.NodeSelector, s.NodeSelector)
	}
	for _, t := range s.Tolerations {
		ct := corev1.Toleration{Key: t.Key, Operator: corev1.TolerationOperator(t.Operator), Value: t.Value, Effect: corev1.TaintEffect(t.Effect)}
		if !slices.ContainsFunc(spec.Tolerations, func(have corev1.Toleration) bool {
			return have.Key == ct.Key && have.Operator == ct.Operator && have.Value == ct.Value && have.Effect == ct.Effect && have.TolerationSeconds == nil
		}) {
			spec.Tolerations = append(spec.Tolerations, ct)
		}
	}
}

// image expands a container's image; one with placeholders is checked
// here, once it is known (Parse checks the others).
func (r *renderer) image(path, s string) string {
	if !hasPlaceholder(s) {
		return s
	}
	problems := r.errs.count()
	img := r.textOnly(path, s, allowPlain)
	if r.errs.count() == problems {
		if msg, hint := imageProblem(img); msg != "" {
			r.fail(path, quote(img)+" (from "+quote(s)+") is not a valid image reference: "+msg, hint)
		}
	}
	return img
}

func (r *renderer) volume(v Volume) *corev1.VolumeSource {
	res := r.m.Resources[v.Source]
	if res == nil {
		return nil
	}
	val, err := r.opts.Resolver.Resolve(Ref{
		App: r.m.Metadata.Name, Env: r.opts.Env, Namespace: r.opts.Namespace,
		Kind: RefVolume, Name: v.Source, Resource: r.expandResource(v.Source, res),
	})
	switch {
	case err != nil:
		r.fail(join(v.path, "source"), "can't resolve volume "+quote(v.Source)+": "+err.Error(), "")
	case val.Volume == nil:
		r.fail(join(v.path, "source"), "volume "+quote(v.Source)+" resolved to no volume", "")
	default:
		if val.Checksum != "" {
			r.sums = append(r.sums, "volume "+v.Source+" "+val.Checksum)
		}
		return val.Volume
	}
	return nil
}

func (r *renderer) compute(path string, c *ComputeResources) corev1.ResourceRequirements {
	list := func(l ResourceList) corev1.ResourceList {
		out := corev1.ResourceList{}
		for name, s := range map[corev1.ResourceName]string{corev1.ResourceCPU: l.CPU, corev1.ResourceMemory: l.Memory} {
			if s == "" {
				continue
			}
			if q, err := resource.ParseQuantity(s); err == nil {
				out[name] = q
			} else {
				r.fail(path, "invalid quantity "+quote(s), "")
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	return corev1.ResourceRequirements{Requests: list(c.Requests), Limits: list(c.Limits)}
}

// ReadinessPeriod is how often, in seconds, the readiness probes Berth renders run.
const ReadinessPeriod = 2

func probe(p *Probe) *corev1.Probe {
	switch {
	case p == nil:
		return nil
	case p.HTTPGet != nil:
		h := p.HTTPGet
		get := &corev1.HTTPGetAction{Path: h.Path, Port: intstr.FromInt32(h.Port), Host: h.Host, Scheme: corev1.URIScheme(h.Scheme)}
		if get.Path == "" {
			get.Path = "/"
		}
		for _, hd := range h.HTTPHeaders {
			get.HTTPHeaders = append(get.HTTPHeaders, corev1.HTTPHeader{Name: hd.Name, Value: hd.Value})
		}
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: get}}
	case p.Exec != nil:
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: slices.Clone(p.Exec.Command)}}}
	}
	return nil
}

func (r *renderer) ingress(app string) *networkingv1.Ingress {
	if len(r.m.Exposes) == 0 {
		return nil
	}
	ing := &networkingv1.Ingress{TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"}}
	class := r.m.IngressClass
	if class == "" {
		class = r.opts.IngressClass
	}
	if class != "" {
		ing.Spec.IngressClassName = new(class)
	}
	prefix := networkingv1.PathTypePrefix
	rules := map[string]int{} // host -> index in Spec.Rules, in order of first use
	for i, e := range r.m.Exposes {
		p := index("exposes", i)
		host := r.textOnly(join(p, "host"), e.Host, allowPlain)
		if hasPlaceholder(e.Host) && !isHostName(host) {
			r.fail(join(p, "host"), quote(host)+" is not a lowercase DNS name", "")
		}
		host = r.opts.HostPrefix + host
		at, ok := rules[host]
		if !ok {
			at = len(ing.Spec.Rules)
			rules[host] = at
			ing.Spec.Rules = append(ing.Spec.Rules, networkingv1.IngressRule{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{}}})
		}
		rule := &ing.Spec.Rules[at]
		rule.HTTP.Paths = append(rule.HTTP.Paths, networkingv1.HTTPIngressPath{
			Path:     cmpPath(e.Path),
			PathType: &prefix,
			Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
				Name: app, Port: networkingv1.ServiceBackendPort{Name: portName(r.m, e.Port)},
			}},
		})
	}
	return ing
}
