package provision

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

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
	// Plain resolves secret outputs to their text: only for params, in memory, while
	// provisioning.
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
		v, ok := o.Outputs[ref.Output]
		if !ok {
			return manifest.Value{}, fmt.Errorf("its provisioner (%s) gives no output %s; it gives %s", o.Provisioner, ref.Output, outputList(o))
		}
		if o.Secret[ref.Output] && !r.Plain {
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
