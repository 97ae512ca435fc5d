package devcluster

import (
	"context"
	"time"
)

// HoldNode takes the machine's real-node locks for a test that must see the machine with
// no real node running or being stopped (none of its own, none of another test binary's).
func HoldNode(ctx context.Context, wait time.Duration) (release func(), err error) {
	l, err := lockHost(ctx, wait)
	if err != nil {
		return nil, err
	}
	return l.release, nil
}
