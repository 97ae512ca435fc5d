// Package helmbench compares berth's renderer with `helm template` on an equivalent chart
// (testdata/chart renders the same six objects per app as the DESIGN.md example), in one
// benchmark run. helm is built from the Go module proxy by tools/helm/build.sh.
package helmbench
