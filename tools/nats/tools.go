//go:build tools

// Package tools pins the queue server build.sh builds.
package tools

import _ "github.com/nats-io/nats-server/v2"
