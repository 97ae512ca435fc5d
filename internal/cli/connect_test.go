package cli_test

import (
	"strings"
	"testing"

	"github.com/berth-dev/berth/internal/api/apiv1"
)

func TestAppsConnect(t *testing.T) {
	h := newHarness(t, false)
	h.in.WriteString("  gitea-token-abc\n")
	h.api.Expect("PUT", "/api/v1/teams/shop/apps/web/repo").
		WithBody(apiv1.ConnectRepo{Forge: "gitea", URL: "http://127.0.0.1:3000/shop/web", Path: "berth.yaml", Branch: "main", Token: "gitea-token-abc"}).
		Reply(200, apiv1.Connection{Repo: apiv1.AppRepo{Team: "shop", App: "web", Forge: "gitea", Repo: "shop/web", Path: "berth.yaml",
			Branch: "main", HookPath: "/hooks/gitea"}, HookSecret: "s3cr3t"})
	if err := h.run("apps", "connect", "web", "--team", "shop", "--repo", "http://127.0.0.1:3000/shop/web", "--token-file", "-"); err != nil {
		t.Fatal(err)
	}
	out := h.out.String()
	for _, want := range []string{"connected shop/web to gitea shop/web (berth.yaml on main)", "/hooks/gitea\n", "  secret: s3cr3t\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"apps", "connect", "web", "--team", "shop", "--token-file", "-"}, "--repo is required: the repository's URL"},
		{[]string{"apps", "connect", "web", "--team", "shop", "--repo", "http://h/a/b"}, "--token-file is required: a file holding the forge token, or - for standard input"},
		{[]string{"apps", "connect", "web", "--team", "shop", "--repo", "http://h/a/b", "--token-file", "-"}, "the token from standard input is empty"},
	} {
		h := newHarness(t, false)
		wantExit(t, h.run(c.args...), c.msg, true)
	}
}
