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
	// Node is the real node, when the cluster has one.
	Node *NodeState `json:"node,omitempty"`
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

// NodeState is the real node of a cluster: what runs for it, where, and what it changed on
// the host, so `down` can undo exactly that.
type NodeState struct {
	// Name is the Node object's name.
	Name string `json:"name"`
	// IP is the pod bridge's address on the host: the kubelet, CoreDNS and (with a real
	// node) the API server listen there.
	IP      string `json:"ip"`
	PodCIDR string `json:"podCIDR"`
	Bridge  string `json:"bridge"`
	// Registry is the image registry the node pulls from.
	Registry Registry `json:"registry"`
	// Ingress is where the ingress controller takes HTTP on the host (127.0.0.1:port).
	Ingress string `json:"ingress"`
	// Label and Taint are what a pod needs to land on the node: a node selector on Label
	// (key=value) and a toleration of Taint (key=value:Effect).
	Label string `json:"label"`
	Taint string `json:"taint"`
	// Sysctls are the host's values before the node started, put back after the kubelet
	// rewrote them and again at `down`.
	Sysctls map[string]string `json:"sysctls"`
}

// Registry is the dev cluster's image registry.
type Registry struct {
	// Addr is where it listens, plain HTTP on loopback (127.0.0.1:port): push here.
	Addr string `json:"addr"`
	// Name is the registry host that images name in manifests (Name/app:tag); the node's
	// containerd maps it to Addr, so the name stays the same whatever port Addr has.
	Name string `json:"name"`
}
