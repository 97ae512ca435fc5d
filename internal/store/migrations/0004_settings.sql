-- Central configuration and secrets ("settings"): a key at one of four levels — global, a
-- team, an app, an app in one environment — of which the most specific wins at deploy time.
-- Every change is a new version; unsetting a key hides it but keeps its versions, because
-- stored deploys (rollbacks) refer to secret versions.
--
-- Config values are stored as they are. Secret values are never stored in plain text: only
-- their AES-256-GCM ciphertext, the nonce, and the id of the key that sealed them; the
-- additional data binds each ciphertext to its kind, level, scope, key and version.

CREATE TABLE settings (
    id              {{id}},
    kind            TEXT NOT NULL CHECK (kind IN ('config', 'secret')),
    level           TEXT NOT NULL CHECK (level IN ('global', 'team', 'app', 'app+env')),
    team_id         BIGINT REFERENCES teams (id) ON DELETE CASCADE,  -- NULL for global
    app_id          BIGINT REFERENCES apps (id) ON DELETE CASCADE,   -- app and app+env
    env             TEXT NOT NULL DEFAULT '',                        -- app+env only
    name            TEXT NOT NULL,                                   -- the key
    latest_version  BIGINT NOT NULL,
    deleted         BOOLEAN NOT NULL DEFAULT FALSE,                  -- unset
    created_at      BIGINT NOT NULL,
    updated_by      TEXT NOT NULL,
    updated_at      BIGINT NOT NULL,
    CHECK ((level = 'global') = (team_id IS NULL)),
    CHECK ((level IN ('app', 'app+env')) = (app_id IS NOT NULL)),
    CHECK ((level = 'app+env') = (env <> ''))
);
-- NULLs are distinct in unique indexes of both databases; COALESCE makes global keys unique.
CREATE UNIQUE INDEX settings_scope_name ON settings (kind, COALESCE(team_id, 0), COALESCE(app_id, 0), env, name);
CREATE INDEX settings_team ON settings (team_id);
CREATE INDEX settings_app ON settings (app_id);

CREATE TABLE setting_versions (
    setting_id  BIGINT NOT NULL REFERENCES settings (id) ON DELETE CASCADE,
    version     BIGINT NOT NULL,
    value       TEXT NOT NULL DEFAULT '',  -- config: the value; secrets: always ''
    nonce       TEXT NOT NULL DEFAULT '',  -- secrets: base64 GCM nonce
    ciphertext  TEXT NOT NULL DEFAULT '',  -- secrets: base64 ciphertext and tag
    key_id      TEXT NOT NULL DEFAULT '',  -- secrets: id of the key that sealed it
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (setting_id, version)
);
CREATE INDEX setting_versions_key_id ON setting_versions (key_id);
