//go:build unix

package manifest_test

import (
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
		t.Skip(err)
	}
	err := within(t, func() error {
		_, err := manifest.LoadFile(t.Context(), path)
		return err
	})
	if want := "read " + path + ": is a named pipe (FIFO), not a regular file"; err == nil || err.Error() != want {
		t.Errorf("LoadFile() error = %v, want %q", err, want)
	}
}
