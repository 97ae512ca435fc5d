package apiv1

import (
	"time"

	"github.com/berth-dev/berth/internal/berth"
)

// LogRecord is one line of the log stream GET
// /teams/{team}/apps/{app}/envs/{env}/logs (newline-delimited JSON): a line a container
// wrote (pod, container when the pod has several, line), a Kubernetes event about one of
// the app's objects (event), a notice from Berth about the stream (notice: a pod started or
// gone), or the error that ended the stream (error), each with its time.
type LogRecord struct {
	Time      time.Time     `json:"time"`
	Pod       string        `json:"pod,omitempty"`
	Container string        `json:"container,omitempty"`
	Line      *string       `json:"line,omitempty"`
	Event     *ClusterEvent `json:"event,omitempty"`
	Notice    string        `json:"notice,omitempty"`
	Error     string        `json:"error,omitempty"`
}

// ClusterEvent is a Kubernetes event about one of an app's objects, as Berth keeps it.
type ClusterEvent struct {
	Env  string `json:"env,omitempty"`
	Team string `json:"team,omitempty"`
	App  string `json:"app,omitempty"`
	// Type is Normal or Warning.
	Type   string `json:"type"`
	Reason string `json:"reason"`
	// Object is kind/name, the kind in lower case: deployment/web, pod/web-7d9f8-x2x4q.
	Object  string `json:"object"`
	Message string `json:"message"`
	// Count is how many times the cluster saw it, between firstAt and lastAt.
	Count   int       `json:"count"`
	FirstAt time.Time `json:"firstAt"`
	LastAt  time.Time `json:"lastAt"`
}

// FromClusterEvent is the wire form of a cluster event.
func FromClusterEvent(e berth.ClusterEvent) ClusterEvent {
	return ClusterEvent{Env: e.Env, Team: e.Team, App: e.App, Type: e.Type, Reason: e.Reason, Object: e.Object,
		Message: e.Message, Count: e.Count, FirstAt: e.FirstAt, LastAt: e.LastAt}
}

// FromLogRecord is the wire form of a log stream's record.
func FromLogRecord(r berth.LogRecord) LogRecord {
	out := LogRecord{Time: r.Time, Notice: r.Notice}
	switch {
	case r.Event != nil:
		ev := FromClusterEvent(*r.Event)
		out.Event = &ev
	case r.Notice == "":
		line := r.Line
		out.Pod, out.Container, out.Line = r.Pod, r.Container, &line
	}
	return out
}

// DeployClusterEvents is the answer of GET /deploys/{id}/cluster-events: the Kubernetes
// events about the app's objects between the deploy's start and its end.
type DeployClusterEvents struct {
	Deploy int64          `json:"deploy"`
	From   *time.Time     `json:"from,omitempty"`
	To     *time.Time     `json:"to,omitempty"`
	Items  []ClusterEvent `json:"items"`
}
