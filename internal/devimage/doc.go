// Package devimage builds a Go main package into a small, reproducible OCI image — a static
// binary on an empty base, run as a non-root user — and pushes it to the dev cluster's image
// registry, or lists what that registry holds; `berth dev image` is its command line.
//
// It builds with `go build` and go-containerregistry, without Docker or a daemon: the same
// source and Go version give the same image digest.
package devimage
