//go:build unix

package manifest_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/berth-dev/berth/internal/manifest"
)

// TestLoadFileRefusesFIFOManifest checks that a named pipe as the manifest
// is refused at once: opening it waited for a writer for ever, deaf to
// Ctrl-C.
func TestLoadFileRefusesFIFOManifest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "berth.yaml")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	err := within(t, func() error {
		_, err := manifest.LoadFile(t.Context(), path)
		return err
	})
	if want := "read " + path + ": is a named pipe (FIFO), not a regular file"; err == nil || err.Error() != want {
		t.Errorf("LoadFile() error = %v, want %q", err, want)
	}
}

// TestLoadFileRefusesFIFOSource checks that a named pipe as a source is
// refused at once, as the manifest is.
func TestLoadFileRefusesFIFOSource(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "berth.yaml")
	if err := os.WriteFile(path, []byte(sourceManifest("pipe")), 0o644); err != nil {
		t.Fatal(err)
	}
	err := within(t, func() error {
		_, err := manifest.LoadFile(t.Context(), path)
		return err
	})
	want := `berth.yaml:7:22: containers.web.files[/f/0].source: "pipe" is a named pipe (FIFO), not a regular file; a source must be a regular file`
	if err == nil || err.Error() != want {
		t.Errorf("LoadFile() error = %v\nwant %s", err, want)
	}
}
