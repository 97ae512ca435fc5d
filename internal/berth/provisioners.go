package berth

import "time"

// MaxProvisionerFileSize bounds a provisioner file (internal/provision parses it).
const MaxProvisionerFileSize = 1 << 20

// ProvisionerFile is one version of an environment's platform provisioner file: the YAML a
// platform admin set with `berth provisioners set`. Every set is a new version; deploys use
// the newest.
type ProvisionerFile struct {
	Env       string
	Version   int64
	Content   string // empty in history listings
	CreatedBy string
	CreatedAt time.Time
}
