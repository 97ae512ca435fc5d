package deploy

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/manifest"
	"github.com/berth-dev/berth/internal/provision"
)

// How central config and secrets reach the pods
//
// At render time ${config.KEY} and ${secrets.KEY} resolve against the settings that apply
// to the app in the environment (the most specific level wins), and the deploy gets two
// more objects: the ConfigMap <app>-config with the config values the pods read, and the
// Secret <app>-secrets. A key no level sets fails the render, so the deploy fails before
// anything is applied.
//
// The rendered objects are stored for history and rollbacks, and the API shows them, so
// the Secret is stored without values: its data is left out and the annotation
// berth.dev/secret-versions names the secret version (setting id and version, with the
// level for people) behind each key. Only when the engine applies the objects does it read
// those versions from the store, decrypt them and fill in the data, in memory. A rollback
// re-applies the stored objects, and so the very same versions (unsetting a key keeps its
// versions for this). Config values are not secret and are stored in the ConfigMap as they
// are. The pod template's checksum annotation covers each value's version, so a change
// rolls the pods.

// AnnotationSecretVersions names, on a stored Secret, the secret version behind each key.
const AnnotationSecretVersions = "berth.dev/secret-versions"

// AnnotationEnvFrom in a manifest's metadata.annotations asks for every config value
// ("config"), every secret ("secrets") or both ("config,secrets") that applies to the app
// as environment variables of each container (envFrom), not only those the variables map.
// It is an annotation because the manifest has no field for it yet.
const AnnotationEnvFrom = "env.berth.dev/from"

// SettingsSource reads the settings that apply to an app in an environment; *store.Store
// and *store.Tx are both one.
type SettingsSource interface {
	SettingsFor(ctx context.Context, team, app, env string) ([]berth.Setting, error)
}

// Settings are the config values and secrets that apply to one app in one environment,
// the most specific level winning. Secrets are names and versions only.
type Settings struct {
	Team, App, Env string
	resolved       berth.Resolved
}

// LoadSettings reads the settings of team's app in env.
func LoadSettings(ctx context.Context, src SettingsSource, team, app, env string) (*Settings, error) {
	all, err := src.SettingsFor(ctx, team, app, env)
	if err != nil {
		return nil, err
	}
	return &Settings{Team: team, App: app, Env: env, resolved: berth.Resolve(all)}, nil
}

// WithoutSecrets returns s without its secrets: a ${secrets.KEY} then resolves to nothing
// and fails the render.
func (s *Settings) WithoutSecrets() *Settings {
	out := &Settings{Team: s.Team, App: s.App, Env: s.Env, resolved: berth.Resolved{}}
	for k, v := range s.resolved {
		if k != berth.SettingSecret {
			out.resolved[k] = v
		}
	}
	return out
}

// Get returns the winning setting of kind's key.
func (s *Settings) Get(kind berth.SettingKind, key string) (berth.Setting, bool) {
	v, ok := s.resolved[kind][key]
	return v, ok
}

// All returns the winning settings of kind, by key.
func (s *Settings) All(kind berth.SettingKind) map[string]berth.Setting { return s.resolved[kind] }

// MissingSettingError is a ${config.KEY} or ${secrets.KEY} that no level sets.
type MissingSettingError struct {
	Kind     berth.SettingKind
	Key      string
	Team     string
	App      string
	Env      string
	Searched []string // the levels searched, most specific first
}

func (e *MissingSettingError) Error() string {
	example := fmt.Sprintf("berth config set %s=VALUE", e.Key)
	if e.Kind == berth.SettingSecret {
		example = "berth secrets set " + e.Key
	}
	return fmt.Sprintf("no %s %s is set for %s/%s in %s: searched %s (set it at one of these levels, e.g. `%s --team %s --app %s --env %s`)",
		e.Kind, e.Key, e.Team, e.App, e.Env, strings.Join(e.Searched, ", "), example, e.Team, e.App, e.Env)
}

// resolver resolves config and secrets against settings and records which it resolved;
// resource outputs and volumes resolve through resources, what the provision stage made
// (or, without it, as they do offline).
type resolver struct {
	s         *Settings
	resources manifest.Resolver
	used      map[berth.SettingKind]map[string]berth.Setting
}

func settingKind(k manifest.RefKind) (berth.SettingKind, bool) {
	switch k {
	case manifest.RefConfig:
		return berth.SettingConfig, true
	case manifest.RefSecret:
		return berth.SettingSecret, true
	}
	return "", false
}

// Resolve implements manifest.Resolver.
func (r *resolver) Resolve(ref manifest.Ref) (manifest.Value, error) {
	kind, ok := settingKind(ref.Kind)
	if !ok && r.resources != nil {
		return r.resources.Resolve(ref)
	}
	v, err := manifest.OfflineResolver{}.Resolve(ref)
	if !ok || err != nil {
		return v, err
	}
	set, ok := r.s.Get(kind, ref.Name)
	if !ok {
		return manifest.Value{}, &MissingSettingError{Kind: kind, Key: ref.Name, Team: r.s.Team, App: r.s.App, Env: r.s.Env,
			Searched: berth.SettingLevels(r.s.Team, r.s.App, r.s.Env)}
	}
	r.used[kind][ref.Name] = set
	v.Checksum = checksum(set)
	return v, nil
}

// checksum identifies a setting's value by where it is set and its version — never by a
// hash of the value, which would let a short secret be guessed offline.
func checksum(s berth.Setting) string {
	return fmt.Sprintf("%s %d@%d", s.Kind, s.ID, s.Version)
}

// envFrom reads AnnotationEnvFrom of m.
func envFrom(m *manifest.Manifest) (map[berth.SettingKind]bool, error) {
	v, ok := m.Metadata.Annotations[AnnotationEnvFrom]
	if !ok {
		return nil, nil
	}
	out := map[berth.SettingKind]bool{}
	for part := range strings.SplitSeq(v, ",") {
		switch strings.TrimSpace(part) {
		case "config":
			out[berth.SettingConfig] = true
		case "secrets":
			out[berth.SettingSecret] = true
		default:
			return nil, fmt.Errorf("metadata.annotations.%s: %q: write config, secrets or config,secrets", AnnotationEnvFrom, v)
		}
	}
	return out, nil
}

// Render renders m for a deploy (see the top of this file): the manifest's objects with
// config and secrets resolved against s and resources against res (what the provision
// stage made; nil renders them as offline), the ConfigMap and Secret (without values) the
// pods read config and secrets from, and for resources the Secret <app>-resources (without
// values) and the objects their provisioners made. Manifest problems, a missing key among
// them, are *manifest.Errors; problems in opts wrap manifest.ErrInvalidOption.
func Render(m *manifest.Manifest, opts manifest.RenderOptions, s *Settings, res *provision.Resolver) ([]manifest.Object, error) {
	from, err := envFrom(m.ForEnv(opts.SectionEnv()))
	if err != nil {
		return nil, err
	}
	r := &resolver{s: s, used: map[berth.SettingKind]map[string]berth.Setting{berth.SettingConfig: {}, berth.SettingSecret: {}}}
	if res != nil {
		r.resources = res
	}
	opts.Resolver = r
	objs, err := manifest.Render(m, opts)
	if err != nil {
		return nil, err
	}
	for kind := range from {
		maps.Copy(r.used[kind], s.All(kind))
	}
	config, secrets := r.used[berth.SettingConfig], r.used[berth.SettingSecret]

	app := m.Metadata.Name
	var labels map[string]string
	var dep *appsv1.Deployment
	for _, o := range objs {
		if labels == nil {
			labels = o.GetLabels()
		}
		if d, ok := o.(*appsv1.Deployment); ok {
			dep = d
		}
	}
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: opts.Namespace, Labels: maps.Clone(labels)}
	}
	var extra []manifest.Object
	if res != nil {
		objs, err := res.Objects(opts.Namespace, labels, func(name string) string { uid, _, _ := strings.Cut(res.Versions[name], "@"); return uid })
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			extra = append(extra, o)
		}
	}
	if len(config) > 0 || from[berth.SettingConfig] {
		cm := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: meta(manifest.ConfigMapName(app)),
			Data: map[string]string{}}
		for k, set := range config {
			cm.Data[k] = set.Value
		}
		extra = append(extra, cm)
	}
	if len(secrets) > 0 || from[berth.SettingSecret] {
		versions := map[string]secretVersion{}
		for k, set := range secrets {
			versions[k] = secretVersion{Level: set.Level(), Setting: set.ID, Version: set.Version}
		}
		data, err := json.Marshal(versions)
		if err != nil {
			return nil, err
		}
		sec := &corev1.Secret{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}, ObjectMeta: meta(manifest.SecretName(app)),
			Type: corev1.SecretTypeOpaque}
		sec.Annotations = map[string]string{AnnotationSecretVersions: string(data)}
		extra = append(extra, sec)
	}
	if dep != nil && len(from) > 0 {
		injectAll(dep, app, from, config, secrets)
	}
	// After the ServiceAccount, before anything that reads them.
	return slices.Insert(objs, min(1, len(objs)), extra...), nil
}

// injectAll gives every container of dep the ConfigMap and/or Secret as envFrom, and
// folds the versions of all their values into the pod template's checksum: the manifest
// only counted those its variables name.
func injectAll(dep *appsv1.Deployment, app string, from map[berth.SettingKind]bool, config, secrets map[string]berth.Setting) {
	var sources []corev1.EnvFromSource
	var sums []string
	if from[berth.SettingConfig] {
		sources = append(sources, corev1.EnvFromSource{ConfigMapRef: &corev1.ConfigMapEnvSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: manifest.ConfigMapName(app)}}})
		for k, s := range config {
			sums = append(sums, k+" "+checksum(s))
		}
	}
	if from[berth.SettingSecret] {
		sources = append(sources, corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: manifest.SecretName(app)}}})
		for k, s := range secrets {
			sums = append(sums, k+" "+checksum(s))
		}
	}
	for i := range dep.Spec.Template.Spec.Containers {
		dep.Spec.Template.Spec.Containers[i].EnvFrom = append(dep.Spec.Template.Spec.Containers[i].EnvFrom, sources...)
	}
	slices.Sort(sums)
	ann := dep.Spec.Template.Annotations
	if ann == nil {
		ann = map[string]string{}
		dep.Spec.Template.Annotations = ann
	}
	sum := sha256.Sum256([]byte(ann[manifest.AnnotationChecksum] + "\n" + strings.Join(sums, "\n")))
	ann[manifest.AnnotationChecksum] = hex.EncodeToString(sum[:])
}

// secretVersion is one key of AnnotationSecretVersions.
type secretVersion struct {
	Level   berth.Level `json:"level"`
	Setting int64       `json:"setting"`
	Version int64       `json:"version"`
}

// SecretReader opens stored secret versions and resources' secret outputs; *store.Store
// is one.
type SecretReader interface {
	SecretValues(ctx context.Context, refs []berth.SecretRef) (map[berth.SecretRef][]byte, error)
	ResourceSecrets(ctx context.Context, env, uid string) (berth.ResourceSecrets, error)
}

// fillSecrets puts the values of the secret versions each stored Secret of objs names into
// its data, and the current secret outputs of the resources <app>-resources names, in
// memory, just before apply. It returns the values, so that messages can be scrubbed of
// them.
func fillSecrets(ctx context.Context, st SecretReader, env string, objs []*unstructured.Unstructured) ([][]byte, error) {
	var values [][]byte
	for _, o := range objs {
		if o.GetKind() != "Secret" || o.GroupVersionKind().Group != "" {
			continue
		}
		if ann, ok := o.GetAnnotations()[provision.AnnotationResourceOutputs]; ok {
			vals, err := fillResourceOutputs(ctx, st, env, o, ann)
			if err != nil {
				return nil, err
			}
			values = append(values, vals...)
			continue
		}
		ann, ok := o.GetAnnotations()[AnnotationSecretVersions]
		if !ok {
			continue
		}
		var versions map[string]secretVersion
		if err := json.Unmarshal([]byte(ann), &versions); err != nil {
			return nil, fmt.Errorf("Secret %s: annotation %s: %v", o.GetName(), AnnotationSecretVersions, err)
		}
		refs := make([]berth.SecretRef, 0, len(versions))
		for _, v := range versions {
			refs = append(refs, berth.SecretRef{Setting: v.Setting, Version: v.Version})
		}
		vals, err := st.SecretValues(ctx, refs)
		if err != nil {
			return nil, fmt.Errorf("Secret %s: %w", o.GetName(), err)
		}
		data := make(map[string]any, len(versions))
		for k, v := range versions {
			val := vals[berth.SecretRef{Setting: v.Setting, Version: v.Version}]
			data[k] = base64.StdEncoding.EncodeToString(val)
			values = append(values, val)
		}
		o.Object["data"] = data
	}
	return values, nil
}

// fillResourceOutputs fills the Secret o, whose annotation ann names resource outputs.
func fillResourceOutputs(ctx context.Context, st SecretReader, env string, o *unstructured.Unstructured, ann string) ([][]byte, error) {
	var refs map[string]provision.OutputRef
	if err := json.Unmarshal([]byte(ann), &refs); err != nil {
		return nil, fmt.Errorf("Secret %s: annotation %s: %v", o.GetName(), provision.AnnotationResourceOutputs, err)
	}
	opened := map[string]berth.ResourceSecrets{}
	data := make(map[string]any, len(refs))
	var values [][]byte
	for _, key := range slices.Sorted(maps.Keys(refs)) {
		ref := refs[key]
		sec, ok := opened[ref.UID]
		if !ok {
			var err error
			if sec, err = st.ResourceSecrets(ctx, env, ref.UID); err != nil {
				return nil, fmt.Errorf("Secret %s: %w", o.GetName(), err)
			}
			opened[ref.UID] = sec
		}
		v, ok := sec.Outputs[ref.Output]
		if !ok {
			return nil, fmt.Errorf("Secret %s: resource %s has no secret output %s (deleted or changed since these objects were rendered?)", o.GetName(), ref.UID, ref.Output)
		}
		data[key] = base64.StdEncoding.EncodeToString([]byte(v))
		values = append(values, []byte(v))
	}
	o.Object["data"] = data
	return values, nil
}

// redactor scrubs secret values from messages that leave the engine (deploy reasons,
// events, logs) — defense in depth: Kubernetes does not echo Secret data, but a message
// that ever did must not carry a value on.
type redactor [][]byte

func (r redactor) redact(msg string) string {
	for _, v := range r {
		// Very short values would blank out ordinary words; they are not worth a secret.
		if len(v) < 4 {
			continue
		}
		for _, form := range secretForms(v) {
			msg = strings.ReplaceAll(msg, form, "(redacted)")
		}
	}
	return msg
}

// secretForms are the ways a secret value shows up in what an app or a tool prints: as it
// is, base64-encoded (standard and URL alphabets, padded or not), JSON-escaped (Go escapes
// & < > as \u0026...), and URL-escaped (query and path).
func secretForms(v []byte) []string {
	forms := []string{string(v)}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		forms = append(forms, enc.EncodeToString(v))
	}
	if j, err := json.Marshal(string(v)); err == nil {
		forms = append(forms, string(j[1:len(j)-1]))
	}
	forms = append(forms, url.QueryEscape(string(v)), url.PathEscape(string(v)))
	// The longest first, so that a form containing another is replaced whole.
	slices.SortFunc(forms, func(a, b string) int { return len(b) - len(a) })
	return slices.Compact(forms)
}

// Usage is which settings a manifest reads in one environment.
type Usage struct {
	Keys map[berth.SettingKind]map[string]bool
	All  map[berth.SettingKind]bool // AnnotationEnvFrom: every key of the kind
}

// Uses reports whether the manifest reads kind's key.
func (u Usage) Uses(kind berth.SettingKind, key string) bool { return u.All[kind] || u.Keys[kind][key] }

// SettingsUsage returns which settings manifest text reads when rendered for env with args,
// whether or not they are set.
func SettingsUsage(text, env string, args map[string]string) (Usage, error) {
	m, err := manifest.Parse("berth.yaml", []byte(text))
	if err != nil {
		return Usage{}, err
	}
	from, err := envFrom(m.ForEnv(env))
	if err != nil {
		return Usage{}, err
	}
	rec := &recorder{keys: map[berth.SettingKind]map[string]bool{berth.SettingConfig: {}, berth.SettingSecret: {}}}
	if _, err := manifest.Render(m, manifest.RenderOptions{Env: env, Set: args, Resolver: rec}); err != nil {
		return Usage{}, err
	}
	return Usage{Keys: rec.keys, All: from}, nil
}

type recorder struct {
	keys map[berth.SettingKind]map[string]bool
}

func (r *recorder) Resolve(ref manifest.Ref) (manifest.Value, error) {
	if kind, ok := settingKind(ref.Kind); ok {
		r.keys[kind][ref.Name] = true
	}
	return manifest.OfflineResolver{}.Resolve(ref)
}
