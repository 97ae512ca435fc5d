package storetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

func saveEvents(t *testing.T, st *store.Store, evs ...berth.ClusterEvent) int {
	t.Helper()
	var n int
	tx(t, st, func(tx *store.Tx) (err error) {
		n, err = tx.SaveClusterEvents(t.Context(), evs)
		return err
	})
	return n
}

func listEvents(t *testing.T, st *store.Store, f berth.ClusterEventFilter) []berth.ClusterEvent {
	t.Helper()
	evs, err := st.ClusterEvents(t.Context(), f)
	must(t, "ClusterEvents", err)
	return evs
}

// eventWords shows events as "object:reason:count" words, oldest first.
func eventWords(evs []berth.ClusterEvent) string {
	w := make([]string, len(evs))
	for i, ev := range evs {
		w[i] = fmt.Sprintf("%s:%s:%d", ev.Object, ev.Reason, ev.Count)
	}
	return strings.Join(w, " ")
}

// testClusterEvents keeps Kubernetes events: one row per event uid and environment, updated
// when the cluster saw it again and never regressed by an older view of it; listed oldest
// first by app, environment, type and time range; bounded per app and environment by
// count and by age; gone with the app or the environment.
func testClusterEvents(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	seedSettingApps(t, st)
	t0 := h.clock.Now()
	ev := func(env, app, uid, object, reason string, count int, at time.Duration) berth.ClusterEvent {
		return berth.ClusterEvent{Env: env, Team: "shop", App: app, UID: uid, Type: berth.EventNormal, Reason: reason,
			Object: object, Message: reason + " " + object, Count: count, FirstAt: t0, LastAt: t0.Add(at)}
	}
	scaled := ev("staging", "web", "u1", "deployment/web", "ScalingReplicaSet", 1, 0)
	pulled := ev("staging", "web", "u2", "pod/web-7d9f8-x2x4q", "Pulled", 1, time.Second)
	backoff := ev("staging", "web", "u3", "pod/web-7d9f8-x2x4q", "BackOff", 1, 2*time.Second)
	backoff.Type = berth.EventWarning
	if n := saveEvents(t, st, scaled, pulled, backoff); n != 3 {
		t.Errorf("first save changed %d, want 3", n)
	}

	// The same events again (a watch that relisted, another server): nothing changes.
	if n := saveEvents(t, st, scaled, pulled, backoff); n != 0 {
		t.Errorf("saving the same events again changed %d, want 0", n)
	}
	// The cluster saw BackOff again: the row is updated, not added; an older view of it
	// (count 1 again) does not take it back.
	again := backoff
	again.Count, again.LastAt, again.Message = 5, t0.Add(10*time.Second), "Back-off restarting failed container"
	if n := saveEvents(t, st, again); n != 1 {
		t.Errorf("saving a repeated event changed %d, want 1", n)
	}
	if n := saveEvents(t, st, backoff); n != 0 {
		t.Errorf("saving an older view of an event changed %d, want 0", n)
	}
	all := listEvents(t, st, berth.ClusterEventFilter{Team: "shop", App: "web", Env: "staging"})
	equal(t, "events, oldest first", eventWords(all),
		"deployment/web:ScalingReplicaSet:1 pod/web-7d9f8-x2x4q:Pulled:1 pod/web-7d9f8-x2x4q:BackOff:5")
	last := all[len(all)-1]
	equal(t, "repeated event", [4]any{last.Type, last.Message, last.FirstAt, last.LastAt},
		[4]any{berth.EventWarning, "Back-off restarting failed container", t0, t0.Add(10 * time.Second)})

	// One uid in another environment is another event; another app's are its own.
	saveEvents(t, st, ev("production", "web", "u1", "deployment/web", "ScalingReplicaSet", 1, 0),
		ev("staging", "api", "u9", "deployment/api", "ScalingReplicaSet", 1, 0))
	equal(t, "web in production", eventWords(listEvents(t, st, berth.ClusterEventFilter{App: "web", Env: "production"})),
		"deployment/web:ScalingReplicaSet:1")
	equal(t, "web anywhere", len(listEvents(t, st, berth.ClusterEventFilter{Team: "shop", App: "web"})), 4)
	equal(t, "warnings", eventWords(listEvents(t, st, berth.ClusterEventFilter{App: "web", Type: berth.EventWarning})),
		"pod/web-7d9f8-x2x4q:BackOff:5")
	// A time range keeps the events that happened in it: last seen at or after Since,
	// first seen at or before Until. BackOff went on from t0 to t0+10s.
	equal(t, "since t0+1s", eventWords(listEvents(t, st, berth.ClusterEventFilter{App: "web", Env: "staging", Since: t0.Add(time.Second)})),
		"pod/web-7d9f8-x2x4q:Pulled:1 pod/web-7d9f8-x2x4q:BackOff:5")
	equal(t, "since t0+5s", eventWords(listEvents(t, st, berth.ClusterEventFilter{App: "web", Env: "staging", Since: t0.Add(5 * time.Second)})),
		"pod/web-7d9f8-x2x4q:BackOff:5")
	equal(t, "until before t0", len(listEvents(t, st, berth.ClusterEventFilter{App: "web", Until: t0.Add(-time.Second)})), 0)
	equal(t, "limit keeps the newest", eventWords(listEvents(t, st, berth.ClusterEventFilter{App: "web", Env: "staging", Limit: 1})),
		"pod/web-7d9f8-x2x4q:BackOff:5")

	// Bad events are refused with what is missing; long text is cut, not refused.
	err := txErr(t, st, func(tx *store.Tx) error {
		_, err := tx.SaveClusterEvents(ctx, []berth.ClusterEvent{{Env: "staging", Team: "shop", App: "web", Object: "pod/x", LastAt: t0}})
		return err
	})
	wantErr(t, "event without uid", err, berth.ErrInvalid)
	err = txErr(t, st, func(tx *store.Tx) error {
		_, err := tx.SaveClusterEvents(ctx, []berth.ClusterEvent{ev("nowhere", "web", "u1", "pod/x", "X", 1, 0)})
		return err
	})
	wantErr(t, "event of an unknown environment", err, berth.ErrNotFound)
	long := ev("staging", "web", "long", "pod/web-1", "Killing", 1, 3*time.Second)
	long.Message = strings.Repeat("é", 10000)
	saveEvents(t, st, long)
	got := listEvents(t, st, berth.ClusterEventFilter{App: "web", Env: "staging", Since: t0.Add(3 * time.Second)})
	if len(got) != 2 || len(got[0].Message) > 4096 || !strings.HasPrefix(got[0].Message, "éé") || strings.ContainsRune(got[0].Message, '\uFFFD') {
		t.Errorf("a long message is kept as %d bytes: %q", len(got[0].Message), got[0].Message[:min(len(got[0].Message), 20)])
	}

	// Bounds: keeping 3 of web in staging keeps its newest 3 and leaves production's and
	// api's alone; age drops what was last seen before the cutoff.
	var deleted int64
	tx(t, st, func(tx *store.Tx) (err error) {
		deleted, err = tx.TrimClusterEvents(ctx, "staging", "shop", "web", 3)
		return err
	})
	equal(t, "deleted by count", deleted, int64(1))
	equal(t, "web in staging after the count bound", eventWords(listEvents(t, st, berth.ClusterEventFilter{App: "web", Env: "staging"})),
		"pod/web-7d9f8-x2x4q:Pulled:1 pod/web-1:Killing:1 pod/web-7d9f8-x2x4q:BackOff:5")
	tx(t, st, func(tx *store.Tx) (err error) {
		deleted, err = tx.PruneClusterEvents(ctx, t0.Add(5*time.Second))
		return err
	})
	equal(t, "deleted by age", deleted, int64(4)) // Pulled, Killing, and the ScalingReplicaSet of production and api
	equal(t, "left after the age bound", eventWords(listEvents(t, st, berth.ClusterEventFilter{Team: "shop"})),
		"pod/web-7d9f8-x2x4q:BackOff:5")
	// A pruned event seen again comes back as new: what the cluster still has is kept.
	if n := saveEvents(t, st, pulled); n != 1 {
		t.Errorf("an event pruned and seen again changed %d, want 1", n)
	}

	// A deleted app's events go at the next prune; a deleted environment's at once.
	saveEvents(t, st, ev("staging", "api", "u10", "deployment/api", "ScalingReplicaSet", 1, 20*time.Second))
	tx(t, st, func(tx *store.Tx) error { return tx.DeleteApp(ctx, "shop", "api") })
	tx(t, st, func(tx *store.Tx) (err error) {
		deleted, err = tx.PruneClusterEvents(ctx, time.Time{})
		return err
	})
	equal(t, "deleted with the app", deleted, int64(1))
	tx(t, st, func(tx *store.Tx) (err error) {
		deleted, err = tx.TrimClusterEvents(ctx, "staging", "shop", "web", 0)
		return err
	})
	equal(t, "trimmed to none", [2]any{deleted, len(listEvents(t, st, berth.ClusterEventFilter{Env: "staging"}))}, [2]any{int64(2), 0})
	// NUL, which PostgreSQL's text refuses, is dropped on both databases.
	nul := ev("staging", "web", "nul", "pod/web-1", "Failed", 1, -time.Hour)
	nul.Message = "exec \x00 failed"
	saveEvents(t, st, nul)
	if got := listEvents(t, st, berth.ClusterEventFilter{App: "web", Env: "staging", Until: t0.Add(-time.Minute)}); len(got) != 1 || got[0].Message != "exec  failed" {
		t.Errorf("an event with NUL is kept as %+v", got)
	}
	saveEvents(t, st, backoff)
	tx(t, st, func(tx *store.Tx) error { return tx.DeleteEnvironment(ctx, "staging") })
	equal(t, "left after deleting staging", len(listEvents(t, st, berth.ClusterEventFilter{})), 0)
}
