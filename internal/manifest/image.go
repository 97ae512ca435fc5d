package manifest

import (
	"errors"
	"strconv"
	"strings"

	"github.com/distribution/reference"
)

// Image references follow the grammar of the distribution project, which
// container runtimes parse images with: [host[:port]/]path[:tag][@digest],
// the path in lowercase. An image without placeholders is checked when the
// manifest is parsed; one with placeholders once they are expanded, at
// render time, since only then is it known (checking the literal parts
// alone would refuse ${args.registry}/app for want of a host, or take a
// tag that an arg turns into a path).

// imageHint shows the shape of an image reference.
const imageHint = "an image is [host[:port]/]path[:tag][@digest], the path in lowercase, e.g. registry.example.com/team/app:1.2.3"

// imageProblem says why image is not a valid image reference, or "", and
// what to do about it.
func imageProblem(image string) (msg, hint string) {
	if plainImage(image) {
		return "", ""
	}
	if image == "" {
		return "it is empty", ""
	}
	for _, r := range image {
		if !imageChar(r) {
			return "character " + strconv.QuoteToASCII(string(r)) + " is not allowed", imageHint
		}
	}
	_, err := reference.ParseNormalizedNamed(image)
	if err == nil {
		return "", ""
	}
	// ParseNormalizedNamed makes some of its errors with fmt.Errorf, not
	// from the sentinels, hence the look at the text.
	msg = err.Error()
	switch {
	case strings.Contains(msg, "must be lowercase"):
		hint = imageHint
		if fix := lowerPath(image); fix != image {
			if m, _ := imageProblem(fix); m == "" {
				hint = `did you mean "` + fix + `"?`
			}
		}
		return reference.ErrNameContainsUppercase.Error(), hint
	case strings.Contains(msg, "64-byte hexadecimal"):
		return "a 64-digit hexadecimal string is an image ID, not a name", "name the image, e.g. nginx@sha256:<the ID>"
	case errors.Is(err, reference.ErrReferenceInvalidFormat):
		if msg = formatProblem(image); msg == reference.ErrReferenceInvalidFormat.Error() {
			hint = imageHint
		}
		return msg, hint
	}
	return strings.TrimPrefix(msg, "invalid reference format: "), ""
}

// lowerPath is image with its name in lowercase, its tag and digest as
// they are.
func lowerPath(image string) string {
	name, digest, _ := strings.Cut(image, "@")
	tag := ""
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		name, tag = name[:i], name[i:]
	}
	if digest != "" {
		digest = "@" + digest
	}
	return strings.ToLower(name) + tag + digest
}

// formatProblem says which part of image breaks the grammar, when it can
// tell: the digest or the tag; the name's rules are in imageHint.
func formatProblem(image string) string {
	name := image
	if i := strings.IndexByte(image, '@'); i >= 0 {
		if !imageDigest(image[i+1:]) {
			return "the digest after @ must be an algorithm, ':' and at least 32 hex digits, e.g. sha256:<64 hex digits>"
		}
		name = image[:i]
	}
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') && !imageTag(name[i+1:]) {
		return "the tag after : must be 1 to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'"
	}
	return reference.ErrReferenceInvalidFormat.Error()
}

// imageDigest matches the digest grammar: algorithm components of a
// letter then letters and digits, joined by one of - _ + ., then ':' and at
// least 32 hex digits.
func imageDigest(s string) bool {
	alg, hex, ok := strings.Cut(s, ":")
	if !ok || len(hex) < 32 || alg == "" {
		return false
	}
	for i := 0; i < len(hex); i++ {
		if c := hex[i] | 0x20; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	letter := func(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
	for i := 0; i < len(alg); i++ {
		switch c := alg[i]; {
		case strings.IndexByte("-_+.", c) >= 0:
			if i+1 == len(alg) || !letter(alg[i+1]) {
				return false
			}
		case i == 0 && !letter(c):
			return false
		case !letter(c) && !(c >= '0' && c <= '9'):
			return false
		}
	}
	return true
}

// imageChar reports whether r may appear in an image reference at all:
// letters and digits, the separators . _ - / : @, + of digest algorithms
// and the [ ] around an IPv6 host.
func imageChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-/:@+[]", r)
}

// plainImage reports whether s has the everyday shape of an image
// reference, lowercase [host[:port]/]path[:tag][@sha256:hex], by a scan
// without regexps or allocations: images are checked on every render, and
// the library's regexps cost as much as a tenth of a render. It only ever
// says yes to what reference.ParseNormalizedNamed accepts (a test holds it
// to that); for anything else the library has the last word.
func plainImage(s string) bool {
	if len(s) == 0 || len(s) > 200 { // far from the 255 a path may have
		return false
	}
	name := s
	if i := strings.IndexByte(s, '@'); i >= 0 {
		d, ok := strings.CutPrefix(s[i+1:], "sha256:")
		if !ok || len(d) != 64 || !lowerHex(d) {
			return false
		}
		name = s[:i]
	}
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		if !imageTag(name[i+1:]) {
			return false
		}
		name = name[:i]
	}
	if len(name) == 64 && lowerHex(name) {
		return false // an image ID, which ParseNormalizedNamed refuses
	}
	if host, path, ok := strings.Cut(name, "/"); ok && (strings.ContainsAny(host, ".:") || host == "localhost") {
		if !imageHost(host) {
			return false
		}
		name = path
	}
	for {
		c, rest, more := strings.Cut(name, "/")
		if !pathComponent(c) {
			return false
		}
		if !more {
			return true
		}
		name = rest
	}
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func lowerAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// imageTag matches [\w][\w.-]{0,127}.
func imageTag(s string) bool {
	if len(s) == 0 || len(s) > 128 || s[0] == '.' || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(lowerAlnum(c) || c >= 'A' && c <= 'Z' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// imageHost matches lowercase label(.label)*(:port)?, a label being
// letters, digits and inner '-'.
func imageHost(s string) bool {
	host, port, hasPort := strings.Cut(s, ":")
	if hasPort {
		if port == "" {
			return false
		}
		for i := 0; i < len(port); i++ {
			if port[i] < '0' || port[i] > '9' {
				return false
			}
		}
	}
	for {
		label, rest, more := strings.Cut(host, ".")
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			if !lowerAlnum(label[i]) && label[i] != '-' {
				return false
			}
		}
		if !more {
			return true
		}
		host = rest
	}
}

// pathComponent matches [a-z0-9]+ runs joined by one of . _ __ or -+.
func pathComponent(s string) bool {
	if s == "" || !lowerAlnum(s[0]) || !lowerAlnum(s[len(s)-1]) {
		return false
	}
	for i := 0; i < len(s); {
		if lowerAlnum(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && !lowerAlnum(s[j]) {
			j++
		}
		switch sep := s[i:j]; {
		case sep == ".", sep == "_", sep == "__", strings.Trim(sep, "-") == "":
		default:
			return false
		}
		i = j
	}
	return true
}
