package devcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// hostDir holds the machine's one real node's lock and record. /run is cleared at boot, as
// is everything a node changes there; what a node changes elsewhere is undone from the
// record by the next start or stop.
const hostDir = "/run/berth-node"

// hostRecord is what a real node changed on the machine, written before each change, so
// that whoever takes the machine's node next can undo what a killed run left behind.
type hostRecord struct {
	// StateDir is the cluster that owns the node.
	StateDir string `json:"stateDir"`
	// Owner describes the owner for the message a second cluster prints.
	Owner string `json:"owner"`
	// Socket is containerd's: shims still serving it are the node's.
	Socket string `json:"socket"`
	Bridge string `json:"bridge"`
	// Sysctls are the values before the node started.
	Sysctls map[string]string `json:"sysctls"`
	// Dirs are the host directories the node created (the mount namespace's mountpoints).
	Dirs []string `json:"dirs"`
	// Tables are the nftables tables that existed before ("family name").
	Tables []string `json:"tables"`
	// Processes are the node's daemons.
	Processes []Process `json:"processes"`
}

// NodeBusyError says another cluster holds the machine's real node.
type NodeBusyError struct{ Owner string }

func (e *NodeBusyError) Error() string {
	return "the machine's real node is in use by " + e.Owner + " (one per machine)"
}

// hostLock is the machine's node lock: an flock on hostDir/lock. The node's daemons inherit
// the locked file, so the lock is held as long as any of them runs, after the command that
// started them has exited.
//
// A second lock, hostDir/op.lock, is held only while the machine changes hands: while a
// node is claimed (cleaning up after a killed one, recording, making the bridge), while a
// node is stopped and its changes undone, and by tests that look at the machine. So between
// the moment a stopping node's daemons are gone (freeing the node lock) and the end of its
// clean-up, nobody else can claim the machine or see it half undone.
type hostLock struct{ f, op *os.File }

// lockHost takes both locks, polling up to wait for a node that runs to stop. The caller
// drops the operation lock with releaseOp once the machine is in the state it wants.
func lockHost(ctx context.Context, wait time.Duration) (*hostLock, error) {
	deadline := time.Now().Add(wait)
	for {
		op, err := lockOp(ctx, time.Until(deadline))
		if err != nil {
			return nil, err
		}
		f, err := openLock("lock")
		if err != nil {
			op.Close()
			return nil, err
		}
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return &hostLock{f: f, op: op}, nil
		}
		f.Close()
		op.Close()
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("lock %s: %w", filepath.Join(hostDir, "lock"), err)
		}
		if time.Now().After(deadline) {
			return nil, busyError()
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// lockOp takes the operation lock alone, polling up to wait (at least a minute: holders
// keep it for seconds).
func lockOp(ctx context.Context, wait time.Duration) (*os.File, error) {
	wait = max(wait, time.Minute)
	op, err := openLock("op.lock")
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(wait)
	for {
		err := syscall.Flock(int(op.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return op, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			op.Close()
			if err == nil || errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, busyError()
			}
			return nil, fmt.Errorf("lock %s: %w", op.Name(), err)
		}
		select {
		case <-ctx.Done():
			op.Close()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func openLock(name string) (*os.File, error) {
	if err := os.MkdirAll(hostDir, 0o700); err != nil {
		return nil, err
	}
	return os.OpenFile(filepath.Join(hostDir, name), os.O_CREATE|os.O_RDWR, 0o600)
}

func busyError() error {
	owner := "another cluster"
	if rec, err := readHostRecord(); err == nil && rec.Owner != "" {
		owner = rec.Owner
	}
	return &NodeBusyError{Owner: owner}
}

// releaseOp lets others look at the machine again; the node lock stays.
func (l *hostLock) releaseOp() {
	if l != nil && l.op != nil {
		l.op.Close()
		l.op = nil
	}
}

// release closes this process's handles; daemons that inherited the node lock keep it.
func (l *hostLock) release() {
	if l == nil {
		return
	}
	l.releaseOp()
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

func readHostRecord() (*hostRecord, error) {
	data, err := os.ReadFile(filepath.Join(hostDir, "node.json"))
	if err != nil {
		return nil, err
	}
	var r hostRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(hostDir, "node.json"), err)
	}
	return &r, nil
}

// save writes the record atomically.
func (r *hostRecord) save() error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(hostDir, "node.json.tmp")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(hostDir, "node.json"))
}

func removeHostRecord() error {
	err := os.Remove(filepath.Join(hostDir, "node.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
