-- Platform provisioner files (internal/provision): per environment, a YAML file of template
-- provisioners for resource types Berth does not provision itself. Every set is a new
-- version, kept, so a change can be seen and undone; deploys use the newest.

CREATE TABLE provisioner_files (
    env_id      BIGINT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    version     BIGINT NOT NULL,
    content     TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (env_id, version)
);
