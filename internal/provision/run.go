package provision

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/berth-dev/berth/internal/manifest"
)

// Input is what a provisioner's templates see (as score-k8s's: .Guid, .Uid, .Type, .Class,
// .Id, .Params, .Metadata, .State, .Shared, .SourceWorkload, .Namespace; .Init once init ran).
type Input struct {
	Guid, Uid, Type, Class, ID string
	Params                     map[string]any
	Metadata                   map[string]any
	// State is what the previous run stored for this resource; Shared what every resource
	// of the environment shares.
	State, Shared  map[string]any
	SourceWorkload string // the app that declares the resource
	Namespace      string
}

// Result is what a run produced.
type Result struct {
	State   map[string]any
	Shared  map[string]any
	Outputs map[string]any
	// Secret says which outputs are secret.
	Secret    map[string]bool
	Manifests []map[string]any
}

// resultLimit bounds what one template may write.
const resultLimit = 256 << 10

// NewInput is the input of a template provisioner for resource name of team's app in env
// (see Input): .Guid a UUID of the resource in that environment, stable across deploys and
// distinct between environments, as score-k8s keeps one per resource; .Uid score-k8s's
// TYPE.CLASS#WORKLOAD.NAME (TYPE.CLASS#ID for a shared resource).
func NewInput(env, team, app, name string, decl *manifest.Resource, namespace string, state map[string]any) Input {
	class := decl.Class
	if class == "" {
		class = "default"
	}
	uid := decl.Type + "." + class + "#" + app + "." + name
	if decl.ID != "" {
		uid = decl.Type + "." + class + "#" + decl.ID
	}
	sum := sha256.Sum256([]byte("berth resource guid\x00" + env + "\x00" + team + "\x00" + uid))
	sum[6] = sum[6]&0x0f | 0x50 // a name-based UUID (version 5 layout, SHA-256 hashed)
	sum[8] = sum[8]&0x3f | 0x80
	h := hex.EncodeToString(sum[:16])
	meta := map[string]any{}
	if len(decl.Annotations) > 0 {
		ann := map[string]any{}
		for k, v := range decl.Annotations {
			ann[k] = v
		}
		meta["annotations"] = ann
	}
	return Input{
		Guid: h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32], Uid: uid,
		Type: decl.Type, Class: decl.Class, ID: decl.ID, Params: decl.Params, Metadata: meta, State: state,
		SourceWorkload: app, Namespace: namespace,
	}
}

// Provision runs the provisioner's templates in score-k8s's order: init (seeing the previous
// state), state (which becomes .State), shared (merged into .Shared), outputs, manifests.
func (p *Provisioner) Provision(in Input) (*Result, error) {
	if len(p.SupportedParams) > 0 {
		for _, k := range slices.Sorted(maps.Keys(in.Params)) {
			if !slices.Contains(p.SupportedParams, k) {
				name := p.URI
				if name == "" {
					name = "the " + p.Type + " provisioner"
				}
				return nil, fmt.Errorf("%s takes no param %q (supported_params: %s)", name, k, strings.Join(p.SupportedParams, ", "))
			}
		}
	}
	class := in.Class
	if class == "" {
		class = "default"
	}
	data := map[string]any{
		"Guid": in.Guid, "Type": in.Type, "Class": class, "Id": in.ID,
		"Uid":    in.Uid,
		"Params": orEmpty(in.Params), "Metadata": orEmpty(in.Metadata),
		"State": orEmpty(in.State), "Shared": orEmpty(in.Shared),
		"SourceWorkload": in.SourceWorkload, "Namespace": in.Namespace,
		"Init": map[string]any{},
	}
	res := &Result{Secret: map[string]bool{}}
	var err error
	if data["Init"], err = p.runMap(p.init, data); err != nil {
		return nil, err
	}
	if res.State, err = p.runMap(p.state, data); err != nil {
		return nil, err
	}
	data["State"] = res.State
	shared, err := p.runMap(p.shared, data)
	if err != nil {
		return nil, err
	}
	res.Shared = maps.Clone(orEmpty(in.Shared))
	maps.Copy(res.Shared, shared)
	data["Shared"] = res.Shared
	if res.Outputs, err = p.runMap(p.outputs, data); err != nil {
		return nil, err
	}
	if p.manifests != nil {
		out, err := p.run(p.manifests, data)
		if err != nil {
			return nil, err
		}
		var list []map[string]any
		if err := yaml.Unmarshal(out, &list); err != nil {
			return nil, p.errorf(p.manifests, "the result is not a YAML list of objects%s", resultLine(err))
		}
		for i, m := range list {
			if str(m["apiVersion"]) == "" || str(m["kind"]) == "" {
				return nil, p.errorf(p.manifests, "object %d has no apiVersion or kind", i)
			}
		}
		res.Manifests = list
	}
	for _, k := range p.ExpectedOutputs {
		if _, ok := res.Outputs[k]; !ok {
			return nil, p.errorf(p.outputs, "expected output %s is missing (outputs: %s)", k, strings.Join(slices.Sorted(maps.Keys(res.Outputs)), ", "))
		}
	}
	for _, k := range p.Secrets {
		if _, ok := res.Outputs[k]; !ok {
			return nil, p.errorf(p.outputs, "secret output %s is missing", k)
		}
		res.Secret[k] = true
	}
	return res, nil
}

func (p *Provisioner) runMap(t *tmpl, data map[string]any) (map[string]any, error) {
	if t == nil {
		return map[string]any{}, nil
	}
	out, err := p.run(t, data)
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	if err := yaml.Unmarshal(out, &m); err != nil {
		return nil, p.errorf(t, "the result is not a YAML map%s", resultLine(err))
	}
	return m, nil
}

func (p *Provisioner) run(t *tmpl, data map[string]any) ([]byte, error) {
	buf := &limitedBuffer{limit: resultLimit}
	if err := t.t.Execute(buf, data); err != nil {
		return nil, p.errorf(t, "%s", cleanTemplateError(err))
	}
	return buf.Bytes(), nil
}

// RunError is a template that failed while provisioning.
type RunError struct {
	Type, Field  string
	Line, Column int
	Msg          string
}

func (e *RunError) Error() string {
	return fmt.Sprintf("provisioner for %s (line %d): %s: %s", e.Type, e.Line, e.Field, e.Msg)
}

func (p *Provisioner) errorf(t *tmpl, format string, args ...any) error {
	e := &RunError{Type: p.Type, Line: p.line, Column: p.column, Msg: fmt.Sprintf(format, args...)}
	if t != nil {
		e.Field, e.Line, e.Column = t.field, t.line, t.column
	}
	return e
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// resultLine says where a template's result is not the YAML it should be, without quoting
// it (YAML's errors quote values, and a result may hold a fresh secret).
func resultLine(err error) string {
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		return " (line " + m[1] + " of the result)"
	}
	return ""
}
