package devcluster_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/berth-dev/berth/internal/devcluster"
)

// BenchmarkUp measures `berth dev cluster up` from cached binaries to a usable cluster
// (target: ≤ 30 s; KUBE.md measured 3.5–5 s on 2 cores), and the `down` that follows.
func BenchmarkUp(b *testing.B) {
	bins, err := devcluster.ResolveBinaries(context.Background(), "", nil)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		dir := filepath.Join(b.TempDir(), "cluster")
		if _, _, err := devcluster.Up(context.Background(), devcluster.Options{StateDir: dir, Binaries: bins, TieToParent: true}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := devcluster.Down(context.Background(), dir, nil); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
