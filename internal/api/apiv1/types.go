// Package apiv1 holds the resources of Berth's REST API v1 as they travel on the wire. The
// server (internal/api) and its client (internal/apiclient) share them; nothing here knows
// about storage.
package apiv1

import "time"

// Error is the body of every failed request.
type Error struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Field     string `json:"field,omitempty"`
	RequestID string `json:"requestId,omitempty"`
}

// Whoami is the caller as the server sees it.
type Whoami struct {
	User        string            `json:"user"`
	GlobalAdmin bool              `json:"globalAdmin"`
	Teams       map[string]string `json:"teams"`
}

// Team owns apps; its members have roles in it.
type Team struct {
	Name string `json:"name"`
	// ChatChannel is the chat channel (a Slack channel id) where the bot announces the
	// team's deploys; empty for none.
	ChatChannel string    `json:"chatChannel,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
}

// CreateTeam is the body of POST /teams.
type CreateTeam struct {
	Name string `json:"name"`
}

// SetTeamChatChannel is the body of PUT /teams/{team}/chat-channel.
type SetTeamChatChannel struct {
	// Channel is a Slack channel id, such as C0123DEPLOY; empty clears it.
	Channel string `json:"channel"`
}

// Member is a user's role in a team.
type Member struct {
	User string `json:"user"`
	Role string `json:"role"`
}

// SetMember is the body of PUT /teams/{team}/members/{user}.
type SetMember struct {
	Role string `json:"role"`
}

// User is a person or robot that holds tokens.
type User struct {
	Name        string    `json:"name"`
	Email       string    `json:"email,omitempty"`
	GlobalAdmin bool      `json:"globalAdmin"`
	CreatedAt   time.Time `json:"createdAt"`
}

// CreateUser is the body of POST /users.
type CreateUser struct {
	Name        string `json:"name"`
	Email       string `json:"email,omitempty"`
	GlobalAdmin bool   `json:"globalAdmin,omitempty"`
}

// LinkChat is the body of PUT /users/{user}/chat-links/{provider}: the user's id in the chat
// service (a Slack user id such as U024BE7LH), whose chat commands then act as the user.
type LinkChat struct {
	ChatUser string `json:"chatUser"`
}

// Token describes an API token; its secret is never returned after creation.
type Token struct {
	ID         int64      `json:"id"`
	User       string     `json:"user"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	CreatedAt  time.Time  `json:"createdAt"`
	ExpiresAt  *time.Time `json:"expiresAt,omitempty"`
	RevokedAt  *time.Time `json:"revokedAt,omitempty"`
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty"`
	// State is active, expired or revoked, by the server's clock.
	State string `json:"state"`
}

// CreateToken is the body of POST /tokens. User defaults to the caller; ExpiresIn is a Go
// duration such as "720h"; empty means no expiry.
type CreateToken struct {
	Name      string `json:"name"`
	User      string `json:"user,omitempty"`
	ExpiresIn string `json:"expiresIn,omitempty"`
}

// CreatedToken is returned once, when a token is created: Secret is not stored.
type CreatedToken struct {
	Token
	Secret string `json:"secret"`
}

// App is a team's application.
type App struct {
	Team      string    `json:"team"`
	Name      string    `json:"name"`
	Revision  int64     `json:"revision"`
	CreatedAt time.Time `json:"createdAt"`
}

// CreateApp is the body of POST /teams/{team}/apps.
type CreateApp struct {
	Name     string `json:"name"`
	Manifest string `json:"manifest,omitempty"`
}

// Revision is one stored manifest of an app.
type Revision struct {
	App       string    `json:"app"`
	Number    int64     `json:"number"`
	Manifest  string    `json:"manifest"`
	CreatedBy string    `json:"createdBy"`
	CreatedAt time.Time `json:"createdAt"`
	// Source is the commit the manifest was read from, for a revision from git.
	Source *GitSource `json:"source,omitempty"`
}

// GitSource is a commit of a connected repository.
type GitSource struct {
	Forge string `json:"forge"`
	Repo  string `json:"repo"`
	SHA   string `json:"sha"`
	Ref   string `json:"ref,omitempty"`
	PR    int    `json:"pr,omitempty"`
}

// CreateRevision is the body of POST /teams/{team}/apps/{app}/revisions.
type CreateRevision struct {
	Manifest string `json:"manifest"`
}

// Environment is a deploy target: a cluster, a namespace template, and the scheduling
// defaults added to every pod Berth renders there.
type Environment struct {
	Name              string   `json:"name"`
	Kubeconfig        string   `json:"kubeconfig,omitempty"`
	Context           string   `json:"context,omitempty"`
	InCluster         bool     `json:"inCluster"`
	NamespaceTemplate string   `json:"namespaceTemplate"`
	Protected         bool     `json:"protected"`
	AllowedDeployers  []string `json:"allowedDeployers,omitempty"`
	// NodeSelector is merged into every pod's node selector: label key -> value.
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// Tolerations are added to every pod's tolerations.
	Tolerations []Toleration `json:"tolerations,omitempty"`
	// BaseDomain is the domain dns and route resources get host names under.
	BaseDomain string `json:"baseDomain,omitempty"`
	// StorageClass is what volume resources claim from; none gives them emptyDir volumes.
	StorageClass string `json:"storageClass,omitempty"`
	// Postgres is the DSN, without its password, of the PostgreSQL server postgres
	// resources get their databases on.
	Postgres string `json:"postgres,omitempty"`
	// PreviewOf, on a preview environment, names the environment its previews'
	// dependencies fall back to.
	PreviewOf string `json:"previewOf,omitempty"`
	// PreviewBase, on the environment Berth made for one pull request's preview, names the
	// preview environment it was made from.
	PreviewBase string    `json:"previewBase,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
}

// Toleration lets pods onto nodes with a matching taint, as in Kubernetes' pod spec.
type Toleration struct {
	Key      string `json:"key"`
	Operator string `json:"operator"`        // Equal or Exists
	Value    string `json:"value,omitempty"` // empty with Exists
	Effect   string `json:"effect"`          // NoSchedule, PreferNoSchedule or NoExecute
}

// CreateEnvironment is the body of POST /envs.
type CreateEnvironment struct {
	Name              string            `json:"name"`
	Kubeconfig        string            `json:"kubeconfig,omitempty"`
	Context           string            `json:"context,omitempty"`
	InCluster         bool              `json:"inCluster,omitempty"`
	NamespaceTemplate string            `json:"namespaceTemplate,omitempty"`
	Protected         bool              `json:"protected,omitempty"`
	AllowedDeployers  []string          `json:"allowedDeployers,omitempty"`
	NodeSelector      map[string]string `json:"nodeSelector,omitempty"`
	Tolerations       []Toleration      `json:"tolerations,omitempty"`
	// PreviewOf makes it a preview environment falling back to that environment.
	PreviewOf string `json:"previewOf,omitempty"`
}

// UpdateEnvironment is the body of PATCH /envs/{env}: each field present replaces the
// environment's (an empty object or list removes them); an absent or null one stays.
type UpdateEnvironment struct {
	NodeSelector *map[string]string `json:"nodeSelector,omitempty"`
	Tolerations  *[]Toleration      `json:"tolerations,omitempty"`
	BaseDomain   *string            `json:"baseDomain,omitempty"`
	StorageClass *string            `json:"storageClass,omitempty"`
}

// SetEnvironmentPostgres is the body of PUT /envs/{env}/postgres: the DSN of the server,
// a postgres:// URL or keyword/value string whose role may create databases and roles.
// It travels only in this body; the server never returns it whole.
type SetEnvironmentPostgres struct {
	DSN string `json:"dsn"`
}

// AuditEvent is one entry of the append-only audit log.
type AuditEvent struct {
	ID        int64          `json:"id"`
	Time      time.Time      `json:"time"`
	Actor     string         `json:"actor"`
	Action    string         `json:"action"`
	Target    string         `json:"target"`
	Team      string         `json:"team,omitempty"`
	App       string         `json:"app,omitempty"`
	RequestID string         `json:"requestId"`
	Outcome   string         `json:"outcome"`
	Details   map[string]any `json:"details,omitempty"` // JSON values: names, ids, versions
}

// AuditProblem is a break in the audit log's hash chain.
type AuditProblem struct {
	ID      int64  `json:"id"`
	Problem string `json:"problem"`
}

// AuditVerification is the result of GET /audit/verify.
type AuditVerification struct {
	OK       bool           `json:"ok"`
	Events   int64          `json:"events"`
	Problems []AuditProblem `json:"problems"`
}

// List wraps every collection response, so fields can be added without breaking clients.
type List[T any] struct {
	Items []T `json:"items"`
}

// CreateDeploy is the body of POST /deploys. Send a manifest (stored as the app's next
// revision; the app is registered under metadata.team on its first deploy), or name the
// team and app and optionally a stored revision (default: the latest).
type CreateDeploy struct {
	Team     string `json:"team,omitempty"`
	App      string `json:"app,omitempty"`
	Env      string `json:"env"`
	Manifest string `json:"manifest,omitempty"`
	// ManifestName is the file the manifest came from, as the user named it: the server's
	// errors about the manifest name it (default berth.yaml).
	ManifestName   string            `json:"manifestName,omitempty"`
	Revision       int64             `json:"revision,omitempty"`
	Set            map[string]string `json:"set,omitempty"`
	ForceConflicts bool              `json:"forceConflicts,omitempty"`
	NoAutoRollback bool              `json:"noAutoRollback,omitempty"`
	TimeoutSeconds int               `json:"timeoutSeconds,omitempty"`
	// Refresh deploys the app's current revision and args in env again, rendered with
	// current config and secrets; send no manifest, revision or args with it.
	Refresh bool `json:"refresh,omitempty"`
	// Emergency, when not "", is why the deploy goes ahead inside a freeze window of env
	// (audited); without it such a deploy is refused (409).
	Emergency string `json:"emergency,omitempty"`
}

// Deploy is one deploy of an app into an environment.
type Deploy struct {
	ID             int64             `json:"id"`
	Team           string            `json:"team"`
	App            string            `json:"app"`
	Env            string            `json:"env"`
	Revision       int64             `json:"revision"`
	Kind           string            `json:"kind"`
	State          string            `json:"state"`
	Reason         string            `json:"reason,omitempty"`
	Args           map[string]string `json:"args,omitempty"`
	ForceConflicts bool              `json:"forceConflicts,omitempty"`
	NoAutoRollback bool              `json:"noAutoRollback,omitempty"`
	SourceDeploy   int64             `json:"sourceDeploy,omitempty"`
	RollbackOf     int64             `json:"rollbackOf,omitempty"`
	BatchID        int64             `json:"batchId,omitempty"`
	ObjectsDigest  string            `json:"objectsDigest,omitempty"`
	Attempts       int               `json:"attempts"`
	CreatedBy      string            `json:"createdBy"`
	CreatedAt      time.Time         `json:"createdAt"`
	StartedAt      *time.Time        `json:"startedAt,omitempty"`
	FinishedAt     *time.Time        `json:"finishedAt,omitempty"`
	// Smoke is what the deploy's smoke tests found; absent when none ran.
	Smoke *SmokeRun `json:"smoke,omitempty"`
	// Images maps each image its pods run to the digest found in its registry (deploys
	// from git and promotions).
	Images map[string]string `json:"images,omitempty"`
	// PromotedFrom is a promotion's source deploy.
	PromotedFrom int64 `json:"promotedFrom,omitempty"`
}

// DeployEvent is one step of a deploy's progress.
type DeployEvent struct {
	ID        int64     `json:"id"`
	At        time.Time `json:"at"`
	Phase     string    `json:"phase"`
	Message   string    `json:"message,omitempty"`
	Desired   int       `json:"desired"`
	Updated   int       `json:"updated"`
	Ready     int       `json:"ready"`
	Available int       `json:"available"`
}

// Rollback is the body of POST /teams/{team}/apps/{app}/rollback. To is a revision; 0
// means the deploy before the current one.
type Rollback struct {
	Env string `json:"env"`
	To  int64  `json:"to,omitempty"`
	// Emergency says why the rollback goes ahead inside a freeze window.
	Emergency string `json:"emergency,omitempty"`
}

// RedeployTeam is the body of POST /teams/{team}/redeploy.
type RedeployTeam struct {
	Env         string   `json:"env,omitempty"`
	Exclude     []string `json:"exclude,omitempty"`
	Refresh     bool     `json:"refresh,omitempty"`
	Concurrency int      `json:"concurrency,omitempty"`
	// Emergency says why the redeploys go ahead inside freeze windows.
	Emergency string `json:"emergency,omitempty"`
}

// AppStatus is an app in each environment: deployed revision against what runs.
type AppStatus struct {
	Team string      `json:"team"`
	App  string      `json:"app"`
	Envs []EnvStatus `json:"envs"`
}

// EnvStatus is an app in one environment.
type EnvStatus struct {
	Env       string   `json:"env"`
	Namespace string   `json:"namespace"`
	Current   *Deploy  `json:"current,omitempty"`
	Latest    *Deploy  `json:"latest,omitempty"`
	Live      *LiveApp `json:"live,omitempty"`
	Error     string   `json:"error,omitempty"`
}

// LiveApp is what runs: the Deployment's replicas, its pods, and drift from the deploy.
type LiveApp struct {
	Phase     string      `json:"phase"`
	Message   string      `json:"message,omitempty"`
	Desired   int         `json:"desired"`
	Updated   int         `json:"updated"`
	Ready     int         `json:"ready"`
	Available int         `json:"available"`
	Images    []string    `json:"images,omitempty"`
	Pods      []LivePod   `json:"pods"`
	Drift     []DriftItem `json:"drift"`
}

// LivePod is one pod.
type LivePod struct {
	Name     string `json:"name"`
	Phase    string `json:"phase"`
	Ready    bool   `json:"ready"`
	Current  bool   `json:"current"`
	Restarts int    `json:"restarts"`
	Reason   string `json:"reason,omitempty"`
}

// DriftItem is a field Berth set whose live value differs.
type DriftItem struct {
	Object  string `json:"object"`
	Path    string `json:"path"`
	Desired string `json:"desired"`
	Live    string `json:"live"`
}

// ConfigValue is one central config value at one level: global, team, app, or app+env
// (an app in one environment). Deploys get, for each key, the most specific level's value.
type ConfigValue struct {
	Key       string    `json:"key"`
	Value     string    `json:"value"`
	Level     string    `json:"level"`
	Team      string    `json:"team,omitempty"`
	App       string    `json:"app,omitempty"`
	Env       string    `json:"env,omitempty"`
	Version   int64     `json:"version"`
	UpdatedBy string    `json:"updatedBy"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Secret describes one secret at one level. Its value is write-only: no response carries
// it; KeyID names the encryption key of its latest version.
type Secret struct {
	Key       string    `json:"key"`
	Level     string    `json:"level"`
	Team      string    `json:"team,omitempty"`
	App       string    `json:"app,omitempty"`
	Env       string    `json:"env,omitempty"`
	Version   int64     `json:"version"`
	KeyID     string    `json:"keyId"`
	UpdatedBy string    `json:"updatedBy"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// UpdateSettings is the body of PATCH .../config and .../secrets: keys to set (to these
// values) and keys to unset, in one change. Redeploy also redeploys, with fresh config,
// every deployed app the change affects.
type UpdateSettings struct {
	Set      map[string]string `json:"set,omitempty"`
	Unset    []string          `json:"unset,omitempty"`
	Redeploy bool              `json:"redeploy,omitempty"`
}

// ConfigUpdated is the level's config after a change, and the redeploys it queued.
type ConfigUpdated struct {
	Items   []ConfigValue `json:"items"`
	Deploys []Deploy      `json:"deploys"`
}

// SecretsUpdated is the level's secrets after a change, and the redeploys it queued.
type SecretsUpdated struct {
	Items   []Secret `json:"items"`
	Deploys []Deploy `json:"deploys"`
}

// ResolvedSettings is what a deploy of an app to an environment gets: for each key, the
// config value or secret of the most specific level that sets it.
type ResolvedSettings struct {
	Team    string        `json:"team"`
	App     string        `json:"app"`
	Env     string        `json:"env"`
	Config  []ConfigValue `json:"config"`
	Secrets []Secret      `json:"secrets"`
}

// SetProvisioners is a new version of an environment's platform provisioner file.
type SetProvisioners struct {
	// Name is the file's name, used in error positions (default provisioners.yaml).
	Name    string `json:"name,omitempty"`
	Content string `json:"content"`
}

// ProvisionerFile is one version of an environment's provisioner file.
type ProvisionerFile struct {
	Env       string        `json:"env"`
	Version   int64         `json:"version"`
	CreatedBy string        `json:"createdBy"`
	CreatedAt time.Time     `json:"createdAt"`
	Content   string        `json:"content,omitempty"`
	Types     []Provisioner `json:"provisioners,omitempty"`
}

// Provisioner is what one entry of a provisioner file offers.
type Provisioner struct {
	Type            string   `json:"type"`
	Class           string   `json:"class,omitempty"`
	ID              string   `json:"id,omitempty"`
	Description     string   `json:"description,omitempty"`
	SupportedParams []string `json:"supportedParams,omitempty"`
	ExpectedOutputs []string `json:"expectedOutputs,omitempty"`
	Secrets         []string `json:"secrets,omitempty"`
}

// Resource is what a provisioner made for a resource an app declares in an environment.
// Secret outputs are named, never sent.
type Resource struct {
	Env   string `json:"env"`
	Team  string `json:"team"`
	App   string `json:"app"`
	Name  string `json:"name"`
	Type  string `json:"type"`
	Class string `json:"class,omitempty"`
	// ID is the Score id of a resource shared between apps.
	ID string `json:"id,omitempty"`
	// UID identifies the resource in its environment.
	UID         string `json:"uid"`
	Provisioner string `json:"provisioner"`
	// Outputs are the outputs that are not secret.
	Outputs map[string]string `json:"outputs"`
	// SecretOutputs names the secret outputs.
	SecretOutputs []string `json:"secretOutputs"`
	Version       int64    `json:"version"`
	// Status is active (the app's latest deploy declares it) or orphaned.
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedBy string    `json:"updatedBy"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// ResourceRotation is what rotating a resource's password did: the resource, and the
// queued deploy that sets the new password and rolls the pods onto it.
type ResourceRotation struct {
	Resource Resource `json:"resource"`
	Deploy   Deploy   `json:"deploy"`
}

// ResourceDeletion is what DELETE .../resources/{name} did.
type ResourceDeletion struct {
	Resource Resource `json:"resource"`
	// Dropped says what data was dropped with the record, such as "postgres database X and
	// its role"; empty when only the record was forgotten.
	Dropped string `json:"dropped,omitempty"`
}
