package devcluster

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// berthStages are kwok Stages of Berth's own that fail simulated pods on purpose, by the
// image of their containers (any tag, so a rollout can go from one failing revision to
// another):
//
//   - registry.berth.test/fail:TAG — Running but never Ready; the container waits in
//     CrashLoopBackOff after 3 restarts, its last run exited with code 1 (Error).
//   - registry.berth.test/unpullable:TAG — Pending; the container waits in ImagePullBackOff.
//   - registry.berth.test/unready:TAG — Running without restarts but never Ready, so only
//     the Deployment's progress deadline catches it.
//
// They remain for simulating failures at scale: hundreds of failing apps on kwok nodes,
// more than the machine's one real node runs (kwok's own chaos Stage, which
// tools/kube/build.sh installs, stays for the same reason). Tests of how Berth detects a
// failed rollout run real containers on the real node instead (kubetest.RealNode): a
// simulated pod says only what these files make it say, not what a kubelet reports.
// They live here rather than in tools/kube so `berth dev cluster up` and the tests load
// the same ones and editing them never costs a rebuild.
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
