package berth

import (
	"strings"
	"time"
)

// SettingKind says whether a setting is plain config or a secret.
type SettingKind string

// The kinds of settings.
const (
	SettingConfig SettingKind = "config"
	SettingSecret SettingKind = "secret"
)

// Valid reports whether k is config or secret.
func (k SettingKind) Valid() bool { return k == SettingConfig || k == SettingSecret }

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
	switch l {
	case LevelGlobal:
		return 1
	case LevelTeam:
		return 2
	case LevelApp:
		return 3
	case LevelAppEnv:
		return 4
	}
	return 0
}

// MoreSpecific reports whether l wins over other.
func (l Level) MoreSpecific(other Level) bool { return l.rank() > other.rank() }

// Scope is where a setting applies: everywhere (all fields empty), a team, a team's app,
// or a team's app in one environment.
type Scope struct {
	Team string
	App  string
	Env  string
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

// Validate checks that s names a level completely (an environment's settings belong to
// an app, an app's to a team) with valid names.
func (s Scope) Validate() error {
	switch {
	case s.Env != "" && s.App == "":
		return Invalid("env", "an environment's settings belong to an app: name the app too")
	case s.App != "" && s.Team == "":
		return Invalid("team", "an app's settings need the app's team")
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
// Setting never holds its value: reading one takes the store's SecretValues.
type Setting struct {
	ID      int64
	Kind    SettingKind
	Scope   Scope
	Key     string
	Version int64
	// Value is a config value; always "" for secrets.
	Value string
	// KeyID names the key that sealed a secret's latest version.
	KeyID     string
	CreatedAt time.Time
	UpdatedBy string
	UpdatedAt time.Time
}

// Level returns the level of the setting's scope.
func (s Setting) Level() Level { return s.Scope.Level() }

// SecretRef names one version of one secret.
type SecretRef struct {
	Setting int64
	Version int64
}

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
		return Invalid("key", "must not be empty")
	case len(key) > MaxSettingKey:
		return Invalid("key", "%.40q... is longer than %d characters", key, MaxSettingKey)
	case key == "." || key == ".." || strings.HasPrefix(key, ".."):
		return Invalid("key", "%q must not be '.' or start with '..'", key)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return Invalid("key", "%q must consist of letters, digits, '-', '_' and '.'", key)
		}
	}
	return nil
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

// SettingLevels lists the scopes searched for a key of team's app in env, most specific
// first, for messages: "app shop/web in staging", "app shop/web", "team shop", "global".
func SettingLevels(team, app, env string) []string {
	var out []string
	for _, s := range (Scope{Team: team, App: app, Env: env}).Chain() {
		out = append(out, s.String())
	}
	return out
}
