package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/seal"
)

// resourceAAD binds a resource's sealed state and secret outputs to the resource, so a
// ciphertext copied into another row fails to open.
func resourceAAD(env, uid string) []byte {
	return []byte("berth-resource-v1\x00" + env + "\x00" + uid)
}

// envPostgresAAD binds an environment's sealed PostgreSQL DSN to the environment.
func envPostgresAAD(env string) []byte { return []byte("berth-env-postgres-v1\x00" + env) }

const resourceColumns = `r.id, e.name, r.uid, r.team, r.app, r.name, r.type, r.class, r.res_id, r.provisioner,
	r.outputs, r.secret_outputs, r.version, r.status, r.created_at, r.updated_by, r.updated_at`

const resourceFrom = ` FROM resources r JOIN environments e ON e.id = r.env_id`

func scanResource(sc scanner) (berth.Resource, error) {
	var r berth.Resource
	var outputs, secretOutputs, status string
	var created, updated int64
	err := sc.Scan(&r.ID, &r.Env, &r.UID, &r.Team, &r.App, &r.Name, &r.Type, &r.Class, &r.ResID, &r.Provisioner,
		&outputs, &secretOutputs, &r.Version, &status, &created, &r.UpdatedBy, &updated)
	if err != nil {
		return r, err
	}
	r.Status, r.CreatedAt, r.UpdatedAt = berth.ResourceStatus(status), fromMicros(created), fromMicros(updated)
	if err := json.Unmarshal([]byte(outputs), &r.Outputs); err != nil {
		return r, fmt.Errorf("resource %s: outputs: %w", r.UID, err)
	}
	if err := json.Unmarshal([]byte(secretOutputs), &r.SecretOutputs); err != nil {
		return r, fmt.Errorf("resource %s: secret outputs: %w", r.UID, err)
	}
	return r, nil
}

// Resources lists the resources f selects, by environment, team, app and name.
func (q queries) Resources(ctx context.Context, f berth.ResourceFilter) ([]berth.Resource, error) {
	rs, err := list(ctx, q, scanResource, "SELECT "+resourceColumns+resourceFrom+`
		WHERE (? = '' OR e.name = ?) AND (? = '' OR r.team = ?) AND (? = '' OR r.app = ?)
		ORDER BY e.name, r.team, r.app, r.name, r.uid`, f.Env, f.Env, f.Team, f.Team, f.App, f.App)
	if err != nil {
		return nil, fmt.Errorf("list resources: %w", dbErr(err))
	}
	return rs, nil
}

// Resource returns the resource uid of env.
func (q queries) Resource(ctx context.Context, env, uid string) (berth.Resource, error) {
	r, err := scanResource(q.queryRow(ctx, "SELECT "+resourceColumns+resourceFrom+" WHERE e.name = ? AND r.uid = ?", env, uid))
	if errors.Is(err, sql.ErrNoRows) {
		return berth.Resource{}, notFound("resource", uid+" in "+env)
	}
	if err != nil {
		return berth.Resource{}, fmt.Errorf("get resource %s in %s: %w", uid, env, dbErr(err))
	}
	return r, nil
}

// ResourceSecrets opens the sealed state and secret outputs of the resource uid of env. An
// error names the resource, never a value.
func (q queries) ResourceSecrets(ctx context.Context, env, uid string) (berth.ResourceSecrets, error) {
	var nonce, ciphertext, keyID string
	err := q.queryRow(ctx, `SELECT r.nonce, r.ciphertext, r.key_id`+resourceFrom+` WHERE e.name = ? AND r.uid = ?`, env, uid).
		Scan(&nonce, &ciphertext, &keyID)
	if errors.Is(err, sql.ErrNoRows) {
		return berth.ResourceSecrets{}, notFound("resource", uid+" in "+env)
	}
	if err != nil {
		return berth.ResourceSecrets{}, fmt.Errorf("read resource %s in %s: %w", uid, env, dbErr(err))
	}
	return q.openResource(env, uid, nonce, ciphertext, keyID)
}

func (q queries) openResource(env, uid, nonce, ciphertext, keyID string) (berth.ResourceSecrets, error) {
	var sec berth.ResourceSecrets
	if keyID == "" {
		return sec, nil
	}
	plain, err := openColumns(q.keys.get(), nonce, ciphertext, keyID, resourceAAD(env, uid))
	if err != nil {
		return sec, fmt.Errorf("resource %s in %s: %w", uid, env, err)
	}
	defer clear(plain)
	if err := json.Unmarshal(plain, &sec); err != nil {
		return sec, fmt.Errorf("resource %s in %s: sealed state: %w", uid, env, seal.ErrAuth)
	}
	return sec, nil
}

// openColumns opens a value sealed into the three text columns Berth uses for it.
func openColumns(key *seal.Key, nonce, ciphertext, keyID string, aad []byte) ([]byte, error) {
	var s seal.Sealed
	var err error
	s.KeyID = keyID
	if s.Nonce, err = base64.StdEncoding.DecodeString(nonce); err == nil {
		s.Ciphertext, err = base64.StdEncoding.DecodeString(ciphertext)
	}
	if err != nil {
		return nil, seal.ErrAuth
	}
	return key.Open(s, aad)
}

// sealColumns seals plain into the three text columns; nothing to seal is three empty ones.
func sealColumns(key *seal.Key, plain, aad []byte) (nonce, ciphertext, keyID string, err error) {
	if len(plain) == 0 {
		return "", "", "", nil
	}
	if key == nil {
		return "", "", "", seal.ErrNoKey
	}
	s, err := key.Seal(plain, aad)
	if err != nil {
		return "", "", "", err
	}
	return base64.StdEncoding.EncodeToString(s.Nonce), base64.StdEncoding.EncodeToString(s.Ciphertext), s.KeyID, nil
}

// sealedSecrets is the stored form of sec: nil when it holds nothing.
func sealedSecrets(sec berth.ResourceSecrets) ([]byte, error) {
	if len(sec.State) == 0 && len(sec.Outputs) == 0 {
		return nil, nil
	}
	return json.Marshal(sec)
}

// SaveResource records what a provisioner made for r (in r.Env, identified by r.UID):
// its type, class, id, provisioner and outputs, with sec sealed. A new resource gets
// version 1; a changed one (outputs, secret outputs, state, provisioner, or orphaned
// before) the next version and status active; an unchanged one stays as it is, and changed
// says so. r.SecretOutputs is taken from sec.
func (tx *Tx) SaveResource(ctx context.Context, r berth.Resource, sec berth.ResourceSecrets, by string) (saved berth.Resource, changed bool, err error) {
	what := fmt.Sprintf("save resource %s", r.Where())
	if r.UID == "" || r.Type == "" || r.Name == "" || r.Provisioner == "" || by == "" {
		return berth.Resource{}, false, fmt.Errorf("%s: %w: uid, type, name, provisioner and actor are required", what, berth.ErrInvalid)
	}
	var envID int64
	if err := tx.queryRow(ctx, "SELECT id FROM environments WHERE name = ?", r.Env).Scan(&envID); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return berth.Resource{}, false, notFound("environment", r.Env)
		}
		return berth.Resource{}, false, fmt.Errorf("%s: %w", what, dbErr(err))
	}
	r.SecretOutputs = slices.Sorted(maps.Keys(sec.Outputs))
	if r.Outputs == nil {
		r.Outputs = map[string]string{}
	}
	outputs, err := json.Marshal(r.Outputs)
	if err != nil {
		return berth.Resource{}, false, fmt.Errorf("%s: %w", what, err)
	}
	names, err := json.Marshal(r.SecretOutputs)
	if err != nil {
		return berth.Resource{}, false, fmt.Errorf("%s: %w", what, err)
	}
	plain, err := sealedSecrets(sec)
	if err != nil {
		return berth.Resource{}, false, fmt.Errorf("%s: %w", what, err)
	}
	defer clear(plain)
	old, err := tx.Resource(ctx, r.Env, r.UID)
	switch {
	case errors.Is(err, berth.ErrNotFound):
	case err != nil:
		return berth.Resource{}, false, err
	default:
		oldSec, err := tx.ResourceSecrets(ctx, r.Env, r.UID)
		if err != nil {
			return berth.Resource{}, false, fmt.Errorf("%s: %w", what, err)
		}
		if old.Status == berth.ResourceActive && old.Provisioner == r.Provisioner && maps.Equal(old.Outputs, r.Outputs) &&
			reflect.DeepEqual(normalize(oldSec), normalize(sec)) {
			return old, false, nil
		}
	}
	nonce, ciphertext, keyID, err := sealColumns(tx.keys.get(), plain, resourceAAD(r.Env, r.UID))
	if err != nil {
		return berth.Resource{}, false, fmt.Errorf("%s: %w", what, err)
	}
	now := micros(tx.stamp())
	if old.ID == 0 {
		_, err = tx.exec(ctx, `INSERT INTO resources (env_id, uid, team, app, name, type, class, res_id, provisioner,
			outputs, secret_outputs, nonce, ciphertext, key_id, version, status, created_at, updated_by, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)`,
			envID, r.UID, r.Team, r.App, r.Name, r.Type, r.Class, r.ResID, r.Provisioner, string(outputs), string(names),
			nonce, ciphertext, keyID, berth.ResourceActive, now, by, now)
	} else {
		_, err = tx.exec(ctx, `UPDATE resources SET type = ?, class = ?, res_id = ?, provisioner = ?, outputs = ?,
			secret_outputs = ?, nonce = ?, ciphertext = ?, key_id = ?, version = version + 1, status = ?, updated_by = ?,
			updated_at = ? WHERE id = ?`,
			r.Type, r.Class, r.ResID, r.Provisioner, string(outputs), string(names), nonce, ciphertext, keyID,
			berth.ResourceActive, by, now, old.ID)
	}
	if err != nil {
		return berth.Resource{}, false, fmt.Errorf("%s: %w", what, dbErr(err))
	}
	saved, err = tx.Resource(ctx, r.Env, r.UID)
	return saved, true, err
}

// normalize makes equal secrets compare equal after a round trip through JSON (numbers
// become float64, empty maps nil).
func normalize(sec berth.ResourceSecrets) any {
	data, err := json.Marshal(sec)
	if err != nil {
		return nil
	}
	var v any
	if json.Unmarshal(data, &v) != nil {
		return nil
	}
	return v
}

// OrphanResources marks the active resources of team's app in env whose uid keep does not
// hold as orphaned, and returns them.
func (tx *Tx) OrphanResources(ctx context.Context, env, team, app string, keep []string, by string) ([]berth.Resource, error) {
	all, err := tx.Resources(ctx, berth.ResourceFilter{Env: env, Team: team, App: app})
	if err != nil {
		return nil, err
	}
	var out []berth.Resource
	for _, r := range all {
		if r.Status != berth.ResourceActive || slices.Contains(keep, r.UID) {
			continue
		}
		if _, err := tx.exec(ctx, "UPDATE resources SET status = ?, updated_by = ?, updated_at = ? WHERE id = ?",
			berth.ResourceOrphaned, by, micros(tx.stamp()), r.ID); err != nil {
			return nil, fmt.Errorf("orphan resource %s: %w", r.Where(), dbErr(err))
		}
		r.Status = berth.ResourceOrphaned
		out = append(out, r)
	}
	return out, nil
}

// ReactivateResources marks the orphaned resources of team's app in env whose uid uids
// holds as active again (a rollback to a revision that declares them), and returns them.
func (tx *Tx) ReactivateResources(ctx context.Context, env, team, app string, uids []string, by string) ([]berth.Resource, error) {
	all, err := tx.Resources(ctx, berth.ResourceFilter{Env: env, Team: team, App: app})
	if err != nil {
		return nil, err
	}
	var out []berth.Resource
	for _, r := range all {
		if r.Status != berth.ResourceOrphaned || !slices.Contains(uids, r.UID) {
			continue
		}
		if _, err := tx.exec(ctx, "UPDATE resources SET status = ?, updated_by = ?, updated_at = ? WHERE id = ?",
			berth.ResourceActive, by, micros(tx.stamp()), r.ID); err != nil {
			return nil, fmt.Errorf("reactivate resource %s: %w", r.Where(), dbErr(err))
		}
		r.Status = berth.ResourceActive
		out = append(out, r)
	}
	return out, nil
}

// DeleteResource forgets the resource uid of env. Dropping what it holds is the caller's.
func (tx *Tx) DeleteResource(ctx context.Context, env, uid string) error {
	res, err := tx.exec(ctx, "DELETE FROM resources WHERE uid = ? AND env_id = (SELECT id FROM environments WHERE name = ?)", uid, env)
	if err != nil {
		return fmt.Errorf("delete resource %s in %s: %w", uid, env, dbErr(err))
	}
	return mustAffect(res, notFound("resource", uid+" in "+env))
}

// SetEnvironmentPostgres registers the PostgreSQL server of env's postgres provisioner:
// dsn, sealed, and display (the DSN without its password) for people. An empty dsn
// unregisters it.
func (tx *Tx) SetEnvironmentPostgres(ctx context.Context, env, dsn, display string) error {
	what := fmt.Sprintf("set the PostgreSQL server of environment %q", env)
	if dsn == "" {
		display = ""
	}
	nonce, ciphertext, keyID, err := sealColumns(tx.keys.get(), []byte(dsn), envPostgresAAD(env))
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	res, err := tx.exec(ctx, `UPDATE environments SET postgres_display = ?, postgres_nonce = ?, postgres_ciphertext = ?,
		postgres_key_id = ? WHERE name = ?`, display, nonce, ciphertext, keyID, env)
	if err != nil {
		return fmt.Errorf("%s: %w", what, dbErr(err))
	}
	return mustAffect(res, notFound("environment", env))
}

// EnvironmentPostgres returns the DSN of env's registered PostgreSQL server, "" for none.
// An error never holds the DSN.
func (q queries) EnvironmentPostgres(ctx context.Context, env string) (string, error) {
	var nonce, ciphertext, keyID string
	err := q.queryRow(ctx, "SELECT postgres_nonce, postgres_ciphertext, postgres_key_id FROM environments WHERE name = ?", env).
		Scan(&nonce, &ciphertext, &keyID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", notFound("environment", env)
	}
	if err != nil {
		return "", fmt.Errorf("read the PostgreSQL server of environment %q: %w", env, dbErr(err))
	}
	if keyID == "" {
		return "", nil
	}
	plain, err := openColumns(q.keys.get(), nonce, ciphertext, keyID, envPostgresAAD(env))
	if err != nil {
		return "", fmt.Errorf("the PostgreSQL server of environment %q: %w", env, err)
	}
	return string(plain), nil
}

// SetEnvironmentDomains sets env's base domain (for dns and route resources) and storage
// class (for volume resources); "" clears one.
func (tx *Tx) SetEnvironmentDomains(ctx context.Context, env, baseDomain, storageClass string) error {
	if err := berth.ValidateBaseDomain(baseDomain); err != nil {
		return fmt.Errorf("set base domain of environment %q: %w", env, err)
	}
	if err := berth.ValidateStorageClass(storageClass); err != nil {
		return fmt.Errorf("set storage class of environment %q: %w", env, err)
	}
	res, err := tx.exec(ctx, "UPDATE environments SET base_domain = ?, storage_class = ? WHERE name = ?", baseDomain, storageClass, env)
	if err != nil {
		return fmt.Errorf("set base domain of environment %q: %w", env, dbErr(err))
	}
	return mustAffect(res, notFound("environment", env))
}

// sealedRow is one value sealed into a row's three columns, for key rotation.
type sealedRow struct {
	table, idColumn, nonceCol, ciphertextCol, keyCol string
	id                                               any
	nonce, ciphertext, keyID                         string
	aad                                              []byte
	what                                             string
}

// otherSealed lists the values sealed outside settings (resources, PostgreSQL DSNs, backup stores,
// repository connections), for RotateSecretsKey.
func (q queries) otherSealed(ctx context.Context) ([]sealedRow, error) {
	var out []sealedRow
	rows, err := q.query(ctx, `SELECT r.id, e.name, r.uid, r.nonce, r.ciphertext, r.key_id`+resourceFrom+` WHERE r.key_id <> '' ORDER BY r.id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var env, uid string
		s := sealedRow{table: "resources", idColumn: "id", nonceCol: "nonce", ciphertextCol: "ciphertext", keyCol: "key_id"}
		if err := rows.Scan(&id, &env, &uid, &s.nonce, &s.ciphertext, &s.keyID); err != nil {
			return nil, err
		}
		s.id, s.aad, s.what = id, resourceAAD(env, uid), "resource "+uid+" in "+env
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	envs, err := q.query(ctx, `SELECT name, postgres_nonce, postgres_ciphertext, postgres_key_id FROM environments WHERE postgres_key_id <> '' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer envs.Close()
	for envs.Next() {
		var env string
		s := sealedRow{table: "environments", idColumn: "name", nonceCol: "postgres_nonce", ciphertextCol: "postgres_ciphertext", keyCol: "postgres_key_id"}
		if err := envs.Scan(&env, &s.nonce, &s.ciphertext, &s.keyID); err != nil {
			return nil, err
		}
		s.id, s.aad, s.what = env, envPostgresAAD(env), "the PostgreSQL server of environment "+env
		out = append(out, s)
	}
	if err := envs.Err(); err != nil {
		return nil, err
	}
	repos, err := q.query(ctx, `SELECT r.app_id, t.name, a.name, r.nonce, r.ciphertext, r.key_id`+repoFrom+` WHERE r.key_id <> '' ORDER BY r.app_id`)
	if err != nil {
		return nil, err
	}
	defer repos.Close()
	for repos.Next() {
		var appID int64
		var team, app string
		s := sealedRow{table: "app_repos", idColumn: "app_id", nonceCol: "nonce", ciphertextCol: "ciphertext", keyCol: "key_id"}
		if err := repos.Scan(&appID, &team, &app, &s.nonce, &s.ciphertext, &s.keyID); err != nil {
			return nil, err
		}
		s.id, s.aad, s.what = appID, repoAAD(appID), "the repository connection of "+appKey(team, app)
		out = append(out, s)
	}
	if err := repos.Err(); err != nil {
		return nil, err
	}
	gitops, err := q.query(ctx, `SELECT env, nonce, ciphertext, key_id FROM env_gitops WHERE key_id <> '' ORDER BY env`)
	if err != nil {
		return nil, err
	}
	defer gitops.Close()
	for gitops.Next() {
		var env string
		s := sealedRow{table: "env_gitops", idColumn: "env", nonceCol: "nonce", ciphertextCol: "ciphertext", keyCol: "key_id"}
		if err := gitops.Scan(&env, &s.nonce, &s.ciphertext, &s.keyID); err != nil {
			return nil, err
		}
		s.id, s.aad, s.what = env, gitOpsAAD(env), "the GitOps repository token of environment "+env
		out = append(out, s)
	}
	if err := gitops.Err(); err != nil {
		return nil, err
	}
	stores, err := q.query(ctx, `SELECT name, nonce, ciphertext, key_id FROM backup_stores WHERE key_id <> '' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer stores.Close()
	for stores.Next() {
		var name string
		s := sealedRow{table: "backup_stores", idColumn: "name", nonceCol: "nonce", ciphertextCol: "ciphertext", keyCol: "key_id"}
		if err := stores.Scan(&name, &s.nonce, &s.ciphertext, &s.keyID); err != nil {
			return nil, err
		}
		s.id, s.aad, s.what = name, backupStoreAAD(name), "the secret key of backup store "+name
		out = append(out, s)
	}
	if err := stores.Err(); err != nil {
		return nil, err
	}
	probes, err := q.query(ctx, `SELECT env, nonce, ciphertext, key_id FROM probe_settings WHERE key_id <> '' ORDER BY env`)
	if err != nil {
		return nil, err
	}
	defer probes.Close()
	for probes.Next() {
		var env string
		s := sealedRow{table: "probe_settings", idColumn: "env", nonceCol: "nonce", ciphertextCol: "ciphertext", keyCol: "key_id"}
		if err := probes.Scan(&env, &s.nonce, &s.ciphertext, &s.keyID); err != nil {
			return nil, err
		}
		s.id, s.aad, s.what = env, probeSettingsAAD(env), "the probe secrets of environment "+env
		out = append(out, s)
	}
	return out, probes.Err()
}
