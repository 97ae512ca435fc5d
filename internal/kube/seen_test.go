package kube

import (
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berth"
)

// TestSeenNow: an event timed to the second and seen within that second is placed at the
// moment it was seen; one seen later, or timed to the microsecond, keeps its time.
func TestSeenNow(t *testing.T) {
	now := time.Now().UTC()
	second := now.Truncate(time.Second)
	if got := seenNow(berth.ClusterEvent{LastAt: second}).LastAt; got.Before(now) || got.Sub(now) > time.Second {
		t.Errorf("an event of this second: %v, want about %v", got, now)
	}
	old := second.Add(-time.Minute)
	if got := seenNow(berth.ClusterEvent{LastAt: old}).LastAt; !got.Equal(old) {
		t.Errorf("an event of a minute ago: %v, want %v", got, old)
	}
	precise := now.Add(-time.Millisecond)
	if got := seenNow(berth.ClusterEvent{LastAt: precise}).LastAt; !got.Equal(precise) {
		t.Errorf("an event timed to the microsecond: %v, want %v", got, precise)
	}
}
