-- Synthetic probes (docs/probes.md).
--
-- probe_settings: how an environment is probed; config is berth.ProbeSettings' fields as
-- JSON, the S3 secret key and the queue's token sealed together like other secrets. Gone
-- with the environment.
CREATE TABLE probe_settings (
    env         TEXT PRIMARY KEY,
    config      TEXT NOT NULL,
    nonce       TEXT NOT NULL DEFAULT '',
    ciphertext  TEXT NOT NULL DEFAULT '',
    key_id      TEXT NOT NULL DEFAULT '',
    updated_by  TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- probe_runs: one run of an environment's probe, a durable job claimed under a lease like
-- backups. steps is []berth.ProbeStep as JSON once the run ends; report the agent's steps
-- as it sent them, while the run's worker waits for them; token_hash the SHA-256 (hex) of
-- the token the run's agent reports with, '' once the run ends. slot (micros, 0 for none)
-- makes a scheduled run once per slot; an environment has at most one run queued or
-- running (probe_runs_inflight), whichever server queues it. Each environment keeps its
-- latest berth.MaxProbeRunsKept runs.
CREATE TABLE probe_runs (
    id             {{id}},
    env            TEXT NOT NULL,
    trigger_kind   TEXT NOT NULL,
    state          TEXT NOT NULL,
    reason         TEXT NOT NULL DEFAULT '',
    steps          TEXT NOT NULL DEFAULT '[]',
    report         TEXT NOT NULL DEFAULT '',
    token_hash     TEXT NOT NULL DEFAULT '',
    slot           BIGINT NOT NULL DEFAULT 0,
    created_by     TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    started_at     BIGINT NOT NULL DEFAULT 0,
    finished_at    BIGINT NOT NULL DEFAULT 0,
    lease_owner    TEXT NOT NULL DEFAULT '',
    lease_expires  BIGINT NOT NULL DEFAULT 0,
    attempts       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX probe_runs_env ON probe_runs (env, id);
CREATE INDEX probe_runs_state ON probe_runs (state, id);
CREATE UNIQUE INDEX probe_runs_slot ON probe_runs (env, slot) WHERE slot <> 0;
CREATE UNIQUE INDEX probe_runs_inflight ON probe_runs (env) WHERE state IN ('queued', 'running');

-- probe_alarms: what the platform's chat channel was last told of an environment's probe:
-- failing (and since which run), so that a failure is announced once and its recovery once.
CREATE TABLE probe_alarms (
    env         TEXT PRIMARY KEY,
    failing     BOOLEAN NOT NULL,
    run_id      BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
