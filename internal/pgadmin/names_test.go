package pgadmin_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/pgadmin"
)

var identRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// checkName fails unless name is a valid identifier that Names may return.
func checkName(t *testing.T, name string) {
	t.Helper()
	if !identRE.MatchString(name) || strings.HasPrefix(name, "pg_") {
		t.Errorf("name %q: want at most 63 of [a-z0-9_], starting with a letter, not with pg_", name)
	}
}

func TestNames(t *testing.T) {
	long := strings.Repeat("x", 63)
	for _, tc := range []struct {
		team, app, env, resource string
		want                     string // exact, or a prefix when it ends in "__"
	}{
		{"demo", "notes", "dev", "db", "demo_notes_dev_db"},
		{"shop", "web2", "prod", "main", "shop_web2_prod_main"},
		{"my-team", "web", "staging", "db", "my_team_web_staging_db__"},
		{"demo", "notes", "dev", "main_db", "demo_notes_dev_main_db__"},
		{"Demo", "Notes", "dev", "db", "demo_notes_dev_db__"},
		{"1team", "notes", "dev", "db", "b1team_notes_dev_db__"},
		{"pg", "notes", "dev", "db", "bpg_notes_dev_db__"},
		{"demo", "nötes", "dev", "db", "demo_n_tes_dev_db__"},
		{"demo", "notes", "dev", "", "demo_notes_dev___"},
		{"", "", "", "", "b_____"},
		{long, long, long, long, strings.Repeat("x", 45) + "__"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			db, role := pgadmin.Names(tc.team, tc.app, tc.env, tc.resource)
			checkName(t, db)
			if role != db {
				t.Errorf("role %q, want the database's name %q", role, db)
			}
			if again, _ := pgadmin.Names(tc.team, tc.app, tc.env, tc.resource); again != db {
				t.Errorf("Names gave %q, then %q", db, again)
			}
			if prefix, hashed := strings.CutSuffix(tc.want, "__"); hashed {
				if len(db) != len(prefix)+2+16 || !strings.HasPrefix(db, tc.want) {
					t.Errorf("Names = %q, want %q and 16 hex digits", db, tc.want)
				}
			} else if db != tc.want {
				t.Errorf("Names = %q, want %q", db, tc.want)
			}
		})
	}
}

// TestNamesDistinct checks that different inputs get different names, in particular
// those that join, sanitize or truncate to the same text.
func TestNamesDistinct(t *testing.T) {
	long := strings.Repeat("x", 70)
	inputs := [][4]string{
		{"a_b", "c", "d", "e"}, {"a", "b_c", "d", "e"},
		{"my-app", "c", "d", "e"}, {"my_app", "c", "d", "e"}, {"my.app", "c", "d", "e"}, {"myapp", "c", "d", "e"},
		{"demo", "c", "d", "e"}, {"Demo", "c", "d", "e"},
		{"pg", "a", "b", "c"}, {"bpg", "a", "b", "c"},
		{"1a", "b", "c", "d"}, {"b1a", "b", "c", "d"},
		{long + "1", "a", "b", "c"}, {long + "2", "a", "b", "c"}, {"a", "b", "c", long + "1"}, {"a", "b", "c", long + "2"},
	}
	// And every combination of parts that could be confused.
	parts := []string{"", "a", "a_", "_a", "a-b", "a_b", "A", "pg"}
	for _, p := range parts {
		for _, q := range parts {
			for _, r := range parts {
				for _, s := range parts {
					inputs = append(inputs, [4]string{p, q, r, s})
				}
			}
		}
	}
	seen := map[string][4]string{}
	for _, in := range inputs {
		db, _ := pgadmin.Names(in[0], in[1], in[2], in[3])
		checkName(t, db)
		if prev, ok := seen[db]; ok && prev != in {
			t.Errorf("%q and %q both name %q", prev, in, db)
		}
		seen[db] = in
	}
}

func TestNewPassword(t *testing.T) {
	valid := regexp.MustCompile(`^[A-Za-z0-9_-]{32}$`)
	seen := map[string]bool{}
	for range 100 {
		p, err := pgadmin.NewPassword()
		if err != nil {
			t.Fatal(err)
		}
		if !valid.MatchString(p) {
			t.Fatalf("NewPassword = %q, want 32 of [A-Za-z0-9_-]", p)
		}
		if seen[p] {
			t.Fatalf("NewPassword repeated %q", p)
		}
		seen[p] = true
		if u := pgadmin.URL("h", 5432, "db", "u", p, nil); !strings.Contains(u, ":"+p+"@") {
			t.Errorf("URL escaped the password: %s", u)
		}
	}
}
