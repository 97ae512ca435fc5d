-- The control plane's model: teams, users, API tokens, memberships (trust scopes), apps and
-- their manifest revisions, environments, and the hash-chained audit log.
--
-- Written once for SQLite and PostgreSQL; {{id}} is an auto-assigned BIGINT primary key.
-- Times are microseconds since the Unix epoch (UTC); NULL where a time is optional.

CREATE TABLE teams (
    id          {{id}},
    name        TEXT NOT NULL UNIQUE,  -- DNS-1123 label, checked by the store
    created_at  BIGINT NOT NULL
);

CREATE TABLE users (
    id          {{id}},
    name        TEXT NOT NULL UNIQUE,
    email       TEXT NOT NULL DEFAULT '',
    is_admin    BOOLEAN NOT NULL DEFAULT FALSE,  -- the global (platform) admin
    created_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (lower(email)) WHERE email <> '';

-- API tokens: only the SHA-256 of the random secret is stored; prefix is the secret's first
-- characters, shown in listings so that users can tell their tokens apart.
CREATE TABLE api_tokens (
    id            {{id}},
    user_id       BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    hash          TEXT NOT NULL UNIQUE,
    prefix        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT,
    revoked_at    BIGINT,
    last_used_at  BIGINT,
    UNIQUE (user_id, name)
);

CREATE TABLE memberships (
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    team_id     BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    role        TEXT NOT NULL CHECK (role IN ('viewer', 'deployer', 'admin')),
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (user_id, team_id)
);
CREATE INDEX memberships_team ON memberships (team_id);

-- A team cannot be deleted while it owns apps (no cascade).
CREATE TABLE apps (
    id               {{id}},
    team_id          BIGINT NOT NULL REFERENCES teams (id),
    name             TEXT NOT NULL,
    created_by       TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    latest_revision  BIGINT NOT NULL DEFAULT 0,  -- the revision counter; 0 = none yet
    UNIQUE (team_id, name)
);

CREATE TABLE app_revisions (
    app_id      BIGINT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    revision    BIGINT NOT NULL,
    manifest    TEXT NOT NULL,
    digest      TEXT NOT NULL,  -- hex SHA-256 of manifest
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (app_id, revision)
);

CREATE TABLE environments (
    id                  {{id}},
    name                TEXT NOT NULL UNIQUE,
    kubeconfig          TEXT NOT NULL DEFAULT '',  -- path on the server
    context             TEXT NOT NULL DEFAULT '',
    in_cluster          BOOLEAN NOT NULL DEFAULT FALSE,
    namespace_template  TEXT NOT NULL,
    protected           BOOLEAN NOT NULL DEFAULT FALSE,
    created_at          BIGINT NOT NULL,
    CHECK (in_cluster OR kubeconfig <> '')
);

-- Deployers allowed on a protected environment besides team and global admins.
CREATE TABLE environment_deployers (
    environment_id  BIGINT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    user_id         BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (environment_id, user_id)
);
CREATE INDEX environment_deployers_user ON environment_deployers (user_id);

-- The audit log. Ids are assigned from audit_head, without gaps, so that a missing id is
-- a deleted row; hash = SHA-256 over the row's fields and prev_hash (see audit.go). Team
-- and app are names, not references: events outlive what they are about.
CREATE TABLE audit_events (
    id           BIGINT PRIMARY KEY,
    occurred_at  BIGINT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    target       TEXT NOT NULL,
    team         TEXT NOT NULL DEFAULT '',
    app          TEXT NOT NULL DEFAULT '',
    request_id   TEXT NOT NULL DEFAULT '',
    outcome      TEXT NOT NULL,
    details      TEXT NOT NULL DEFAULT '{}',  -- JSON object, never a secret value
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL
);
CREATE INDEX audit_events_team_app ON audit_events (team, app, id);
CREATE INDEX audit_events_actor ON audit_events (actor, id);
CREATE INDEX audit_events_time ON audit_events (occurred_at);

-- The chain head: the last appended id and hash. Appends lock this one row, which
-- serializes them in PostgreSQL; verification compares the last row with it, which
-- detects deleted trailing rows.
CREATE TABLE audit_head (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    last_id    BIGINT NOT NULL,
    last_hash  TEXT NOT NULL
);
INSERT INTO audit_head (id, last_id, last_hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
