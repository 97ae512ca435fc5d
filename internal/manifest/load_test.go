package manifest_test

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
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
				t.Fatal(err)
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

// sourceManifest is a manifest with one file, from source src.
func sourceManifest(src string) string {
	return "apiVersion: berth.dev/v1\nmetadata: {name: app}\ncontainers:\n  web:\n    image: nginx\n    files:\n      /f/0: {source: " + src + "}\n"
}

// writeFiles writes files (name -> content) under dir; a content of
// "->target" makes a symlink.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if target, ok := strings.CutPrefix(content, "->"); ok {
			err = os.Symlink(target, path)
		} else {
			err = os.WriteFile(path, []byte(content), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// sparse makes a file of size bytes at path without writing them.
func sparse(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestLoadFileSourcesStayInside checks files[].source: a regular file in
// the manifest's directory or below, after symlinks, of at most 1 MiB.
// Sources could read any file the CLI could (/etc/shadow,
// /proc/self/environ) into the rendered ConfigMap.
func TestLoadFileSourcesStayInside(t *testing.T) {
	top := t.TempDir()
	writeFiles(t, top, map[string]string{
		"outside.txt":         "secret\n",
		"app/ok.txt":          "ok\n",
		"app/conf/nested.txt": "nested\n",
		"app/link-in":         "->ok.txt",
		"app/conf/link-up":    "->../ok.txt",
		"app/link-out":        "->../outside.txt",
		"app/link-abs":        "->" + filepath.Join(top, "app", "ok.txt"),
		"app/link-proc":       "->/proc/self/environ",
		"app/link-zero":       "->/dev/zero",
		"app/link-dir-out":    "->..",
	})
	dir := filepath.Join(top, "app")
	sparse(t, filepath.Join(dir, "big.bin"), 1<<20+1)
	sparse(t, filepath.Join(dir, "huge.bin"), 1<<30)
	sparse(t, filepath.Join(dir, "max.bin"), 1<<20)

	const at = "berth.yaml:7:22: containers.web.files[/f/0].source: "
	const inside = " (a source is a path relative to the manifest's directory, and inside it)"
	const symlink = " (a symlink in a source must be relative and stay inside the manifest's directory)"
	const configMap = " (Kubernetes caps a ConfigMap at 1 MiB; ship big files in the image or a volume)"
	tests := []struct {
		src, want, content string
	}{
		{src: "ok.txt", content: "ok\n"},
		{src: "./conf/nested.txt", content: "nested\n"},
		{src: "conf/../ok.txt", content: "ok\n"},
		{src: "link-in", content: "ok\n"},
		{src: "conf/link-up", content: "ok\n"},
		{src: "max.bin", content: strings.Repeat("\x00", 1<<20)},
		{src: "/etc/shadow", want: at + `"/etc/shadow" is an absolute path; a source must be inside the manifest's directory` + inside},
		{src: filepath.Join(dir, "ok.txt"), want: at + strconv.Quote(filepath.Join(dir, "ok.txt")) + ` is an absolute path; a source must be inside the manifest's directory` + inside},
		{src: "../outside.txt", want: at + `"../outside.txt" leads out of the manifest's directory; a source must be inside it` + inside},
		{src: "conf/../../outside.txt", want: at + `"conf/../../outside.txt" leads out of the manifest's directory; a source must be inside it` + inside},
		{src: "link-out", want: at + `"link-out" leads out of the manifest's directory through a symlink; a source must be inside it` + symlink},
		{src: "link-abs", want: at + `"link-abs" leads out of the manifest's directory through a symlink; a source must be inside it` + symlink},
		{src: "link-proc", want: at + `"link-proc" leads out of the manifest's directory through a symlink; a source must be inside it` + symlink},
		{src: "link-zero", want: at + `"link-zero" leads out of the manifest's directory through a symlink; a source must be inside it` + symlink},
		{src: "link-dir-out/outside.txt", want: at + `"link-dir-out/outside.txt" leads out of the manifest's directory through a symlink; a source must be inside it` + symlink},
		{src: "conf", want: at + `"conf" is a directory, not a regular file; a source must be a regular file`},
		{src: "big.bin", want: at + `"big.bin" is 1048577 bytes; a source may have at most 1048576` + configMap},
		{src: "huge.bin", want: at + `"huge.bin" is 1073741824 bytes; a source may have at most 1048576` + configMap},
		{src: "missing.txt", want: at + `can't read "missing.txt": no such file or directory`},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			path := filepath.Join(dir, "berth.yaml")
			if err := os.WriteFile(path, []byte(sourceManifest(strconv.Quote(tt.src))), 0o644); err != nil {
				t.Fatal(err)
			}
			m, err := within2(t, func() (*manifest.Manifest, error) { return manifest.LoadFile(t.Context(), path) })
			if tt.want != "" {
				if !errors.As(err, new(*manifest.Errors)) || err.Error() != tt.want {
					t.Fatalf("LoadFile() error = %v\nwant %s", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Containers["web"].Files[0].Content; got != tt.content {
				t.Errorf("content = %.40q, want %.40q", got, tt.content)
			}
		})
	}
}

// TestLoadFileSourcesTotal checks that a manifest's sources together stay
// within what one ConfigMap holds.
func TestLoadFileSourcesTotal(t *testing.T) {
	dir := t.TempDir()
	sparse(t, filepath.Join(dir, "a.bin"), 600<<10)
	sparse(t, filepath.Join(dir, "b.bin"), 600<<10)
	src := "apiVersion: berth.dev/v1\nmetadata: {name: app}\ncontainers:\n  web:\n    image: nginx\n    files:\n" +
		"      /f/a: {source: a.bin}\n      /f/b: {source: b.bin}\n      /f/c: {source: a.bin}\n"
	path := filepath.Join(dir, "berth.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := manifest.LoadFile(t.Context(), path)
	want := `berth.yaml:8:22: containers.web.files[/f/b].source: "b.bin" brings the sources to 1228800 bytes; together they may have at most 1048576 (they all go into one ConfigMap, and Kubernetes caps a ConfigMap at 1 MiB)`
	if err == nil || err.Error() != want {
		t.Errorf("LoadFile() error = %v\nwant %s", err, want)
	}
}

// within2 is within for a function with a result.
func within2[T any](t *testing.T, fn func() (T, error)) (T, error) {
	t.Helper()
	var v T
	err := within(t, func() error {
		var err error
		v, err = fn()
		return err
	})
	return v, err
}
