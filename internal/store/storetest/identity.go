package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/store"
)

func testTeams(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	var created store.Team
	tx(t, st, func(tx *store.Tx) error {
		var err error
		if created, err = tx.CreateTeam(ctx, "payments"); err != nil {
			return err
		}
		_, err = tx.CreateTeam(ctx, "insights")
		return err
	})
	if created.ID == 0 || created.Name != "payments" || !created.CreatedAt.Equal(epoch) {
		t.Errorf("CreateTeam = %+v, want an id, name payments, created at %v", created, epoch)
	}
	got, err := st.Team(ctx, "payments")
	must(t, "Team", err)
	equal(t, "Team", got, created)

	teams, err := st.Teams(ctx)
	must(t, "Teams", err)
	if len(teams) != 2 || teams[0].Name != "insights" || teams[1].Name != "payments" {
		t.Errorf("Teams = %+v, want insights, payments", teams)
	}

	err = txErr(t, st, func(tx *store.Tx) error { _, err := tx.CreateTeam(ctx, "payments"); return err })
	wantErr(t, "CreateTeam duplicate", err, store.ErrConflict)

	_, err = st.Team(ctx, "nope")
	wantErr(t, "Team missing", err, store.ErrNotFound)
	if err != nil && !strings.Contains(err.Error(), `team "nope"`) {
		t.Errorf("Team missing: error %q does not name the team", err)
	}

	// A team that owns apps stays; without them it goes, memberships included.
	tx(t, st, func(tx *store.Tx) error {
		if _, err := tx.CreateUser(ctx, store.User{Name: "ann"}); err != nil {
			return err
		}
		if _, err := tx.SetMembership(ctx, "ann", "payments", store.RoleAdmin); err != nil {
			return err
		}
		_, err := tx.CreateApp(ctx, "payments", "ledger", "ann")
		return err
	})
	err = txErr(t, st, func(tx *store.Tx) error { return tx.DeleteTeam(ctx, "payments") })
	wantErr(t, "DeleteTeam with apps", err, store.ErrConflict)
	tx(t, st, func(tx *store.Tx) error {
		if err := tx.DeleteApp(ctx, "payments", "ledger"); err != nil {
			return err
		}
		return tx.DeleteTeam(ctx, "payments")
	})
	_, err = st.Team(ctx, "payments")
	wantErr(t, "Team after delete", err, store.ErrNotFound)
	ms, err := st.Memberships(ctx, store.MembershipFilter{User: "ann"})
	must(t, "Memberships", err)
	if len(ms) != 0 {
		t.Errorf("memberships of a deleted team remain: %+v", ms)
	}
	err = txErr(t, st, func(tx *store.Tx) error { return tx.DeleteTeam(ctx, "payments") })
	wantErr(t, "DeleteTeam missing", err, store.ErrNotFound)
}

func testTeamNames(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"a", true},
		{"team-1", true},
		{strings.Repeat("a", 63), true},
		{"", false},
		{strings.Repeat("a", 64), false},
		{"Team", false},
		{"-team", false},
		{"team-", false},
		{"te_am", false},
		{"té", false},
		{"a.b", false},
	} {
		err := txErr(t, st, func(tx *store.Tx) error { _, err := tx.CreateTeam(ctx, tc.name); return err })
		if tc.ok {
			wantErr(t, "CreateTeam "+tc.name, err, nil)
			continue
		}
		wantErr(t, "CreateTeam "+tc.name, err, store.ErrInvalid)
		var ie *store.InvalidError
		if !errors.As(err, &ie) || ie.Field != "name" {
			t.Errorf("CreateTeam %q: error %v is not an InvalidError about name", tc.name, err)
		}
	}
}

func testUsers(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	var ann store.User
	tx(t, st, func(tx *store.Tx) error {
		var err error
		if ann, err = tx.CreateUser(ctx, store.User{Name: "ann", Email: "Ann@example.com", IsAdmin: true}); err != nil {
			return err
		}
		if _, err := tx.CreateUser(ctx, store.User{Name: "bob"}); err != nil {
			return err
		}
		_, err = tx.CreateUser(ctx, store.User{Name: "ci-bot"}) // a second empty email is fine
		return err
	})
	want := store.User{ID: ann.ID, Name: "ann", Email: "Ann@example.com", IsAdmin: true, CreatedAt: epoch}
	equal(t, "CreateUser", ann, want)
	got, err := st.User(ctx, "ann")
	must(t, "User", err)
	equal(t, "User", got, want)
	users, err := st.Users(ctx)
	must(t, "Users", err)
	if len(users) != 3 || users[0].Name != "ann" || users[1].Name != "bob" || users[2].Name != "ci-bot" {
		t.Errorf("Users = %+v", users)
	}

	for _, tc := range []struct {
		u    store.User
		want error
	}{
		{store.User{Name: "ann"}, store.ErrConflict},
		{store.User{Name: "ann2", Email: "ann@EXAMPLE.com"}, store.ErrConflict},
		{store.User{Name: ""}, store.ErrInvalid},
		{store.User{Name: "has space"}, store.ErrInvalid},
		{store.User{Name: "carl", Email: "not-an-address"}, store.ErrInvalid},
	} {
		err := txErr(t, st, func(tx *store.Tx) error { _, err := tx.CreateUser(ctx, tc.u); return err })
		wantErr(t, "CreateUser "+tc.u.Name+" "+tc.u.Email, err, tc.want)
	}

	tx(t, st, func(tx *store.Tx) error {
		u, err := tx.SetUserAdmin(ctx, "bob", true)
		if err == nil && !u.IsAdmin {
			t.Errorf("SetUserAdmin returned %+v", u)
		}
		return err
	})
	if got, _ := st.User(ctx, "bob"); !got.IsAdmin {
		t.Errorf("bob is not admin after SetUserAdmin")
	}
	err = txErr(t, st, func(tx *store.Tx) error { _, err := tx.SetUserAdmin(ctx, "nope", true); return err })
	wantErr(t, "SetUserAdmin missing", err, store.ErrNotFound)

	// Deleting a user takes its tokens, memberships and allowances with it.
	secret := store.NewTokenSecret()
	tx(t, st, func(tx *store.Tx) error {
		if _, err := tx.CreateTeam(ctx, "core"); err != nil {
			return err
		}
		if _, err := tx.SetMembership(ctx, "bob", "core", store.RoleDeployer); err != nil {
			return err
		}
		if _, err := tx.CreateEnvironment(ctx, store.Environment{Name: "prod", InCluster: true, Protected: true}); err != nil {
			return err
		}
		if err := tx.AllowDeployer(ctx, "prod", "bob"); err != nil {
			return err
		}
		_, err := tx.CreateToken(ctx, store.NewToken{User: "bob", Name: "cli", Hash: secret.Hash, Prefix: secret.Prefix})
		return err
	})
	tx(t, st, func(tx *store.Tx) error { return tx.DeleteUser(ctx, "bob") })
	_, err = st.User(ctx, "bob")
	wantErr(t, "User after delete", err, store.ErrNotFound)
	_, err = st.TokenByHash(ctx, secret.Hash)
	wantErr(t, "TokenByHash of deleted user", err, store.ErrNotFound)
	ms, err := st.Memberships(ctx, store.MembershipFilter{Team: "core"})
	must(t, "Memberships", err)
	if len(ms) != 0 {
		t.Errorf("memberships of a deleted user remain: %+v", ms)
	}
	env, err := st.Environment(ctx, "prod")
	must(t, "Environment", err)
	if len(env.AllowedDeployers) != 0 {
		t.Errorf("allowances of a deleted user remain: %v", env.AllowedDeployers)
	}
	err = txErr(t, st, func(tx *store.Tx) error { return tx.DeleteUser(ctx, "bob") })
	wantErr(t, "DeleteUser missing", err, store.ErrNotFound)
}

func testTokens(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	seed(t, st, nil, []string{"ann", "bob"})

	s := store.NewTokenSecret()
	if !strings.HasPrefix(s.Secret, "berth_") || len(s.Secret) < 50 || !strings.HasPrefix(s.Secret, s.Prefix) ||
		s.Hash != store.HashToken(s.Secret) || s.Hash == s.Secret {
		t.Fatalf("NewTokenSecret = %+v: want berth_ secret of 256 bits, its prefix, and its hash", s)
	}
	if other := store.NewTokenSecret(); other.Secret == s.Secret {
		t.Fatalf("NewTokenSecret returned the same secret twice")
	}

	expires := epoch.Add(24 * time.Hour)
	var tok store.Token
	tx(t, st, func(tx *store.Tx) error {
		var err error
		tok, err = tx.CreateToken(ctx, store.NewToken{User: "ann", Name: "laptop", Hash: s.Hash, Prefix: s.Prefix, ExpiresAt: expires})
		return err
	})
	want := store.Token{ID: tok.ID, UserID: tok.UserID, User: "ann", Name: "laptop", Prefix: s.Prefix, CreatedAt: epoch, ExpiresAt: expires}
	equal(t, "CreateToken", tok, want)
	got, err := st.Token(ctx, tok.ID)
	must(t, "Token", err)
	equal(t, "Token", got, want)

	s2, s3 := store.NewTokenSecret(), store.NewTokenSecret()
	for _, tc := range []struct {
		what string
		nt   store.NewToken
		want error
	}{
		{"same name, same user", store.NewToken{User: "ann", Name: "laptop", Hash: s2.Hash, Prefix: s2.Prefix}, store.ErrConflict},
		{"same hash", store.NewToken{User: "bob", Name: "x", Hash: s.Hash, Prefix: s.Prefix}, store.ErrConflict},
		{"missing user", store.NewToken{User: "nope", Name: "x", Hash: s2.Hash, Prefix: s2.Prefix}, store.ErrNotFound},
		{"plaintext secret as hash", store.NewToken{User: "ann", Name: "y", Hash: s2.Secret, Prefix: s2.Prefix}, store.ErrInvalid},
		{"upper-case hash", store.NewToken{User: "ann", Name: "y", Hash: strings.ToUpper(s2.Hash), Prefix: s2.Prefix}, store.ErrInvalid},
		{"empty name", store.NewToken{User: "ann", Name: "", Hash: s2.Hash, Prefix: s2.Prefix}, store.ErrInvalid},
		{"same name, other user", store.NewToken{User: "bob", Name: "laptop", Hash: s3.Hash, Prefix: s3.Prefix}, nil},
	} {
		err := txErr(t, st, func(tx *store.Tx) error { _, err := tx.CreateToken(ctx, tc.nt); return err })
		wantErr(t, "CreateToken "+tc.what, err, tc.want)
	}

	anns, err := st.Tokens(ctx, "ann")
	must(t, "Tokens ann", err)
	equal(t, "Tokens ann", anns, []store.Token{want})
	all, err := st.Tokens(ctx, "")
	must(t, "Tokens all", err)
	if len(all) != 2 || all[0].User != "ann" || all[1].User != "bob" {
		t.Errorf("Tokens all = %+v", all)
	}
	_, err = st.Tokens(ctx, "nope")
	wantErr(t, "Tokens missing user", err, store.ErrNotFound)
	_, err = st.Token(ctx, 999999)
	wantErr(t, "Token missing", err, store.ErrNotFound)

	// Check: valid until the expiry, then expired; revoked wins.
	wantErr(t, "Check before expiry", tok.Check(expires.Add(-time.Microsecond)), nil)
	wantErr(t, "Check at expiry", tok.Check(expires), store.ErrTokenExpired)
	h.clock.Advance(time.Hour)
	var revoked store.Token
	tx(t, st, func(tx *store.Tx) error {
		var err error
		revoked, err = tx.RevokeToken(ctx, tok.ID)
		return err
	})
	if !revoked.RevokedAt.Equal(epoch.Add(time.Hour)) {
		t.Errorf("RevokedAt = %v, want %v", revoked.RevokedAt, epoch.Add(time.Hour))
	}
	wantErr(t, "Check revoked", revoked.Check(epoch), store.ErrTokenRevoked)
	h.clock.Advance(time.Hour)
	tx(t, st, func(tx *store.Tx) error {
		again, err := tx.RevokeToken(ctx, tok.ID)
		if err == nil && !again.RevokedAt.Equal(revoked.RevokedAt) {
			t.Errorf("revoking again moved RevokedAt to %v", again.RevokedAt)
		}
		return err
	})
	err = txErr(t, st, func(tx *store.Tx) error { _, err := tx.RevokeToken(ctx, 999999); return err })
	wantErr(t, "RevokeToken missing", err, store.ErrNotFound)
}

func testTokenByHash(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	seed(t, st, []string{"web", "data", "other"}, []string{"ann", "bob"})
	s, lonely := store.NewTokenSecret(), store.NewTokenSecret()
	tx(t, st, func(tx *store.Tx) error {
		for _, m := range []struct {
			user, team string
			role       store.Role
		}{{"ann", "web", store.RoleDeployer}, {"ann", "data", store.RoleViewer}, {"bob", "other", store.RoleAdmin}} {
			if _, err := tx.SetMembership(ctx, m.user, m.team, m.role); err != nil {
				return err
			}
		}
		if _, err := tx.CreateUser(ctx, store.User{Name: "cy", Email: "cy@example.com"}); err != nil {
			return err
		}
		if _, err := tx.CreateToken(ctx, store.NewToken{User: "cy", Name: "t", Hash: lonely.Hash, Prefix: lonely.Prefix}); err != nil {
			return err
		}
		_, err := tx.CreateToken(ctx, store.NewToken{User: "ann", Name: "cli", Hash: s.Hash, Prefix: s.Prefix})
		return err
	})
	auth, err := st.TokenByHash(ctx, s.Hash)
	must(t, "TokenByHash", err)
	if auth.Token.Name != "cli" || auth.Token.User != "ann" || auth.User.Name != "ann" || auth.User.ID != auth.Token.UserID ||
		!auth.User.CreatedAt.Equal(epoch) {
		t.Errorf("TokenByHash token/user = %+v / %+v", auth.Token, auth.User)
	}
	var got []string
	for _, m := range auth.Memberships {
		got = append(got, m.Team+":"+string(m.Role)+":"+m.User)
	}
	equal(t, "TokenByHash memberships", got, []string{"data:viewer:ann", "web:deployer:ann"})
	if r, ok := auth.Role("web"); !ok || r != store.RoleDeployer {
		t.Errorf("Role(web) = %v, %v", r, ok)
	}
	if _, ok := auth.Role("other"); ok {
		t.Errorf("Role(other) found a membership of another user")
	}

	// A user without memberships still authenticates, with none.
	auth, err = st.TokenByHash(ctx, lonely.Hash)
	must(t, "TokenByHash without memberships", err)
	if auth.User.Email != "cy@example.com" || len(auth.Memberships) != 0 {
		t.Errorf("TokenByHash without memberships = %+v", auth)
	}

	_, err = st.TokenByHash(ctx, store.HashToken("unknown"))
	wantErr(t, "TokenByHash unknown", err, store.ErrNotFound)
}

func testTouchToken(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	seed(t, st, nil, []string{"ann"})
	s := store.NewTokenSecret()
	var tok store.Token
	tx(t, st, func(tx *store.Tx) error {
		var err error
		tok, err = tx.CreateToken(ctx, store.NewToken{User: "ann", Name: "cli", Hash: s.Hash, Prefix: s.Prefix})
		return err
	})
	lastUsed := func() time.Time {
		t.Helper()
		got, err := st.Token(ctx, tok.ID)
		must(t, "Token", err)
		return got.LastUsedAt
	}
	if !lastUsed().IsZero() {
		t.Fatalf("new token has LastUsedAt %v", lastUsed())
	}
	must(t, "TouchToken", st.TouchToken(ctx, tok))
	if got := lastUsed(); !got.Equal(epoch) {
		t.Errorf("LastUsedAt after first touch = %v, want %v", got, epoch)
	}

	// Within the interval nothing is written, whatever the caller's copy says.
	h.clock.Advance(store.TokenTouchInterval / 2)
	must(t, "TouchToken", st.TouchToken(ctx, tok))
	if got := lastUsed(); !got.Equal(epoch) {
		t.Errorf("LastUsedAt after touch within the interval = %v, want %v", got, epoch)
	}

	// After it, the next touch writes.
	h.clock.Advance(store.TokenTouchInterval)
	fresh, _ := st.Token(ctx, tok.ID)
	must(t, "TouchToken", st.TouchToken(ctx, fresh))
	later := epoch.Add(store.TokenTouchInterval * 3 / 2)
	if got := lastUsed(); !got.Equal(later) {
		t.Errorf("LastUsedAt after the interval = %v, want %v", got, later)
	}

	// Another replica holding a stale copy does not write again within the interval.
	other := h.open(t, h.dsn)
	h.clock.Advance(time.Second)
	must(t, "TouchToken from another store", other.TouchToken(ctx, tok))
	if got := lastUsed(); !got.Equal(later) {
		t.Errorf("LastUsedAt after another store's touch = %v, want %v", got, later)
	}
}

func testMemberships(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	seed(t, st, []string{"web", "data"}, []string{"ann", "bob"})
	var first store.Membership
	tx(t, st, func(tx *store.Tx) error {
		var err error
		if first, err = tx.SetMembership(ctx, "ann", "web", store.RoleViewer); err != nil {
			return err
		}
		if _, err := tx.SetMembership(ctx, "bob", "web", store.RoleAdmin); err != nil {
			return err
		}
		_, err = tx.SetMembership(ctx, "ann", "data", store.RoleAdmin)
		return err
	})
	if first.User != "ann" || first.Team != "web" || first.Role != store.RoleViewer || first.UserID == 0 || first.TeamID == 0 ||
		!first.CreatedAt.Equal(epoch) {
		t.Errorf("SetMembership = %+v", first)
	}

	// Setting again changes the role and keeps the membership's creation time.
	h.clock.Advance(time.Hour)
	tx(t, st, func(tx *store.Tx) error {
		m, err := tx.SetMembership(ctx, "ann", "web", store.RoleDeployer)
		if err == nil && (m.Role != store.RoleDeployer || !m.CreatedAt.Equal(epoch)) {
			t.Errorf("SetMembership update = %+v", m)
		}
		return err
	})
	m, err := st.Membership(ctx, "ann", "web")
	must(t, "Membership", err)
	want := first
	want.Role = store.RoleDeployer
	equal(t, "Membership", m, want)

	names := func(ms []store.Membership) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.Team+"/"+m.User+"="+string(m.Role))
		}
		return out
	}
	for _, tc := range []struct {
		f    store.MembershipFilter
		want []string
	}{
		{store.MembershipFilter{}, []string{"data/ann=admin", "web/ann=deployer", "web/bob=admin"}},
		{store.MembershipFilter{User: "ann"}, []string{"data/ann=admin", "web/ann=deployer"}},
		{store.MembershipFilter{Team: "web"}, []string{"web/ann=deployer", "web/bob=admin"}},
		{store.MembershipFilter{User: "bob", Team: "data"}, nil},
	} {
		ms, err := st.Memberships(ctx, tc.f)
		must(t, "Memberships", err)
		equal(t, "Memberships "+tc.f.User+"/"+tc.f.Team, names(ms), tc.want)
	}
	_, err = st.Memberships(ctx, store.MembershipFilter{Team: "nope"})
	wantErr(t, "Memberships missing team", err, store.ErrNotFound)

	for _, tc := range []struct {
		user, team string
		role       store.Role
		want       error
		mention    string
	}{
		{"ann", "web", "owner", store.ErrInvalid, "role"},
		{"nope", "web", store.RoleViewer, store.ErrNotFound, `user "nope"`},
		{"ann", "nope", store.RoleViewer, store.ErrNotFound, `team "nope"`},
	} {
		err := txErr(t, st, func(tx *store.Tx) error { _, err := tx.SetMembership(ctx, tc.user, tc.team, tc.role); return err })
		wantErr(t, "SetMembership "+tc.user+"/"+tc.team, err, tc.want)
		if err != nil && !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("SetMembership %s/%s: error %q does not mention %s", tc.user, tc.team, err, tc.mention)
		}
	}

	tx(t, st, func(tx *store.Tx) error { return tx.RemoveMembership(ctx, "ann", "web") })
	_, err = st.Membership(ctx, "ann", "web")
	wantErr(t, "Membership after remove", err, store.ErrNotFound)
	err = txErr(t, st, func(tx *store.Tx) error { return tx.RemoveMembership(ctx, "ann", "web") })
	wantErr(t, "RemoveMembership of a non-member", err, store.ErrNotFound)
	err = txErr(t, st, func(tx *store.Tx) error { return tx.RemoveMembership(ctx, "nope", "web") })
	wantErr(t, "RemoveMembership missing user", err, store.ErrNotFound)
}

func testRoles(t *testing.T, _ *harness) {
	roles := []store.Role{store.RoleViewer, store.RoleDeployer, store.RoleAdmin}
	for i, have := range roles {
		if !have.Valid() {
			t.Errorf("%s is not valid", have)
		}
		for j, need := range roles {
			if got := have.Allows(need); got != (i >= j) {
				t.Errorf("%s.Allows(%s) = %v", have, need, got)
			}
		}
	}
	if store.Role("owner").Valid() || store.Role("").Allows(store.RoleViewer) || store.Role("owner").Allows("") {
		t.Errorf("unknown roles must be invalid and allow nothing")
	}
}
