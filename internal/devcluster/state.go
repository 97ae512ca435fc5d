package devcluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

const stateFile = "cluster.json"

// State is what `up` records in the state directory: enough for `down` to stop exactly the
// processes it started and for clients to connect.
type State struct {
	Dir        string         `json:"dir"`
	Server     string         `json:"server"`
	Kubeconfig string         `json:"kubeconfig"`
	Binaries   string         `json:"binaries"`
	Ports      map[string]int `json:"ports"`
	Processes  []Process      `json:"processes"`
	StartedAt  time.Time      `json:"startedAt"`
}

// ErrNotRunning is returned when the state directory holds no cluster.
var ErrNotRunning = errors.New("no dev cluster is running")

// LoadState reads the state of the cluster in dir.
func LoadState(dir string) (*State, error) {
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s: start one with `berth dev cluster up`", ErrNotRunning, dir)
	}
	if err != nil {
		return nil, err
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%s is corrupt (%v): stop what it started with `berth dev cluster down`", filepath.Join(dir, stateFile), err)
	}
	return &s, nil
}

// save writes the state atomically, so a crash never leaves a half-written file that would
// hide which processes are running.
func (s *State) save() error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(s.Dir, stateFile+".tmp")
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(s.Dir, stateFile))
}
