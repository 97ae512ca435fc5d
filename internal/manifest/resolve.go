package manifest

import (
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// resourceOutputs lists the resource types whose outputs are known before anything is
// provisioned: those Berth provisions itself (service, postgres, dns, route, volume) and
// the other types of score-k8s's default provisioners, with score-k8s's output names, which
// an environment provisions through its platform provisioner file. A manifest may declare
// any other type too; its outputs are then known only when it is provisioned. Route and
// volume have no outputs: a route is served, a volume mounted.
var resourceOutputs = map[string][]string{
	"service":           {"name", "host", "port", "url", "env"},
	"postgres":          {"host", "port", "name", "database", "username", "password", "url"},
	"dns":               {"host", "url"},
	"route":             nil,
	"volume":            nil,
	"postgres-instance": {"host", "port", "username", "password"},
	"mysql":             {"host", "port", "name", "database", "username", "password", "url"},
	"redis":             {"host", "port", "username", "password", "url"},
	"mongodb":           {"host", "port", "username", "password", "connection"},
	"amqp":              {"host", "port", "vhost", "username", "password"},
	"mssql":             {"server", "port", "connection", "database", "username", "password"},
	"s3":                {"endpoint", "region", "bucket", "access_key_id", "secret_key", "aws_access_key_id", "aws_secret_key"},
	"kafka-topic":       {"host", "port", "name", "num_partitions"},
	"service-port":      {"hostname", "port"},
}

// ResourceTypes lists the resource types whose outputs are known in advance, sorted.
func ResourceTypes() []string { return slices.Sorted(maps.Keys(resourceOutputs)) }

// ResourceOutputs lists the outputs of a resource type, and whether they are known in
// advance (see resourceOutputs).
func ResourceOutputs(typ string) ([]string, bool) {
	outs, ok := resourceOutputs[typ]
	return slices.Clone(outs), ok
}

// The params of a route resource: the host name and path it serves, and the port (a
// service port's name or number) it sends them to.
const (
	RouteParamHost = "host"
	RouteParamPath = "path"
	RouteParamPort = "port"
)

// RefKind says what a placeholder refers to.
type RefKind string

// The kinds of references a Resolver resolves.
const (
	RefResource RefKind = "resources" // ${resources.NAME.OUTPUT}
	RefVolume   RefKind = "volume"    // a volume resource mounted by a container
	RefConfig   RefKind = "config"    // ${config.KEY}
	RefSecret   RefKind = "secrets"   // ${secrets.KEY}
)

// Ref is one value the manifest needs from outside itself.
type Ref struct {
	App       string
	Env       string
	Namespace string
	Kind      RefKind
	Name      string    // resource name, or config or secret key
	Output    string    // resource output; "" for other kinds
	Resource  *Resource // the declared resource, for RefResource and RefVolume
}

// Value is what a Ref resolves to. Exactly one of Text, SecretKeyRef,
// ConfigMapKeyRef and Volume is set. References keep secret values out of
// rendered objects: the kubelet reads them when it starts the pod.
type Value struct {
	Text            string
	SecretKeyRef    *corev1.SecretKeySelector
	ConfigMapKeyRef *corev1.ConfigMapKeySelector
	Volume          *corev1.VolumeSource

	// Checksum identifies the version of referenced data (a secret's
	// content hash, say). It goes into the pod template's checksum
	// annotation so that changing the data rolls the pods.
	Checksum string
}

// Resolver resolves references to resources, config and secrets. The server
// implements it with provisioned resources and central config; Render calls
// it synchronously, so implementations load what they need beforehand.
type Resolver interface {
	Resolve(ref Ref) (Value, error)
}

// SecretName is the Secret holding the app's ${secrets.KEY} values in each
// environment's namespace.
func SecretName(app string) string { return app + "-secrets" }

// ConfigMapName is the ConfigMap holding the app's ${config.KEY} values in
// each environment's namespace.
func ConfigMapName(app string) string { return app + "-config" }

// OfflineResolver resolves without a server, for berth render and
// validate: config and secrets become references to the per-app ConfigMap
// and Secret the server manages, resource outputs become marked
// placeholder text, volumes become emptyDir.
type OfflineResolver struct{}

// Resolve implements Resolver.
func (OfflineResolver) Resolve(ref Ref) (Value, error) {
	switch ref.Kind {
	case RefConfig:
		return Value{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: ConfigMapName(ref.App)},
			Key:                  ref.Name,
		}}, nil
	case RefSecret:
		return Value{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: SecretName(ref.App)},
			Key:                  ref.Name,
		}}, nil
	case RefVolume:
		return Value{Volume: &corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}, nil
	default:
		return Value{Text: "<offline:resources." + ref.Name + "." + ref.Output + ">"}, nil
	}
}
