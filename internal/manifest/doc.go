// Package manifest owns the app manifest: it parses berth.yaml (berth.dev/v1)
// and Score (score.dev/v1b1) files into one typed model, validates them with
// positioned errors, merges environment overlays, and renders one environment
// into typed Kubernetes objects.
//
// Everything here is pure: no I/O (except LoadFile and InlineFile, which
// only read local files), no clock, no globals that change. Values that
// live outside the manifest (provisioned resources, central config,
// secrets) come in through a Resolver, so the same code renders offline for
// `berth render` and on the server for a deploy.
//
// Reading and writing YAML fast, and the pooled memory that takes, is
// internal/yamltree's: a parser and an encoder that answer as yaml.v3
// would or decline, leaving the rest to yaml.v3 here.
package manifest
