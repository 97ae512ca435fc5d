package kube

import (
	"testing"
	"time"
)

func TestBackoffWaitsGrowWithJitterUpToTheCap(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: time.Second}.withDefaults()
	if b.Attempts != 6 {
		t.Errorf("default attempts %d, want 6", b.Attempts)
	}
	for n, ceiling := range map[int]time.Duration{1: 100, 2: 200, 3: 400, 4: 800, 5: 1000, 30: 1000} {
		ceiling *= time.Millisecond
		seen := map[time.Duration]bool{}
		for range 200 {
			w := b.wait(n)
			if w < ceiling/2 || w > ceiling {
				t.Fatalf("wait(%d) = %s, want within [%s, %s]", n, w, ceiling/2, ceiling)
			}
			seen[w] = true
		}
		if len(seen) < 10 {
			t.Errorf("wait(%d) took only %d distinct values: no jitter", n, len(seen))
		}
	}
}
