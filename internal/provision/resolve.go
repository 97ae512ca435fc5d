package provision

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/berth-dev/berth/internal/manifest"
)

// ResourceSecretName is the Secret that holds an app's secret resource outputs in its
// namespace, as <app>-secrets holds its secrets: rendered without values, filled in when
// the deploy engine applies it.
func ResourceSecretName(app string) string { return app + "-resources" }

// SecretKey is the key of resource name's secret output in ResourceSecretName.
func SecretKey(name, output string) string { return name + "." + output }

// FromResult turns a template provisioner's result into an Outcome: outputs as text (other
// values as JSON), its state, and its manifests as objects. uri names the provisioner.
func FromResult(uri string, res *Result) (*Outcome, error) {
	out := &Outcome{Provisioner: uri, Outputs: map[string]string{}, Secret: maps.Clone(res.Secret), State: res.State,
		Objects: res.Manifests}
	for k, v := range res.Outputs {
		switch x := v.(type) {
		case string:
			out.Outputs[k] = x
		case nil:
			out.Outputs[k] = ""
		default:
			data, err := json.Marshal(x)
			if err != nil {
				return nil, fmt.Errorf("output %s: %v", k, err)
			}
			out.Outputs[k] = strings.TrimSuffix(string(data), "\n")
		}
	}
	return out, nil
}

// Resolver resolves ${resources.NAME.OUTPUT} and volume mounts from provisioned resources,
// and everything else through Next. Secret outputs become references to
// ResourceSecretName, so their values never reach rendered objects; Used records them.
type Resolver struct {
	App       string
	Resources map[string]*Outcome // by resource name
	// Versions identify each resource's outputs (uid@version), for the pod template's
	// checksum: a changed output rolls the pods.
	Versions map[string]string
	// Plain resolves for params, while provisioning: outputs as text, and secret outputs
	// refused, since params reach stored objects and plain outputs.
	Plain bool
	Next  manifest.Resolver
	// Used lists the secret outputs resolved, as NAME.OUTPUT.
	Used []string
}

// Resolve implements manifest.Resolver.
func (r *Resolver) Resolve(ref manifest.Ref) (manifest.Value, error) {
	switch ref.Kind {
	case manifest.RefResource:
		o, ok := r.Resources[ref.Name]
		if !ok {
			return manifest.Value{}, fmt.Errorf("resource %s is not provisioned", ref.Name)
		}
		if o.Placeholder {
			return manifest.OfflineResolver{}.Resolve(ref)
		}
		v, ok := o.Outputs[ref.Output]
		if !ok {
			return manifest.Value{}, fmt.Errorf("its provisioner (%s) gives no output %s; it gives %s", o.Provisioner, ref.Output, outputList(o))
		}
		if o.Secret[ref.Output] && r.Plain {
			return manifest.Value{}, fmt.Errorf("output %s of resource %s is secret: it cannot go into another resource's params, "+
				"which reach stored objects and outputs; read it in variables instead", ref.Output, ref.Name)
		}
		if o.Secret[ref.Output] {
			key := SecretKey(ref.Name, ref.Output)
			if !slices.Contains(r.Used, key) {
				r.Used = append(r.Used, key)
			}
			return manifest.Value{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: ResourceSecretName(r.App)}, Key: key,
			}, Checksum: r.Versions[ref.Name]}, nil
		}
		return manifest.Value{Text: v, Checksum: r.Versions[ref.Name]}, nil
	case manifest.RefVolume:
		o, ok := r.Resources[ref.Name]
		if !ok || o.Volume == nil {
			return manifest.Value{}, fmt.Errorf("resource %s is not a provisioned volume", ref.Name)
		}
		if o.Volume.ClaimName == "" {
			return manifest.Value{Volume: &corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}, nil
		}
		return manifest.Value{Volume: &corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{
			ClaimName: o.Volume.ClaimName}}, Checksum: r.Versions[ref.Name]}, nil
	}
	if r.Next == nil {
		return manifest.OfflineResolver{}.Resolve(ref)
	}
	return r.Next.Resolve(ref)
}

func outputList(o *Outcome) string {
	if len(o.Outputs) == 0 {
		return "none"
	}
	return strings.Join(slices.Sorted(maps.Keys(o.Outputs)), ", ")
}

// Walk provisions the resources m declares in opts.Env, in manifest.ResourceOrder, with
// each one's params filled in from args, metadata and the outputs of those before it; one
// provisions one resource. It returns the resolver render resolves them with.
func Walk(m *manifest.Manifest, opts manifest.RenderOptions, one func(name string, decl *manifest.Resource) (*Outcome, string, error)) (*Resolver, error) {
	order, err := manifest.ResourceOrder(m.ForEnv(opts.SectionEnv()))
	if err != nil {
		return nil, err
	}
	res := &Resolver{App: m.Metadata.Name, Resources: map[string]*Outcome{}, Versions: map[string]string{}, Plain: true, Next: opts.Resolver}
	opts.Resolver = res
	for _, name := range order {
		decl, err := manifest.ExpandResource(m, opts, name)
		if err != nil {
			return nil, fmt.Errorf("resources.%s: %w", name, err)
		}
		out, version, err := one(name, decl)
		if err != nil {
			return nil, err
		}
		res.Resources[name], res.Versions[name] = out, version
	}
	res.Plain = false
	return res, nil
}

// Builtin runs the built-in provisioner of decl's type that needs nothing from outside
// (service, dns, route, volume); ok is false for other types.
func Builtin(env Env, name string, decl *manifest.Resource, namespace string) (out *Outcome, ok bool, err error) {
	if IsBuiltin(decl.Type) && decl.Type != "postgres" {
		if err := CheckBuiltin(decl); err != nil {
			return nil, true, err
		}
	}
	switch decl.Type {
	case "service":
		out, err = Service(env, name, decl)
		return out, true, err
	case "dns":
		out, err = DNS(env, name)
		return out, true, err
	case "route":
		out, err = Route(env, name, decl, namespace)
		return out, true, err
	case "volume":
		return Volume(env, name, decl, namespace), true, nil
	}
	return nil, false, nil
}

// Objects returns what render adds for the resources: the Secret ResourceSecretName
// (without values: the annotation AnnotationResourceOutputs names the resource output
// behind each key) when the objects read secret outputs, then the objects the provisioners
// made, with labels added and, when namespace is set, in it. uid names each resource by
// name, for the annotation.
func (r *Resolver) Objects(namespace string, labels map[string]string, uid func(name string) string) ([]*unstructured.Unstructured, error) {
	if r == nil {
		return nil, nil
	}
	var out []*unstructured.Unstructured
	if len(r.Used) > 0 {
		refs := map[string]OutputRef{}
		for _, key := range r.Used {
			name, output, _ := strings.Cut(key, ".")
			refs[key] = OutputRef{UID: uid(name), Output: output}
		}
		data, err := json.Marshal(refs)
		if err != nil {
			return nil, err
		}
		sec := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
			"metadata": map[string]any{"name": ResourceSecretName(r.App)},
		}}
		sec.SetAnnotations(map[string]string{AnnotationResourceOutputs: string(data)})
		out = append(out, sec)
	}
	for _, name := range slices.Sorted(maps.Keys(r.Resources)) {
		for _, obj := range r.Resources[name].Objects {
			u := &unstructured.Unstructured{Object: jsonCopy(obj)}
			out = append(out, u)
		}
	}
	for _, u := range out {
		l := u.GetLabels()
		if l == nil {
			l = map[string]string{}
		}
		maps.Copy(l, labels)
		u.SetLabels(l)
		if namespace != "" && (u.GetNamespace() != "" || u.GetKind() == "Secret") {
			u.SetNamespace(namespace)
		}
	}
	return out, nil
}

// AnnotationResourceOutputs names, on the Secret ResourceSecretName, the resource output
// behind each key: {"db.password": {"uid": ..., "output": "password"}}. The deploy engine
// fills the Secret's data from it when it applies it.
const AnnotationResourceOutputs = "berth.dev/resource-outputs"

// OutputRef is one key of AnnotationResourceOutputs.
type OutputRef struct {
	UID    string `json:"uid"`
	Output string `json:"output"`
}

// jsonCopy deep-copies a provisioner's object into the JSON form unstructured objects
// hold (numbers as float64 or int64, lists as []any).
func jsonCopy(obj map[string]any) map[string]any {
	data, err := json.Marshal(obj)
	if err != nil {
		return obj
	}
	var out map[string]any
	if json.Unmarshal(data, &out) != nil {
		return obj
	}
	return out
}
