package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"

	"github.com/berth-dev/berth/internal/berth"
	"github.com/berth-dev/berth/internal/seal"
)

func validateSettingKind(k berth.SettingKind) error {
	if !k.Valid() {
		return invalid("kind", "%q is not config or secret", k)
	}
	return nil
}

// settingAAD is the additional data sealed with a secret version: it binds the ciphertext
// to its kind, level, scope, key and version, so a ciphertext copied into another row (or
// another version of the same key) fails to open instead of decrypting there.
func settingAAD(scope berth.Scope, key string, version int64) []byte {
	return []byte("berth-secret-v1\x00" + string(scope.Level()) + "\x00" + scope.Team + "\x00" + scope.App + "\x00" +
		scope.Env + "\x00" + key + "\x00" + strconv.FormatInt(version, 10))
}

const (
	settingColumns = `s.id, s.kind, COALESCE(t.name, ''), COALESCE(a.name, ''), s.env, s.name, s.latest_version,
		v.value, v.key_id, s.created_at, s.updated_by, s.updated_at`
	settingFrom = ` FROM settings s LEFT JOIN teams t ON t.id = s.team_id LEFT JOIN apps a ON a.id = s.app_id
		JOIN setting_versions v ON v.setting_id = s.id AND v.version = s.latest_version`
)

func scanSetting(sc scanner) (berth.Setting, error) {
	var s berth.Setting
	var created, updated int64
	err := sc.Scan(&s.ID, &s.Kind, &s.Scope.Team, &s.Scope.App, &s.Scope.Env, &s.Key, &s.Version,
		&s.Value, &s.KeyID, &created, &s.UpdatedBy, &updated)
	s.CreatedAt, s.UpdatedAt = fromMicros(created), fromMicros(updated)
	return s, err
}

// scopeIDs returns the team and app ids of scope, checking that what it names exists.
func (q queries) scopeIDs(ctx context.Context, scope berth.Scope) (teamID, appID sql.NullInt64, err error) {
	if err := scope.Validate(); err != nil {
		return teamID, appID, err
	}
	switch scope.Level() {
	case berth.LevelGlobal:
		return teamID, appID, nil
	case berth.LevelTeam:
		t, err := q.Team(ctx, scope.Team)
		if err != nil {
			return teamID, appID, err
		}
		return sql.NullInt64{Int64: t.ID, Valid: true}, appID, nil
	}
	a, err := q.App(ctx, scope.Team, scope.App)
	if err != nil {
		return teamID, appID, err
	}
	if scope.Env != "" {
		if _, err := q.Environment(ctx, scope.Env); err != nil {
			return teamID, appID, err
		}
	}
	return sql.NullInt64{Int64: a.TeamID, Valid: true}, sql.NullInt64{Int64: a.ID, Valid: true}, nil
}

// scopeWhere selects the settings rows of exactly one scope.
func scopeWhere(teamID, appID sql.NullInt64, env string) (string, []any) {
	return " AND COALESCE(s.team_id, 0) = ? AND COALESCE(s.app_id, 0) = ? AND s.env = ?",
		[]any{teamID.Int64, appID.Int64, env}
}

// Settings returns the current (set, not unset) settings of kind at exactly scope, by key.
func (q queries) Settings(ctx context.Context, kind berth.SettingKind, scope berth.Scope) ([]berth.Setting, error) {
	if err := validateSettingKind(kind); err != nil {
		return nil, err
	}
	teamID, appID, err := q.scopeIDs(ctx, scope)
	if err != nil {
		return nil, fmt.Errorf("list %s of %s: %w", kind, scope, err)
	}
	where, args := scopeWhere(teamID, appID, scope.Env)
	ss, err := list(ctx, q, scanSetting, "SELECT "+settingColumns+settingFrom+
		" WHERE s.kind = ? AND NOT s.deleted"+where+" ORDER BY s.name", append([]any{kind}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("list %s of %s: %w", kind, scope, err)
	}
	return ss, nil
}

// SettingsFor returns every current setting, of both kinds, that applies to team's app in
// env: those of the app in env, of the app, of the team and the global ones. Resolve picks
// the winners. The app and environment need not exist.
func (q queries) SettingsFor(ctx context.Context, team, app, env string) ([]berth.Setting, error) {
	ss, err := list(ctx, q, scanSetting, "SELECT "+settingColumns+settingFrom+` WHERE NOT s.deleted AND (
			s.level = 'global'
			OR (s.level = 'team' AND t.name = ?)
			OR (s.level = 'app' AND t.name = ? AND a.name = ?)
			OR (s.level = 'app+env' AND t.name = ? AND a.name = ? AND s.env = ?))
		ORDER BY s.kind, s.name, s.id`, team, team, app, team, app, env)
	if err != nil {
		return nil, fmt.Errorf("settings for %s/%s in %s: %w", team, app, env, err)
	}
	return ss, nil
}

// SetSetting stores value as the next version of kind's key at scope, creating the key
// or setting it again after an unset. A secret is sealed with the store's key first; without
// one it fails with an error matching seal.ErrNoKey.
func (tx *Tx) SetSetting(ctx context.Context, kind berth.SettingKind, scope berth.Scope, key, value, by string) (berth.Setting, error) {
	what := fmt.Sprintf("set %s %s of %s", kind, key, scope)
	if err := validateSettingKind(kind); err != nil {
		return berth.Setting{}, fmt.Errorf("%s: %w", what, err)
	}
	if err := berth.ValidateSettingKey(key); err != nil {
		return berth.Setting{}, fmt.Errorf("set %s of %s: %w", kind, scope, err)
	}
	if err := validateText("updated_by", by, 254); err != nil {
		return berth.Setting{}, fmt.Errorf("%s: %w", what, err)
	}
	// Errors about values say how long they are, never what they hold.
	switch {
	case len(value) > berth.MaxSettingValue:
		return berth.Setting{}, fmt.Errorf("%s: %w", what, invalid("value", "is %d bytes, more than the %d a value may have", len(value), berth.MaxSettingValue))
	case kind == berth.SettingSecret && value == "":
		return berth.Setting{}, fmt.Errorf("%s: %w", what, invalid("value", "a secret must not be empty (unset it instead)"))
	}
	sk := tx.keys.get()
	if kind == berth.SettingSecret && sk == nil {
		return berth.Setting{}, fmt.Errorf("%s: %w", what, seal.ErrNoKey)
	}
	teamID, appID, err := tx.scopeIDs(ctx, scope)
	if err != nil {
		return berth.Setting{}, fmt.Errorf("%s: %w", what, err)
	}
	now := micros(tx.stamp())
	where, args := scopeWhere(teamID, appID, scope.Env)
	// Bumping the version locks the row, so concurrent sets of one key get consecutive
	// versions.
	var id, version int64
	err = tx.queryRow(ctx, `UPDATE settings SET latest_version = latest_version + 1, deleted = FALSE, updated_by = ?, updated_at = ?
		WHERE id = (SELECT s.id FROM settings s WHERE s.kind = ? AND s.name = ?`+where+`)
		RETURNING id, latest_version`, append([]any{by, now, kind, key}, args...)...).Scan(&id, &version)
	if errors.Is(err, sql.ErrNoRows) {
		version = 1
		err = tx.queryRow(ctx, `INSERT INTO settings (kind, level, team_id, app_id, env, name, latest_version, created_at, updated_by, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?) RETURNING id`,
			kind, scope.Level(), teamID, appID, scope.Env, key, now, by, now).Scan(&id)
	}
	if err != nil {
		return berth.Setting{}, fmt.Errorf("%s: %w", what, dbErr(err))
	}
	var plain, nonce, ciphertext, keyID string
	if kind == berth.SettingSecret {
		sealed, err := sk.Seal([]byte(value), settingAAD(scope, key, version))
		if err != nil {
			return berth.Setting{}, fmt.Errorf("%s: %w", what, err)
		}
		nonce, ciphertext, keyID = base64.StdEncoding.EncodeToString(sealed.Nonce), base64.StdEncoding.EncodeToString(sealed.Ciphertext), sealed.KeyID
	} else {
		plain = value
	}
	if _, err := tx.exec(ctx, `INSERT INTO setting_versions (setting_id, version, value, nonce, ciphertext, key_id, created_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, id, version, plain, nonce, ciphertext, keyID, by, now); err != nil {
		return berth.Setting{}, fmt.Errorf("%s version %d: %w", what, version, dbErr(err))
	}
	s, err := scanSetting(tx.queryRow(ctx, "SELECT "+settingColumns+settingFrom+" WHERE s.id = ?", id))
	if err != nil {
		return berth.Setting{}, fmt.Errorf("%s: %w", what, err)
	}
	return s, nil
}

// UnsetSetting removes kind's key at scope from what deploys resolve. Its versions stay,
// so that rollbacks to deploys that used them still apply the same values.
func (tx *Tx) UnsetSetting(ctx context.Context, kind berth.SettingKind, scope berth.Scope, key, by string) (berth.Setting, error) {
	what := fmt.Sprintf("unset %s %s of %s", kind, key, scope)
	if err := validateSettingKind(kind); err != nil {
		return berth.Setting{}, fmt.Errorf("%s: %w", what, err)
	}
	if err := berth.ValidateSettingKey(key); err != nil {
		return berth.Setting{}, fmt.Errorf("unset %s of %s: %w", kind, scope, err)
	}
	teamID, appID, err := tx.scopeIDs(ctx, scope)
	if err != nil {
		return berth.Setting{}, fmt.Errorf("%s: %w", what, err)
	}
	where, args := scopeWhere(teamID, appID, scope.Env)
	var id int64
	err = tx.queryRow(ctx, `UPDATE settings SET deleted = TRUE, updated_by = ?, updated_at = ?
		WHERE id = (SELECT s.id FROM settings s WHERE s.kind = ? AND s.name = ? AND NOT s.deleted`+where+`)
		RETURNING id`, append([]any{by, micros(tx.stamp()), kind, key}, args...)...).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return berth.Setting{}, notFound(string(kind), key+" of "+scope.String())
	}
	if err != nil {
		return berth.Setting{}, fmt.Errorf("%s: %w", what, dbErr(err))
	}
	s, err := scanSetting(tx.queryRow(ctx, "SELECT "+settingColumns+settingFrom+" WHERE s.id = ?", id))
	if err != nil {
		return berth.Setting{}, fmt.Errorf("%s: %w", what, err)
	}
	return s, nil
}

// secretRow is one stored secret version, still sealed.
type secretRow struct {
	ref    berth.SecretRef
	scope  berth.Scope
	key    string
	sealed seal.Sealed
}

func scanSecretRow(sc scanner) (secretRow, error) {
	var r secretRow
	var nonce, ciphertext string
	err := sc.Scan(&r.ref.Setting, &r.ref.Version, &r.scope.Team, &r.scope.App, &r.scope.Env, &r.key, &nonce, &ciphertext, &r.sealed.KeyID)
	if err != nil {
		return r, err
	}
	if r.sealed.Nonce, err = base64.StdEncoding.DecodeString(nonce); err == nil {
		r.sealed.Ciphertext, err = base64.StdEncoding.DecodeString(ciphertext)
	}
	if err != nil {
		return r, fmt.Errorf("secret %s version %d of %s: %w", r.key, r.ref.Version, r.scope, seal.ErrAuth)
	}
	return r, nil
}

const secretRowQuery = `SELECT v.setting_id, v.version, COALESCE(t.name, ''), COALESCE(a.name, ''), s.env, s.name,
		v.nonce, v.ciphertext, v.key_id
	FROM setting_versions v JOIN settings s ON s.id = v.setting_id
	LEFT JOIN teams t ON t.id = s.team_id LEFT JOIN apps a ON a.id = s.app_id
	WHERE s.kind = 'secret'`

// SecretValues opens the secret versions refs name and returns their values by ref. An
// error names the secret, its scope and version, and for a key problem the key id needed
// (a *seal.WrongKeyError); it never holds a value.
func (q queries) SecretValues(ctx context.Context, refs []berth.SecretRef) (map[berth.SecretRef][]byte, error) {
	out := make(map[berth.SecretRef][]byte, len(refs))
	key := q.keys.get()
	for _, ref := range refs {
		if _, ok := out[ref]; ok {
			continue
		}
		r, err := scanSecretRow(q.queryRow(ctx, secretRowQuery+" AND v.setting_id = ? AND v.version = ?", ref.Setting, ref.Version))
		if errors.Is(err, sql.ErrNoRows) {
			return nil, notFound("secret version", fmt.Sprintf("%d of setting %d", ref.Version, ref.Setting))
		}
		if err != nil {
			return nil, err
		}
		plain, err := key.Open(r.sealed, settingAAD(r.scope, r.key, r.ref.Version))
		if err != nil {
			return nil, fmt.Errorf("secret %s version %d of %s: %w", r.key, r.ref.Version, r.scope, err)
		}
		out[ref] = plain
	}
	return out, nil
}

// SecretKeyIDs returns the ids of the keys that sealed stored secret versions, sorted.
func (q queries) SecretKeyIDs(ctx context.Context) ([]string, error) {
	ids, err := list(ctx, q, func(sc scanner) (string, error) {
		var id string
		return id, sc.Scan(&id)
	}, `SELECT key_id FROM setting_versions WHERE key_id <> ''
		UNION SELECT key_id FROM resources WHERE key_id <> ''
		UNION SELECT postgres_key_id FROM environments WHERE postgres_key_id <> ''
		UNION SELECT key_id FROM app_repos WHERE key_id <> ''
		UNION SELECT key_id FROM env_gitops WHERE key_id <> ''
		UNION SELECT key_id FROM backup_stores WHERE key_id <> ''
		UNION SELECT key_id FROM probe_settings WHERE key_id <> '' ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("list secrets key ids: %w", err)
	}
	return ids, nil
}

// CheckSecretsKey returns nil when the store's key opens every stored secret (by key id),
// and otherwise a *seal.WrongKeyError naming a key id that is needed.
func (s *Store) CheckSecretsKey(ctx context.Context) error {
	ids, err := s.SecretKeyIDs(ctx)
	if err != nil {
		return err
	}
	key := s.keys.get()
	for _, id := range ids {
		if key == nil || id != key.ID() {
			have := ""
			if key != nil {
				have = key.ID()
			}
			return &seal.WrongKeyError{Need: id, Have: have}
		}
	}
	return nil
}

// SecretsKeyID returns the id of the store's key, or "" without one.
func (s *Store) SecretsKeyID() string {
	if k := s.keys.get(); k != nil {
		return k.ID()
	}
	return ""
}

// RotateSecretsKey re-encrypts every stored secret version (and every other sealed value:
// resources' state and secret outputs, environments' PostgreSQL DSNs), opened with the store's
// current key, under next; versions already sealed with next are left as they are. It runs
// inside the transaction, so either every value moves to next or none does; the store
// keeps using its current key until UseSecretsKey. It returns how many values it re-sealed.
func (tx *Tx) RotateSecretsKey(ctx context.Context, next *seal.Key) (int, error) {
	if next == nil {
		return 0, invalid("key", "no new key given")
	}
	cur := tx.keys.get()
	rows, err := list(ctx, tx.queries, scanSecretRow, secretRowQuery+" ORDER BY v.setting_id, v.version")
	if err != nil {
		return 0, fmt.Errorf("rotate secrets key: %w", err)
	}
	n := 0
	for _, r := range rows {
		if r.sealed.KeyID == next.ID() {
			continue
		}
		aad := settingAAD(r.scope, r.key, r.ref.Version)
		plain, err := cur.Open(r.sealed, aad)
		if err != nil {
			return 0, fmt.Errorf("rotate secrets key: secret %s version %d of %s: %w", r.key, r.ref.Version, r.scope, err)
		}
		sealed, err := next.Seal(plain, aad)
		clear(plain)
		if err != nil {
			return 0, err
		}
		if _, err := tx.exec(ctx, `UPDATE setting_versions SET nonce = ?, ciphertext = ?, key_id = ? WHERE setting_id = ? AND version = ?`,
			base64.StdEncoding.EncodeToString(sealed.Nonce), base64.StdEncoding.EncodeToString(sealed.Ciphertext), sealed.KeyID,
			r.ref.Setting, r.ref.Version); err != nil {
			return 0, fmt.Errorf("rotate secrets key: %w", dbErr(err))
		}
		n++
	}
	others, err := tx.otherSealed(ctx)
	if err != nil {
		return 0, fmt.Errorf("rotate secrets key: %w", dbErr(err))
	}
	for _, r := range others {
		if r.keyID == next.ID() {
			continue
		}
		plain, err := openColumns(cur, r.nonce, r.ciphertext, r.keyID, r.aad)
		if err != nil {
			return 0, fmt.Errorf("rotate secrets key: %s: %w", r.what, err)
		}
		nonce, ciphertext, keyID, err := sealColumns(next, plain, r.aad)
		clear(plain)
		if err != nil {
			return 0, err
		}
		if _, err := tx.exec(ctx, "UPDATE "+r.table+" SET "+r.nonceCol+" = ?, "+r.ciphertextCol+" = ?, "+r.keyCol+" = ? WHERE "+r.idColumn+" = ?",
			nonce, ciphertext, keyID, r.id); err != nil {
			return 0, fmt.Errorf("rotate secrets key: %w", dbErr(err))
		}
		n++
	}
	return n, nil
}

// UseSecretsKey makes the store seal and open secrets with k from now on (after a
// rotation has committed).
func (s *Store) UseSecretsKey(k *seal.Key) { s.keys.key.Store(k) }
