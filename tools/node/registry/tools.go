//go:build tools

// Package registry pins the container registry (CNCF Distribution) that the dev cluster
// runs on loopback: `berth dev image build` pushes to it and the real node pulls from it.
package registry

import _ "github.com/distribution/distribution/v3/cmd/registry"
