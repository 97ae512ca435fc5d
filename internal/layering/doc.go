// Package layering holds the test that keeps Berth's packages in their layers: the domain
// at the centre, adapters and edges around it, wired only in cmd/berth (see the README's
// layout and the rules in layering_test.go).
package layering
