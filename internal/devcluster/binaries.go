package devcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Programs are the binaries a dev cluster runs, in start order.
var Programs = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}

// Tools are the other binaries of a build: kubectl, and the real node's kubelet,
// kube-proxy, image registry and CoreDNS.
var Tools = []string{"kubectl", "kubelet", "kube-proxy", "registry", "coredns"}

// BuildScript is the path of the script, relative to a berth checkout, that builds the
// binaries into the cache and prints their directory.
const BuildScript = "tools/kube/build.sh"

// KubeDirEnv names the environment variable that points at a built binaries directory
// (the output of tools/kube/build.sh: bin/ and stages/).
const KubeDirEnv = "BERTH_KUBE_DIR"

// BinaryError says a program in the binaries directory cannot be used, and how to fix it.
type BinaryError struct {
	Program string
	Path    string
	Problem string
	// Script rebuilds it; empty means BuildScript.
	Script string
}

func (e *BinaryError) Error() string {
	script := e.Script
	if script == "" {
		script = BuildScript
	}
	return fmt.Sprintf("%s at %s %s: rebuild with `rm -rf %s && %s` from a berth checkout",
		e.Program, e.Path, e.Problem, filepath.Dir(filepath.Dir(e.Path)), script)
}

// BuildError says tools/kube/build.sh failed; Output is the end of what it printed.
type BuildError struct {
	Script string
	// What was built; empty means the Kubernetes binaries.
	What   string
	Err    error
	Output string
}

func (e *BuildError) Error() string {
	what := e.What
	if what == "" {
		what = "the Kubernetes binaries"
	}
	return fmt.Sprintf("building %s with %s failed (%v); its last output:\n%s\n"+
		"fix the cause above (is the Go module proxy reachable? is there disk space and ~3 GB of free memory?) and run again",
		what, e.Script, e.Err, e.Output)
}

// ErrNoBinaries is returned when no binaries directory is configured and no berth checkout
// is around to build one.
var ErrNoBinaries = errors.New("the Kubernetes binaries are not built: run `make kube` in a berth checkout, " +
	"or set " + KubeDirEnv + " to a directory built by " + BuildScript)

// Binaries is a verified directory of cluster programs and kwok stages.
type Binaries struct {
	Dir string
}

// Path returns the path of a program.
func (b Binaries) Path(program string) string { return filepath.Join(b.Dir, "bin", program) }

// StagesDir holds the kwok Stage YAML files.
func (b Binaries) StagesDir() string { return filepath.Join(b.Dir, "stages") }

// OpenBinaries checks that dir holds every program, each the size it was built with, so a
// truncated or deleted binary is reported before anything starts.
func OpenBinaries(dir string) (Binaries, error) {
	b := Binaries{Dir: dir}
	if _, err := os.Stat(filepath.Join(dir, "COMPLETE")); err != nil {
		return b, fmt.Errorf("%s is not a complete build of %s (no COMPLETE marker): run `rm -rf %s && %s`",
			dir, BuildScript, dir, BuildScript)
	}
	sizes, err := readSizes(filepath.Join(dir, "SIZES"))
	if err != nil {
		return b, fmt.Errorf("read build manifest of %s: %w", dir, err)
	}
	for _, p := range append(append([]string{}, Programs...), Tools...) {
		path := b.Path(p)
		fi, err := os.Stat(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return b, &BinaryError{Program: p, Path: path, Problem: "is missing"}
		case err != nil:
			return b, &BinaryError{Program: p, Path: path, Problem: "cannot be read (" + err.Error() + ")"}
		case fi.Mode()&0o111 == 0:
			return b, &BinaryError{Program: p, Path: path, Problem: "is not executable"}
		case sizes[p] != fi.Size():
			return b, &BinaryError{Program: p, Path: path,
				Problem: fmt.Sprintf("is corrupt (%d bytes, built as %d)", fi.Size(), sizes[p])}
		}
	}
	return b, nil
}

func readSizes(path string) (map[string]int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sizes := map[string]int64{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		size, name, ok := strings.Cut(line, " ")
		n, err := strconv.ParseInt(size, 10, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("malformed line %q", line)
		}
		sizes[name] = n
	}
	return sizes, nil
}

// FindBuildScript looks for tools/kube/build.sh in the directories above each start path.
func FindBuildScript(starts ...string) (string, bool) {
	for _, dir := range starts {
		dir, err := filepath.Abs(dir)
		if err != nil {
			continue
		}
		for {
			p := filepath.Join(dir, BuildScript)
			if _, err := os.Stat(p); err == nil {
				return p, true
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", false
}

// Build runs the build script, which is a no-op when the binaries are cached, streams its
// progress to progress and returns the directory it printed.
func Build(ctx context.Context, script string, progress io.Writer) (string, error) {
	out, err := runBuildScript(ctx, script, "", progress)
	if err != nil {
		return "", err
	}
	dir := strings.TrimSpace(out.stdout)
	if dir == "" {
		return "", &BuildError{Script: script, Err: errors.New("it printed no directory"), Output: out.tail}
	}
	return dir, nil
}

// scriptOutput is what a build script printed: its stdout, and the end of its progress.
type scriptOutput struct{ stdout, tail string }

// runBuildScript runs script with args, streaming its progress (stderr) to progress; a
// failure is a *BuildError about what (empty: the Kubernetes binaries).
func runBuildScript(ctx context.Context, script, what string, progress io.Writer, args ...string) (scriptOutput, error) {
	if progress == nil {
		progress = io.Discard
	}
	var stdout bytes.Buffer
	tail := &tailWriter{max: 40}
	cmd := exec.CommandContext(ctx, script, args...)
	cmd.Stdout = &stdout
	cmd.Stderr = io.MultiWriter(progress, tail)
	if err := cmd.Run(); err != nil {
		return scriptOutput{tail: tail.String()}, &BuildError{Script: script, What: what, Err: err, Output: tail.String()}
	}
	return scriptOutput{stdout: stdout.String(), tail: tail.String()}, nil
}

// tailWriter keeps the last max lines written to it.
type tailWriter struct {
	max   int
	lines []string
	part  []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.part = append(t.part, p...)
	for {
		i := bytes.IndexByte(t.part, '\n')
		if i < 0 {
			break
		}
		t.lines = append(t.lines, string(t.part[:i]))
		t.part = t.part[i+1:]
	}
	if len(t.lines) > t.max {
		t.lines = t.lines[len(t.lines)-t.max:]
	}
	return len(p), nil
}

func (t *tailWriter) String() string {
	lines := t.lines
	if len(t.part) > 0 {
		lines = append(lines, string(t.part))
	}
	return strings.Join(lines, "\n")
}

// ResolveBinaries finds the cluster programs: dir when given, else $BERTH_KUBE_DIR, else it
// builds them (or reuses the cached build) with the build script of the berth checkout that
// holds this executable or the working directory.
func ResolveBinaries(ctx context.Context, dir string, progress io.Writer) (Binaries, error) {
	if dir == "" {
		dir = os.Getenv(KubeDirEnv)
	}
	if dir != "" {
		return OpenBinaries(dir)
	}
	var starts []string
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	script, ok := FindBuildScript(starts...)
	if !ok {
		return Binaries{}, ErrNoBinaries
	}
	built, err := Build(ctx, script, progress)
	if err != nil {
		return Binaries{}, err
	}
	return OpenBinaries(built)
}

// DefaultStateDir is where `berth dev cluster` keeps its cluster: $BERTH_STATE_DIR, else
// $XDG_STATE_HOME/berth, else ~/.local/state/berth; then dev-cluster.
func DefaultStateDir() string {
	base := os.Getenv("BERTH_STATE_DIR")
	if base == "" {
		if x := os.Getenv("XDG_STATE_HOME"); x != "" {
			base = filepath.Join(x, "berth")
		} else if home, err := os.UserHomeDir(); err == nil {
			base = filepath.Join(home, ".local", "state", "berth")
		} else {
			base = filepath.Join(os.TempDir(), "berth")
		}
	}
	return filepath.Join(base, "dev-cluster")
}
