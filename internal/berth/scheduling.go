package berth

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Limits on an environment's scheduling defaults, which go into every pod it runs.
const (
	MaxNodeSelector = 64
	MaxTolerations  = 64
)

// Scheduling is an environment's scheduling defaults: what Berth adds to every pod it
// renders there, so that platform admins, not each app's manifest, decide which nodes an
// environment's apps run on. The zero value adds nothing.
type Scheduling struct {
	// NodeSelector is merged into each pod's node selector: label key -> value.
	NodeSelector map[string]string
	// Tolerations are added to each pod's tolerations, in this order.
	Tolerations []Toleration
}

// TolerationOperator says how a toleration matches a taint's value.
type TolerationOperator string

// The operators of a toleration.
const (
	// TolerationEqual matches taints with the toleration's key and value.
	TolerationEqual TolerationOperator = "Equal"
	// TolerationExists matches taints with the toleration's key, whatever their value.
	TolerationExists TolerationOperator = "Exists"
)

// TaintEffect is what a taint does to pods that do not tolerate it.
type TaintEffect string

// The effects a toleration may name. Kubernetes also reads an empty effect as "every
// effect"; Berth asks for one, so that a default never tolerates more than was meant.
const (
	EffectNoSchedule       TaintEffect = "NoSchedule"
	EffectPreferNoSchedule TaintEffect = "PreferNoSchedule"
	EffectNoExecute        TaintEffect = "NoExecute"
)

// Toleration lets pods onto nodes with a matching taint. Its text form is kubectl's
// notation of the taint it tolerates: KEY=VALUE:EFFECT (operator Equal) or KEY:EFFECT
// (operator Exists).
type Toleration struct {
	Key      string
	Operator TolerationOperator
	Value    string // always "" with TolerationExists
	Effect   TaintEffect
}

// String returns t as KEY=VALUE:EFFECT or KEY:EFFECT.
func (t Toleration) String() string {
	if t.Operator == TolerationExists {
		return t.Key + ":" + string(t.Effect)
	}
	return t.Key + "=" + t.Value + ":" + string(t.Effect)
}

// TolerationSyntax says how a toleration is written, for messages.
const TolerationSyntax = "want KEY=VALUE:EFFECT or KEY:EFFECT (EFFECT one of NoSchedule, PreferNoSchedule, NoExecute)"

// Rules of label keys and values, for messages; apimachinery decides.
const (
	labelKeyRule   = "at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit, optionally after a DNS subdomain and '/'"
	labelValueRule = "at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit, or empty"
)

// ParseToleration reads a toleration written as Toleration.String writes it, and checks it.
func ParseToleration(s string) (Toleration, error) {
	rest, effect, ok := cutLast(s, ":")
	if !ok || rest == "" || effect == "" {
		return Toleration{}, errors.New(TolerationSyntax)
	}
	t := Toleration{Key: rest, Operator: TolerationExists, Effect: TaintEffect(effect)}
	if key, value, ok := strings.Cut(rest, "="); ok {
		t = Toleration{Key: key, Operator: TolerationEqual, Value: value, Effect: TaintEffect(effect)}
	}
	if t.Key == "" {
		return Toleration{}, errors.New(TolerationSyntax)
	}
	if field, reason := t.problem(); field != "" {
		return Toleration{}, fmt.Errorf("%s %s", field, reason)
	}
	return t, nil
}

// ParseLabel reads one node selector label written KEY=VALUE, and checks it.
func ParseLabel(s string) (key, value string, err error) {
	key, value, ok := strings.Cut(s, "=")
	if !ok || key == "" {
		return "", "", errors.New("want KEY=VALUE")
	}
	if reason := labelProblem(key, value); reason != "" {
		return "", "", errors.New(reason)
	}
	return key, value, nil
}

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// labelProblem says what is wrong with a node selector's key and value, or "".
func labelProblem(key, value string) string {
	if len(validation.IsQualifiedName(key)) > 0 {
		return fmt.Sprintf("key %q is not a label key: %s", key, labelKeyRule)
	}
	if len(validation.IsValidLabelValue(value)) > 0 {
		return fmt.Sprintf("value %q of %s is not a label value: %s", value, key, labelValueRule)
	}
	return ""
}

// problem names the field of t that is wrong and says why, or returns "", "".
func (t Toleration) problem() (field, reason string) {
	switch {
	case t.Key == "":
		return "key", "must not be empty (a toleration of every taint is not a default Berth adds)"
	case len(validation.IsQualifiedName(t.Key)) > 0:
		return "key", fmt.Sprintf("%q is not a label key: %s", t.Key, labelKeyRule)
	}
	switch t.Operator {
	case TolerationEqual:
		if len(validation.IsValidLabelValue(t.Value)) > 0 {
			return "value", fmt.Sprintf("%q is not a label value: %s", t.Value, labelValueRule)
		}
	case TolerationExists:
		if t.Value != "" {
			return "value", fmt.Sprintf("%q: must be empty with operator Exists", t.Value)
		}
	default:
		return "operator", fmt.Sprintf("%q: want Equal or Exists", t.Operator)
	}
	switch t.Effect {
	case EffectNoSchedule, EffectPreferNoSchedule, EffectNoExecute:
		return "", ""
	}
	return "effect", fmt.Sprintf("%q: want NoSchedule, PreferNoSchedule or NoExecute", t.Effect)
}

// IsZero reports whether s adds nothing to pods.
func (s Scheduling) IsZero() bool { return len(s.NodeSelector) == 0 && len(s.Tolerations) == 0 }

// Validate checks s: label keys and values as Kubernetes takes them, complete tolerations
// of known operators and effects, none twice. Its errors are *InvalidErrors about
// "nodeSelector" or the toleration's field ("tolerations[1].effect").
func (s Scheduling) Validate() error {
	if err := ValidateNodeSelector(s.NodeSelector); err != nil {
		return err
	}
	return ValidateTolerations(s.Tolerations)
}

// ValidateNodeSelector checks a node selector (see Scheduling.Validate).
func ValidateNodeSelector(sel map[string]string) error {
	if len(sel) > MaxNodeSelector {
		return Invalid("nodeSelector", "has %d labels, more than %d", len(sel), MaxNodeSelector)
	}
	keys := make([]string, 0, len(sel))
	for k := range sel {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the same error for the same input
	for _, k := range keys {
		if reason := labelProblem(k, sel[k]); reason != "" {
			return Invalid("nodeSelector", "%s", reason)
		}
	}
	return nil
}

// ValidateTolerations checks tolerations (see Scheduling.Validate).
func ValidateTolerations(ts []Toleration) error {
	if len(ts) > MaxTolerations {
		return Invalid("tolerations", "has %d tolerations, more than %d", len(ts), MaxTolerations)
	}
	for i, t := range ts {
		at := fmt.Sprintf("tolerations[%d]", i)
		if field, reason := t.problem(); field != "" {
			return Invalid(at+"."+field, "%s", reason)
		}
		if j := slices.Index(ts[:i], t); j >= 0 {
			return Invalid(at, "%s repeats tolerations[%d]", t, j)
		}
	}
	return nil
}
