package berth

import (
	"slices"
	"strings"
	"time"
)

// App is a deployable application owned by a team; its name is unique within the team.
type App struct {
	ID        int64
	TeamID    int64
	Team      string
	Name      string
	CreatedBy string
	CreatedAt time.Time
	// LatestRevision is the number of the newest manifest revision, 0 before the first.
	LatestRevision int64
}

// Revision is one version of an app's manifest, numbered from 1 per app.
type Revision struct {
	AppID     int64
	Team      string
	App       string
	Number    int64
	Manifest  string
	Digest    string // hex SHA-256 of Manifest
	CreatedBy string
	CreatedAt time.Time
	// Source is the commit the manifest was read from; nil for one a user sent.
	Source *GitSource
}

// DefaultNamespaceTemplate is the namespace template of environments created without one.
const DefaultNamespaceTemplate = "{team}-{env}"

// Environment is a place apps are deployed to: a cluster, reached through a kubeconfig
// file and context on the server or from inside the cluster, and a namespace per team
// (or app). Only admins, and the deployers in AllowedDeployers, deploy to a protected one.
// Its Scheduling defaults go into every pod Berth renders for it.
type Environment struct {
	ID                int64
	Name              string
	Kubeconfig        string // a path, never the file's content
	Context           string
	InCluster         bool
	NamespaceTemplate string // placeholders {team}, {env}, {app}
	Protected         bool
	AllowedDeployers  []string // user names, sorted
	Scheduling        Scheduling
	// BaseDomain is the domain under which dns and route resources get host names
	// (e.g. dev.localhost: a dns resource of the app shop of team web gets
	// shop.web.dev.localhost).
	BaseDomain string
	// StorageClass is what volume resources claim from; "" gives them emptyDir volumes.
	StorageClass string
	// Postgres is the DSN, without its password, of the PostgreSQL server the postgres
	// provisioner makes databases on; "" for none.
	Postgres string
	// PreviewOf makes this a preview environment, pull requests' previews are deployed
	// from, and names the environment their dependencies fall back to; "" for none.
	PreviewOf string
	// PreviewBase is set on the environment Berth made for one pull request's preview: the
	// preview environment it was made from, whose settings, provisioner file, PostgreSQL
	// server and manifest section (environments:) apply to it. "" for every other.
	PreviewBase string
	CreatedAt   time.Time
}

// Section is the environment whose settings, provisioner file, PostgreSQL server and
// section of a manifest's environments: apply to e: its preview base for a pull
// request's preview, else e itself.
func (e Environment) Section() string {
	if e.PreviewBase != "" {
		return e.PreviewBase
	}
	return e.Name
}

// Namespace returns the namespace of team's app in e.
func (e Environment) Namespace(team, app string) string {
	return strings.NewReplacer("{team}", team, "{env}", e.Name, "{app}", app).Replace(e.NamespaceTemplate)
}

// AllowsDeployer reports whether user is explicitly allowed to deploy to e while it is
// protected.
func (e Environment) AllowsDeployer(user string) bool {
	return slices.Contains(e.AllowedDeployers, user)
}
