package manifest

import (
	"slices"
	"strings"
	"time"
)

// API versions a manifest may declare.
const (
	APIVersionBerth = "berth.dev/v1"
	APIVersionScore = "score.dev/v1b1"
)

// Manifest is one app's parsed and validated manifest. String fields keep
// their placeholders (${args.version}, ...); Render resolves them.
type Manifest struct {
	File         string // name used in error messages
	APIVersion   string
	Metadata     Metadata
	Args         map[string]string // defaults for ${args.NAME}
	Containers   map[string]*Container
	Service      *Service
	Exposes      []Expose
	Replicas     *int32
	Autoscale    *Autoscale
	Resources    map[string]*Resource
	Smoke        []SmokeCheck
	IngressClass string
	Deploy       DeployPolicy
	Git          *GitRules // nil without git:; the base's in every environment
	Metrics      *Metrics  // nil without metrics: (monitoring.go)
	SLO          *SLO      // nil without slo:
	Alerts       Alerts

	// Env is the environment this manifest was merged for; "" for the base.
	Env string

	envs map[string]*Manifest // merged and validated overlays, by name
	locs map[string]loc       // field path -> where it was written

	// An environment's top-level fields taken from the base's decoding
	// (memo.go) have their positions in base.
	base   *Manifest
	reused uint16 // bit i for reusable[i]
}

// Metadata names the app and the team that owns it.
type Metadata struct {
	Name        string
	Team        string
	Annotations map[string]string
	Labels      map[string]string
}

// Container is one container of the app's pod.
type Container struct {
	Image          string
	Command        []string
	Args           []string
	Variables      map[string]string
	Files          []File
	Volumes        []Volume
	Resources      *ComputeResources
	LivenessProbe  *Probe
	ReadinessProbe *Probe
}

// File is a file mounted into a container, with inline content.
type File struct {
	Target        string
	Mode          string // octal, e.g. "0600"; "" means 0644
	Source        string // path relative to the manifest; LoadFile reads it into Content
	Content       string
	BinaryContent []byte
	NoExpand      bool // keep placeholders in Content as written

	path string // where it was written, for errors
}

// Volume mounts a volume resource into a container.
type Volume struct {
	Source   string // name of a resource of type volume
	Path     string // sub path inside the volume
	Target   string
	ReadOnly bool

	path string // where it was written, for errors
}

// ComputeResources are a container's requests and limits.
type ComputeResources struct {
	Requests ResourceList
	Limits   ResourceList
}

// ResourceList holds Kubernetes quantities, e.g. CPU "100m", Memory "128Mi".
type ResourceList struct {
	CPU    string
	Memory string
}

// Probe is a liveness or readiness check; exactly one of its fields is set.
type Probe struct {
	HTTPGet *HTTPGetProbe
	Exec    *ExecProbe
}

// HTTPGetProbe checks an HTTP endpoint of the container.
type HTTPGetProbe struct {
	Scheme      string // HTTP or HTTPS
	Host        string
	Path        string
	Port        int32
	HTTPHeaders []HTTPHeader
}

// HTTPHeader is one header sent by an HTTP probe.
type HTTPHeader struct {
	Name  string
	Value string
}

// ExecProbe runs a command in the container.
type ExecProbe struct {
	Command []string
}

// Service lists the ports the app serves, by name.
type Service struct {
	Ports map[string]ServicePort
}

// ServicePort is one port of the app's Service.
type ServicePort struct {
	Port       int32
	TargetPort int32 // defaults to Port
	Protocol   string
}

// Expose routes external HTTP traffic for a host and path to a service port.
type Expose struct {
	Host string
	Path string // defaults to "/"
	Port string // service port name
}

// Autoscale scales the app on CPU usage.
type Autoscale struct {
	Min int32
	Max int32
	CPU int32 // target average utilization in percent of requests
}

// Resource is something the app depends on that the platform provides.
type Resource struct {
	Type        string
	Class       string
	ID          string
	Annotations map[string]string
	Params      map[string]any // strings, bools, numbers (as strings), lists and maps
}

// ServiceApp names the app a resource of type service calls: params.app when set, else
// the resource's own name (as Score's community service provisioner takes it), so
// `resources: {users-api: {type: service}}` calls the app users-api.
func (r Resource) ServiceApp(name string) string {
	if app, ok := r.Params["app"].(string); ok && app != "" {
		return app
	}
	return name
}

// SmokeCheck is one smoke test the deploy engine runs after a rollout is available: an HTTP
// request to the app's Service (Path set) or a command run as a Job beside it (Command set).
type SmokeCheck struct {
	// Name is how results and reasons call the check; "" gives Label's default.
	Name string

	// HTTP checks.
	Path     string
	Port     string // service port name or number; "" with one port
	Method   string // GET unless set
	Expect   int    // the HTTP status code to get; 0 when not written: 200
	Contains string // a substring the body must contain
	Matches  string // an RE2 regular expression the body must match

	// Command checks.
	Command   []string
	Image     string // "" runs the image of Container
	Container string // the container whose image to run; "" with one container

	// Timeout bounds one attempt; 0 takes the default of the check's kind.
	Timeout time.Duration
	// Retries is how many more attempts a failing check gets; -1 takes the default.
	Retries int
}

// The defaults of smoke checks.
const (
	SmokeHTTPTimeout    = 10 * time.Second
	SmokeCommandTimeout = 2 * time.Minute
	SmokeHTTPRetries    = 2
	SmokeCommandRetries = 0
	// MaxSmokeChecks is how many checks smoke may list.
	MaxSmokeChecks = 20
	// SmokeBudget bounds all of a deploy's checks, retries and backoff included.
	SmokeBudget = 5 * time.Minute
)

// IsCommand reports whether the check runs a command rather than an HTTP request.
func (s SmokeCheck) IsCommand() bool { return len(s.Command) > 0 }

// Label is the check's name, or what it does: "GET /health", "command /bin/check --quick".
func (s SmokeCheck) Label() string {
	switch {
	case s.Name != "":
		return s.Name
	case s.IsCommand():
		l := "command " + strings.Join(s.Command, " ")
		if len(l) > 80 {
			l = l[:77] + "..."
		}
		return l
	}
	return s.HTTPMethod() + " " + s.Path
}

// WantStatus is the status code an HTTP check expects: Expect, or 200.
func (s SmokeCheck) WantStatus() int {
	if s.Expect == 0 {
		return 200
	}
	return s.Expect
}

// HTTPMethod is the check's method, GET unless set.
func (s SmokeCheck) HTTPMethod() string {
	if s.Method == "" {
		return "GET"
	}
	return s.Method
}

// AttemptTimeout is how long one attempt may take.
func (s SmokeCheck) AttemptTimeout() time.Duration {
	switch {
	case s.Timeout > 0:
		return s.Timeout
	case s.IsCommand():
		return SmokeCommandTimeout
	}
	return SmokeHTTPTimeout
}

// Attempts is how many times the check may run before it fails.
func (s SmokeCheck) Attempts() int {
	switch {
	case s.Retries >= 0:
		return s.Retries + 1
	case s.IsCommand():
		return SmokeCommandRetries + 1
	}
	return SmokeHTTPRetries + 1
}

// DeployPolicy is how the deploy engine treats the app's deploys. The zero
// value is the platform's default.
type DeployPolicy struct {
	// NoAutoRollback leaves a failed rollout as it is instead of rolling
	// back to the last good deploy (autoRollback: false).
	NoAutoRollback bool
	// SmokeTimeout bounds all smoke checks of a deploy (smokeTimeout); 0 is SmokeBudget.
	SmokeTimeout time.Duration
}

// SmokeBudget is how long the deploy's smoke checks may take in all.
func (p DeployPolicy) SmokeBudget() time.Duration {
	if p.SmokeTimeout > 0 {
		return p.SmokeTimeout
	}
	return SmokeBudget
}

// Environments lists the names of the environment overlays, sorted.
func (m *Manifest) Environments() []string {
	names := make([]string, 0, len(m.envs))
	for name := range m.envs {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// ForEnv returns the manifest with the overlay of environment env merged in.
// An environment without an overlay gets the base manifest unchanged.
func (m *Manifest) ForEnv(env string) *Manifest {
	if e, ok := m.envs[env]; ok {
		return e
	}
	c := *m
	c.Env = env
	c.envs = nil
	return &c
}

// loc is where a field was written. A field an environment's overlay wrote
// is shown under environments.NAME.
type loc struct {
	line, col int32
	overlay   bool
}

// errorAt returns an Error positioned where path was written, falling back
// to the closest enclosing field that has a position.
func (m *Manifest) errorAt(path, msg, hint string) Error {
	p := path
	for {
		if l, ok := m.position(p); ok {
			// Keep the overlay prefix of the closest recorded field.
			shown := path
			if l.overlay {
				shown = join("environments."+m.Env, path)
			}
			return Error{File: m.File, Line: int(l.line), Col: int(l.col), Path: shown, Msg: msg, Hint: hint}
		}
		if p == "" {
			return Error{File: m.File, Path: path, Msg: msg, Hint: hint}
		}
		p = p[:max(lastIndexAny(p, ".["), 0)]
	}
}

func lastIndexAny(s, chars string) int {
	for i := len(s) - 1; i >= 0; i-- {
		for j := 0; j < len(chars); j++ {
			if s[i] == chars[j] {
				return i
			}
		}
	}
	return -1
}
