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
type hostLock struct{ f *os.File }

// lockHost takes the machine's node lock, polling up to wait for it.
func lockHost(ctx context.Context, wait time.Duration) (*hostLock, error) {
	if err := os.MkdirAll(hostDir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(hostDir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(wait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return &hostLock{f: f}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
		}
		if time.Now().After(deadline) {
			f.Close()
			owner := "another cluster"
			if rec, err := readHostRecord(); err == nil && rec.Owner != "" {
				owner = rec.Owner
			}
			return nil, &NodeBusyError{Owner: owner}
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// release closes this process's handle; daemons that inherited it keep the lock.
func (l *hostLock) release() {
	if l != nil && l.f != nil {
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
