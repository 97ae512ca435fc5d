package devcluster

import (
	"context"
	"fmt"
	"time"
)

// HoldNode takes the machine's real-node locks for a test that must see the machine with
// no real node running or being stopped (none of its own, none of another test binary's),
// and first undoes what a killed node left behind, as the next up would: what the test
// sees then is the machine's own state, not a dead node's.
func HoldNode(ctx context.Context, wait time.Duration) (release func(), err error) {
	l, err := lockHost(ctx, wait)
	if err != nil {
		return nil, err
	}
	if prev, err := readHostRecord(); err == nil {
		if err := cleanupHost(ctx, prev, nil); err != nil {
			l.release()
			return nil, fmt.Errorf("clean up the real node of %s: %w", prev.StateDir, err)
		}
	}
	return l.release, nil
}
