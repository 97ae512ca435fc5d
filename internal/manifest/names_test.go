package manifest

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
)

// TestNameShapesMatchApimachinery checks that every name the hand-written
// shape checks accept, apimachinery accepts too (which is what makes the
// checks correct), and reports names only apimachinery accepts (which
// would only make them slower). It tries every short string over an
// alphabet of the characters the rules treat differently, and names
// around the length limits.
func TestNameShapesMatchApimachinery(t *testing.T) {
	checks := []struct {
		name  string
		shape func(string) bool
		check func(string) bool
		valid func(string) bool
	}{
		{"IsDNS1123Label", func(s string) bool { return dnsLabelShaped(s, 63) }, isDNS1123Label,
			func(s string) bool { return len(validation.IsDNS1123Label(s)) == 0 }},
		{"IsDNS1035Label", dns1035LabelShaped, isDNS1035Label,
			func(s string) bool { return len(validation.IsDNS1035Label(s)) == 0 }},
		{"IsDNS1123Subdomain", subdomainShaped, isDNS1123Subdomain,
			func(s string) bool { return len(validation.IsDNS1123Subdomain(s)) == 0 }},
		{"host", hostShaped, isHostName, func(s string) bool {
			return len(validation.IsDNS1123Subdomain(s)) == 0 || len(validation.IsWildcardDNS1123Subdomain(s)) == 0
		}},
		{"IsValidLabelValue", func(s string) bool { return s == "" || keyNameShaped(s) }, isLabelValue,
			func(s string) bool { return len(validation.IsValidLabelValue(s)) == 0 }},
		{"IsQualifiedName", qualifiedNameShaped, isQualifiedName,
			func(s string) bool { return len(validation.IsQualifiedName(s)) == 0 }},
		{"IsValidPortName", portNameShaped, isValidPortName,
			func(s string) bool { return len(validation.IsValidPortName(s)) == 0 }},
		{"IsConfigMapKey", configMapKeyShaped, isConfigMapKey,
			func(s string) bool { return len(validation.IsConfigMapKey(s)) == 0 }},
	}
	const alphabet = "aZ0-._/*"
	values := []string{""}
	for n, prev := 0, []string{""}; n < 4; n++ {
		var next []string
		for _, p := range prev {
			for i := 0; i < len(alphabet); i++ {
				next = append(next, p+alphabet[i:i+1])
			}
		}
		values = append(values, next...)
		prev = next
	}
	for _, n := range []int{62, 63, 64, 252, 253, 254} {
		values = append(values, strings.Repeat("a", n), "*."+strings.Repeat("a", n-2), strings.Repeat("a.", n/2)+"a",
			"example.com/"+strings.Repeat("a", n), strings.Repeat("a", n)+"/name", "a-"+strings.Repeat("b", n-2))
	}
	for _, c := range checks {
		only := 0
		for _, v := range values {
			shape, valid := c.shape(v), c.valid(v)
			if shape && !valid {
				t.Errorf("%s: %q has the shape of a valid name but is not one", c.name, v)
			}
			if valid && !shape {
				only++
			}
			if c.check(v) != valid {
				t.Errorf("%s(%q) = %v, want %v", c.name, v, c.check(v), valid)
			}
		}
		if only > 0 {
			t.Logf("%s: %d valid names take the slow path", c.name, only)
		}
	}
}
