package manifest

import (
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/berth"
)

// TestBranchRulesMatchBerth checks that git rules take the branch names Berth takes
// elsewhere (berth.CheckBranch, for a connected repository's default branch), except that
// they also refuse every control character and a full ref, which CheckBranch lets through.
// It tries every short name over an alphabet of the characters the rules treat
// differently, and names around the length limit.
func TestBranchRulesMatchBerth(t *testing.T) {
	alphabet := []string{"a", "-", "/", ".", " ", "~", "^", ":", "?", "*", "[", "\\", "\t", "\x7f", "é", "lock", "@", "{"}
	names := []string{"", strings.Repeat("b", maxBranchName), strings.Repeat("b", maxBranchName+1), "refs/heads/main"}
	var grow func(prefix string, n int)
	grow = func(prefix string, n int) {
		names = append(names, prefix)
		if n == 0 {
			return
		}
		for _, c := range alphabet {
			grow(prefix+c, n-1)
		}
	}
	grow("", 3)
	for _, name := range names {
		msg, _ := branchProblem(name)
		berthOK := berth.CheckBranch(name) == nil
		switch {
		case msg == "" && !berthOK:
			t.Errorf("git rules take %q, berth.CheckBranch refuses it", name)
		case msg != "" && berthOK && !strings.HasPrefix(name, "refs/heads/") && !strings.ContainsFunc(name, func(r rune) bool { return r < ' ' }):
			t.Errorf("git rules refuse %q (%s), berth.CheckBranch takes it", name, msg)
		}
	}
}
