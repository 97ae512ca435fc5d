package manifest

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// piece is an expanded part of a string field: text, or a reference that
// only the kubelet can turn into text.
type piece struct {
	text string
	key  string // the placeholder without ${}, for references
	ref  *corev1.EnvVarSource
}

// expand resolves the placeholders of s. Validation already checked them,
// so problems here come from the Resolver or from the values given.
func (r *renderer) expand(path, s string, a allow) []piece {
	segs, terr := parseTemplate(s)
	if terr != nil {
		r.fail(path, terr.msg, terr.hint)
		return nil
	}
	out := make([]piece, 0, len(segs))
	for _, seg := range segs {
		if seg.parts == nil {
			out = append(out, piece{text: seg.text})
			continue
		}
		if !slices.Contains(namespaces, seg.parts[0]) {
			r.fail(path, "unknown placeholder "+quote(seg.raw), "placeholders start with "+strings.Join(namespaces, ", ")+"; write $${ for a literal ${")
			continue
		}
		if !a.has(seg.parts[0]) {
			r.fail(path, quote(seg.raw)+" can't be used here", "")
			continue
		}
		out = append(out, r.resolve(path, seg))
	}
	return out
}

func (r *renderer) resolve(path string, seg segment) piece {
	// File content read by LoadFile was never validated, so the shape of
	// each placeholder is checked again here.
	parts, ns := seg.parts, seg.parts[0]
	want := 2
	if ns == "resources" {
		want = 3
	}
	if len(parts) != want {
		r.fail(path, "malformed placeholder "+quote(seg.raw), "")
		return piece{}
	}
	switch ns {
	case "args":
		v, ok := r.args[parts[1]]
		if !ok {
			r.fail(path, "unknown arg "+quote(parts[1])+" in "+seg.raw, argsHint(parts[1], sortedKeys(r.args)))
		}
		return piece{text: v}
	case "metadata":
		switch parts[1] {
		case "name":
			return piece{text: r.m.Metadata.Name}
		case "team":
			return piece{text: r.m.Metadata.Team}
		}
		r.fail(path, "unknown placeholder "+quote(seg.raw), "metadata placeholders are ${metadata.name} and ${metadata.team}")
		return piece{}
	case "git":
		return piece{text: r.gitValue(path, seg)}
	}
	key := strings.Join(parts, ".")
	v, ok := r.resolved[key]
	if !ok {
		ref := Ref{App: r.m.Metadata.Name, Env: r.opts.Env, Namespace: r.opts.Namespace, Name: parts[1]}
		switch parts[0] {
		case "resources":
			ref.Kind, ref.Output = RefResource, parts[len(parts)-1]
			res := r.m.Resources[parts[1]]
			if res == nil {
				r.fail(path, "no resource "+quote(parts[1]), "")
				return piece{}
			}
			if outs, known := resourceOutputs[res.Type]; known && !slices.Contains(outs, ref.Output) {
				r.fail(path, "resource "+quote(parts[1])+" ("+res.Type+") has no output "+quote(ref.Output), didYouMean(ref.Output, outs))
				return piece{}
			}
			ref.Resource = r.expandResource(parts[1], res)
		case "config":
			ref.Kind = RefConfig
		default:
			ref.Kind = RefSecret
		}
		var err error
		v, err = r.opts.Resolver.Resolve(ref)
		if err != nil {
			r.fail(path, "can't resolve "+seg.raw+": "+err.Error(), "")
			return piece{}
		}
		r.resolved[key] = v
		if v.Checksum != "" {
			r.sums = append(r.sums, key+" "+v.Checksum)
		}
	}
	switch {
	case v.SecretKeyRef != nil:
		return piece{key: key, ref: &corev1.EnvVarSource{SecretKeyRef: v.SecretKeyRef.DeepCopy()}}
	case v.ConfigMapKeyRef != nil:
		return piece{key: key, ref: &corev1.EnvVarSource{ConfigMapKeyRef: v.ConfigMapKeyRef.DeepCopy()}}
	}
	return piece{text: v.Text}
}

// expandResource gives the Resolver the resource with args in its params
// resolved.
func (r *renderer) expandResource(name string, res *Resource) *Resource {
	c := *res
	c.Params = r.expandParams(join(join("resources", name), "params"), res.Params)
	c.Annotations = maps.Clone(res.Annotations)
	return &c
}

func (r *renderer) expandParams(path string, v map[string]any) map[string]any {
	if v == nil {
		return nil
	}
	out := make(map[string]any, len(v))
	for k, x := range v {
		out[k] = r.expandAny(join(path, k), x)
	}
	return out
}

func (r *renderer) expandAny(path string, v any) any {
	switch x := v.(type) {
	case string:
		return r.paramText(path, x)
	case map[string]any:
		return r.expandParams(path, x)
	case []any:
		out := make([]any, len(x))
		for i, item := range x {
			out[i] = r.expandAny(index(path, i), item)
		}
		return out
	}
	return v
}

// paramText expands a resource param. A param that takes a reference (another resource's
// secret output, which provisioning refuses in params) keeps that placeholder as written:
// rendered objects never hold a secret value.
func (r *renderer) paramText(path, s string) string {
	if !hasPlaceholder(s) {
		return s
	}
	var b strings.Builder
	for _, p := range r.expand(path, s, allowText) {
		if p.ref != nil {
			b.WriteString("${" + p.key + "}")
			continue
		}
		b.WriteString(p.text)
	}
	return b.String()
}

// textOnly expands s where references cannot go, such as an image or a file.
func (r *renderer) textOnly(path, s string, a allow) string {
	if !hasPlaceholder(s) {
		return s
	}
	var b strings.Builder
	for _, p := range r.expand(path, s, a) {
		if p.ref != nil {
			r.fail(path, "${"+p.key+"} resolves to a reference to a Secret or ConfigMap, which can't be used here", "use it in variables, command or args")
			continue
		}
		b.WriteString(p.text)
	}
	return b.String()
}

// envBuilder builds a container's env. A value that is exactly one
// reference becomes valueFrom; references inside longer values and in
// command and args go through helper variables that Kubernetes expands as
// $(NAME), so secret values never appear in the rendered objects.
type envBuilder struct {
	r       *renderer
	helpers map[string]corev1.EnvVar // by placeholder key
	vars    []corev1.EnvVar
}

func (e *envBuilder) helper(p piece) string {
	if h, ok := e.helpers[p.key]; ok {
		return h.Name
	}
	if e.helpers == nil {
		e.helpers = map[string]corev1.EnvVar{}
	}
	name := envHelperPrefix + strings.ToUpper(strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			return c
		}
		return '_'
	}, p.key))
	for base, n := name, 2; e.taken(name); n++ {
		name = base + "_" + strconv.Itoa(n)
	}
	e.helpers[p.key] = corev1.EnvVar{Name: name, ValueFrom: p.ref}
	return name
}

func (e *envBuilder) taken(name string) bool {
	for _, h := range e.helpers {
		if h.Name == name {
			return true
		}
	}
	return false
}

// splice expands s into one string, with references as $(HELPER).
func (e *envBuilder) splice(path, s string) string {
	if !hasPlaceholder(s) {
		return s
	}
	return e.join(e.r.expand(path, s, allowAll))
}

func (e *envBuilder) join(ps []piece) string {
	var b strings.Builder
	for _, p := range ps {
		if p.ref != nil {
			b.WriteString("$(" + e.helper(p) + ")")
		} else {
			b.WriteString(p.text)
		}
	}
	return b.String()
}

func (e *envBuilder) variable(path, name, s string) {
	if !hasPlaceholder(s) {
		e.vars = append(e.vars, corev1.EnvVar{Name: name, Value: s})
		return
	}
	ps := e.r.expand(path, s, allowAll)
	if len(ps) == 1 && ps[0].ref != nil {
		e.vars = append(e.vars, corev1.EnvVar{Name: name, ValueFrom: ps[0].ref})
		return
	}
	e.vars = append(e.vars, corev1.EnvVar{Name: name, Value: e.join(ps)})
}

// build returns helpers first, since $(NAME) only sees variables defined
// before it.
func (e *envBuilder) build() []corev1.EnvVar {
	var out []corev1.EnvVar
	for _, k := range sortedKeys(e.helpers) {
		out = append(out, e.helpers[k])
	}
	return append(out, e.vars...)
}
