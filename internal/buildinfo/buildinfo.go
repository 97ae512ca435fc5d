// Package buildinfo owns the version a berth binary reports.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Version and Commit are stamped at link time by the Makefile
// (-X github.com/berth-dev/berth/internal/buildinfo.Version=...).
var (
	Version = "dev"
	Commit  = ""
)

// Info is what `berth version` prints.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns the running binary's version.
func Get() Info {
	i := Info{Version: Version, Commit: Commit, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if i.Commit == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					i.Commit = s.Value
				}
			}
		}
	}
	return i
}
