package storetest

import (
	"bytes"
	"testing"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/store"
)

// testGitOpsSecrets: an environment's GitOps output seals its forge token and webhook
// secret together (neither in plain text); the engine opens the token, the webhook
// endpoint finds the secrets of every environment publishing to a repository by forge and
// OWNER/NAME, without case; both are required.
func testGitOpsSecrets(t *testing.T, h *harness) {
	h.key = newKey(t)
	st, ctx := h.store(t), t.Context()
	const token, secret = "gitops-token-7a6b5c4d3e2f", "gitops-hook-secret-0f1e2d3c4b5a"
	set := func(g berth.GitOps, sec berth.RepoSecrets) error {
		return txErr(t, st, func(tx *store.Tx) error {
			_, err := tx.SetEnvGitOps(ctx, g, sec)
			return err
		})
	}
	for _, env := range []string{"staging", "production", "dev"} {
		tx(t, st, func(tx *store.Tx) error {
			_, err := tx.CreateEnvironment(ctx, berth.Environment{Name: env, InCluster: true})
			return err
		})
	}
	platform := "https://git.example.com/Platform/Deployments.git"
	must(t, "set staging", set(berth.GitOps{Env: "staging", Forge: berth.ForgeGitea, URL: platform, CreatedBy: "ann"},
		berth.RepoSecrets{Token: token, HookSecret: "staging-secret"}))
	must(t, "set production", set(berth.GitOps{Env: "production", Forge: berth.ForgeGitea, URL: platform, PullRequest: true, CreatedBy: "ann"},
		berth.RepoSecrets{Token: token, HookSecret: secret}))
	must(t, "set dev", set(berth.GitOps{Env: "dev", Forge: berth.ForgeGitHub, URL: "https://github.com/platform/deployments", CreatedBy: "ann"},
		berth.RepoSecrets{Token: token, HookSecret: "dev-secret"}))
	if dump := dumpTables(t, st, "env_gitops"); bytes.Contains(dump, []byte(token)) || bytes.Contains(dump, []byte(secret)) {
		t.Fatal("a GitOps token or webhook secret is stored in plain text")
	}
	got, err := st.GitOpsToken(ctx, "production")
	must(t, "GitOpsToken", err)
	equal(t, "token", got, token)

	secrets, err := st.GitOpsHookSecrets(ctx, berth.ForgeGitea, "platform/deployments")
	must(t, "GitOpsHookSecrets", err)
	equal(t, "secrets of the platform repository", secrets, []store.GitOpsHookSecret{
		{Env: "production", Secret: secret}, {Env: "staging", Secret: "staging-secret"}})
	secrets, err = st.GitOpsHookSecrets(ctx, berth.ForgeGitHub, "platform/deployments")
	must(t, "GitOpsHookSecrets on github", err)
	equal(t, "secrets of the repository on another forge", secrets, []store.GitOpsHookSecret{{Env: "dev", Secret: "dev-secret"}})
	if none, err := st.GitOpsHookSecrets(ctx, berth.ForgeGitea, "platform/other"); err != nil || len(none) != 0 {
		t.Errorf("secrets of another repository: %v %v", none, err)
	}

	g := berth.GitOps{Env: "staging", Forge: berth.ForgeGitea, URL: platform, CreatedBy: "ann"}
	wantErr(t, "no token", set(g, berth.RepoSecrets{HookSecret: "s"}), berth.ErrInvalid)
	wantErr(t, "no webhook secret", set(g, berth.RepoSecrets{Token: token}), berth.ErrInvalid)
	tx(t, st, func(tx *store.Tx) error {
		_, err := tx.DeleteEnvGitOps(ctx, "production")
		return err
	})
	secrets, err = st.GitOpsHookSecrets(ctx, berth.ForgeGitea, "platform/deployments")
	must(t, "GitOpsHookSecrets after unset", err)
	equal(t, "after production's was turned off", secrets, []store.GitOpsHookSecret{{Env: "staging", Secret: "staging-secret"}})
}
