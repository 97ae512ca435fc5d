// Package manifesttest gives other packages' tests the manifest package's
// golden renders, such as the server-side dry-run test against a real
// kube-apiserver.
package manifesttest

import (
	"path/filepath"
	"runtime"
	"sort"
)

// GoldenFiles returns the absolute paths of every golden render
// (testdata/render/*/*.golden.yaml), sorted. Each is a multi-document YAML
// stream of objects without a namespace.
func GoldenFiles() ([]string, error) {
	_, here, _, ok := runtime.Caller(0)
	if !ok {
		return nil, errNoSource
	}
	files, err := filepath.Glob(filepath.Join(filepath.Dir(here), "..", "testdata", "render", "*", "*.golden.yaml"))
	if err != nil {
		return nil, err
	}
	for i, f := range files {
		files[i] = filepath.Clean(f)
	}
	sort.Strings(files)
	return files, nil
}

type sourceError string

func (e sourceError) Error() string { return string(e) }

// errNoSource means the binary was built without source paths (-trimpath),
// so the testdata cannot be found.
const errNoSource = sourceError("manifesttest: cannot locate the manifest package's source")
