-- Deploys are jobs: queued by the API in the same transaction as their audit event, claimed
-- by a worker with a lease, and finished exactly once. Rendered objects are stored once per
-- content (content-addressed), so history and rollback keep exactly what was applied.

CREATE TABLE deploy_batches (
    id           {{id}},
    team_id      BIGINT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    concurrency  INTEGER NOT NULL,   -- deploys of the batch running at once
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);

CREATE TABLE rendered_objects (
    digest   TEXT PRIMARY KEY,        -- hex SHA-256 of content
    content  TEXT NOT NULL            -- JSON array of the Kubernetes objects, as applied
);

CREATE TABLE deploys (
    id              {{id}},
    app_id          BIGINT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    env             TEXT NOT NULL,
    revision        BIGINT NOT NULL,            -- manifest revision rendered
    kind            TEXT NOT NULL,              -- deploy, redeploy, rollback, auto-rollback
    args            TEXT NOT NULL DEFAULT '{}', -- JSON object: --set values
    options         TEXT NOT NULL DEFAULT '{}', -- JSON object: force conflicts, auto-rollback, timeout
    source_deploy   BIGINT REFERENCES deploys (id),  -- rollback: the deploy whose objects are re-applied
    rollback_of     BIGINT REFERENCES deploys (id),  -- auto-rollback: the failed deploy
    batch_id        BIGINT REFERENCES deploy_batches (id) ON DELETE SET NULL,
    objects_digest  TEXT NOT NULL DEFAULT '',
    state           TEXT NOT NULL,              -- queued, running, succeeded, failed
    reason          TEXT NOT NULL DEFAULT '',
    created_by      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    started_at      BIGINT,
    finished_at     BIGINT,
    lease_owner     TEXT NOT NULL DEFAULT '',
    lease_expires   BIGINT NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX deploys_app_env ON deploys (app_id, env, id);
CREATE INDEX deploys_state ON deploys (state, id);
CREATE INDEX deploys_batch ON deploys (batch_id, state);

CREATE TABLE deploy_events (
    id         {{id}},
    deploy_id  BIGINT NOT NULL REFERENCES deploys (id) ON DELETE CASCADE,
    at         BIGINT NOT NULL,
    phase      TEXT NOT NULL,
    message    TEXT NOT NULL DEFAULT '',
    desired    INTEGER NOT NULL DEFAULT 0,
    updated    INTEGER NOT NULL DEFAULT 0,
    ready      INTEGER NOT NULL DEFAULT 0,
    available  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX deploy_events_deploy ON deploy_events (deploy_id, id);
