package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// testChat: a chat user linked to a Berth user (a second link replaces the first), users
// found by email ignoring case, and each chat request's signature taken once within the
// window, then forgotten.
func testChat(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	tx(t, st, func(tx *store.Tx) error {
		for _, u := range []berth.User{{Name: "ann", Email: "Ann@Example.com"}, {Name: "bo"}} {
			if _, err := tx.CreateUser(ctx, u); err != nil {
				return err
			}
		}
		return nil
	})
	_, err := st.ChatUser(ctx, "slack", "U1")
	wantErr(t, "an unlinked chat user", err, berth.ErrNotFound)
	tx(t, st, func(tx *store.Tx) error { return tx.LinkChat(ctx, "slack", "U1", "ann", "admin") })
	u, err := st.ChatUser(ctx, "slack", "U1")
	must(t, "ChatUser", err)
	equal(t, "linked", u.Name, "ann")
	tx(t, st, func(tx *store.Tx) error { return tx.LinkChat(ctx, "slack", "U1", "bo", "admin") })
	u, _ = st.ChatUser(ctx, "slack", "U1")
	equal(t, "relinked", u.Name, "bo")
	wantErr(t, "linking to nobody", txErr(t, st, func(tx *store.Tx) error { return tx.LinkChat(ctx, "slack", "U2", "nobody", "admin") }),
		berth.ErrNotFound)
	wantErr(t, "an empty chat user", txErr(t, st, func(tx *store.Tx) error { return tx.LinkChat(ctx, "slack", "", "ann", "admin") }),
		berth.ErrInvalid)
	tx(t, st, func(tx *store.Tx) error { return tx.UnlinkChat(ctx, "slack", "U1") })
	_, err = st.ChatUser(ctx, "slack", "U1")
	wantErr(t, "an unlinked chat user", err, berth.ErrNotFound)
	wantErr(t, "unlinking again", txErr(t, st, func(tx *store.Tx) error { return tx.UnlinkChat(ctx, "slack", "U1") }), berth.ErrNotFound)
	u, err = st.UserByEmail(ctx, "ann@example.COM")
	must(t, "UserByEmail", err)
	equal(t, "by email", u.Name, "ann")
	_, err = st.UserByEmail(ctx, "")
	wantErr(t, "no email", err, berth.ErrNotFound)

	sig := strings.Repeat("ab", 32)
	now := time.Now()
	take := func(at time.Time) error {
		return txErr(t, st, func(tx *store.Tx) error { return tx.TakeChatRequest(ctx, "slack", sig, at, 5*time.Minute) })
	}
	must(t, "a first request", take(now))
	wantErr(t, "its replay", take(now.Add(time.Minute)), berth.ErrConflict)
	must(t, "after the window", take(now.Add(6*time.Minute)))
}
