-- Backups, restores and drills of apps' data (docs/backups.md).
--
-- backup_stores: where backups go, by name: a directory on the server's machine or an
-- S3-compatible bucket; config is the kind's fields as JSON (never the secret key, which is
-- sealed like the other secrets). environments.backup_store names an environment's store
-- ('' is the server's default directory).
CREATE TABLE backup_stores (
    name        TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    config      TEXT NOT NULL,
    nonce       TEXT NOT NULL DEFAULT '',
    ciphertext  TEXT NOT NULL DEFAULT '',
    key_id      TEXT NOT NULL DEFAULT '',
    created_by  TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);
ALTER TABLE environments ADD COLUMN backup_store TEXT NOT NULL DEFAULT '';

-- backups: one backup set of an app in an environment, and the durable job that writes
-- it, claimed under a lease like deploys; team, app and env are names, not references, so
-- that a backup outlives its app. contents is berth.BackupContents as JSON; slot (micros,
-- 0 for none) makes a scheduled backup once per slot.
CREATE TABLE backups (
    id             {{id}},
    team           TEXT NOT NULL,
    app            TEXT NOT NULL,
    env            TEXT NOT NULL,
    trigger_kind   TEXT NOT NULL,
    state          TEXT NOT NULL,
    reason         TEXT NOT NULL DEFAULT '',
    store          TEXT NOT NULL,
    key_id         TEXT NOT NULL DEFAULT '',
    contents       TEXT NOT NULL DEFAULT '{}',
    size           BIGINT NOT NULL DEFAULT 0,
    slot           BIGINT NOT NULL DEFAULT 0,
    created_by     TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    started_at     BIGINT NOT NULL DEFAULT 0,
    finished_at    BIGINT NOT NULL DEFAULT 0,
    pruned_at      BIGINT NOT NULL DEFAULT 0,
    lease_owner    TEXT NOT NULL DEFAULT '',
    lease_expires  BIGINT NOT NULL DEFAULT 0,
    attempts       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX backups_app ON backups (team, app, env, id);
CREATE INDEX backups_state ON backups (state, id);
CREATE UNIQUE INDEX backups_slot ON backups (team, app, env, slot) WHERE slot <> 0;

-- backup_parts: one resource's dump in a backup: its object in the store, size and SHA-256
-- as stored, and tables (JSON array of berth.TableSum) counted in the dump's snapshot.
CREATE TABLE backup_parts (
    backup_id  BIGINT NOT NULL REFERENCES backups (id) ON DELETE CASCADE,
    resource   TEXT NOT NULL,
    type       TEXT NOT NULL,
    object     TEXT NOT NULL,
    size       BIGINT NOT NULL,
    sha256     TEXT NOT NULL,
    tables     TEXT NOT NULL,
    PRIMARY KEY (backup_id, resource)
);

-- restores: a backup restored into an environment, or (drill) into a throwaway database
-- that is checked and dropped; step records how far it got, so that a restore resumed after
-- a crash finishes its swap instead of starting over. duration in microseconds.
CREATE TABLE restores (
    id             {{id}},
    backup_id      BIGINT NOT NULL REFERENCES backups (id) ON DELETE CASCADE,
    team           TEXT NOT NULL,
    app            TEXT NOT NULL,
    env            TEXT NOT NULL,
    drill          BOOLEAN NOT NULL,
    forced         BOOLEAN NOT NULL DEFAULT FALSE,
    to_revision    BOOLEAN NOT NULL DEFAULT FALSE,
    state          TEXT NOT NULL,
    reason         TEXT NOT NULL DEFAULT '',
    step           TEXT NOT NULL DEFAULT '',
    deploy_id      BIGINT NOT NULL DEFAULT 0,
    duration       BIGINT NOT NULL DEFAULT 0,
    slot           BIGINT NOT NULL DEFAULT 0,
    created_by     TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    started_at     BIGINT NOT NULL DEFAULT 0,
    finished_at    BIGINT NOT NULL DEFAULT 0,
    lease_owner    TEXT NOT NULL DEFAULT '',
    lease_expires  BIGINT NOT NULL DEFAULT 0,
    attempts       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX restores_app ON restores (team, app, env, id);
CREATE INDEX restores_state ON restores (state, id);
CREATE UNIQUE INDEX restores_slot ON restores (team, app, env, slot) WHERE slot <> 0;

-- backup_schedules: when an app's data in an environment is backed up and drilled, and the
-- retention (JSON berth.Retention); stale_after in seconds (0: twice the interval).
-- announced_stale and announced_drill remember what was announced, so that each is said once.
CREATE TABLE backup_schedules (
    team             TEXT NOT NULL,
    app              TEXT NOT NULL,
    env              TEXT NOT NULL,
    cron             TEXT NOT NULL,
    drill            TEXT NOT NULL DEFAULT '',
    time_zone        TEXT NOT NULL DEFAULT '',
    keep             TEXT NOT NULL,
    stale_after      BIGINT NOT NULL DEFAULT 0,
    announced_stale  BIGINT NOT NULL DEFAULT 0,
    announced_drill  BIGINT NOT NULL DEFAULT 0,
    created_by       TEXT NOT NULL,
    updated_at       BIGINT NOT NULL,
    PRIMARY KEY (team, app, env)
);
