-- freeze_windows: times when nothing deploys to an environment but emergencies (a deploy
-- whose options say why, audited as deploy.emergency) and automatic rollbacks.
CREATE TABLE freeze_windows (
    id          {{id}},
    env         TEXT NOT NULL,
    starts_at   BIGINT NOT NULL,
    ends_at     BIGINT NOT NULL,
    reason      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX freeze_windows_env ON freeze_windows (env, ends_at);
