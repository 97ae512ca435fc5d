package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/seal"
)

func gitOpsAAD(env string) []byte { return []byte("berth-env-gitops-v1\x00" + env) }

const gitOpsColumns = "env, forge, url, repo, branch, pull_request, external_apply, created_by, updated_at"

func scanGitOps(sc scanner) (berth.GitOps, error) {
	var g berth.GitOps
	var updated int64
	err := sc.Scan(&g.Env, &g.Forge, &g.URL, &g.Repo, &g.Branch, &g.PullRequest, &g.ExternalApply, &g.CreatedBy, &updated)
	g.UpdatedAt = fromMicros(updated)
	return g, err
}

// SetEnvGitOps sets (or replaces) environment g.Env's GitOps output, sealing sec: the forge
// token it pushes and opens pull requests with, and the secret the platform repository's
// webhook signs its deliveries with.
func (tx *Tx) SetEnvGitOps(ctx context.Context, g berth.GitOps, sec berth.RepoSecrets) (berth.GitOps, error) {
	if _, err := tx.Environment(ctx, g.Env); err != nil {
		return g, err
	}
	if !g.Forge.Valid() {
		return g, invalid("forge", "%q is not a forge: gitea or github", g.Forge)
	}
	repo, err := berth.RepoOf(g.URL)
	if err != nil {
		return g, err
	}
	if g.Branch == "" {
		g.Branch = g.Env
	}
	if err := berth.CheckBranch(g.Branch); err != nil {
		return g, err
	}
	if sec.Token == "" {
		return g, invalid("token", "a forge token that may push to %s is required", repo)
	}
	if sec.HookSecret == "" {
		return g, invalid("hookSecret", "a webhook secret is required")
	}
	if err := validateText("created_by", g.CreatedBy, 254); err != nil {
		return g, err
	}
	plain, err := json.Marshal(sec)
	if err != nil {
		return g, err
	}
	nonce, ciphertext, keyID, err := sealColumns(tx.keys.get(), plain, gitOpsAAD(g.Env))
	clear(plain)
	if err != nil {
		return g, fmt.Errorf("GitOps output of %s: %w", g.Env, err)
	}
	g.Repo, g.UpdatedAt = repo, tx.stamp()
	if _, err := tx.exec(ctx, `INSERT INTO env_gitops (env, forge, url, repo, branch, pull_request, external_apply, nonce, ciphertext, key_id,
		created_by, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (env) DO UPDATE SET forge = excluded.forge, url = excluded.url, repo = excluded.repo, branch = excluded.branch,
		pull_request = excluded.pull_request, external_apply = excluded.external_apply, nonce = excluded.nonce,
		ciphertext = excluded.ciphertext, key_id = excluded.key_id, created_by = excluded.created_by, updated_at = excluded.updated_at`,
		g.Env, g.Forge, g.URL, g.Repo, g.Branch, g.PullRequest, g.ExternalApply, nonce, ciphertext, keyID, g.CreatedBy, micros(g.UpdatedAt)); err != nil {
		return g, fmt.Errorf("set GitOps output of %s: %w", g.Env, dbErr(err))
	}
	return g, nil
}

// DeleteEnvGitOps turns env's GitOps output off.
func (tx *Tx) DeleteEnvGitOps(ctx context.Context, env string) (berth.GitOps, error) {
	g, err := tx.EnvGitOps(ctx, env)
	if err != nil {
		return g, err
	}
	if _, err := tx.exec(ctx, "DELETE FROM env_gitops WHERE env = ?", env); err != nil {
		return g, fmt.Errorf("delete GitOps output of %s: %w", env, dbErr(err))
	}
	return g, nil
}

// EnvGitOps returns env's GitOps output; berth.ErrNotFound when it has none.
func (q queries) EnvGitOps(ctx context.Context, env string) (berth.GitOps, error) {
	g, err := scanGitOps(q.queryRow(ctx, "SELECT "+gitOpsColumns+" FROM env_gitops WHERE env = ?", env))
	if errors.Is(err, sql.ErrNoRows) {
		return g, notFound("GitOps output of environment", env)
	}
	if err != nil {
		return g, fmt.Errorf("get GitOps output of %s: %w", env, dbErr(err))
	}
	return g, nil
}

// GitOpsToken opens the forge token of env's GitOps output.
func (q queries) GitOpsToken(ctx context.Context, env string) (string, error) {
	var nonce, ciphertext, keyID string
	err := q.queryRow(ctx, "SELECT nonce, ciphertext, key_id FROM env_gitops WHERE env = ?", env).Scan(&nonce, &ciphertext, &keyID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", notFound("GitOps output of environment", env)
	}
	if err != nil {
		return "", fmt.Errorf("get GitOps token of %s: %w", env, dbErr(err))
	}
	sec, err := openGitOps(q.keys.get(), env, nonce, ciphertext, keyID)
	return sec.Token, err
}

// openGitOps opens the sealed secrets of env's GitOps output.
func openGitOps(key *seal.Key, env, nonce, ciphertext, keyID string) (berth.RepoSecrets, error) {
	plain, err := openColumns(key, nonce, ciphertext, keyID, gitOpsAAD(env))
	if err != nil {
		return berth.RepoSecrets{}, fmt.Errorf("GitOps output of %s: %w", env, err)
	}
	defer clear(plain)
	var sec berth.RepoSecrets
	if err := json.Unmarshal(plain, &sec); err != nil {
		return berth.RepoSecrets{}, fmt.Errorf("GitOps output of %s: %w", env, seal.ErrAuth)
	}
	return sec, nil
}

// GitOpsHookSecret is the webhook secret of an environment's platform repository.
type GitOpsHookSecret struct {
	Env    string
	Secret string
}

// GitOpsHookSecrets returns the webhook secrets of the environments whose GitOps output
// goes to forge's repository OWNER/NAME (whose names the forges compare without case), by
// environment.
func (q queries) GitOpsHookSecrets(ctx context.Context, forge berth.Forge, repo string) ([]GitOpsHookSecret, error) {
	rows, err := q.query(ctx, `SELECT env, nonce, ciphertext, key_id FROM env_gitops WHERE forge = ? AND LOWER(repo) = LOWER(?) ORDER BY env`,
		string(forge), repo)
	if err != nil {
		return nil, fmt.Errorf("list GitOps outputs to %s %s: %w", forge, repo, dbErr(err))
	}
	defer rows.Close()
	var out []GitOpsHookSecret
	for rows.Next() {
		var env, nonce, ciphertext, keyID string
		if err := rows.Scan(&env, &nonce, &ciphertext, &keyID); err != nil {
			return nil, fmt.Errorf("list GitOps outputs to %s %s: %w", forge, repo, dbErr(err))
		}
		sec, err := openGitOps(q.keys.get(), env, nonce, ciphertext, keyID)
		if err != nil {
			return nil, err
		}
		out = append(out, GitOpsHookSecret{Env: env, Secret: sec.HookSecret})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list GitOps outputs to %s %s: %w", forge, repo, dbErr(err))
	}
	return out, nil
}

const gitOpsChangeColumns = "deploy_id, env, repo, branch, commit_sha, pr, url, state, updated_at"

func scanGitOpsChange(sc scanner) (berth.GitOpsChange, error) {
	var c berth.GitOpsChange
	var updated int64
	err := sc.Scan(&c.DeployID, &c.Env, &c.Repo, &c.Branch, &c.Commit, &c.PR, &c.URL, &c.State, &updated)
	c.UpdatedAt = fromMicros(updated)
	return c, err
}

// SaveGitOpsChange records (or updates) what deploy c.DeployID wrote to its platform
// repository.
func (tx *Tx) SaveGitOpsChange(ctx context.Context, c berth.GitOpsChange) (berth.GitOpsChange, error) {
	if len(c.URL) > 2048 || len(c.Branch) > 255 || len(c.Commit) > 64 || len(c.Repo) > 255 {
		return c, invalid("gitops", "a field of the change is too long")
	}
	c.UpdatedAt = tx.stamp()
	if _, err := tx.exec(ctx, `INSERT INTO gitops_changes (`+gitOpsChangeColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (deploy_id) DO UPDATE SET env = excluded.env, repo = excluded.repo, branch = excluded.branch,
		commit_sha = excluded.commit_sha, pr = excluded.pr, url = excluded.url, state = excluded.state, updated_at = excluded.updated_at`,
		c.DeployID, c.Env, c.Repo, c.Branch, c.Commit, c.PR, c.URL, c.State, micros(c.UpdatedAt)); err != nil {
		return c, fmt.Errorf("record GitOps change of deploy %d: %w", c.DeployID, dbErr(err))
	}
	return c, nil
}

// GitOpsChange returns what deploy wrote to its platform repository; berth.ErrNotFound
// when nothing.
func (q queries) GitOpsChange(ctx context.Context, deploy int64) (berth.GitOpsChange, error) {
	c, err := scanGitOpsChange(q.queryRow(ctx, "SELECT "+gitOpsChangeColumns+" FROM gitops_changes WHERE deploy_id = ?", deploy))
	if errors.Is(err, sql.ErrNoRows) {
		return c, notFound("GitOps change of deploy", fmt.Sprint(deploy))
	}
	if err != nil {
		return c, fmt.Errorf("get GitOps change of deploy %d: %w", deploy, dbErr(err))
	}
	return c, nil
}

// OpenGitOpsChanges returns the pull requests not merged or closed yet, oldest first.
func (q queries) OpenGitOpsChanges(ctx context.Context) ([]berth.GitOpsChange, error) {
	cs, err := list(ctx, q, scanGitOpsChange, "SELECT "+gitOpsChangeColumns+" FROM gitops_changes WHERE state = ? ORDER BY deploy_id LIMIT 500", berth.GitOpsOpen)
	if err != nil {
		return nil, fmt.Errorf("list open GitOps changes: %w", dbErr(err))
	}
	return cs, nil
}

// ParkDeploy leaves owner's running deploy id waiting for its pull request's merge
// (berth.DeployAwaitingMerge), its lease given up.
func (tx *Tx) ParkDeploy(ctx context.Context, id int64, owner string) error {
	res, err := tx.exec(ctx, `UPDATE deploys SET state = ?, lease_owner = '', lease_expires = 0 WHERE id = ? AND lease_owner = ? AND state = 'running'`,
		berth.DeployAwaitingMerge, id, owner)
	if err != nil {
		return fmt.Errorf("park deploy %d: %w", id, dbErr(err))
	}
	return leaseHeld(res, id)
}

// ResumeMergedDeploy queues deploy id again, its pull request merged; berth.ErrConflict
// when it no longer waits.
func (tx *Tx) ResumeMergedDeploy(ctx context.Context, id int64) (berth.Deploy, error) {
	res, err := tx.exec(ctx, `UPDATE deploys SET state = 'queued' WHERE id = ? AND state = ?`, id, berth.DeployAwaitingMerge)
	if err != nil {
		return berth.Deploy{}, fmt.Errorf("resume deploy %d: %w", id, dbErr(err))
	}
	if err := mustAffect(res, fmt.Errorf("deploy %d no longer awaits a merge: %w", id, berth.ErrConflict)); err != nil {
		return berth.Deploy{}, err
	}
	return tx.Deploy(ctx, id)
}

// CancelParkedDeploy fails deploy id, which awaited its pull request's merge, saying why.
func (tx *Tx) CancelParkedDeploy(ctx context.Context, id int64, reason string) (berth.Deploy, error) {
	res, err := tx.exec(ctx, `UPDATE deploys SET state = 'failed', reason = ?, finished_at = ? WHERE id = ? AND state = ?`,
		clipReason(reason), micros(tx.stamp()), id, berth.DeployAwaitingMerge)
	if err != nil {
		return berth.Deploy{}, fmt.Errorf("cancel deploy %d: %w", id, dbErr(err))
	}
	if err := mustAffect(res, fmt.Errorf("deploy %d no longer awaits a merge: %w", id, berth.ErrConflict)); err != nil {
		return berth.Deploy{}, err
	}
	return tx.Deploy(ctx, id)
}

// NewerDeploy returns the id of the newest deploy of d's app and environment after d that
// ran or runs (0: none): a merged pull request must not apply its objects over it.
func (q queries) NewerDeploy(ctx context.Context, d berth.Deploy) (int64, error) {
	var newer int64
	err := q.queryRow(ctx, `SELECT COALESCE(MAX(id), 0) FROM deploys WHERE app_id = ? AND env = ? AND id > ? AND state NOT IN (?, ?)`,
		d.AppID, d.Env, d.ID, berth.DeployAwaiting, berth.DeployAwaitingMerge).Scan(&newer)
	if err != nil {
		return 0, fmt.Errorf("newer deploys than %d: %w", d.ID, dbErr(err))
	}
	return newer, nil
}
