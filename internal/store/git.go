package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/seal"
)

// repoAAD binds a connection's sealed secrets to its app's row.
func repoAAD(appID int64) []byte {
	return []byte("berth-app-repo-v1\x00" + strconv.FormatInt(appID, 10))
}

const repoColumns = `t.name, a.name, r.forge, r.url, r.repo, r.path, r.branch, r.created_by, r.created_at`
const repoFrom = ` FROM app_repos r JOIN apps a ON a.id = r.app_id JOIN teams t ON t.id = a.team_id`

func scanRepo(sc scanner) (berth.AppRepo, error) {
	var r berth.AppRepo
	var forge string
	var created int64
	err := sc.Scan(&r.Team, &r.App, &forge, &r.URL, &r.Repo, &r.Path, &r.Branch, &r.CreatedBy, &created)
	r.Forge, r.CreatedAt = berth.Forge(forge), fromMicros(created)
	return r, err
}

// ConnectRepo connects team's app to a repository, replacing its connection if it had one,
// with sec sealed under the store's key.
func (tx *Tx) ConnectRepo(ctx context.Context, r berth.AppRepo, sec berth.RepoSecrets) (berth.AppRepo, error) {
	key := appKey(r.Team, r.App)
	switch {
	case !r.Forge.Valid():
		return berth.AppRepo{}, fmt.Errorf("connect %q: %w", key, invalid("forge", "%q is not a forge: gitea or github", r.Forge))
	case sec.Token == "" || sec.HookSecret == "":
		return berth.AppRepo{}, fmt.Errorf("connect %q: %w", key, invalid("token", "a forge token and a webhook secret are required"))
	}
	repo, err := berth.RepoOf(r.URL)
	if err != nil {
		return berth.AppRepo{}, fmt.Errorf("connect %q: %w", key, err)
	}
	if err := berth.CheckRepoPath(r.Path); err != nil {
		return berth.AppRepo{}, fmt.Errorf("connect %q: %w", key, err)
	}
	if err := berth.CheckBranch(r.Branch); err != nil {
		return berth.AppRepo{}, fmt.Errorf("connect %q: %w", key, err)
	}
	if err := validateText("created_by", r.CreatedBy, 254); err != nil {
		return berth.AppRepo{}, fmt.Errorf("connect %q: %w", key, err)
	}
	var appID int64
	err = tx.queryRow(ctx, `SELECT a.id FROM apps a JOIN teams t ON t.id = a.team_id WHERE t.name = ? AND a.name = ?`,
		r.Team, r.App).Scan(&appID)
	if errors.Is(err, sql.ErrNoRows) {
		return berth.AppRepo{}, fmt.Errorf("connect: %w", tx.missingApp(ctx, r.Team, r.App))
	}
	if err != nil {
		return berth.AppRepo{}, fmt.Errorf("connect %q: %w", key, dbErr(err))
	}
	plain, err := json.Marshal(sec)
	if err != nil {
		return berth.AppRepo{}, err
	}
	nonce, ciphertext, keyID, err := sealColumns(tx.keys.get(), plain, repoAAD(appID))
	clear(plain)
	if err != nil {
		return berth.AppRepo{}, fmt.Errorf("connect %q: %w", key, err)
	}
	r.Repo, r.CreatedAt = repo, tx.stamp()
	if _, err := tx.exec(ctx, `DELETE FROM app_repos WHERE app_id = ?`, appID); err != nil {
		return berth.AppRepo{}, fmt.Errorf("connect %q: %w", key, dbErr(err))
	}
	if _, err := tx.exec(ctx, `INSERT INTO app_repos (app_id, forge, url, repo, path, branch, nonce, ciphertext, key_id, created_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, appID, string(r.Forge), r.URL, r.Repo, r.Path, r.Branch,
		nonce, ciphertext, keyID, r.CreatedBy, micros(r.CreatedAt)); err != nil {
		return berth.AppRepo{}, fmt.Errorf("connect %q: %w", key, dbErr(err))
	}
	return r, nil
}

// DisconnectRepo removes team's app's connection.
func (tx *Tx) DisconnectRepo(ctx context.Context, team, app string) error {
	res, err := tx.exec(ctx, `DELETE FROM app_repos WHERE app_id = (SELECT a.id FROM apps a JOIN teams t ON t.id = a.team_id
		WHERE t.name = ? AND a.name = ?)`, team, app)
	if err != nil {
		return fmt.Errorf("disconnect %q: %w", appKey(team, app), dbErr(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("repository connection of app", appKey(team, app))
	}
	return nil
}

// AppRepo returns team's app's connection.
func (q queries) AppRepo(ctx context.Context, team, app string) (berth.AppRepo, error) {
	r, err := scanRepo(q.queryRow(ctx, "SELECT "+repoColumns+repoFrom+` WHERE t.name = ? AND a.name = ?`, team, app))
	if errors.Is(err, sql.ErrNoRows) {
		return r, notFound("repository connection of app", appKey(team, app))
	}
	if err != nil {
		return r, fmt.Errorf("get repository connection of %q: %w", appKey(team, app), dbErr(err))
	}
	return r, nil
}

// RepoConnections returns the apps connected to forge's repository OWNER/NAME (whose names
// the forges compare without case), by team and app.
func (q queries) RepoConnections(ctx context.Context, forge berth.Forge, repo string) ([]berth.AppRepo, error) {
	rs, err := list(ctx, q, scanRepo, "SELECT "+repoColumns+repoFrom+` WHERE r.forge = ? AND LOWER(r.repo) = LOWER(?) ORDER BY t.name, a.name`,
		string(forge), repo)
	if err != nil {
		return nil, fmt.Errorf("list connections of %s %s: %w", forge, repo, dbErr(err))
	}
	return rs, nil
}

// RepoSecrets opens the secrets of team's app's connection.
func (q queries) RepoSecrets(ctx context.Context, team, app string) (berth.RepoSecrets, error) {
	var appID int64
	var nonce, ciphertext, keyID string
	err := q.queryRow(ctx, `SELECT r.app_id, r.nonce, r.ciphertext, r.key_id`+repoFrom+` WHERE t.name = ? AND a.name = ?`,
		team, app).Scan(&appID, &nonce, &ciphertext, &keyID)
	if errors.Is(err, sql.ErrNoRows) {
		return berth.RepoSecrets{}, notFound("repository connection of app", appKey(team, app))
	}
	if err != nil {
		return berth.RepoSecrets{}, fmt.Errorf("get repository secrets of %q: %w", appKey(team, app), dbErr(err))
	}
	plain, err := openColumns(q.keys.get(), nonce, ciphertext, keyID, repoAAD(appID))
	if err != nil {
		return berth.RepoSecrets{}, fmt.Errorf("repository connection of %q: %w", appKey(team, app), err)
	}
	defer clear(plain)
	var sec berth.RepoSecrets
	if err := json.Unmarshal(plain, &sec); err != nil {
		return berth.RepoSecrets{}, fmt.Errorf("repository connection of %q: %w", appKey(team, app), seal.ErrAuth)
	}
	return sec, nil
}

// TakeDelivery records that forge's delivery id, whose body has the hex SHA-256 bodySum,
// was taken; a delivery whose id or body was taken before is berth.ErrConflict (a replay).
func (tx *Tx) TakeDelivery(ctx context.Context, forge berth.Forge, id, bodySum string) error {
	if !forge.Valid() {
		return invalid("forge", "%q is not a forge", forge)
	}
	if err := validateText("delivery", id, 200); err != nil {
		return err
	}
	if id == "" {
		return invalid("delivery", "required: the forge's delivery id")
	}
	if err := validateSHA256("body_sha256", bodySum); err != nil {
		return err
	}
	res, err := tx.exec(ctx, `INSERT INTO hook_deliveries (forge, delivery, received_at, body_sha256) VALUES (?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, string(forge), id, micros(tx.stamp()), bodySum)
	if err != nil {
		return fmt.Errorf("record delivery %s: %w", id, dbErr(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s delivery %q, or its body, was taken before: a replay: %w", forge, id, berth.ErrConflict)
	}
	return nil
}
