-- Pull requests' previews (docs/git-flow.md).
--
-- environments.preview_base: for the environment Berth made for one pull request's preview,
-- the preview environment it was made from ('' for every other environment). Its cluster,
-- scheduling and storage class are copied from the base on each deploy; its settings,
-- provisioner file, PostgreSQL server and the manifest's environments: section are the
-- base's.
ALTER TABLE environments ADD COLUMN preview_base TEXT NOT NULL DEFAULT '';

-- previews: one per app, preview environment and pull request, and one per environment.
-- state is active, closing (being torn down: no deploy is queued into it) or closed;
-- comment_id is the forge's id of the one comment Berth keeps up to date on the pull
-- request (0 before it was made).
CREATE TABLE previews (
    id          {{id}},
    app_id      BIGINT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    base        TEXT NOT NULL,
    pr          INTEGER NOT NULL,
    url         TEXT NOT NULL DEFAULT '',
    branch      TEXT NOT NULL,
    sha         TEXT NOT NULL,
    fork        BOOLEAN NOT NULL DEFAULT FALSE,
    env         TEXT NOT NULL,
    comment_id  BIGINT NOT NULL DEFAULT 0,
    state       TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    UNIQUE (app_id, base, pr)
);
CREATE INDEX previews_branch ON previews (base, branch, state);
CREATE INDEX previews_state ON previews (state, updated_at);
CREATE UNIQUE INDEX previews_env ON previews (env);
