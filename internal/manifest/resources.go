package manifest

import (
	"slices"
	"strings"
)

// ResourceOrder returns the names of m's resources in the order to provision them: each
// after the resources whose outputs its params take (a route after the dns resource whose
// host it serves), otherwise by name. A loop is an error naming it; Parse refuses loops, so
// for a parsed manifest it never fails.
func ResourceOrder(m *Manifest) ([]string, error) {
	deps := map[string][]string{}
	for name, r := range m.Resources {
		deps[name] = paramRefs(r.Params, nil)
	}
	const (
		unseen = iota
		visiting
		done
	)
	state := map[string]int{}
	var order, stack []string
	var visit func(name string) *loopError
	visit = func(name string) *loopError {
		switch state[name] {
		case done:
			return nil
		case visiting:
			i := slices.Index(stack, name)
			return &loopError{name: stack[i], path: append(slices.Clone(stack[i:]), name)}
		}
		state[name] = visiting
		stack = append(stack, name)
		for _, dep := range deps[name] {
			if _, ok := m.Resources[dep]; !ok {
				continue // reported where the placeholder is
			}
			if err := visit(dep); err != nil {
				return err
			}
		}
		stack = stack[:len(stack)-1]
		state[name] = done
		order = append(order, name)
		return nil
	}
	for _, name := range sortedKeys(m.Resources) {
		if err := visit(name); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// loopError is a loop among resources' params.
type loopError struct {
	name string // where the loop starts
	path []string
}

func (e *loopError) Error() string {
	return "resources take each other's outputs in a loop: " + strings.Join(e.path, " -> ")
}

// paramRefs appends the names of the resources whose outputs v's placeholders take, sorted
// and without repeats.
func paramRefs(v any, out []string) []string {
	switch x := v.(type) {
	case string:
		if !hasPlaceholder(x) {
			break
		}
		segs, err := parseTemplate(x)
		if err != nil {
			break
		}
		for _, s := range segs {
			if len(s.parts) >= 2 && s.parts[0] == "resources" && !slices.Contains(out, s.parts[1]) {
				out = append(out, s.parts[1])
			}
		}
	case map[string]any:
		for _, k := range sortedKeys(x) {
			out = paramRefs(x[k], out)
		}
	case []any:
		for _, item := range x {
			out = paramRefs(item, out)
		}
	}
	slices.Sort(out)
	return out
}
