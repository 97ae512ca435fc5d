package devcluster

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// berthStages are kwok Stages of Berth's own that fail pods on purpose, by image name, so
// tests can drive real rollouts into CrashLoopBackOff, ImagePullBackOff or never-ready pods
// (see package kubetest for the image names). They live here rather than in tools/kube so
// `berth dev cluster up` and the tests load the same ones and editing them never costs a
// rebuild.
//
//go:embed stages/*.yaml
var berthStages embed.FS

// writeStages concatenates kwok's Stage files from srcDir and Berth's own into the one
// --config file kwok reads.
func writeStages(srcDir, dst string) (string, error) {
	files, err := filepath.Glob(filepath.Join(srcDir, "*.yaml"))
	if err != nil || len(files) == 0 {
		return "", fmt.Errorf("no kwok stages in %s (kwok exits without them): rebuild with %s", srcDir, BuildScript)
	}
	var b strings.Builder
	add := func(data []byte) {
		b.WriteString("---\n")
		b.Write(data)
		b.WriteString("\n")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		add(data)
	}
	own, err := fs.Glob(berthStages, "stages/*.yaml")
	if err != nil {
		return "", err
	}
	for _, f := range own {
		data, err := berthStages.ReadFile(f)
		if err != nil {
			return "", err
		}
		add(data)
	}
	return dst, os.WriteFile(dst, []byte(b.String()), 0o600)
}
