package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Ctrl-C ends the CLI even while it is blocked reading (here a secret value from a pipe
// that never ends), with exit code 130; a manifest that is a named pipe is refused at once
// instead of blocking (item 2 of the edges issue).
func TestCtrlCEndsABlockedCommand(t *testing.T) {
	cmd := exec.Command(berthBinary(t), "secrets", "set", "API_KEY", "--team", "shop")
	cmd.Env = append(os.Environ(), "BERTH_SERVER=http://127.0.0.1:1", "BERTH_TOKEN=berth_unused")
	stdin, err := cmd.StdinPipe() // held open: the read blocks
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Wait until it blocks reading stdin, as a user at a prompt: a signal sent before then,
	// on a busy machine, could arrive before the CLI handles Ctrl-C at all.
	deadline := time.Now().Add(30 * time.Second)
	for !readingStdin(cmd.Process.Pid) {
		select {
		case err := <-done:
			t.Fatalf("berth secrets set ended before Ctrl-C: %v\n%s", err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("berth secrets set never blocked reading stdin\n%s", out.String())
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 130 {
			t.Errorf("after Ctrl-C: %v, want exit code 130\n%s", err, out.String())
		}
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("berth secrets set ignored Ctrl-C\n%s", out.String())
	}

	fifo := filepath.Join(t.TempDir(), "berth.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	v := exec.Command(berthBinary(t), "validate", "-f", fifo)
	vout, err := v.CombinedOutput() // would block for ever on the pipe before the fix
	if err == nil || !strings.Contains(string(vout), "not a regular file") {
		t.Errorf("validate of a named pipe: %v\n%s", err, vout)
	}
}

// readingStdin reports whether a thread of pid is blocked in read(2) on fd 0
// (/proc/PID/task/TID/syscall starts with the syscall number, 0 on amd64, and its first
// argument).
func readingStdin(pid int) bool {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/syscall", pid))
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err == nil && strings.HasPrefix(string(b), "0 0x0 ") {
			return true
		}
	}
	return false
}
