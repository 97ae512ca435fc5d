package pgadmin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// debianToolsDir holds one <major>/bin per installed PostgreSQL version: Debian and Ubuntu
// keep the programs there and put on PATH only a wrapper.
const debianToolsDir = "/usr/lib/postgresql"

// toolStderrMax bounds how much of a program's stderr an error quotes: its end, where
// pg_restore says what failed.
const toolStderrMax = 4 << 10

// toolWaitDelay is how long a program may take to exit after ctx is done (SIGTERM makes
// pg_dump and pg_restore cancel their query on the server first) before it is killed.
const toolWaitDelay = 10 * time.Second

// Tools are the PostgreSQL client programs that Dump and RestoreScratch run.
type Tools struct {
	Dump    string // path of pg_dump
	Restore string // path of pg_restore
	Version int    // their major version, e.g. 17; pg_dump refuses newer servers
}

// FindTools finds pg_dump and pg_restore of the newest major version, in a directory of
// /usr/lib/postgresql/<major>/bin or on PATH.
func FindTools(ctx context.Context) (Tools, error) {
	return findTools(ctx, debianToolsDir, os.Getenv("PATH"))
}

func findTools(ctx context.Context, libDir, path string) (Tools, error) {
	dirs, _ := filepath.Glob(filepath.Join(libDir, "*", "bin"))
	// The versioned directories first: on Debian, PATH has only the wrapper that runs them.
	for _, d := range filepath.SplitList(path) {
		if filepath.IsAbs(d) { // a relative entry, or an empty one, depends on the working directory
			dirs = append(dirs, d)
		}
	}
	var best Tools
	var errs []error
	for _, d := range dirs {
		t := Tools{Dump: filepath.Join(d, "pg_dump"), Restore: filepath.Join(d, "pg_restore")}
		if !isExecutable(t.Dump) || !isExecutable(t.Restore) {
			continue
		}
		v, err := toolVersion(ctx, t.Dump)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if t.Version = v; v > best.Version {
			best = t
		}
	}
	if best.Version == 0 {
		err := errors.New("pg_dump not found: install PostgreSQL's client programs (Debian: postgresql-client)")
		return Tools{}, errors.Join(append([]error{err}, errs...)...)
	}
	return best, nil
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// toolVersion runs program --version and returns its major version.
func toolVersion(ctx context.Context, program string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, program, "--version")
	cmd.Env = []string{"LC_ALL=C"}
	out, err := cmd.Output()
	if err != nil {
		return 0, fmt.Errorf("%s --version: %w", program, err)
	}
	v, ok := majorVersion(string(out))
	if !ok {
		return 0, fmt.Errorf("%s --version: no version in %q", program, bound(string(out), 200))
	}
	return v, nil
}

// versionRE finds the version in "pg_dump (PostgreSQL) 17.2 (Debian 17.2-1.pgdg120+1)";
// before PostgreSQL 10 the major version had two parts, of which the first is enough here.
var versionRE = regexp.MustCompile(`\(PostgreSQL\) (\d+)`)

func majorVersion(s string) (int, bool) {
	m := versionRE.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	v, err := strconv.Atoi(m[1])
	return v, err == nil && v > 0
}

// runTool runs a PostgreSQL client program with args and the clean environment env,
// with stdin and stdout as given (nil: none), and lines, when not nil, called with each
// line the program writes to stderr (its progress, with -v), as it comes. It stops the
// program when ctx is done. Its error quotes the end of the program's stderr, with
// secrets masked.
func runTool(ctx context.Context, program string, args, env []string, stdin io.Reader, stdout io.Writer, secrets []string, lines func(string)) error {
	name := filepath.Base(program)
	cmd := exec.CommandContext(ctx, program, args...)
	cmd.Env = env
	cmd.Stdin = stdin
	out := &recordingWriter{w: stdout}
	if stdout != nil {
		cmd.Stdout = out
	}
	stderr := &tailWriter{max: toolStderrMax}
	cmd.Stderr = stderr
	if lines != nil {
		cmd.Stderr = io.MultiWriter(stderr, &lineWriter{f: lines})
	}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = toolWaitDelay
	err := cmd.Run()
	switch {
	case err == nil:
		return nil
	case out.err != nil:
		// The pipe closed under the program: its own complaint is a consequence.
		return fmt.Errorf("%s: write its output: %w", name, out.err)
	case ctx.Err() != nil:
		return fmt.Errorf("%s: %w", name, context.Cause(ctx))
	}
	err = fmt.Errorf("%s: %w", name, err)
	if msg := strings.TrimSpace(stderr.String()); msg != "" {
		err = fmt.Errorf("%w: %s", err, msg)
	}
	return scrub(err, secrets...)
}

// recordingWriter remembers the first error of w, so that a failed write is told apart
// from a failed program.
type recordingWriter struct {
	w   io.Writer
	err error
}

func (r *recordingWriter) Write(p []byte) (int, error) {
	n, err := r.w.Write(p)
	if err != nil && r.err == nil {
		r.err = err
	}
	return n, err
}

// lineWriter calls f with each line written to it, without its newline; a line longer
// than maxLine is cut there.
type lineWriter struct {
	f   func(string)
	buf []byte
}

const maxLine = 64 << 10

func (l *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			l.buf = append(l.buf, p[:min(len(p), max(0, maxLine-len(l.buf)))]...)
			break
		}
		l.buf = append(l.buf, p[:min(i, max(0, maxLine-len(l.buf)))]...)
		l.f(string(l.buf))
		l.buf, p = l.buf[:0], p[i+1:]
	}
	return n, nil
}

// tailWriter keeps the last max bytes written to it.
type tailWriter struct {
	max int
	buf []byte
	cut bool
}

func (t *tailWriter) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) > t.max {
		p, t.cut = p[len(p)-t.max:], true
	}
	if over := len(t.buf) + len(p) - t.max; over > 0 {
		t.buf, t.cut = slices.Delete(t.buf, 0, over), true
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

// String returns what was kept, starting with "..." when the start was cut.
func (t *tailWriter) String() string {
	s := strings.ToValidUTF8(string(t.buf), "")
	if t.cut {
		s = "..." + s
	}
	return s
}

// bound cuts s to at most n bytes.
func bound(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
