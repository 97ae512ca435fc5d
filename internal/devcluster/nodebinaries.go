package devcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// NodeBuildScript is the path, relative to a berth checkout, of the script that builds the
// programs a real node runs beside the Kubernetes binaries of tools/kube (the pause
// process and the ingress controller) and prints "<program> <path>" per line.
const NodeBuildScript = "tools/node/build.sh"

// NodePrograms are what tools/node/build.sh builds.
var NodePrograms = []string{"pause", "ingress"}

// NodeBinaries are the paths of the programs tools/node/build.sh built, by program.
type NodeBinaries map[string]string

// ResolveNodeBinaries builds (or reuses from the cache) the named programs, all of them when
// none is named, with the build script of the berth checkout that holds this executable or
// the working directory, streaming its progress.
func ResolveNodeBinaries(ctx context.Context, progress io.Writer, programs ...string) (NodeBinaries, error) {
	var starts []string
	if exe, err := os.Executable(); err == nil {
		starts = append(starts, filepath.Dir(exe))
	}
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	kube, ok := FindBuildScript(starts...)
	if !ok {
		return nil, errors.New("the real node's programs are not built and no berth checkout is around to build them: run `make run` or " + NodeBuildScript + " in a berth checkout")
	}
	script := filepath.Join(filepath.Dir(filepath.Dir(kube)), "node", "build.sh")
	return BuildNode(ctx, script, progress, programs...)
}

// BuildNode runs the node build script for programs and checks what it printed.
func BuildNode(ctx context.Context, script string, progress io.Writer, programs ...string) (NodeBinaries, error) {
	const what = "the real node's programs"
	out, err := runBuildScript(ctx, script, what, progress, programs...)
	if err != nil {
		return nil, err
	}
	bins := NodeBinaries{}
	for _, line := range strings.Split(strings.TrimSpace(out.stdout), "\n") {
		name, path, ok := strings.Cut(line, " ")
		if !ok {
			return nil, &BuildError{Script: script, What: what, Err: fmt.Errorf("unexpected output %q", line), Output: out.tail}
		}
		if err := checkNodeBinary(name, path); err != nil {
			return nil, err
		}
		bins[name] = path
	}
	for _, p := range programs {
		if bins[p] == "" {
			return nil, &BuildError{Script: script, What: what, Err: fmt.Errorf("it printed no path for %s", p), Output: out.tail}
		}
	}
	return bins, nil
}

// checkNodeBinary compares a program with the size its build recorded in COMPLETE.
func checkNodeBinary(name, path string) error {
	want, err := os.ReadFile(filepath.Join(filepath.Dir(filepath.Dir(path)), "COMPLETE"))
	if err != nil {
		return &BinaryError{Program: name, Path: path, Problem: "has no COMPLETE marker", Script: NodeBuildScript}
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return &BinaryError{Program: name, Path: path, Problem: "is missing", Script: NodeBuildScript}
	case err != nil:
		return &BinaryError{Program: name, Path: path, Problem: "cannot be read (" + err.Error() + ")", Script: NodeBuildScript}
	case strconv.FormatInt(fi.Size(), 10) != strings.TrimSpace(string(want)):
		return &BinaryError{Program: name, Path: path, Problem: fmt.Sprintf("is corrupt (%d bytes, built as %s)", fi.Size(), strings.TrimSpace(string(want))), Script: NodeBuildScript}
	}
	return nil
}
