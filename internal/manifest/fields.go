package manifest

import (
	"slices"
	"strings"
)

// fieldSet is the list of keys one kind of object accepts. Each set is named
// after its definition in docs/berth.schema.json; the schema test walks
// fieldSets so the parser and the schema cannot drift apart.
type fieldSet struct {
	name   string
	fields []string
}

// fieldSets lists every object kind the parser knows, by schema definition.
var fieldSets = map[string]*fieldSet{}

func newFieldSet(name string, fields ...string) *fieldSet {
	fs := &fieldSet{name: name, fields: fields}
	fieldSets[name] = fs
	return fs
}

func (fs *fieldSet) has(name string) bool { return slices.Contains(fs.fields, name) }

var (
	berthFields = newFieldSet("berth", "apiVersion", "metadata", "args", "containers", "service",
		"exposes", "replicas", "autoscale", "resources", "smoke", "ingressClass", "deploy", "git", "metrics", "slo", "alerts", "environments")
	scoreFields         = newFieldSet("score", "apiVersion", "metadata", "containers", "service", "resources")
	metadataFields      = newFieldSet("metadata", "name", "team", "annotations", "labels")
	scoreMetadataFields = newFieldSet("scoreMetadata", "name", "annotations", "labels")
	containerFields     = newFieldSet("container", "image", "command", "args", "variables", "files",
		"volumes", "resources", "livenessProbe", "readinessProbe")
	fileItemFields    = newFieldSet("fileItem", "target", "mode", "source", "content", "binaryContent", "noExpand")
	fileFields        = newFieldSet("file", "mode", "source", "content", "binaryContent", "noExpand")
	volumeItemFields  = newFieldSet("volumeItem", "source", "path", "target", "readOnly")
	volumeFields      = newFieldSet("volume", "source", "path", "readOnly")
	computeFields     = newFieldSet("computeResources", "requests", "limits")
	resourceListField = newFieldSet("resourceList", "cpu", "memory")
	probeFields       = newFieldSet("probe", "httpGet", "exec")
	httpGetFields     = newFieldSet("httpGet", "scheme", "host", "path", "port", "httpHeaders")
	httpHeaderFields  = newFieldSet("httpHeader", "name", "value")
	execFields        = newFieldSet("exec", "command")
	serviceFields     = newFieldSet("service", "ports")
	servicePortFields = newFieldSet("servicePort", "port", "targetPort", "protocol")
	exposeFields      = newFieldSet("expose", "host", "path", "port")
	autoscaleFields   = newFieldSet("autoscale", "min", "max", "cpu")
	resourceFields    = newFieldSet("resource", "type", "class", "id", "metadata", "params")
	resMetaFields     = newFieldSet("resourceMetadata", "annotations")
	smokeFields       = newFieldSet("smoke", "name", "path", "port", "method", "expect", "contains", "matches",
		"command", "image", "container", "timeout", "retries")
	deployFields      = newFieldSet("deploy", "autoRollback", "smokeTimeout")
	gitFields         = newFieldSet("git", "branches", "tags", "previews")
	gitTagsFields     = newFieldSet("gitTags", "pattern", "env", "promote")
	gitPreviewsFields = newFieldSet("gitPreviews", "env")
	envFields         = newFieldSet("environment", "replicas", "args", "containers", "exposes",
		"autoscale", "resources", "smoke", "ingressClass", "deploy", "metrics", "slo", "alerts")
	metricsFields      = newFieldSet("metrics", "port", "path", "requests", "duration")
	sloFields          = newFieldSet("slo", "availability", "latency")
	sloLatencyFields   = newFieldSet("sloLatency", "percent", "under")
	alertsFields       = newFieldSet("alerts", "errorRatio", "p99Latency", "cpu", "memory", "restarts", "for", "disable")
	envContainerFields = newFieldSet("environmentContainer", "image", "command", "args", "variables",
		"resources", "livenessProbe", "readinessProbe")
	envResourceFields = newFieldSet("environmentResource", "class", "params")
)

// refusal is why a field of one kind of object is refused in another: an
// error of its own, clearer than "unknown field".
type refusal struct{ msg, hint string }

// refusals lists, by field set, the fields refused there with a reason.
var refusals = map[*fieldSet]map[string]refusal{
	envFields: {
		"git": {"can't be set per environment", "git rules say which environment each push deploys to: write them once, under git: at the top level"},
	},
}

// sortedKeys returns m's keys in order: slices.Sorted(maps.Keys(m)) without
// the iterator's overhead, which showed in profiles of Parse.
func sortedKeys[M ~map[string]V, V any](m M) []string {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Suggest returns the candidate closest to name when it is close enough to
// be a likely typo, or "".
func Suggest(name string, candidates []string) string { return suggest(name, candidates) }

func suggest(name string, candidates []string) string {
	best, bestDist := "", -1
	for _, c := range candidates {
		if strings.EqualFold(c, name) {
			return c
		}
		d := levenshtein(strings.ToLower(name), strings.ToLower(c))
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	if bestDist < 0 || bestDist > max(1, len(name)/3) {
		return ""
	}
	return best
}

// levenshtein is the edit distance between a and b, counting a swap of
// neighbours as one edit (the commonest typo). Inputs are capped so a
// pathological key cannot make suggestions quadratic in the file size.
func levenshtein(a, b string) int {
	const limit = 64
	if len(a) > limit || len(b) > limit {
		return limit
	}
	var d [limit + 1][limit + 1]int
	for i := 0; i <= len(a); i++ {
		d[i][0] = i
	}
	for j := 0; j <= len(b); j++ {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// didYouMean is a hint naming the closest candidate, or listing them all
// when none is close.
func didYouMean(name string, candidates []string) string {
	if s := suggest(name, candidates); s != "" {
		return `did you mean "` + s + `"?`
	}
	return knownList(candidates)
}

func knownList(candidates []string) string {
	if len(candidates) == 0 {
		return ""
	}
	c := slices.Clone(candidates)
	slices.Sort(c)
	return "known: " + strings.Join(c, ", ")
}
