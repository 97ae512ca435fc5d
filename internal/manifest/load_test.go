package manifest_test

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/manifest"
)

// TestLoadFileRefusesHugeManifestUnread checks that a manifest over the
// 1 MiB limit is refused from its size, before any of it is read: reading
// it first made a 1 GB file cost 1 GB of memory.
func TestLoadFileRefusesHugeManifestUnread(t *testing.T) {
	path := filepath.Join(t.TempDir(), "berth.yaml")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 30); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = manifest.LoadFile(t.Context(), path)
	runtime.ReadMemStats(&after)

	if !errors.As(err, new(*manifest.Errors)) {
		t.Fatalf("LoadFile() error = %v, want *manifest.Errors", err)
	}
	if want := "berth.yaml: file is 1073741824 bytes; a manifest may have at most 1048576"; err.Error() != want {
		t.Errorf("LoadFile() error = %q, want %q", err, want)
	}
	// Reading even the first MiB through a limit would allocate more than
	// this; refusing from the size allocates almost nothing.
	if got := after.TotalAlloc - before.TotalAlloc; got > 256<<10 {
		t.Errorf("LoadFile allocated %d bytes to refuse a 1 GB manifest, want under 256 KiB (refused before reading)", got)
	}
}

// TestLoadFileRefusesManifestsThatAreNotFiles checks that a manifest that
// is a device or a directory is refused before it is read: /dev/zero ran
// the CLI out of memory.
func TestLoadFileRefusesManifestsThatAreNotFiles(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ path, want string }{
		{"/dev/zero", "read /dev/zero: is a device, not a regular file"},
		{"/dev/urandom", "read /dev/urandom: is a device, not a regular file"},
		{dir, "read " + dir + ": is a directory, not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if _, err := os.Stat(tt.path); err != nil {
				t.Skip(err)
			}
			err := within(t, func() error {
				_, err := manifest.LoadFile(t.Context(), tt.path)
				return err
			})
			if err == nil || err.Error() != tt.want {
				t.Errorf("LoadFile() error = %v, want %q", err, tt.want)
			}
		})
	}
}

// within runs fn and returns its error, failing the test if fn has not
// returned after a while: the bugs these tests catch block for ever, and a
// test that hangs until go test's own timeout says nothing useful.
func within(t *testing.T, fn func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("still blocked after 30s")
		return nil
	}
}
