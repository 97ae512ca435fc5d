package manifest

import (
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Kubernetes name rules as yes-or-no questions. apimachinery's validation
// functions match regular expressions (IsWildcardDNS1123Subdomain even
// compiles one per call) and build messages nobody here reads, and a parse
// asks dozens of these questions. Each check below accepts well-formed
// names by hand and asks apimachinery, which stays the authority, about
// the rest, so a slip in the hand-written part could only cost time.
// TestNameShapesMatchApimachinery holds the two together.

func isDNS1123Label(s string) bool {
	return dnsLabelShaped(s, 63) || len(validation.IsDNS1123Label(s)) == 0
}

func isDNS1035Label(s string) bool {
	return dns1035LabelShaped(s) || len(validation.IsDNS1035Label(s)) == 0
}

func isDNS1123Subdomain(s string) bool {
	return subdomainShaped(s) || len(validation.IsDNS1123Subdomain(s)) == 0
}

// isHostName reports whether s is a DNS subdomain or a wildcard one, what
// an Ingress rule's host may be.
func isHostName(s string) bool {
	return hostShaped(s) || len(validation.IsDNS1123Subdomain(s)) == 0 || len(validation.IsWildcardDNS1123Subdomain(s)) == 0
}

func isLabelValue(s string) bool {
	return s == "" || keyNameShaped(s) || len(validation.IsValidLabelValue(s)) == 0
}

// isQualifiedName reports whether s is a label or annotation key: a name,
// optionally prefixed by a DNS subdomain and '/'.
func isQualifiedName(s string) bool {
	return qualifiedNameShaped(s) || len(validation.IsQualifiedName(s)) == 0
}

func isValidPortName(s string) bool {
	return portNameShaped(s) || len(validation.IsValidPortName(s)) == 0
}

func isConfigMapKey(s string) bool {
	return configMapKeyShaped(s) || len(validation.IsConfigMapKey(s)) == 0
}

// dnsLabelShaped: 1 to max lowercase letters, digits and '-', starting
// and ending with a letter or digit.
func dnsLabelShaped(s string, max int) bool {
	if len(s) == 0 || len(s) > max || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func dns1035LabelShaped(s string) bool {
	return s != "" && s[0] >= 'a' && s[0] <= 'z' && dnsLabelShaped(s, 63)
}

// subdomainShaped: at most 253 characters of dot-separated labels.
func subdomainShaped(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for part := range strings.SplitSeq(s, ".") {
		if !dnsLabelShaped(part, 253) {
			return false
		}
	}
	return true
}

func hostShaped(s string) bool {
	return len(s) <= 253 && subdomainShaped(strings.TrimPrefix(s, "*."))
}

// keyNameShaped: 1 to 63 letters, digits, '-', '_' and '.', starting and
// ending with a letter or digit.
func keyNameShaped(s string) bool {
	if len(s) == 0 || len(s) > 63 || !isAlnum(s[0]) || !isAlnum(s[len(s)-1]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(isAlnum(c) || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func qualifiedNameShaped(s string) bool {
	prefix, name, found := strings.Cut(s, "/")
	if !found {
		return keyNameShaped(s)
	}
	return subdomainShaped(prefix) && keyNameShaped(name)
}

// configMapKeyShaped: 1 to 253 letters, digits, '-', '_' and '.', not
// starting with '.' (apimachinery only rejects ".", ".." and a leading
// "..", so a leading single dot goes to it).
func configMapKeyShaped(s string) bool {
	if len(s) == 0 || len(s) > 253 || s[0] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(isAlnum(c) || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// portNameShaped: 1 to 15 lowercase letters, digits and '-', at least one
// letter, no "--", not starting or ending with '-'.
func portNameShaped(s string) bool {
	if len(s) == 0 || len(s) > 15 || s[0] == '-' || s[len(s)-1] == '-' || strings.Contains(s, "--") {
		return false
	}
	letter := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter = letter || c >= 'a' && c <= 'z'
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return letter
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
