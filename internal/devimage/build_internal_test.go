package devimage

import (
	"strings"
	"testing"
)

func TestWithoutCredentials(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://github.com/berth-dev/berth.git", "https://github.com/berth-dev/berth.git"},
		{"https://x-access-token:ghp_secret@github.com/berth-dev/berth", "https://github.com/berth-dev/berth"},
		{"https://user@gitea.example/team/app", "https://gitea.example/team/app"},
		{"git@github.com:berth-dev/berth.git", "git@github.com:berth-dev/berth.git"},
		{"/srv/git/berth", "/srv/git/berth"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := withoutCredentials(tc.in); got != tc.want {
				t.Errorf("withoutCredentials(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestCappedKeepsTheStart(t *testing.T) {
	var c capped
	c.Write([]byte("first\n"))
	c.Write([]byte(strings.Repeat("x", capBytes)))
	c.Write([]byte("never\n"))
	got := c.String()
	if !strings.HasPrefix(got, "first\n") || strings.Contains(got, "never") || !strings.HasSuffix(got, "(output cut at 64 KiB)") {
		t.Errorf("capped output: %d bytes, starts %q, ends %q", len(got), got[:10], got[len(got)-30:])
	}
	if len(got) > capBytes+100 {
		t.Errorf("capped output is %d bytes, want at most %d and a note", len(got), capBytes)
	}
}
