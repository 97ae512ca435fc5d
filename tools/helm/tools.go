//go:build tools

// Package helm pins the helm CLI that `make bench` compares `berth render` against. It is a
// module of its own so berth never depends on helm's libraries.
package helm

import _ "helm.sh/helm/v3/cmd/helm"
