package devcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Process is one program a cluster started, recorded so `down` can stop exactly it.
type Process struct {
	Name   string `json:"name"`
	PID    int    `json:"pid"`
	Binary string `json:"binary"`
	Log    string `json:"log"`
}

// startProcess runs binary in its own session, so it outlives the `berth` command that
// started it, with output appended to logPath. With tieToParent it dies with this process
// instead, which is what tests want when they are killed.
func startProcess(name, binary string, args []string, logPath string, tieToParent bool) (Process, <-chan error, error) {
	return spawn(procSpec{Name: name, Binary: binary, Args: args, Log: logPath, TieToParent: tieToParent})
}

// procSpec is a program to start.
type procSpec struct {
	Name   string
	Binary string // the program: argv[0] of the running process
	Args   []string
	// Wrap is a command that execs Binary with Args (nsenter into the node's mount namespace).
	Wrap []string
	// Env is added to this process's environment.
	Env []string
	// Files are inherited as fds 3, 4, ... (the machine's node lock).
	Files       []*os.File
	Log         string
	TieToParent bool
}

func spawn(s procSpec) (Process, <-chan error, error) {
	logf, err := os.OpenFile(s.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return Process{}, nil, err
	}
	defer logf.Close()
	argv := append(append(append([]string{}, s.Wrap...), s.Binary), s.Args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.Dir = filepath.Dir(s.Log)
	cmd.ExtraFiles = s.Files
	if len(s.Env) > 0 {
		cmd.Env = append(os.Environ(), s.Env...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if s.TieToParent {
		cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	}
	if err := cmd.Start(); err != nil {
		return Process{}, nil, fmt.Errorf("start %s: %w (is %s a valid program for this machine? rebuild it with %s)",
			s.Name, err, argv[0], BuildScript)
	}
	exited := make(chan error, 1)
	// Reap the child while this process lives; afterwards init does.
	go func() { exited <- cmd.Wait(); close(exited) }()
	return Process{Name: s.Name, PID: cmd.Process.Pid, Binary: s.Binary, Log: s.Log}, exited, nil
}

// alive reports whether p still runs the program it was started as. Checking the
// executable guards against signalling an unrelated process that reused the pid.
func (p Process) alive() bool {
	if p.PID <= 0 {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.PID))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name, which may itself hold spaces.
	if i := bytes.LastIndexByte(stat, ')'); i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' || stat[i+2] == 'X' {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.PID))
	if err != nil {
		return false
	}
	argv0, _, _ := strings.Cut(string(cmdline), "\x00")
	return argv0 == p.Binary
}

// stop sends SIGTERM, waits up to grace for the process to go, then sends SIGKILL.
func (p Process) stop(ctx context.Context, grace time.Duration) error {
	if !p.alive() {
		return nil
	}
	_ = syscall.Kill(p.PID, syscall.SIGTERM)
	if waitGone(ctx, p, grace) {
		return nil
	}
	_ = syscall.Kill(p.PID, syscall.SIGKILL)
	if waitGone(ctx, p, 10*time.Second) {
		return nil
	}
	return fmt.Errorf("%s (pid %d) did not stop after SIGKILL", p.Name, p.PID)
}

func waitGone(ctx context.Context, p Process, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for p.alive() {
		select {
		case <-ctx.Done():
			return !p.alive()
		case <-t.C:
		}
	}
	return true
}

// ExitError says a component ended while the cluster was starting.
type ExitError struct {
	Name   string
	Status string
	Log    string
	Tail   string
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("%s exited while starting (%v); the end of %s:\n%s", e.Name, e.Status, e.Log, e.Tail)
	if hint := exitHint(e.Tail); hint != "" {
		msg += "\n" + hint
	}
	return msg
}

func exitHint(tail string) string {
	switch {
	case strings.Contains(tail, "address already in use"):
		return "a port it needs is taken by another program: stop that program or start again (free ports are chosen at start)"
	case strings.Contains(tail, "exec format error"), strings.Contains(tail, "SIGILL"), strings.Contains(tail, "SIGSEGV"):
		return "the binary looks corrupt: rebuild it with " + BuildScript
	}
	return ""
}

func logTail(path string, lines int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

func exitStatus(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "killed by " + ws.Signal().String()
		}
		return "exit status " + strconv.Itoa(ee.ExitCode())
	}
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}
