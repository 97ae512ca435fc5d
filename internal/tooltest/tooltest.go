// Package tooltest finds what the tests' real servers are built from: the root of Berth's
// module, and the build scripts under tools/ (tools/NAME/build.sh builds a server from the
// Go module proxy into the cache, or finds it there, and prints where).
package tooltest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// module is Berth's module path.
const module = "github.com/berth-dev/berth"

// Root finds the root of Berth's module from the working directory, which go test sets to
// the package's directory: the nearest directory above whose go.mod is Berth's (tools/
// holds modules of their own).
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && modulePath(data) == module {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod of " + module + " above the working directory")
		}
		dir = parent
	}
}

func modulePath(gomod []byte) string {
	for line := range strings.Lines(string(gomod)) {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`)
		}
	}
	return ""
}

var builds struct {
	mu   sync.Mutex
	done map[string]*build
}

type build struct {
	once sync.Once
	dir  string
	err  error
}

// Build runs tools/NAME/build.sh once in the test binary (a second caller waits for the
// first) and returns the directory it printed; its error ends with the script's last
// lines of stderr.
func Build(name string) (string, error) {
	builds.mu.Lock()
	if builds.done == nil {
		builds.done = map[string]*build{}
	}
	b := builds.done[name]
	if b == nil {
		b = &build{}
		builds.done[name] = b
	}
	builds.mu.Unlock()
	b.once.Do(func() {
		root, err := Root()
		if err != nil {
			b.err = err
			return
		}
		script := filepath.Join("tools", name, "build.sh")
		cmd := exec.Command(filepath.Join(root, script))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			b.err = fmt.Errorf("%s: %v\n%s", script, err, Tail(stderr.String(), 40))
			return
		}
		b.dir = strings.TrimSpace(string(out))
	})
	return b.dir, b.err
}

// Tail returns the last n lines of s.
func Tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
