package berth

import (
	"fmt"
	"strings"
	"time"
)

// ResourceStatus says whether a resource is still declared.
type ResourceStatus string

const (
	// ResourceActive: the last deploy of its app in the environment declared it.
	ResourceActive ResourceStatus = "active"
	// ResourceOrphaned: no longer declared (removed from the manifest, or the app deleted).
	// It stays, with its data, until `berth resources delete --confirm`.
	ResourceOrphaned ResourceStatus = "orphaned"
)

// Resource is a provisioned resource: what a provisioner made for a resource an app
// declares in an environment, and the outputs it gave. Secret outputs are named, never
// held: their values, with the provisioner's state, are sealed in the store.
type Resource struct {
	ID                   int64
	Env, Team, App, Name string
	Type, Class          string
	ResID                string // the Score id of a shared resource; "" for one of its app
	// UID identifies the resource in its environment (see ResourceUID).
	UID string
	// Provisioner says which provisioner made it: "builtin/postgres", or the uri of an
	// entry of the environment's provisioner file with the file's version.
	Provisioner   string
	Outputs       map[string]string // the outputs that are not secret
	SecretOutputs []string          // the names of the secret outputs, sorted
	Version       int64
	Status        ResourceStatus
	CreatedAt     time.Time
	UpdatedBy     string
	UpdatedAt     time.Time
}

// Where names the resource for messages: "postgres db of demo/notes in dev".
func (r Resource) Where() string {
	return fmt.Sprintf("%s %s of %s/%s in %s", r.Type, r.Name, r.Team, r.App, r.Env)
}

// ResourceUID identifies a resource in its environment the way Score does: by type, class
// and id for a shared resource (one with an id; shared by the team's apps, never across
// teams), else by type, class, app and name.
func ResourceUID(typ, class, id, team, app, name string) string {
	if class == "" {
		class = "default"
	}
	if id != "" {
		return typ + "." + class + "#" + team + "/" + id
	}
	return typ + "." + class + "#" + team + "." + app + "." + name
}

// ResourceSecrets is what a resource keeps sealed: the provisioner's state (a built-in's
// password, a template's .State) and the values of its secret outputs.
type ResourceSecrets struct {
	State   map[string]any    `json:"state,omitempty"`
	Outputs map[string]string `json:"outputs,omitempty"`
}

// ResourceFilter selects resources; empty fields match all.
type ResourceFilter struct {
	Team, App, Env string
}

// ValidateBaseDomain checks an environment's base domain: "" (none) or a DNS name of
// lowercase labels, at most 200 characters so that app host names under it still fit.
func ValidateBaseDomain(d string) error {
	if d == "" {
		return nil
	}
	if len(d) > 200 {
		return Invalid("baseDomain", "%q is longer than 200 characters", d)
	}
	for label := range strings.SplitSeq(d, ".") {
		if ValidateName("baseDomain", label) != nil || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return Invalid("baseDomain", "%q is not a DNS name: lowercase labels of letters, digits and '-' joined by dots, e.g. dev.localhost", d)
		}
	}
	return nil
}

// ValidateStorageClass checks an environment's storage class name: "" (none) or a DNS
// subdomain.
func ValidateStorageClass(c string) error {
	if c == "" {
		return nil
	}
	if len(c) > 253 {
		return Invalid("storageClass", "%q is longer than 253 characters", c)
	}
	for label := range strings.SplitSeq(c, ".") {
		if ValidateName("storageClass", label) != nil || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return Invalid("storageClass", "%q is not a storage class name (a DNS subdomain, e.g. local-path)", c)
		}
	}
	return nil
}
