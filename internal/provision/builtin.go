package provision

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-dev/berth/internal/manifest"
)

// Built-in provisioners
//
// Berth provisions five types itself, in every environment, unless the environment's
// provisioner file has an entry for the type (the file wins, as a project's provisioners
// win over score-k8s's defaults):
//
//   - service: another app in the same environment, by params.app or else the resource's
//     name (for a pull request's preview: that app's preview of the same branch, else the
//     app in the environment previews fall back to). Outputs name, host (the app's Service
//     in its namespace), port (its first service port), url and env (where it was found).
//   - dns: a host name under the environment's base domain. Outputs host and url.
//   - route: an Ingress for params.host and params.path to the app's service port
//     params.port, served by the cluster's default ingress controller. No outputs.
//   - volume: a PersistentVolumeClaim of the environment's storage class, or an emptyDir
//     where it names none.
//   - postgres: a database and a role on the environment's PostgreSQL server. Its I/O is
//     the deploy engine's; Postgres here only shapes the outputs.
//
// Everything here is pure: what the built-ins need from outside (namespaces, other apps'
// ports, the database server) comes in Env and the arguments.

// Builtins lists the types Berth provisions itself, sorted.
func Builtins() []string { return []string{"dns", "postgres", "route", "service", "volume"} }

// builtinParams are the params each built-in provisioner reads.
var builtinParams = map[string][]string{
	"service":  {"app"},
	"dns":      nil,
	"route":    {manifest.RouteParamHost, manifest.RouteParamPath, manifest.RouteParamPort},
	"volume":   {"size"},
	"postgres": nil,
}

// CheckBuiltin refuses what a built-in provisioner would otherwise ignore: a class (the
// built-ins have one flavour each) or a param it does not read.
func CheckBuiltin(decl *manifest.Resource) error {
	if decl.Class != "" && decl.Class != "default" {
		return fmt.Errorf("Berth's built-in %s provisioner has no class %q: a platform admin offers classes with an entry of type %s and class %s in the environment's provisioner file",
			decl.Type, decl.Class, decl.Type, decl.Class)
	}
	takes := builtinParams[decl.Type]
	for _, k := range slices.Sorted(maps.Keys(decl.Params)) {
		if !slices.Contains(takes, k) {
			if len(takes) == 0 {
				return fmt.Errorf("Berth's built-in %s provisioner takes no params (params.%s)", decl.Type, k)
			}
			return fmt.Errorf("Berth's built-in %s provisioner takes no param %q (it takes %s)", decl.Type, k, strings.Join(takes, ", "))
		}
	}
	return nil
}

// IsBuiltin reports whether Berth provisions typ itself.
func IsBuiltin(typ string) bool { return slices.Contains(Builtins(), typ) }

// BuiltinURI names a built-in provisioner in records and messages.
func BuiltinURI(typ string) string { return "builtin/" + typ }

// Env is what the built-in provisioners know of the app and its environment.
type Env struct {
	Name         string // the environment
	Team, App    string // the app declaring the resource
	BaseDomain   string
	StorageClass string
	// Locate says where service resources find team's app: in this environment, or for a
	// pull request's preview, in another app's preview or the fallback environment.
	Locate func(team, app string) Location
	// Service is the declaring app's own service, for routes.
	Service *manifest.Service
	// HostsUnder, when set, is the domain route hosts must be under: a pull request's
	// preview must not take the hosts of the environments behind it.
	HostsUnder string
}

// Outcome is what a provisioner made of one resource.
type Outcome struct {
	Provisioner string
	// Outputs are every output as text (a non-text template output as JSON); Secret says
	// which are secret.
	Outputs map[string]string
	Secret  map[string]bool
	// State is kept for the next run (a template's .State, a built-in's password).
	State map[string]any
	// Objects are Kubernetes objects to apply with the app.
	Objects []map[string]any
	// Volume is how a volume resource is mounted.
	Volume *VolumeSource
	// Warning is something the user should know that did not stop the provisioner.
	Warning string
	// Placeholder: rendered offline, where only a server could provision it; every output
	// is a marked placeholder text.
	Placeholder bool
}

// VolumeSource is a volume resource's source: a claim, or an emptyDir.
type VolumeSource struct {
	ClaimName string // "" for emptyDir
}

// Location is where a service resource finds an app.
type Location struct {
	Env, Namespace string
	// Port is the app's service port as last deployed there; 0 when unknown.
	Port int32
	// Why says why there, for a deploy's events ("staging, where previews fall back to").
	Why string
}

// DefaultServicePort is the port a service resource gives when the app it names has not
// been deployed to the environment yet (so its service is unknown): Berth renders port 80
// for an app whose manifest names none but http.
const DefaultServicePort = 80

// Service provisions a service resource: the app params.app (else the resource's name) of
// the same team in the same environment. This is the one place such names resolve.
func Service(env Env, name string, res *manifest.Resource) (*Outcome, error) {
	if env.Team == "" {
		return nil, errNoTeam
	}
	app := res.ServiceApp(name)
	loc := env.Locate(env.Team, app)
	host := app + "." + loc.Namespace + ".svc.cluster.local"
	port := int32(DefaultServicePort)
	if loc.Port > 0 {
		port = loc.Port
	}
	url := "http://" + host + ":" + strconv.Itoa(int(port)) // a DNS name, never an IPv6 address
	if port == 80 {
		url = "http://" + host
	}
	return &Outcome{Provisioner: BuiltinURI("service"), Outputs: map[string]string{
		"name": app, "host": host, "port": strconv.Itoa(int(port)), "url": url, "env": loc.Env,
	}}, nil
}

// errNoTeam: service and dns resources are named by the app's team.
var errNoTeam = errors.New("the app names no team (a Score file has none): give it one (berth render --team TEAM)")

// DNS provisions a dns resource: <app>.<team>.<base domain> for a resource named dns or
// like the app, <name>.<app>.<team>.<base domain> for any other.
func DNS(env Env, name string) (*Outcome, error) {
	if env.Team == "" {
		return nil, errNoTeam
	}
	if env.BaseDomain == "" {
		return nil, fmt.Errorf("environment %s has no base domain for dns resources: a platform admin sets one with `berth envs update %s --base-domain DOMAIN`", env.Name, env.Name)
	}
	host := env.App + "." + env.Team + "." + env.BaseDomain
	if name != "dns" && name != env.App {
		host = name + "." + host
	}
	if len(host) > 253 {
		return nil, fmt.Errorf("dns resource %s: host name %s is longer than 253 characters", name, host)
	}
	return &Outcome{Provisioner: BuiltinURI("dns"), Outputs: map[string]string{"host": host, "url": "http://" + host}}, nil
}

// Route provisions a route resource: an Ingress named <app>-route-<name> sending
// params.host and params.path (default /) to the app's service port params.port (a port
// name, a port number or a target port number).
func Route(env Env, name string, res *manifest.Resource, namespace string) (*Outcome, error) {
	param := func(k string) string { s, _ := res.Params[k].(string); return s }
	host, path, portRef := param(manifest.RouteParamHost), param(manifest.RouteParamPath), param(manifest.RouteParamPort)
	if path == "" {
		path = "/"
	}
	if env.Service == nil || len(env.Service.Ports) == 0 {
		return nil, fmt.Errorf("route resource %s: the app has no service ports to route to: declare service.ports", name)
	}
	if strings.Contains(host, "${") || strings.Contains(path, "${") {
		return nil, fmt.Errorf("route resource %s: params take secret outputs, which are not host names or paths", name)
	}
	if env.HostsUnder != "" && host != env.HostsUnder && !strings.HasSuffix(host, "."+env.HostsUnder) {
		return nil, fmt.Errorf("route resource %s: host %q is not under %s, this preview's base domain: a pull request's preview routes "+
			"only its own hosts (use a dns resource's host: ${resources.dns.host})", name, host, env.HostsUnder)
	}
	port := ""
	names := slices.Sorted(maps.Keys(env.Service.Ports))
	for _, n := range names {
		p := env.Service.Ports[n]
		target := p.TargetPort
		if target == 0 {
			target = p.Port
		}
		if n == portRef || strconv.Itoa(int(p.Port)) == portRef {
			port = n
			break
		}
		if port == "" && strconv.Itoa(int(target)) == portRef {
			port = n
		}
	}
	if port == "" {
		return nil, fmt.Errorf("route resource %s: params.port %q is none of the app's service ports (%s)", name, portRef, strings.Join(names, ", "))
	}
	ing := map[string]any{
		"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
		"metadata": objectMeta(env.App+"-route-"+name, namespace),
		"spec": map[string]any{"rules": []any{map[string]any{
			"host": host,
			"http": map[string]any{"paths": []any{map[string]any{
				"path": path, "pathType": "Prefix",
				"backend": map[string]any{"service": map[string]any{"name": env.App, "port": map[string]any{"name": port}}},
			}}},
		}}},
	}
	return &Outcome{Provisioner: BuiltinURI("route"), Outputs: map[string]string{}, Objects: []map[string]any{ing}}, nil
}

// DefaultVolumeSize is the size a volume claims when params.size does not say.
const DefaultVolumeSize = "1Gi"

// Volume provisions a volume resource: a PersistentVolumeClaim <app>-<name> of the
// environment's storage class for params.size (default DefaultVolumeSize), or, where the
// environment names no storage class, an emptyDir with a warning that its data lives only
// as long as each pod.
func Volume(env Env, name string, res *manifest.Resource, namespace string) *Outcome {
	if env.StorageClass == "" {
		return &Outcome{Provisioner: BuiltinURI("volume"), Outputs: map[string]string{}, Volume: &VolumeSource{},
			Warning: fmt.Sprintf("volume %s is an emptyDir: environment %s names no storage class (berth envs update %s --storage-class CLASS), so its data lives only as long as each pod", name, env.Name, env.Name)}
	}
	size, _ := res.Params["size"].(string)
	if size == "" {
		size = DefaultVolumeSize
	}
	claim := env.App + "-" + name
	pvc := map[string]any{
		"apiVersion": "v1", "kind": "PersistentVolumeClaim",
		"metadata": objectMeta(claim, namespace),
		"spec": map[string]any{
			"storageClassName": env.StorageClass,
			"accessModes":      []any{"ReadWriteOnce"},
			"resources":        map[string]any{"requests": map[string]any{"storage": size}},
		},
	}
	return &Outcome{Provisioner: BuiltinURI("volume"), Outputs: map[string]string{}, Volume: &VolumeSource{ClaimName: claim},
		Objects: []map[string]any{pvc}, State: map[string]any{"claim": claim}}
}

// PostgresDatabase is what the postgres provisioner made on the server.
type PostgresDatabase struct {
	Host     string
	Port     int
	Name     string // the database
	User     string // its role
	Password string
	URL      string
}

// Postgres shapes a postgres resource's outputs (score-k8s's names, with url): the
// password and the url, which holds it, are secret.
func Postgres(db PostgresDatabase) *Outcome {
	return &Outcome{Provisioner: BuiltinURI("postgres"),
		Outputs: map[string]string{
			"host": db.Host, "port": strconv.Itoa(db.Port), "name": db.Name, "database": db.Name,
			"username": db.User, "password": db.Password, "url": db.URL,
		},
		Secret: map[string]bool{"password": true, "url": true},
		State:  map[string]any{"database": db.Name, "username": db.User, "password": db.Password},
	}
}

// objectMeta is an object's metadata: its name and, when given, namespace.
func objectMeta(name, namespace string) map[string]any {
	m := map[string]any{"name": name}
	if namespace != "" {
		m["namespace"] = namespace
	}
	return m
}
