-- GitOps output (docs/gitops.md).
--
-- env_gitops: an environment's platform repository, where each deploy's objects are
-- committed (or proposed in a pull request); the forge token sealed as the other secrets.
CREATE TABLE env_gitops (
    env             TEXT PRIMARY KEY,
    forge           TEXT NOT NULL,
    url             TEXT NOT NULL,
    repo            TEXT NOT NULL,
    branch          TEXT NOT NULL,
    pull_request    BOOLEAN NOT NULL,
    external_apply  BOOLEAN NOT NULL,
    nonce           TEXT NOT NULL,
    ciphertext      TEXT NOT NULL,
    key_id          TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- gitops_changes: what a deploy wrote there: the commit, and the pull request's state.
CREATE TABLE gitops_changes (
    deploy_id   BIGINT PRIMARY KEY REFERENCES deploys (id) ON DELETE CASCADE,
    env         TEXT NOT NULL,
    repo        TEXT NOT NULL,
    branch      TEXT NOT NULL,
    commit_sha  TEXT NOT NULL,
    pr          INTEGER NOT NULL,
    url         TEXT NOT NULL,
    state       TEXT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX gitops_changes_state ON gitops_changes (state);
