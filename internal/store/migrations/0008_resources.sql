-- Resources for real (internal/provision, internal/deploy's provision stage).
--
-- Environments get what the built-in provisioners need: the base domain under which dns
-- and route resources get host names, the storage class volume resources claim from, and
-- the PostgreSQL server the postgres provisioner makes databases on. Its DSN holds a
-- password, so it is sealed like a secret (nonce, ciphertext, key id); postgres_display is
-- the DSN without the password, for people.
ALTER TABLE environments ADD COLUMN base_domain TEXT NOT NULL DEFAULT '';
ALTER TABLE environments ADD COLUMN storage_class TEXT NOT NULL DEFAULT '';
ALTER TABLE environments ADD COLUMN postgres_display TEXT NOT NULL DEFAULT '';
ALTER TABLE environments ADD COLUMN postgres_nonce TEXT NOT NULL DEFAULT '';
ALTER TABLE environments ADD COLUMN postgres_ciphertext TEXT NOT NULL DEFAULT '';
ALTER TABLE environments ADD COLUMN postgres_key_id TEXT NOT NULL DEFAULT '';

-- A provisioned resource: one per declared resource of an app in an environment (or, for a
-- resource with a Score id, one per id in the environment, shared by the apps declaring
-- it). Team and app are names, not references: deleting an app leaves its resources
-- orphaned (listed, never dropped but by `berth resources delete --confirm`). Outputs that
-- are not secret are plain JSON; the provisioner's state and the secret outputs are sealed
-- together. version counts changes of outputs or state.
CREATE TABLE resources (
    id               {{id}},
    env_id           BIGINT NOT NULL REFERENCES environments (id) ON DELETE CASCADE,
    uid              TEXT NOT NULL,
    team             TEXT NOT NULL,
    app              TEXT NOT NULL,
    name             TEXT NOT NULL,
    type             TEXT NOT NULL,
    class            TEXT NOT NULL DEFAULT '',
    res_id           TEXT NOT NULL DEFAULT '',
    provisioner      TEXT NOT NULL,
    outputs          TEXT NOT NULL DEFAULT '{}',
    secret_outputs   TEXT NOT NULL DEFAULT '[]',
    nonce            TEXT NOT NULL DEFAULT '',
    ciphertext       TEXT NOT NULL DEFAULT '',
    key_id           TEXT NOT NULL DEFAULT '',
    version          BIGINT NOT NULL,
    status           TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    updated_by       TEXT NOT NULL,
    updated_at       BIGINT NOT NULL,
    UNIQUE (env_id, uid)
);
CREATE INDEX resources_app ON resources (team, app);
