package forge

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/berth-dev/berth/internal/berth"
)

// TestAPIBase: the API is found from the repository's URL: Gitea's under the same host and
// path prefix, GitHub's at api.github.com or a GitHub Enterprise host's /api/v3/.
func TestAPIBase(t *testing.T) {
	for _, tc := range []struct {
		forge        berth.Forge
		repoURL, api string
		want         string
	}{
		{berth.ForgeGitea, "https://git.example.com/octo/web", "", "https://git.example.com/api/v1"},
		{berth.ForgeGitea, "http://127.0.0.1:3000/octo/web.git", "", "http://127.0.0.1:3000/api/v1"},
		{berth.ForgeGitea, "https://example.com/code/gitea/octo/web/", "", "https://example.com/code/gitea/api/v1"},
		{berth.ForgeGitea, "https://git.example.com/octo/web", "https://api.example.com/v1/", "https://api.example.com/v1"},
		{berth.ForgeGitHub, "https://github.com/octo/web", "", "https://api.github.com/"},
		{berth.ForgeGitHub, "https://github.com/octo/web.git", "", "https://api.github.com/"},
		{berth.ForgeGitHub, "https://ghe.example.com/octo/web", "", "https://ghe.example.com/api/v3/"},
		{berth.ForgeGitHub, "https://github.com/octo/web", "http://127.0.0.1:8080", "http://127.0.0.1:8080/"},
	} {
		var opts []Option
		if tc.api != "" {
			opts = append(opts, WithAPIURL(tc.api))
		}
		c, err := NewClient(tc.forge, tc.repoURL, "t0ken", opts...)
		if err != nil {
			t.Errorf("%s %s: %v", tc.forge, tc.repoURL, err)
			continue
		}
		var got string
		switch api := c.api.(type) {
		case *gitea:
			got = api.base
		case *gitHub:
			got = api.gh.BaseURL.String()
		}
		if got != tc.want {
			t.Errorf("%s %s (api %q): base %q, want %q", tc.forge, tc.repoURL, tc.api, got, tc.want)
		}
	}
}

func TestNewClientRefuses(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		forge                  berth.Forge
		repoURL, token, apiURL string
	}{
		{"no token", berth.ForgeGitea, "https://git.example.com/o/n", "", ""},
		{"a token with a newline", berth.ForgeGitea, "https://git.example.com/o/n", "abc\ndef", ""},
		{"credentials in the URL", berth.ForgeGitHub, "https://me:secret@github.com/o/n", "t", ""},
		{"no OWNER/NAME", berth.ForgeGitea, "https://git.example.com/web", "t", ""},
		{"not http", berth.ForgeGitHub, "ssh://git@github.com/o/n", "t", ""},
		{"an unknown forge", berth.Forge("gitlab"), "https://gitlab.com/o/n", "t", ""},
		{"a bad API URL", berth.ForgeGitHub, "https://github.com/o/n", "t", "ftp://x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewClient(tc.forge, tc.repoURL, tc.token, WithAPIURL(tc.apiURL))
			if !errors.Is(err, berth.ErrInvalid) {
				t.Fatalf("err = %v, want invalid", err)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("the error quotes the URL's password: %v", err)
			}
		})
	}
}

// TestInputsValidated: bad inputs are refused with the field they are in, before any call
// (the fake GitHub expects none).
func TestInputsValidated(t *testing.T) {
	c := gitHubClient(t, fakeGitHub(t))
	ctx := t.Context()
	ok := Status{State: StatusSuccess, Context: "berth/staging"}
	for _, tc := range []struct {
		field string
		call  func() error
	}{
		{"repo", func() error { _, err := c.ReadFile(ctx, "octo", "berth.yaml", ghSHA); return err }},
		{"repo", func() error { _, err := c.ReadFile(ctx, "octo/web/x", "berth.yaml", ghSHA); return err }},
		{"repo", func() error { _, err := c.ReadFile(ctx, "../web", "berth.yaml", ghSHA); return err }},
		{"path", func() error { _, err := c.ReadFile(ctx, "octo/web", "../berth.yaml", ghSHA); return err }},
		{"path", func() error { _, err := c.ReadFile(ctx, "octo/web", "/berth.yaml", ghSHA); return err }},
		{"ref", func() error { _, err := c.ReadFile(ctx, "octo/web", "berth.yaml", ""); return err }},
		{"ref", func() error { _, err := c.ReadFile(ctx, "octo/web", "berth.yaml", "a..b"); return err }},
		{"sha", func() error { return c.SetStatus(ctx, "octo/web", "main", ok) }},
		{"sha", func() error { return c.SetStatus(ctx, "octo/web", ghSHA[:12], ok) }},
		{"sha", func() error { return c.SetStatus(ctx, "octo/web", strings.Repeat("g", 40), ok) }},
		{"state", func() error { return c.SetStatus(ctx, "octo/web", ghSHA, Status{State: "done", Context: "c"}) }},
		{"context", func() error { return c.SetStatus(ctx, "octo/web", ghSHA, Status{State: StatusSuccess}) }},
		{"target_url", func() error {
			return c.SetStatus(ctx, "octo/web", ghSHA, Status{State: StatusSuccess, Context: "c", TargetURL: "javascript:alert(1)"})
		}},
		{"pr", func() error { _, err := c.UpsertComment(ctx, "octo/web", 0, 0, "hi"); return err }},
		{"pr", func() error { _, err := c.UpsertComment(ctx, "octo/web", -3, 0, "hi"); return err }},
		{"comment_id", func() error { _, err := c.UpsertComment(ctx, "octo/web", 1, -1, "hi"); return err }},
		{"body", func() error { _, err := c.UpsertComment(ctx, "octo/web", 1, 0, " \n"); return err }},
		{"body", func() error {
			_, err := c.UpsertComment(ctx, "octo/web", 1, 0, strings.Repeat("x", MaxComment+1))
			return err
		}},
		{"hook_url", func() error { return c.CreateHook(ctx, "octo/web", "berth.example/hooks", "s") }},
		{"hook_url", func() error { return c.CreateHook(ctx, "octo/web", "https://u:p@berth.example/hooks", "s") }},
		{"secret", func() error { return c.CreateHook(ctx, "octo/web", "https://berth.example/hooks/github", "") }},
		{"repo", func() error { _, err := c.Compare(ctx, "octo", ghSHA, "main"); return err }},
		{"repo", func() error { _, err := c.Compare(ctx, "octo/web/x", ghSHA, "main"); return err }},
		{"base", func() error { _, err := c.Compare(ctx, "octo/web", "", "main"); return err }},
		{"base", func() error { _, err := c.Compare(ctx, "octo/web", "main branch", "main"); return err }},
		{"base", func() error { _, err := c.Compare(ctx, "octo/web", "main...evil", "main"); return err }},
		{"head", func() error { _, err := c.Compare(ctx, "octo/web", ghSHA, ""); return err }},
		{"head", func() error { _, err := c.Compare(ctx, "octo/web", ghSHA, "a..b"); return err }},
		{"repo", func() error { _, _, err := c.OpenPullRequest(ctx, "octo", "topic", "main", "t", ""); return err }},
		{"head", func() error { _, _, err := c.OpenPullRequest(ctx, "octo/web", "", "main", "t", ""); return err }},
		{"head", func() error { _, _, err := c.OpenPullRequest(ctx, "octo/web", "a..b", "main", "t", ""); return err }},
		{"head", func() error {
			_, _, err := c.OpenPullRequest(ctx, "octo/web", "octo:topic", "main", "t", "")
			return err
		}},
		{"head", func() error { _, _, err := c.OpenPullRequest(ctx, "octo/web", "main", "main", "t", ""); return err }},
		{"base", func() error { _, _, err := c.OpenPullRequest(ctx, "octo/web", "topic", "", "t", ""); return err }},
		{"base", func() error {
			_, _, err := c.OpenPullRequest(ctx, "octo/web", "topic", "main branch", "t", "")
			return err
		}},
		{"title", func() error {
			_, _, err := c.OpenPullRequest(ctx, "octo/web", "topic", "main", " \n\t", "body")
			return err
		}},
		{"title", func() error {
			_, _, err := c.OpenPullRequest(ctx, "octo/web", "topic", "main", "\x00\x1b", "body")
			return err
		}},
		{"repo", func() error { _, err := c.PullRequestState(ctx, "octo/web/x", 1); return err }},
		{"pr", func() error { _, err := c.PullRequestState(ctx, "octo/web", 0); return err }},
		{"pr", func() error { _, err := c.PullRequestState(ctx, "octo/web", -1); return err }},
	} {
		err := tc.call()
		var inv *berth.InvalidError
		if !errors.As(err, &inv) || inv.Field != tc.field {
			t.Errorf("want an invalid %s, got %v", tc.field, err)
		}
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 140, "short"},
		{strings.Repeat("a", 140), 140, strings.Repeat("a", 140)},
		{strings.Repeat("a", 141), 140, strings.Repeat("a", 139) + "…"},
		{strings.Repeat("日本", 100), 5, "日本日本…"},
	} {
		got := truncateRunes(tc.in, tc.n)
		if got != tc.want || utf8.RuneCountInString(got) > tc.n || !utf8.ValidString(got) {
			t.Errorf("truncateRunes(%q, %d) = %q", tc.in, tc.n, got)
		}
	}
	if got := truncateBytes("ab日本", 4); got != "ab" {
		t.Errorf("truncateBytes cut inside a character: %q", got)
	}
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 255, "short"},
		{strings.Repeat("a", 10), 10, strings.Repeat("a", 10)},
		{strings.Repeat("a", 11), 10, strings.Repeat("a", 7) + "…"},
		{"ab日本", 7, "ab…"}, // not inside 日
	} {
		if got := ellipsis(tc.in, tc.n); got != tc.want || len(got) > tc.n || !utf8.ValidString(got) {
			t.Errorf("ellipsis(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

// TestSubject: a commit's message is shown as its first line, one line of printable UTF-8
// of at most 200 bytes, whoever wrote it.
func TestSubject(t *testing.T) {
	for in, want := range map[string]string{
		"Fix the cart":                       "Fix the cart",
		"Fix the cart\n\nWhy:\nit was wrong": "Fix the cart",
		"Fix the cart\r\n\r\nbody":           "Fix the cart",
		"\n\n  Leading blank lines\nbody":    "Leading blank lines",
		"Tabs\tand  runs   of spaces ":       "Tabs and runs of spaces",
		"\x1b[2Jclear\x00\x7f\u0085me":       "[2Jclear me",
		"bad \xff\xfe bytes":                 "bad bytes",
		"":                                   "",
		strings.Repeat("日", 100):             strings.Repeat("日", 66),
	} {
		got := subject(in)
		if got != want || len(got) > maxSubject || !utf8.ValidString(got) {
			t.Errorf("subject(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestScrub: the token is removed from an error, whole or cut at a bound's end.
func TestScrub(t *testing.T) {
	c := &Client{token: "secret-token-0123"}
	for in, want := range map[string]string{
		"bad token secret-token-0123 given":     "bad token [token] given",
		"echo: secret-token-0123secret-token-0": "echo: [token][token]",
		"no token here":                         "no token here",
	} {
		if got := c.scrub(in); got != want {
			t.Errorf("scrub(%q) = %q, want %q", in, got, want)
		}
	}
}
