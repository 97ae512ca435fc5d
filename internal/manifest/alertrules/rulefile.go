package alertrules

import (
	"bytes"

	"go.yaml.in/yaml/v3"
)

// RuleFile is a Prometheus rule file: what `rule_files` loads and `promtool check rules`
// checks.
type RuleFile struct {
	Groups []Group `yaml:"groups"`
}

// Group is a rule group: its rules are evaluated in order, every Interval (empty: the
// Prometheus's evaluation_interval), so a recording rule feeds the alerts after it with the
// same evaluation's values.
type Group struct {
	Name     string `yaml:"name"`
	Interval string `yaml:"interval,omitempty"`
	Rules    []Rule `yaml:"rules"`
}

// Rule is an alerting rule (Alert set) or a recording rule (Record set). Durations are
// Prometheus durations (5m, 1h).
type Rule struct {
	Alert       string            `yaml:"alert,omitempty"`
	Record      string            `yaml:"record,omitempty"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

// Empty reports whether f has no rules: there is nothing to load for the app.
func (f RuleFile) Empty() bool {
	for _, g := range f.Groups {
		if len(g.Rules) > 0 {
			return false
		}
	}
	return true
}

// YAML is the rule file Prometheus loads. It is deterministic: groups and rules in their
// order, label and annotation keys sorted (yaml.v3 sorts map keys), multi-line expressions
// as literal blocks.
func (f RuleFile) YAML() []byte {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	// Only strings, slices and maps of strings: encoding cannot fail.
	if err := enc.Encode(f); err != nil {
		panic("alertrules: encode rule file: " + err.Error())
	}
	if err := enc.Close(); err != nil {
		panic("alertrules: encode rule file: " + err.Error())
	}
	return buf.Bytes()
}
