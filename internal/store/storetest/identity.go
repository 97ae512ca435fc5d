package storetest

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

func testTeams(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	var created berth.Team
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
	wantErr(t, "CreateTeam duplicate", err, berth.ErrConflict)

	_, err = st.Team(ctx, "nope")
	wantErr(t, "Team missing", err, berth.ErrNotFound)
	if err != nil && !strings.Contains(err.Error(), `team "nope"`) {
		t.Errorf("Team missing: error %q does not name the team", err)
	}

	// A team that owns apps stays; without them it goes, memberships included.
	tx(t, st, func(tx *store.Tx) error {
		if _, err := tx.CreateUser(ctx, berth.User{Name: "ann"}); err != nil {
			return err
		}
		if _, err := tx.SetMembership(ctx, "ann", "payments", berth.RoleAdmin); err != nil {
			return err
		}
		_, err := tx.CreateApp(ctx, "payments", "ledger", "ann")
		return err
	})
	err = txErr(t, st, func(tx *store.Tx) error { return tx.DeleteTeam(ctx, "payments") })
	wantErr(t, "DeleteTeam with apps", err, berth.ErrConflict)
	tx(t, st, func(tx *store.Tx) error {
		if err := tx.DeleteApp(ctx, "payments", "ledger"); err != nil {
			return err
		}
		return tx.DeleteTeam(ctx, "payments")
	})
	_, err = st.Team(ctx, "payments")
	wantErr(t, "Team after delete", err, berth.ErrNotFound)
	ms, err := st.Memberships(ctx, store.MembershipFilter{User: "ann"})
	must(t, "Memberships", err)
	if len(ms) != 0 {
		t.Errorf("memberships of a deleted team remain: %+v", ms)
	}
	err = txErr(t, st, func(tx *store.Tx) error { return tx.DeleteTeam(ctx, "payments") })
	wantErr(t, "DeleteTeam missing", err, berth.ErrNotFound)
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
		wantErr(t, "CreateTeam "+tc.name, err, berth.ErrInvalid)
		var ie *berth.InvalidError
		if !errors.As(err, &ie) || ie.Field != "name" {
			t.Errorf("CreateTeam %q: error %v is not an InvalidError about name", tc.name, err)
		}
	}
}

func testUsers(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	var ann berth.User
	tx(t, st, func(tx *store.Tx) error {
		var err error
		if ann, err = tx.CreateUser(ctx, berth.User{Name: "ann", Email: "Ann@example.com", IsAdmin: true}); err != nil {
			return err
		}
		if _, err := tx.CreateUser(ctx, berth.User{Name: "bob"}); err != nil {
			return err
		}
		_, err = tx.CreateUser(ctx, berth.User{Name: "ci-bot"}) // a second empty email is fine
		return err
	})
	want := berth.User{ID: ann.ID, Name: "ann", Email: "Ann@example.com", IsAdmin: true, CreatedAt: epoch}
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
		u    berth.User
		want error
	}{
		{berth.User{Name: "ann"}, berth.ErrConflict},
		{berth.User{Name: "ann2", Email: "ann@EXAMPLE.com"}, berth.ErrConflict},
		{berth.User{Name: ""}, berth.ErrInvalid},
		{berth.User{Name: "has space"}, berth.ErrInvalid},
		{berth.User{Name: "carl", Email: "not-an-address"}, berth.ErrInvalid},
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
	wantErr(t, "SetUserAdmin missing", err, berth.ErrNotFound)

	// Deleting a user takes its tokens, memberships and allowances with it.
	secret := store.NewTokenSecret()
	tx(t, st, func(tx *store.Tx) error {
		if _, err := tx.CreateTeam(ctx, "core"); err != nil {
			return err
		}
		if _, err := tx.SetMembership(ctx, "bob", "core", berth.RoleDeployer); err != nil {
			return err
		}
		if _, err := tx.CreateEnvironment(ctx, berth.Environment{Name: "prod", InCluster: true, Protected: true}); err != nil {
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
	wantErr(t, "User after delete", err, berth.ErrNotFound)
	_, err = st.TokenByHash(ctx, secret.Hash)
	wantErr(t, "TokenByHash of deleted user", err, berth.ErrNotFound)
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
	wantErr(t, "DeleteUser missing", err, berth.ErrNotFound)
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
	var tok berth.Token
	tx(t, st, func(tx *store.Tx) error {
		var err error
		tok, err = tx.CreateToken(ctx, store.NewToken{User: "ann", Name: "laptop", Hash: s.Hash, Prefix: s.Prefix, ExpiresAt: expires})
		return err
	})
	want := berth.Token{ID: tok.ID, UserID: tok.UserID, User: "ann", Name: "laptop", Prefix: s.Prefix, CreatedAt: epoch, ExpiresAt: expires}
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
		{"same name, same user", store.NewToken{User: "ann", Name: "laptop", Hash: s2.Hash, Prefix: s2.Prefix}, berth.ErrConflict},
		{"same hash", store.NewToken{User: "bob", Name: "x", Hash: s.Hash, Prefix: s.Prefix}, berth.ErrConflict},
		{"missing user", store.NewToken{User: "nope", Name: "x", Hash: s2.Hash, Prefix: s2.Prefix}, berth.ErrNotFound},
		{"plaintext secret as hash", store.NewToken{User: "ann", Name: "y", Hash: s2.Secret, Prefix: s2.Prefix}, berth.ErrInvalid},
		{"upper-case hash", store.NewToken{User: "ann", Name: "y", Hash: strings.ToUpper(s2.Hash), Prefix: s2.Prefix}, berth.ErrInvalid},
		{"empty name", store.NewToken{User: "ann", Name: "", Hash: s2.Hash, Prefix: s2.Prefix}, berth.ErrInvalid},
		{"same name, other user", store.NewToken{User: "bob", Name: "laptop", Hash: s3.Hash, Prefix: s3.Prefix}, nil},
	} {
		err := txErr(t, st, func(tx *store.Tx) error { _, err := tx.CreateToken(ctx, tc.nt); return err })
		wantErr(t, "CreateToken "+tc.what, err, tc.want)
	}

	anns, err := st.Tokens(ctx, "ann")
	must(t, "Tokens ann", err)
	equal(t, "Tokens ann", anns, []berth.Token{want})
	all, err := st.Tokens(ctx, "")
	must(t, "Tokens all", err)
	if len(all) != 2 || all[0].User != "ann" || all[1].User != "bob" {
		t.Errorf("Tokens all = %+v", all)
	}
	_, err = st.Tokens(ctx, "nope")
	wantErr(t, "Tokens missing user", err, berth.ErrNotFound)
	_, err = st.Token(ctx, 999999)
	wantErr(t, "Token missing", err, berth.ErrNotFound)

	// Check: valid until the expiry, then expired; revoked wins.
	wantErr(t, "Check before expiry", tok.Check(expires.Add(-time.Microsecond)), nil)
	wantErr(t, "Check at expiry", tok.Check(expires), berth.ErrTokenExpired)
	h.clock.Advance(time.Hour)
	var revoked berth.Token
	tx(t, st, func(tx *store.Tx) error {
		var err error
		revoked, err = tx.RevokeToken(ctx, tok.ID)
		return err
	})
	if !revoked.RevokedAt.Equal(epoch.Add(time.Hour)) {
		t.Errorf("RevokedAt = %v, want %v", revoked.RevokedAt, epoch.Add(time.Hour))
	}
	wantErr(t, "Check revoked", revoked.Check(epoch), berth.ErrTokenRevoked)
	h.clock.Advance(time.Hour)
	tx(t, st, func(tx *store.Tx) error {
		again, err := tx.RevokeToken(ctx, tok.ID)
		if err == nil && !again.RevokedAt.Equal(revoked.RevokedAt) {
			t.Errorf("revoking again moved RevokedAt to %v", again.RevokedAt)
		}
		return err
	})
	err = txErr(t, st, func(tx *store.Tx) error { _, err := tx.RevokeToken(ctx, 999999); return err })
	wantErr(t, "RevokeToken missing", err, berth.ErrNotFound)
}

func testTokenByHash(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	seed(t, st, []string{"web", "data", "other"}, []string{"ann", "bob"})
	s, lonely := store.NewTokenSecret(), store.NewTokenSecret()
	tx(t, st, func(tx *store.Tx) error {
		for _, m := range []struct {
			user, team string
			role       berth.Role
		}{{"ann", "web", berth.RoleDeployer}, {"ann", "data", berth.RoleViewer}, {"bob", "other", berth.RoleAdmin}} {
			if _, err := tx.SetMembership(ctx, m.user, m.team, m.role); err != nil {
				return err
			}
		}
		if _, err := tx.CreateUser(ctx, berth.User{Name: "cy", Email: "cy@example.com"}); err != nil {
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
	if r, ok := auth.Role("web"); !ok || r != berth.RoleDeployer {
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
	wantErr(t, "TokenByHash unknown", err, berth.ErrNotFound)
}

func testTouchToken(t *testing.T, h *harness) {
	st, ctx := h.store(t), t.Context()
	seed(t, st, nil, []string{"ann"})
	s := store.NewTokenSecret()
	var tok berth.Token
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
	var first berth.Membership
	tx(t, st, func(tx *store.Tx) error {
		var err error
		if first, err = tx.SetMembership(ctx, "ann", "web", berth.RoleViewer); err != nil {
			return err
		}
		if _, err := tx.SetMembership(ctx, "bob", "web", berth.RoleAdmin); err != nil {
			return err
		}
		_, err = tx.SetMembership(ctx, "ann", "data", berth.RoleAdmin)
		return err
	})
	if first.User != "ann" || first.Team != "web" || first.Role != berth.RoleViewer || first.UserID == 0 || first.TeamID == 0 ||
		!first.CreatedAt.Equal(epoch) {
		t.Errorf("SetMembership = %+v", first)
	}

	// Setting again changes the role and keeps the membership's creation time.
	h.clock.Advance(time.Hour)
	tx(t, st, func(tx *store.Tx) error {
		m, err := tx.SetMembership(ctx, "ann", "web", berth.RoleDeployer)
		if err == nil && (m.Role != berth.RoleDeployer || !m.CreatedAt.Equal(epoch)) {
			t.Errorf("SetMembership update = %+v", m)
		}
		return err
	})
	m, err := st.Membership(ctx, "ann", "web")
	must(t, "Membership", err)
	want := first
	want.Role = berth.RoleDeployer
	equal(t, "Membership", m, want)

	names := func(ms []berth.Membership) []string {
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
	wantErr(t, "Memberships missing team", err, berth.ErrNotFound)

	for _, tc := range []struct {
		user, team string
		role       berth.Role
		want       error
		mention    string
	}{
		{"ann", "web", "owner", berth.ErrInvalid, "role"},
		{"nope", "web", berth.RoleViewer, berth.ErrNotFound, `user "nope"`},
		{"ann", "nope", berth.RoleViewer, berth.ErrNotFound, `team "nope"`},
	} {
		err := txErr(t, st, func(tx *store.Tx) error { _, err := tx.SetMembership(ctx, tc.user, tc.team, tc.role); return err })
		wantErr(t, "SetMembership "+tc.user+"/"+tc.team, err, tc.want)
		if err != nil && !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("SetMembership %s/%s: error %q does not mention %s", tc.user, tc.team, err, tc.mention)
		}
	}

	tx(t, st, func(tx *store.Tx) error { return tx.RemoveMembership(ctx, "ann", "web") })
	_, err = st.Membership(ctx, "ann", "web")
	wantErr(t, "Membership after remove", err, berth.ErrNotFound)
	err = txErr(t, st, func(tx *store.Tx) error { return tx.RemoveMembership(ctx, "ann", "web") })
	wantErr(t, "RemoveMembership of a non-member", err, berth.ErrNotFound)
	err = txErr(t, st, func(tx *store.Tx) error { return tx.RemoveMembership(ctx, "nope", "web") })
	wantErr(t, "RemoveMembership missing user", err, berth.ErrNotFound)
}

func testRoles(t *testing.T, _ *harness) {
	roles := []berth.Role{berth.RoleViewer, berth.RoleDeployer, berth.RoleAdmin}
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
	if berth.Role("owner").Valid() || berth.Role("").Allows(berth.RoleViewer) || berth.Role("owner").Allows("") {
		t.Errorf("unknown roles must be invalid and allow nothing")
	}
}
