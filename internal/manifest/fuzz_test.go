package manifest_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/internal/manifest"
)

// FuzzParseRender feeds arbitrary bytes through Parse, Render for every
// environment, and both encoders. Any panic is a bug; so is an error that
// is neither *Errors nor ErrInvalidOption, since callers map exactly those
// to exit codes.
func FuzzParseRender(f *testing.F) {
	for _, pattern := range []string{"testdata/render/*/*.yaml", "testdata/invalid/*.yaml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			if filepath.Base(file) == "alias-bomb.yaml" {
				continue // valid seed, but slow enough to starve the fuzzer
			}
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := manifest.Parse("berth.yaml", data)
		if err != nil {
			if !errors.As(err, new(*manifest.Errors)) {
				t.Fatalf("Parse error is %T, want *manifest.Errors: %v", err, err)
			}
			return
		}
		for _, env := range append(m.Environments(), "development") {
			objs, err := manifest.Render(m, manifest.RenderOptions{Env: env, Revision: "r1"})
			if err != nil {
				if !errors.As(err, new(*manifest.Errors)) && !errors.Is(err, manifest.ErrInvalidOption) {
					t.Fatalf("Render error is %T: %v", err, err)
				}
				continue
			}
			var buf bytes.Buffer
			if err := manifest.EncodeYAML(&buf, objs); err != nil {
				t.Fatalf("EncodeYAML: %v", err)
			}
			if err := manifest.EncodeJSON(&buf, objs); err != nil {
				t.Fatalf("EncodeJSON: %v", err)
			}
		}
	})
}
