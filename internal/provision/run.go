package provision

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Input is what a provisioner's templates see (as score-k8s's: .Guid, .Uid, .Type, .Class,
// .Id, .Params, .Metadata, .State, .Shared, .SourceWorkload, .Namespace; .Init once init ran).
type Input struct {
	Guid, Type, Class, ID string
	Params                map[string]any
	Metadata              map[string]any
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

// Provision runs the provisioner's templates in score-k8s's order: init (seeing the previous
// state), state (which becomes .State), shared (merged into .Shared), outputs, manifests.
func (p *Provisioner) Provision(in Input) (*Result, error) {
	class := in.Class
	if class == "" {
		class = "default"
	}
	data := map[string]any{
		"Guid": in.Guid, "Type": in.Type, "Class": class, "Id": in.ID,
		"Uid":    in.Type + "." + class + "#" + in.ID,
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
			return nil, p.errorf(p.manifests, "the result is not a YAML list of objects: %v", err)
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
		return nil, p.errorf(t, "the result is not a YAML map: %v", err)
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
