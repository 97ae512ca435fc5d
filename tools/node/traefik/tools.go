//go:build tools

// Package traefik pins Traefik, the dev cluster's ingress controller: it reads the
// cluster's Ingress objects and routes HTTP from a loopback port to the pods.
package traefik

import _ "github.com/traefik/traefik/v3/cmd/traefik"
