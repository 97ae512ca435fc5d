package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/berth-dev/berth/internal/seal"
)

// SettingKind says whether a setting is plain config or a secret.
type SettingKind string

// The kinds of settings.
const (
	SettingConfig SettingKind = "config"
	SettingSecret SettingKind = "secret"
)

// Level is how specific a setting's scope is.
type Level string

// The levels, from least to most specific.
const (
	LevelGlobal Level = "global"
	LevelTeam   Level = "team"
	LevelApp    Level = "app"
	LevelAppEnv Level = "app+env"
)

// rank orders levels: a higher rank wins.
func (l Level) rank() int {
	return map[Level]int{LevelGlobal: 1, LevelTeam: 2, LevelApp: 3, LevelAppEnv: 4}[l]
}

// MoreSpecific reports whether l wins over other.
func (l Level) MoreSpecific(other Level) bool { return l.rank() > other.rank() }

// Scope is where a setting applies: everywhere (all fields empty), a team, a team's app,
// or a team's app in one environment.
type Scope struct {
	Team string `json:"team,omitempty"`
	App  string `json:"app,omitempty"`
	Env  string `json:"env,omitempty"`
}

// Level returns the scope's level.
func (s Scope) Level() Level {
	switch {
	case s.Env != "":
		return LevelAppEnv
	case s.App != "":
		return LevelApp
	case s.Team != "":
		return LevelTeam
	}
	return LevelGlobal
}

// String names the scope for people: "global", "team shop", "app shop/web",
// "app shop/web in staging".
func (s Scope) String() string {
	switch s.Level() {
	case LevelAppEnv:
		return "app " + s.Team + "/" + s.App + " in " + s.Env
	case LevelApp:
		return "app " + s.Team + "/" + s.App
	case LevelTeam:
		return "team " + s.Team
	}
	return "global"
}

// Chain lists the scopes that apply to s, most specific first: for an app in an
// environment, that scope, the app's, the team's and the global one.
func (s Scope) Chain() []Scope {
	var out []Scope
	switch s.Level() {
	case LevelAppEnv:
		out = append(out, s)
		fallthrough
	case LevelApp:
		out = append(out, Scope{Team: s.Team, App: s.App})
		fallthrough
	case LevelTeam:
		out = append(out, Scope{Team: s.Team})
	}
	return append(out, Scope{})
}

func (s Scope) validate() error {
	switch {
	case s.Env != "" && s.App == "":
		return invalid("env", "an environment's settings belong to an app: name the app too")
	case s.App != "" && s.Team == "":
		return invalid("team", "an app's settings need the app's team")
	}
	for _, f := range []struct{ field, name string }{{"team", s.Team}, {"app", s.App}, {"env", s.Env}} {
		if f.name != "" {
			if err := ValidateName(f.field, f.name); err != nil {
				return err
			}
		}
	}
	return nil
}

// Setting is a config value or a secret at one scope, at its latest version. A secret's
// Setting never holds its value: reading one takes SecretValues.
type Setting struct {
	ID      int64       `json:"id"`
	Kind    SettingKind `json:"kind"`
	Scope   Scope       `json:"scope"`
	Key     string      `json:"key"`
	Version int64       `json:"version"`
	// Value is a config value; always "" for secrets.
	Value string `json:"value,omitempty"`
	// KeyID names the key that sealed a secret's latest version.
	KeyID     string    `json:"key_id,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedBy string    `json:"updated_by"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Level returns the level of the setting's scope.
func (s Setting) Level() Level { return s.Scope.Level() }

// Limits on settings. Kubernetes keeps a ConfigMap or Secret under 1 MiB in all.
const (
	MaxSettingKey   = 253
	MaxSettingValue = 64 << 10
)

// ValidateSettingKey checks that key can be a ConfigMap or Secret key and an environment
// variable: letters, digits, '-', '_' and '.', at most 253 characters.
func ValidateSettingKey(key string) error {
	switch {
	case key == "":
		return invalid("key", "must not be empty")
	case len(key) > MaxSettingKey:
		return invalid("key", "%.40q... is longer than %d characters", key, MaxSettingKey)
	case key == "." || key == ".." || strings.HasPrefix(key, ".."):
		return invalid("key", "%q must not be '.' or start with '..'", key)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return invalid("key", "%q must consist of letters, digits, '-', '_' and '.'", key)
		}
	}
	return nil
}

func validateSettingKind(k SettingKind) error {
	if k != SettingConfig && k != SettingSecret {
		return invalid("kind", "%q is not config or secret", k)
	}
	return nil
}

// settingAAD is the additional data sealed with a secret version: it binds the ciphertext
// to its kind, level, scope, key and version, so a ciphertext copied into another row (or
// another version of the same key) fails to open instead of decrypting there.
func settingAAD(scope Scope, key string, version int64) []byte {
	return []byte("berth-secret-v1\x00" + string(scope.Level()) + "\x00" + scope.Team + "\x00" + scope.App + "\x00" +
		scope.Env + "\x00" + key + "\x00" + strconv.FormatInt(version, 10))
}

const (
	settingColumns = `s.id, s.kind, COALESCE(t.name, ''), COALESCE(a.name, ''), s.env, s.name, s.latest_version,
		v.value, v.key_id, s.created_at, s.updated_by, s.updated_at`
	settingFrom = ` FROM settings s LEFT JOIN teams t ON t.id = s.team_id LEFT JOIN apps a ON a.id = s.app_id
		JOIN setting_versions v ON v.setting_id = s.id AND v.version = s.latest_version`
)

func scanSetting(sc scanner) (Setting, error) {
	var s Setting
	var created, updated int64
	err := sc.Scan(&s.ID, &s.Kind, &s.Scope.Team, &s.Scope.App, &s.Scope.Env, &s.Key, &s.Version,
		&s.Value, &s.KeyID, &created, &s.UpdatedBy, &updated)
	s.CreatedAt, s.UpdatedAt = fromMicros(created), fromMicros(updated)
	return s, err
}

// scopeIDs returns the team and app ids of scope, checking that what it names exists.
func (q queries) scopeIDs(ctx context.Context, scope Scope) (teamID, appID sql.NullInt64, err error) {
	if err := scope.validate(); err != nil {
		return teamID, appID, err
	}
	switch scope.Level() {
	case LevelGlobal:
		return teamID, appID, nil
	case LevelTeam:
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
func (q queries) Settings(ctx context.Context, kind SettingKind, scope Scope) ([]Setting, error) {
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
func (q queries) SettingsFor(ctx context.Context, team, app, env string) ([]Setting, error) {
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

// Resolved holds the settings that win, per kind and key.
type Resolved map[SettingKind]map[string]Setting

// Resolve picks, for each kind and key, the setting of the most specific level: an app in
// an environment over the app, the app over its team, the team over global.
func Resolve(settings []Setting) Resolved {
	out := Resolved{SettingConfig: {}, SettingSecret: {}}
	for _, s := range settings {
		byKey := out[s.Kind]
		if byKey == nil {
			continue
		}
		if cur, ok := byKey[s.Key]; !ok || s.Level().MoreSpecific(cur.Level()) {
			byKey[s.Key] = s
		}
	}
	return out
}

// SetSetting stores value as the next version of kind's key at scope, creating the key
// or setting it again after an unset. A secret is sealed with the store's key first; without
// one it fails with an error matching seal.ErrNoKey.
func (tx *Tx) SetSetting(ctx context.Context, kind SettingKind, scope Scope, key, value, by string) (Setting, error) {
	what := fmt.Sprintf("set %s %s of %s", kind, key, scope)
	if err := validateSettingKind(kind); err != nil {
		return Setting{}, fmt.Errorf("%s: %w", what, err)
	}
	if err := ValidateSettingKey(key); err != nil {
		return Setting{}, fmt.Errorf("set %s of %s: %w", kind, scope, err)
	}
	if err := validateText("updated_by", by, 254); err != nil {
		return Setting{}, fmt.Errorf("%s: %w", what, err)
	}
	// Errors about values say how long they are, never what they hold.
	switch {
	case len(value) > MaxSettingValue:
		return Setting{}, fmt.Errorf("%s: %w", what, invalid("value", "is %d bytes, more than the %d a value may have", len(value), MaxSettingValue))
	case kind == SettingSecret && value == "":
		return Setting{}, fmt.Errorf("%s: %w", what, invalid("value", "a secret must not be empty (unset it instead)"))
	}
	sk := tx.keys.get()
	if kind == SettingSecret && sk == nil {
		return Setting{}, fmt.Errorf("%s: %w", what, seal.ErrNoKey)
	}
	teamID, appID, err := tx.scopeIDs(ctx, scope)
	if err != nil {
		return Setting{}, fmt.Errorf("%s: %w", what, err)
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
		return Setting{}, fmt.Errorf("%s: %w", what, dbErr(err))
	}
	var plain, nonce, ciphertext, keyID string
	if kind == SettingSecret {
		sealed, err := sk.Seal([]byte(value), settingAAD(scope, key, version))
		if err != nil {
			return Setting{}, fmt.Errorf("%s: %w", what, err)
		}
		nonce, ciphertext, keyID = base64.StdEncoding.EncodeToString(sealed.Nonce), base64.StdEncoding.EncodeToString(sealed.Ciphertext), sealed.KeyID
	} else {
		plain = value
	}
	if _, err := tx.exec(ctx, `INSERT INTO setting_versions (setting_id, version, value, nonce, ciphertext, key_id, created_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, id, version, plain, nonce, ciphertext, keyID, by, now); err != nil {
		return Setting{}, fmt.Errorf("%s version %d: %w", what, version, dbErr(err))
	}
	s, err := scanSetting(tx.queryRow(ctx, "SELECT "+settingColumns+settingFrom+" WHERE s.id = ?", id))
	if err != nil {
		return Setting{}, fmt.Errorf("%s: %w", what, err)
	}
	return s, nil
}

// UnsetSetting removes kind's key at scope from what deploys resolve. Its versions stay,
// so that rollbacks to deploys that used them still apply the same values.
func (tx *Tx) UnsetSetting(ctx context.Context, kind SettingKind, scope Scope, key, by string) (Setting, error) {
	what := fmt.Sprintf("unset %s %s of %s", kind, key, scope)
	if err := validateSettingKind(kind); err != nil {
		return Setting{}, fmt.Errorf("%s: %w", what, err)
	}
	if err := ValidateSettingKey(key); err != nil {
		return Setting{}, fmt.Errorf("unset %s of %s: %w", kind, scope, err)
	}
	teamID, appID, err := tx.scopeIDs(ctx, scope)
	if err != nil {
		return Setting{}, fmt.Errorf("%s: %w", what, err)
	}
	where, args := scopeWhere(teamID, appID, scope.Env)
	var id int64
	err = tx.queryRow(ctx, `UPDATE settings SET deleted = TRUE, updated_by = ?, updated_at = ?
		WHERE id = (SELECT s.id FROM settings s WHERE s.kind = ? AND s.name = ? AND NOT s.deleted`+where+`)
		RETURNING id`, append([]any{by, micros(tx.stamp()), kind, key}, args...)...).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return Setting{}, notFound(string(kind), key+" of "+scope.String())
	}
	if err != nil {
		return Setting{}, fmt.Errorf("%s: %w", what, dbErr(err))
	}
	s, err := scanSetting(tx.queryRow(ctx, "SELECT "+settingColumns+settingFrom+" WHERE s.id = ?", id))
	if err != nil {
		return Setting{}, fmt.Errorf("%s: %w", what, err)
	}
	return s, nil
}

// SecretRef names one version of one secret.
type SecretRef struct {
	Setting int64 `json:"setting"`
	Version int64 `json:"version"`
}

// secretRow is one stored secret version, still sealed.
type secretRow struct {
	ref    SecretRef
	scope  Scope
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
func (q queries) SecretValues(ctx context.Context, refs []SecretRef) (map[SecretRef][]byte, error) {
	out := make(map[SecretRef][]byte, len(refs))
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
	}, "SELECT DISTINCT key_id FROM setting_versions WHERE key_id <> '' ORDER BY key_id")
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

// RotateSecretsKey re-encrypts every stored secret version, opened with the store's
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
	return n, nil
}

// UseSecretsKey makes the store seal and open secrets with k from now on (after a
// rotation has committed).
func (s *Store) UseSecretsKey(k *seal.Key) { s.keys.key.Store(k) }

// SettingLevels lists the scopes searched for a key of team's app in env, most specific
// first, for messages: "app shop/web in staging", "app shop/web", "team shop", "global".
func SettingLevels(team, app, env string) []string {
	var out []string
	for _, s := range (Scope{Team: team, App: app, Env: env}).Chain() {
		out = append(out, s.String())
	}
	return out
}
