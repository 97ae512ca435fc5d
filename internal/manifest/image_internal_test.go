package manifest

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/distribution/reference"
)

const testDigest = "sha256:7cc4b5aefd1d0cadf8d97d4350462ba51c694ebca145b08d7d41b41acc8db5aa"

// TestPlainImageTakesEverydayImages checks the fast path is the one
// everyday images take.
func TestPlainImageTakesEverydayImages(t *testing.T) {
	for _, s := range []string{
		"nginx", "nginx:1.25", "nginx:1.25-alpine", "library/nginx:latest", "busybox@" + testDigest,
		"registry.example.com/team/app:1.2.3", "registry.example.com:5000/team/app", "localhost/app", "localhost:5000/app:dev",
		"ghcr.io/org/my-app:v1.0.0-RC1", "ghcr.io/org/my_app__x/sub.dir:tag_1@" + testDigest, "127.0.0.1:5000/a---b",
		"localhost:4000/repo/my-image:tag", "quay.io/prometheus/node-exporter:v1.8.2",
	} {
		if !plainImage(s) {
			t.Errorf("plainImage(%q) = false, want true", s)
		}
		if _, err := reference.ParseNormalizedNamed(s); err != nil {
			t.Errorf("ParseNormalizedNamed(%q): %v", s, err)
		}
	}
}

// TestImageProblemAgreesWithReference checks, on strings made of the
// pieces image references are made of, that the fast path accepts only
// what the distribution library does, and that imageProblem says yes
// exactly when the library does.
func TestImageProblemAgreesWithReference(t *testing.T) {
	pieces := []string{"a", "b", "z", "0", "9", "A", ".", "-", "_", "__", "/", ":", "@", "localhost", "example.com", ":5000",
		"sha256:", strings.Repeat("a", 64), strings.Repeat("f0", 16), "[::1]", "+", "$", " ", "é", "app", "v1.2"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 30000 {
		var b strings.Builder
		for n := 1 + rng.IntN(8); n > 0; n-- {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		checkImageAgrees(t, b.String())
	}
}

func FuzzImageProblem(f *testing.F) {
	for _, s := range []string{"nginx", "NGINX:1", "registry.example.com:5000/a/b:c@" + testDigest, "[::1]:5000/a", "a//b", "a:"} {
		f.Add(s)
	}
	f.Fuzz(checkImageAgrees)
}

func checkImageAgrees(t *testing.T, s string) {
	_, err := reference.ParseNormalizedNamed(s)
	if plainImage(s) && err != nil {
		t.Errorf("plainImage(%q) = true, but ParseNormalizedNamed: %v", s, err)
	}
	if msg, _ := imageProblem(s); (msg == "") != (err == nil) {
		t.Errorf("imageProblem(%q) = %q, ParseNormalizedNamed: %v", s, msg, err)
	}
}

func TestImageProblem(t *testing.T) {
	tests := []struct{ image, want string }{
		{"nginx", ""},
		{"NGINX:1", "repository name must be lowercase"},
		{"registry.example.com/Team/app", "repository name must be lowercase"},
		{"Registry.Example.com/team/app", ""}, // a host may have capitals
		{"NGINX\uFFFD$(rm-rf);:1", `character "\ufffd" is not allowed`},
		{"nginx;rm", `character ";" is not allowed`},
		{"nginx:", "the tag after : must be 1 to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'"},
		{"nginx:-1", "the tag after : must be 1 to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'"},
		{"nginx:" + strings.Repeat("x", 129), "the tag after : must be 1 to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'"},
		{"a//b", "invalid reference format"},
		{"-nginx", "invalid reference format"},
		{"nginx@sha256:abc", "the digest after @ must be an algorithm, ':' and at least 32 hex digits, e.g. sha256:<64 hex digits>"},
		{"nginx@sha256" + strings.Repeat("a", 64), "the digest after @ must be an algorithm, ':' and at least 32 hex digits, e.g. sha256:<64 hex digits>"},
		{"nginx@" + testDigest + "@" + testDigest, "the digest after @ must be an algorithm, ':' and at least 32 hex digits, e.g. sha256:<64 hex digits>"},
		{"a..b:1", "invalid reference format"},
		{"nginx@md5:" + strings.Repeat("a", 32), "unsupported digest algorithm"},
		{"nginx@sha256:" + strings.Repeat("a", 63) + "aa", "invalid checksum digest length"},
		{strings.Repeat("a", 64), "a 64-digit hexadecimal string is an image ID, not a name"},
		{"a/" + strings.Repeat("b", 300), "repository name must not be more than 255 characters"},
		{"", "it is empty"},
	}
	for _, tt := range tests {
		if got, _ := imageProblem(tt.image); got != tt.want {
			t.Errorf("imageProblem(%q) = %q, want %q", tt.image, got, tt.want)
		}
	}
}

func BenchmarkImageProblem(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if msg, _ := imageProblem("registry.example.com/reports:1.2.3"); msg != "" {
			b.Fatal("invalid")
		}
	}
}
