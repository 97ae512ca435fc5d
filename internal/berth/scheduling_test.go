package berth_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/berth-dev/berth/internal/berth"
)

func TestParseToleration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want berth.Toleration
		err  string // "" = valid
	}{
		{in: "berth.dev/real-node=true:NoSchedule",
			want: berth.Toleration{Key: "berth.dev/real-node", Operator: berth.TolerationEqual, Value: "true", Effect: berth.EffectNoSchedule}},
		{in: "dedicated:NoExecute", want: berth.Toleration{Key: "dedicated", Operator: berth.TolerationExists, Effect: berth.EffectNoExecute}},
		{in: "gpu=:PreferNoSchedule", want: berth.Toleration{Key: "gpu", Operator: berth.TolerationEqual, Effect: berth.EffectPreferNoSchedule}},
		{in: "x", err: berth.TolerationSyntax},
		{in: "", err: berth.TolerationSyntax},
		{in: ":NoSchedule", err: berth.TolerationSyntax},
		{in: "=v:NoSchedule", err: berth.TolerationSyntax},
		{in: "k=v:", err: berth.TolerationSyntax},
		{in: "k=v:noschedule", err: `effect "noschedule": want NoSchedule, PreferNoSchedule or NoExecute`},
		{in: "k=v:NoSchedule:extra", err: `value "v:NoSchedule" is not a label value`},
		{in: "bad key=v:NoSchedule", err: `key "bad key" is not a label key: at most 63 letters`},
		{in: "k=v=w:NoSchedule", err: `value "v=w" is not a label value: at most 63 letters`},
		{in: "k=" + strings.Repeat("v", 64) + ":NoSchedule", err: "is not a label value"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := berth.ParseToleration(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseToleration(%q) = %+v, %v; want an error containing %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseToleration(%q): %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseToleration(%q) (-want +got):\n%s", tc.in, diff)
			}
			if s := got.String(); s != tc.in {
				t.Errorf("String() = %q, want %q", s, tc.in)
			}
		})
	}
}

func TestParseLabel(t *testing.T) {
	for _, tc := range []struct {
		in         string
		key, value string
		err        string
	}{
		{in: "berth.dev/real-node=true", key: "berth.dev/real-node", value: "true"},
		{in: "empty=", key: "empty"},
		{in: "zone", err: "want KEY=VALUE"},
		{in: "=eu", err: "want KEY=VALUE"},
		{in: "Bad Key=1", err: `key "Bad Key" is not a label key`},
		{in: "UPPER.example.com/x=1", err: `key "UPPER.example.com/x" is not a label key`},
		{in: "zone=eu west", err: `value "eu west" of zone is not a label value`},
		{in: "zone=-eu", err: `value "-eu" of zone is not a label value`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			k, v, err := berth.ParseLabel(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseLabel(%q) = %q, %q, %v; want an error containing %q", tc.in, k, v, err, tc.err)
				}
				return
			}
			if err != nil || k != tc.key || v != tc.value {
				t.Errorf("ParseLabel(%q) = %q, %q, %v; want %q, %q", tc.in, k, v, err, tc.key, tc.value)
			}
		})
	}
}

func TestSchedulingValidate(t *testing.T) {
	eq := func(k, v string, e berth.TaintEffect) berth.Toleration {
		return berth.Toleration{Key: k, Operator: berth.TolerationEqual, Value: v, Effect: e}
	}
	many := map[string]string{}
	for i := range berth.MaxNodeSelector + 1 {
		many["k"+strings.Repeat("x", i)] = "v"
	}
	for _, tc := range []struct {
		name   string
		s      berth.Scheduling
		field  string // "" = valid
		reason string
	}{
		{name: "zero", s: berth.Scheduling{}},
		{name: "both", s: berth.Scheduling{
			NodeSelector: map[string]string{"berth.dev/real-node": "true", "kubernetes.io/os": "linux"},
			Tolerations: []berth.Toleration{eq("berth.dev/real-node", "true", berth.EffectNoSchedule),
				{Key: "dedicated", Operator: berth.TolerationExists, Effect: berth.EffectNoExecute}},
		}},
		{name: "bad selector key", s: berth.Scheduling{NodeSelector: map[string]string{"a": "1", "b c": "2"}},
			field: "nodeSelector", reason: `key "b c" is not a label key`},
		{name: "bad selector value", s: berth.Scheduling{NodeSelector: map[string]string{"zone": "eu/west"}},
			field: "nodeSelector", reason: `value "eu/west" of zone is not a label value`},
		{name: "too many labels", s: berth.Scheduling{NodeSelector: many}, field: "nodeSelector", reason: "more than 64"},
		{name: "no key", s: berth.Scheduling{Tolerations: []berth.Toleration{{Operator: berth.TolerationExists, Effect: berth.EffectNoSchedule}}},
			field: "tolerations[0].key", reason: "must not be empty"},
		{name: "no operator", s: berth.Scheduling{Tolerations: []berth.Toleration{{Key: "k", Effect: berth.EffectNoSchedule}}},
			field: "tolerations[0].operator", reason: `"": want Equal or Exists`},
		{name: "value with Exists", s: berth.Scheduling{Tolerations: []berth.Toleration{{Key: "k", Operator: berth.TolerationExists, Value: "v", Effect: berth.EffectNoSchedule}}},
			field: "tolerations[0].value", reason: "must be empty with operator Exists"},
		{name: "no effect", s: berth.Scheduling{Tolerations: []berth.Toleration{eq("a", "1", berth.EffectNoSchedule), eq("k", "v", "")}},
			field: "tolerations[1].effect", reason: `"": want NoSchedule, PreferNoSchedule or NoExecute`},
		{name: "twice", s: berth.Scheduling{Tolerations: []berth.Toleration{eq("a", "1", berth.EffectNoSchedule), eq("b", "1", berth.EffectNoSchedule), eq("a", "1", berth.EffectNoSchedule)}},
			field: "tolerations[2]", reason: "a=1:NoSchedule repeats tolerations[0]"},
		{name: "too many tolerations", s: berth.Scheduling{Tolerations: make([]berth.Toleration, berth.MaxTolerations+1)},
			field: "tolerations", reason: "more than 64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.s.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var inv *berth.InvalidError
			if !errors.As(err, &inv) || !errors.Is(err, berth.ErrInvalid) {
				t.Fatalf("Validate() = %v, want an *InvalidError", err)
			}
			if inv.Field != tc.field || !strings.Contains(inv.Reason, tc.reason) {
				t.Errorf("Validate() = %q, want field %q and a reason containing %q", err, tc.field, tc.reason)
			}
		})
	}
	if !(berth.Scheduling{NodeSelector: map[string]string{}}).IsZero() || (berth.Scheduling{Tolerations: make([]berth.Toleration, 1)}).IsZero() {
		t.Error("IsZero: an empty map is zero, a toleration is not")
	}
}

// FuzzParseToleration: no input panics, and what parses writes back as it was read.
func FuzzParseToleration(f *testing.F) {
	for _, s := range []string{"k=v:NoSchedule", "k:NoExecute", "a.b/c=:PreferNoSchedule", ":", "=:", "k=v=w:x:y", "\xff:NoSchedule"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tol, err := berth.ParseToleration(s)
		if err != nil {
			return
		}
		if tol.String() != s {
			t.Errorf("ParseToleration(%q).String() = %q", s, tol.String())
		}
		if err := (berth.Scheduling{Tolerations: []berth.Toleration{tol}}).Validate(); err != nil {
			t.Errorf("ParseToleration(%q) = %+v, which Validate refuses: %v", s, tol, err)
		}
	})
}
