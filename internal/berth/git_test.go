package berth

import (
	"errors"
	"testing"
)

func TestRepoOf(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:3000/shop/web":         "shop/web",
		"https://github.com/berth-dev/berth.git": "berth-dev/berth",
		"https://git.example.com/a/b/":           "a/b",
	} {
		if got, err := RepoOf(in); err != nil || got != want {
			t.Errorf("RepoOf(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "git@github.com:a/b.git", "ftp://h/a/b", "https://h/a", "https://h/a/b/c",
		"https://u:p@h/a/b", "https://h/a/..", "https://h/a b/c", "https:///a/b"} {
		if _, err := RepoOf(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("RepoOf(%q): %v, want invalid", in, err)
		}
	}
}

func TestCheckRepoPathAndBranch(t *testing.T) {
	for _, p := range []string{"berth.yaml", "apps/web/berth.yaml", "score.yaml"} {
		if err := CheckRepoPath(p); err != nil {
			t.Errorf("CheckRepoPath(%q): %v", p, err)
		}
	}
	for _, p := range []string{"", "/etc/passwd", "../x", "a/../b", "a//b", "./a", "a\\b", "a/"} {
		if err := CheckRepoPath(p); !errors.Is(err, ErrInvalid) {
			t.Errorf("CheckRepoPath(%q): %v, want invalid", p, err)
		}
	}
	for _, b := range []string{"main", "release/1.2", "feature-x"} {
		if err := CheckBranch(b); err != nil {
			t.Errorf("CheckBranch(%q): %v", b, err)
		}
	}
	for _, b := range []string{"", "-x", "a..b", "a b", "a:b", "x.lock", "/a", "a/", "a~1"} {
		if err := CheckBranch(b); !errors.Is(err, ErrInvalid) {
			t.Errorf("CheckBranch(%q): %v, want invalid", b, err)
		}
	}
}
