package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// sessionToken gives user a token and returns it.
func sessionToken(t *testing.T, st *store.Store, user, name string) berth.Token {
	t.Helper()
	s := store.NewTokenSecret()
	var tok berth.Token
	tx(t, st, func(tx *store.Tx) error {
		var err error
		tok, err = tx.CreateToken(t.Context(), store.NewToken{User: user, Name: name, Hash: s.Hash, Prefix: s.Prefix})
		return err
	})
	return tok
}

func testSessions(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	seed(t, st, []string{"web"}, []string{"ann", "bob"})
	tx(t, st, func(tx *store.Tx) error {
		_, err := tx.SetMembership(ctx, "ann", "web", berth.RoleDeployer)
		return err
	})
	annTok, bobTok := sessionToken(t, st, "ann", "browser"), sessionToken(t, st, "bob", "browser")

	s := store.NewSessionSecret()
	if strings.HasPrefix(s.Secret, "berth_") || len(s.Secret) < 43 || s.Hash != store.HashToken(s.Secret) || s.Hash == s.Secret {
		t.Fatalf("NewSessionSecret = %+v: want 256 random bits that are no token, and their hash", s)
	}
	if other := store.NewSessionSecret(); other.Secret == s.Secret {
		t.Fatalf("NewSessionSecret returned the same secret twice")
	}

	expires := epoch.Add(12 * time.Hour)
	var sess berth.Session
	tx(t, st, func(tx *store.Tx) error {
		var err error
		sess, err = tx.CreateSession(ctx, store.NewSession{TokenID: annTok.ID, Hash: s.Hash, ExpiresAt: expires})
		return err
	})
	want := berth.Session{ID: sess.ID, TokenID: annTok.ID, CreatedAt: epoch, LastSeenAt: epoch, ExpiresAt: expires}
	equal(t, "CreateSession", sess, want)
	got, err := st.Session(ctx, sess.ID)
	must(t, "Session", err)
	equal(t, "Session", got, want)

	auth, err := st.SessionByHash(ctx, s.Hash)
	must(t, "SessionByHash", err)
	equal(t, "SessionByHash session", auth.Session, want)
	if auth.Token.ID != annTok.ID || auth.User.Name != "ann" || len(auth.Memberships) != 1 || auth.Memberships[0].Team != "web" {
		t.Errorf("SessionByHash token/user/memberships = %+v / %+v / %+v", auth.Token, auth.User, auth.Memberships)
	}
	_, err = st.SessionByHash(ctx, store.HashToken(s.Secret+"x"))
	wantErr(t, "SessionByHash unknown", err, berth.ErrNotFound)
	_, err = st.SessionByHash(ctx, store.HashToken(s.Secret)[:10])
	wantErr(t, "SessionByHash partial hash", err, berth.ErrNotFound)

	s2 := store.NewSessionSecret()
	for _, tc := range []struct {
		what string
		ns   store.NewSession
		want error
	}{
		{"same hash", store.NewSession{TokenID: bobTok.ID, Hash: s.Hash, ExpiresAt: expires}, berth.ErrConflict},
		{"missing token", store.NewSession{TokenID: 999999, Hash: s2.Hash, ExpiresAt: expires}, berth.ErrNotFound},
		{"plaintext secret as hash", store.NewSession{TokenID: bobTok.ID, Hash: s2.Secret, ExpiresAt: expires}, berth.ErrInvalid},
		{"upper-case hash", store.NewSession{TokenID: bobTok.ID, Hash: strings.ToUpper(s2.Hash), ExpiresAt: expires}, berth.ErrInvalid},
		{"no expiry", store.NewSession{TokenID: bobTok.ID, Hash: s2.Hash}, berth.ErrInvalid},
		{"expiring now", store.NewSession{TokenID: bobTok.ID, Hash: s2.Hash, ExpiresAt: epoch}, berth.ErrInvalid},
	} {
		err := txErr(t, st, func(tx *store.Tx) error { _, err := tx.CreateSession(ctx, tc.ns); return err })
		wantErr(t, "CreateSession "+tc.what, err, tc.want)
	}

	// A revoked token's sessions are still found, with the token saying it is revoked:
	// the caller refuses them and can say why.
	h.clock.Advance(time.Minute)
	tx(t, st, func(tx *store.Tx) error { _, err := tx.RevokeToken(ctx, annTok.ID); return err })
	auth, err = st.SessionByHash(ctx, s.Hash)
	must(t, "SessionByHash of a revoked token", err)
	wantErr(t, "Check of the revoked token", auth.Token.Check(h.clock.Now()), berth.ErrTokenRevoked)

	// Ending: once, at the time it happened.
	h.clock.Advance(time.Minute)
	ended := epoch.Add(2 * time.Minute)
	tx(t, st, func(tx *store.Tx) error {
		got, err := tx.EndSession(ctx, sess.ID)
		if err == nil && !got.EndedAt.Equal(ended) {
			t.Errorf("EndSession: EndedAt = %v, want %v", got.EndedAt, ended)
		}
		return err
	})
	h.clock.Advance(time.Minute)
	tx(t, st, func(tx *store.Tx) error {
		got, err := tx.EndSession(ctx, sess.ID)
		if err == nil && !got.EndedAt.Equal(ended) {
			t.Errorf("ending again moved EndedAt to %v", got.EndedAt)
		}
		return err
	})
	auth, err = st.SessionByHash(ctx, s.Hash)
	must(t, "SessionByHash of an ended session", err)
	wantErr(t, "Check of the ended session", auth.Session.Check(h.clock.Now(), 0), berth.ErrSessionEnded)
	err = txErr(t, st, func(tx *store.Tx) error { _, err := tx.EndSession(ctx, 999999); return err })
	wantErr(t, "EndSession missing", err, berth.ErrNotFound)

	// Old sessions go: the ended one and the one past its end, not the live one.
	var short, live berth.Session
	tx(t, st, func(tx *store.Tx) error {
		var err error
		if short, err = tx.CreateSession(ctx, store.NewSession{TokenID: bobTok.ID, Hash: s2.Hash, ExpiresAt: h.clock.Now().Add(time.Hour)}); err != nil {
			return err
		}
		live, err = tx.CreateSession(ctx, store.NewSession{TokenID: bobTok.ID, Hash: store.NewSessionSecret().Hash, ExpiresAt: expires})
		return err
	})
	bobs, err := st.Sessions(ctx, bobTok.ID)
	must(t, "Sessions", err)
	equal(t, "Sessions", bobs, []berth.Session{short, live})
	h.clock.Advance(time.Hour)
	tx(t, st, func(tx *store.Tx) error {
		n, err := tx.DeleteSessionsOver(ctx, h.clock.Now())
		if err == nil && n != 2 {
			t.Errorf("DeleteSessionsOver deleted %d sessions, want 2", n)
		}
		return err
	})
	for _, id := range []int64{sess.ID, short.ID} {
		_, err := st.Session(ctx, id)
		wantErr(t, "Session after DeleteSessionsOver", err, berth.ErrNotFound)
	}
	_, err = st.Session(ctx, live.ID)
	must(t, "the live session after DeleteSessionsOver", err)

	// A deleted user's tokens take their sessions along.
	tx(t, st, func(tx *store.Tx) error { return tx.DeleteUser(ctx, "bob") })
	_, err = st.Session(ctx, live.ID)
	wantErr(t, "Session of a deleted user", err, berth.ErrNotFound)
}

func testTouchSession(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	seed(t, st, nil, []string{"ann"})
	tok := sessionToken(t, st, "ann", "browser")
	var sess berth.Session
	tx(t, st, func(tx *store.Tx) error {
		var err error
		sess, err = tx.CreateSession(ctx, store.NewSession{TokenID: tok.ID, Hash: store.NewSessionSecret().Hash, ExpiresAt: epoch.Add(12 * time.Hour)})
		return err
	})
	lastSeen := func() time.Time {
		t.Helper()
		got, err := st.Session(ctx, sess.ID)
		must(t, "Session", err)
		return got.LastSeenAt
	}

	// Within the interval nothing is written.
	h.clock.Advance(store.SessionTouchInterval / 2)
	must(t, "TouchSession", st.TouchSession(ctx, sess))
	if got := lastSeen(); !got.Equal(epoch) {
		t.Errorf("LastSeenAt after a touch within the interval = %v, want %v", got, epoch)
	}

	// After it, the touch writes.
	h.clock.Advance(store.SessionTouchInterval)
	must(t, "TouchSession", st.TouchSession(ctx, sess))
	later := epoch.Add(store.SessionTouchInterval * 3 / 2)
	if got := lastSeen(); !got.Equal(later) {
		t.Errorf("LastSeenAt after the interval = %v, want %v", got, later)
	}

	// Another replica holding a stale copy does not write again within the interval.
	other := h.open(t, h.dsn)
	h.clock.Advance(time.Second)
	must(t, "TouchSession from another store", other.TouchSession(ctx, sess))
	if got := lastSeen(); !got.Equal(later) {
		t.Errorf("LastSeenAt after another store's touch = %v, want %v", got, later)
	}
}
