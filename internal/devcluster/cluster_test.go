package devcluster_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/devcluster"
)

// realBinaries returns the cached build (building it on first use).
func realBinaries(t *testing.T) devcluster.Binaries {
	t.Helper()
	b, err := devcluster.ResolveBinaries(context.Background(), "", os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fakeBinaries links every real program into a new directory, then lets edit change it.
func fakeBinaries(t *testing.T, edit func(bin string, sizes map[string]int64)) devcluster.Binaries {
	t.Helper()
	real := realBinaries(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	must(t, os.MkdirAll(bin, 0o755))
	must(t, os.Symlink(real.StagesDir(), filepath.Join(dir, "stages")))
	sizes := map[string]int64{}
	for _, p := range append(append([]string{}, devcluster.Programs...), devcluster.Tools...) {
		must(t, os.Symlink(real.Path(p), filepath.Join(bin, p)))
		fi, err := os.Stat(real.Path(p))
		must(t, err)
		sizes[p] = fi.Size()
	}
	edit(bin, sizes)
	var manifest strings.Builder
	for p, n := range sizes {
		fmt.Fprintf(&manifest, "%d %s\n", n, p)
	}
	must(t, os.WriteFile(filepath.Join(dir, "SIZES"), []byte(manifest.String()), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "COMPLETE"), []byte("test\n"), 0o644))
	return devcluster.Binaries{Dir: dir}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestOpenBinariesReportsMissingAndCorruptPrograms(t *testing.T) {
	tests := []struct {
		name string
		edit func(bin string, sizes map[string]int64)
		want []string
	}{
		{
			name: "missing",
			edit: func(bin string, _ map[string]int64) { must(t, os.Remove(filepath.Join(bin, "kube-scheduler"))) },
			want: []string{"kube-scheduler", "is missing", "rebuild with", "tools/kube/build.sh"},
		},
		{
			name: "truncated",
			edit: func(bin string, _ map[string]int64) {
				p := filepath.Join(bin, "etcd")
				must(t, os.Remove(p))
				must(t, os.WriteFile(p, []byte("\x7fELF truncated"), 0o755))
			},
			want: []string{"etcd", "is corrupt", "bytes, built as", "rebuild with"},
		},
		{
			name: "not executable",
			edit: func(bin string, sizes map[string]int64) {
				p := filepath.Join(bin, "kwok")
				must(t, os.Remove(p))
				must(t, os.WriteFile(p, []byte("data"), 0o644))
				sizes["kwok"] = 4
			},
			want: []string{"kwok", "is not executable"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := fakeBinaries(t, tt.edit)
			_, err := devcluster.OpenBinaries(b.Dir)
			var be *devcluster.BinaryError
			if !errors.As(err, &be) {
				t.Fatalf("OpenBinaries: got %v, want a *BinaryError", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}

	t.Run("incomplete build", func(t *testing.T) {
		_, err := devcluster.OpenBinaries(t.TempDir())
		if err == nil || !strings.Contains(err.Error(), "not a complete build") {
			t.Fatalf("got %v", err)
		}
	})
}

// A binary of the right size but the wrong content passes the cheap check and must still
// fail with a message that names it, leaving nothing running.
func TestUpWithGarbageBinaryFailsClearly(t *testing.T) {
	b := fakeBinaries(t, func(bin string, sizes map[string]int64) {
		p := filepath.Join(bin, "etcd")
		must(t, os.Remove(p))
		must(t, os.WriteFile(p, []byte("this is not a program\n"), 0o755))
		sizes["etcd"] = int64(len("this is not a program\n"))
	})
	dir := filepath.Join(t.TempDir(), "state")
	_, _, err := devcluster.Up(context.Background(), devcluster.Options{StateDir: dir, Binaries: b, TieToParent: true})
	if err == nil {
		devcluster.Down(context.Background(), dir, nil)
		t.Fatal("Up succeeded with a garbage etcd")
	}
	for _, w := range []string{"start etcd", "exec format error", "rebuild"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	if _, err := devcluster.LoadState(dir); !errors.Is(err, devcluster.ErrNotRunning) {
		t.Errorf("after a failed start LoadState = %v, want ErrNotRunning", err)
	}
}

func TestUpOnBusyPortFailsBeforeStartingAnything(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port

	dir := filepath.Join(t.TempDir(), "state")
	_, _, err = devcluster.Up(context.Background(), devcluster.Options{
		StateDir: dir, Binaries: realBinaries(t), APIServerPort: port, TieToParent: true,
	})
	var pe *devcluster.PortInUseError
	if !errors.As(err, &pe) || pe.Port != port {
		t.Fatalf("Up: got %v, want PortInUseError for %d", err, port)
	}
	for _, w := range []string{fmt.Sprint(port), "already in use", "--apiserver-port"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state dir created despite the error: %v", err)
	}
}

func TestFailedBuildIsReported(t *testing.T) {
	script, ok := devcluster.FindBuildScript(".")
	if !ok {
		t.Fatal("no tools/kube/build.sh above the test's directory")
	}
	src := filepath.Dir(script)
	// The script sources ../progress.sh: copy the layout of tools/.
	tools := t.TempDir()
	data, err := os.ReadFile(filepath.Join(filepath.Dir(src), "progress.sh"))
	must(t, err)
	must(t, os.WriteFile(filepath.Join(tools, "progress.sh"), data, 0o644))
	dst := filepath.Join(tools, "kube")
	must(t, os.MkdirAll(dst, 0o755))
	for _, f := range []string{"build.sh", "go.mod", "go.sum", "tools.go"} {
		data, err := os.ReadFile(filepath.Join(src, f))
		must(t, err)
		if f == "go.mod" {
			data = append(data, []byte("\nthis line is not go.mod syntax\n")...)
		}
		must(t, os.WriteFile(filepath.Join(dst, f), data, 0o755))
	}
	t.Setenv("BERTH_CACHE_DIR", t.TempDir())
	var progress strings.Builder
	_, err = devcluster.Build(context.Background(), filepath.Join(dst, "build.sh"), &progress)
	var be *devcluster.BuildError
	if !errors.As(err, &be) {
		t.Fatalf("Build: got %v, want *BuildError", err)
	}
	for _, w := range []string{"building the Kubernetes binaries", "failed", "go.mod", "run again"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}
