package berth

import (
	"strings"
	"time"
)

// ClusterEvent is what a Kubernetes event said about one of an app's objects — a pod
// scheduled, an image pulled, a replica set scaled, a probe failing — as Berth keeps it,
// past the cluster's own retention (an hour by default).
type ClusterEvent struct {
	ID             int64
	Env, Team, App string
	// UID is the Kubernetes event's uid. The cluster updates one event as it happens again
	// (Count); Berth keeps one record per UID, updated likewise.
	UID string
	// Type is Normal or Warning.
	Type   string
	Reason string
	// Object is what the event is about, as kind/name with the kind in lower case:
	// deployment/web, replicaset/web-7d9f8, pod/web-7d9f8-x2x4q.
	Object  string
	Message string
	// Count is how many times the cluster saw it, FirstAt and LastAt the first and the last.
	Count           int
	FirstAt, LastAt time.Time
}

// ClusterEventFilter selects stored cluster events. Empty fields select everything.
type ClusterEventFilter struct {
	Env, Team, App string
	// Type keeps only events of this type (Normal or Warning).
	Type string
	// Since keeps events last seen at or after it; Until those first seen at or before it.
	Since, Until time.Time
	// Limit bounds the result to the newest Limit events (at most MaxClusterEvents; 0 is
	// MaxClusterEvents).
	Limit int
}

// MaxClusterEvents bounds one listing of cluster events.
const MaxClusterEvents = 1000

// Event types Kubernetes uses.
const (
	EventNormal  = "Normal"
	EventWarning = "Warning"
)

// Kind returns the kind of the event's object (lower case), Name its name.
func (e ClusterEvent) Kind() string { k, _, _ := strings.Cut(e.Object, "/"); return k }

// Name returns the name of the event's object.
func (e ClusterEvent) Name() string { _, n, _ := strings.Cut(e.Object, "/"); return n }

// ObjectApp says which of apps (the apps deployed into one namespace) the object kind/name
// belongs to, by the names Kubernetes gives what an app's objects make: the app's own
// objects are named after it (web, or web-config), its ReplicaSets web-<hash> and their
// pods web-<hash>-<suffix>. The longest app name that fits wins, so in a namespace with
// web and web-api, pod web-api-7d9f8-x2x4q is web-api's. It returns "" when none fits.
// Names are all it has to go by: an object Berth did not deploy but named like an app's
// (web-cache beside web) counts as the app's.
func ObjectApp(object string, apps []string) string {
	_, name, ok := strings.Cut(object, "/")
	if !ok {
		name = object
	}
	best := ""
	for _, a := range apps {
		if a == "" || len(a) <= len(best) {
			continue
		}
		if name == a || strings.HasPrefix(name, a+"-") {
			best = a
		}
	}
	return best
}

// LogRecord is one record of an app's log stream: a line one of its containers wrote
// (Pod, Container, Line), a cluster event about one of its objects (Event), or a notice
// from Berth about the stream itself (Notice: a pod followed, a pod gone).
type LogRecord struct {
	// Time is when the line was written (the container runtime's timestamp), when the
	// event last happened, or when Berth noticed what the notice says.
	Time           time.Time
	Pod, Container string
	Line           string
	Event          *ClusterEvent
	Notice         string
}

// LogQuery says which logs of an app a log stream reads.
type LogQuery struct {
	// Selector selects the app's pods by label.
	Selector map[string]string
	// Pod and Container, when set, narrow the stream to one pod and one container.
	Pod, Container string
	// Since starts the stream at this time; zero: at the last Tail lines.
	Since time.Time
	// Tail is how many of each container's last lines (and of the newest events) to
	// start with, at most MaxLogTail; 0: none.
	Tail int
	// Previous reads the previous instance of each container (the one that crashed).
	Previous bool
	// Follow goes on with new lines, new pods and new events until the context ends.
	Follow bool
	// Events, when set, says whether an object (kind/name, as ClusterEvent.Object) is
	// the app's, and so whether its events belong in the stream; nil: no events.
	Events func(object string) bool
}

// Bounds of log streams.
const (
	// MaxLogTail bounds the lines a stream starts with, per container.
	MaxLogTail = 10000
	// DefaultLogTail is the lines per container a stream starts with when the request
	// gives neither a tail nor a start time.
	DefaultLogTail = 100
	// MaxLogLine bounds one line, in bytes; longer lines are cut there.
	MaxLogLine = 16 << 10
	// MaxLogStreams bounds the containers one stream follows at once.
	MaxLogStreams = 64
)
